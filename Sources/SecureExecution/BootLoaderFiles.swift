// Locating and loading the two boot-loader files an image needs (spec se-image-format §5, §10.1).
import Foundation

extension SEBootLoaders {
    /// pvimg's file names (spec §10.1).
    public static let stage3aFileName = "stage3a.bin", stage3bRelocFileName = "stage3b_reloc.bin"
    /// Environment variable naming the loader directory, checked before the search.
    public static let directoryEnvironmentVariable = "S390PV_LOADERS_DIR"
    /// Where the build puts the loaders, relative to the repository root (`make loaders`).
    public static let buildDirectory = "Firmware/build/loaders"

    /// Reads `stage3a.bin` and `stage3b_reloc.bin` from `directory` and checks their minimum sizes (spec §5).
    public init(directory: String) throws(BootLoaderError) {
        func read(_ name: String, minimum: Int) throws(BootLoaderError) -> [UInt8] {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path) }
            guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
            guard data.count >= minimum else { throw .tooSmall(path: path, size: data.count, minimum: minimum) }
            return Array(data)
        }
        let stage3a = try read(Self.stage3aFileName, minimum: SEImage.stage3aArgumentsSize)
        let stage3bReloc = try read(Self.stage3bRelocFileName, minimum: SEImage.stage3bArgumentsSize)
        self.init(stage3a: stage3a, stage3bReloc: stage3bReloc)
    }

    /// The loader directory when none is given: `$S390PV_LOADERS_DIR` if set (even if it lacks the
    /// files, so that the error names it), else the first `Firmware/build/loaders` holding both files
    /// in the directories from the executable's (symlinks resolved) up to `/`.
    ///
    /// When nothing is found, `.notFound` names the directory expected: `Firmware/build/loaders`
    /// under the nearest ancestor that has a `Firmware` directory (the repository), else under the
    /// executable's directory.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment,
                                        executablePath: String? = nil) -> Result<String, BootLoaderError> {
        if let directory = environment[directoryEnvironmentVariable], !directory.isEmpty { return .success(directory) }
        let executable = executablePath ?? Self.currentExecutablePath()
        let start = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var directory = start.standardizedFileURL
        var expected: String?
        while true {
            let candidate = directory.appendingPathComponent(buildDirectory).path
            if hasBothFiles(candidate) { return .success(candidate) }
            if expected == nil, isDirectory(directory.appendingPathComponent("Firmware").path) { expected = candidate }
            let parent = directory.deletingLastPathComponent().standardizedFileURL
            if parent.path == directory.path { break }
            directory = parent
        }
        return .failure(.notFound(expected: expected ?? start.appendingPathComponent(buildDirectory).path))
    }

    /// Whether `directory` holds both loader files.
    static func hasBothFiles(_ directory: String) -> Bool {
        [stage3aFileName, stage3bRelocFileName].allSatisfy {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    /// The running executable's path (`/proc/self/exe` on Linux).
    static func currentExecutablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments.first ?? "."
    }
}

/// Why the boot loaders could not be loaded (spec §10.1: s390pv builds them with `make loaders`).
public enum BootLoaderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A loader file does not exist.
    case missing(path: String)
    /// A loader file exists but cannot be read.
    case unreadable(path: String)
    /// A loader file is smaller than its argument block (stage3a 24, stage3b_reloc 64 bytes).
    case tooSmall(path: String, size: Int, minimum: Int)
    /// No loader directory was found searching up from the executable.
    case notFound(expected: String)

    public var description: String {
        switch self {
        case .missing(let path): "boot loader \(path) is missing (run `make loaders`, or pass --loaders DIR)"
        case .unreadable(let path): "cannot read boot loader \(path)"
        case .tooSmall(let path, let size, let minimum): "boot loader \(path) has \(size) bytes, fewer than its \(minimum)-byte argument block"
        case .notFound(let expected): "boot loaders not found: expected \(expected)/\(SEBootLoaders.stage3aFileName) and \(SEBootLoaders.stage3bRelocFileName) (run `make loaders`, or pass --loaders DIR or set \(SEBootLoaders.directoryEnvironmentVariable))"
        }
    }
}
