// `s390pv mkimage`: build a Secure Execution boot image, with pvimg create's options (spec se-image-format §10.1).
import ArgumentParser
import Foundation
import SecureExecution

struct MkImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mkimage",
        abstract: "Create an IBM Secure Execution boot image (the options of pvimg create).",
        discussion: """
        Host-key documents are verified unless --no-verify is given: each must be valid now and be \
        signed either by a --cert certificate whose subject is its issuer, or by itself (the \
        self-signed documents of `s390pv hostkey create`). IBM's root CA, CRLs and online checks are \
        not used. Keys not given are random. The boot loaders stage3a.bin and stage3b_reloc.bin come \
        from --loaders DIR, else $S390PV_LOADERS_DIR, else Firmware/build/loaders found upward from the \
        executable (`make loaders`). Errors are one line on stderr with exit status 1 (2 for bad usage); \
        no partial output file is left.
        """)

    // Inputs and output.
    @Option(name: [.customShort("i"), .customLong("kernel"), .customLong("image")],
            help: ArgumentHelp("A raw binary s390x Linux kernel (ELF is not supported).", valueName: "FILE"))
    var kernel: String
    @Option(name: [.customShort("r"), .long], help: ArgumentHelp("The initial RAM disk.", valueName: "FILE"))
    var ramdisk: String?
    @Option(name: [.customShort("p"), .long], help: ArgumentHelp("The kernel command line.", valueName: "FILE"))
    var parmfile: String?
    @Option(name: [.customShort("k"), .customLong("host-key-document")],
            help: ArgumentHelp("A host-key document (repeatable or comma-separated, 1 to 95); one key slot each.", valueName: "FILE"))
    var hostKeyDocuments: [String] = []
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Where to write the image.", valueName: "FILE"))
    var output: String

    // Verification (spec §3).
    @Flag(help: "Do not verify the host-key documents (a warning is printed).") var noVerify = false
    @Option(name: [.customShort("C"), .customLong("cert"), .customLong("crt")],
            help: ArgumentHelp("A certificate that signs host-key documents (repeatable or comma-separated).", valueName: "FILE"))
    var certificates: [String] = []
    @Flag(help: "Accepted for pvimg compatibility: s390pv never downloads CRLs.") var offline = false

    // Keys.
    @Option(name: [.customLong("cck"), .customLong("comm-key")],
            help: ArgumentHelp("The 32-byte customer-communication key.", valueName: "FILE"))
    var cck: String?
    @Option(name: [.customLong("hdr-key"), .customLong("x-header-key")],
            help: ArgumentHelp("The 32-byte header protection key (random if absent).", valueName: "FILE"))
    var hdrKey: String?
    @Option(name: [.customLong("image-key"), .customLong("x-comp-key")],
            help: ArgumentHelp("The 64-byte AES-XTS component key (random if absent).", valueName: "FILE"))
    var imageKey: String?

    // Control flags (spec §2.4): each pair is exclusive, and none goes with --x-pcf / --x-scf.
    @Flag(help: "Allow dumping the guest (PCF bit 34); needs --cck or --enable-cck-update.") var enableDump = false
    @Flag(help: "Disallow dumping the guest (default).") var disableDump = false
    @Flag(help: "Encrypt the components (default).") var enableImageEncryption = false
    @Flag(help: "Do not encrypt the components (PCF bit 35).") var disableImageEncryption = false
    @Flag(help: "Allow the DEA, TDEA, AES and ECC PCKMO functions (default).") var enablePckmo = false
    @Flag(help: "Disallow the DEA, TDEA, AES and ECC PCKMO functions.") var disablePckmo = false
    @Flag(help: "Allow the HMAC PCKMO function.") var enablePckmoHmac = false
    @Flag(help: "Disallow the HMAC PCKMO function (default).") var disablePckmoHmac = false
    @Flag(help: "Allow backup target keys.") var enableBackupKeys = false
    @Flag(help: "Disallow backup target keys (default).") var disableBackupKeys = false
    @Flag(help: "Enforce the CCK-derived extension secret (SCF bit 1); needs --cck.") var enableCckExtensionSecret = false
    @Flag(help: "Do not enforce the CCK extension secret (default).") var disableCckExtensionSecret = false
    @Flag(help: "Allow CCK updates (SCF bit 2).") var enableCckUpdate = false
    @Flag(help: "Disallow CCK updates (default).") var disableCckUpdate = false
    @Option(name: .customLong("x-pcf"), help: ArgumentHelp("Raw plaintext control flags, hex (0x...) or decimal (default 0xe0).", valueName: "PCF"))
    var pcf: String?
    @Option(name: .customLong("x-scf"), help: ArgumentHelp("Raw secret control flags, hex (0x...) or decimal (default 0).", valueName: "SCF"))
    var scf: String?
    @Option(name: .customLong("x-psw"), help: ArgumentHelp("Header PSW address (default: the start of stage3b).", valueName: "ADDRESS"))
    var psw: String?

    // Other.
    @Flag(help: "Skip the input checks (raw s390x kernel, command-line size).") var noComponentCheck = false
    @Flag(help: "Replace an existing output file.") var overwrite = false
    @Option(help: ArgumentHelp("Directory holding stage3a.bin and stage3b_reloc.bin (s390pv only).", valueName: "DIR"))
    var loaders: String?

    /// Flag pairs that exclude each other (pvimg's clap `conflicts_with`).
    private var flagPairs: [(String, Bool, Bool)] {
        [("dump", enableDump, disableDump), ("image-encryption", enableImageEncryption, disableImageEncryption),
         ("pckmo", enablePckmo, disablePckmo), ("pckmo-hmac", enablePckmoHmac, disablePckmoHmac),
         ("backup-keys", enableBackupKeys, disableBackupKeys),
         ("cck-extension-secret", enableCckExtensionSecret, disableCckExtensionSecret),
         ("cck-update", enableCckUpdate, disableCckUpdate)]
    }

    func validate() throws {
        if noVerify && !certificates.isEmpty { throw ValidationError("--no-verify and --cert exclude each other") }
        for (name, enable, disable) in flagPairs where enable && disable {
            throw ValidationError("--enable-\(name) and --disable-\(name) exclude each other")
        }
        let anyFlag = flagPairs.contains { $0.1 || $0.2 }
        if anyFlag && (pcf != nil || scf != nil) {
            throw ValidationError("the --enable-*/--disable-* flags cannot be combined with --x-pcf or --x-scf")
        }
        if enableDump && cck == nil && !enableCckUpdate { throw ValidationError("--enable-dump needs --cck or --enable-cck-update") }
        if enableCckExtensionSecret && cck == nil { throw ValidationError("--enable-cck-extension-secret needs --cck") }
        if enableCckExtensionSecret && enableCckUpdate {
            throw ValidationError("--enable-cck-extension-secret and --enable-cck-update exclude each other")
        }
        if disableImageEncryption && imageKey != nil { throw ValidationError("--image-key and --disable-image-encryption exclude each other") }
    }

    func run() throws {
        // Output first: refusing early costs nothing (the final link refuses a race as well).
        if !overwrite && FileManager.default.fileExists(atPath: output) {
            mkimageFail("\(output) exists (pass --overwrite to replace it)")
        }

        // Host-key documents (spec §3), verified first as pvimg does.
        let documents = hostKeyDocuments.flatMap { $0.split(separator: ",", omittingEmptySubsequences: true).map(String.init) }
        guard !documents.isEmpty else { mkimageFail("no host-key document: pass at least one with -k/--host-key-document FILE") }
        guard documents.count <= 95 else { mkimageFail("\(documents.count) host-key documents given, at most 95 fit in a header") }
        let signers = certificates.flatMap { $0.split(separator: ",").map(String.init) }.flatMap { path in
            do { return try HostKeyDocument.certificates(in: readInput(path, what: "certificate")) } catch {
                mkimageFail("certificate \(path): \(error)")
            }
        }
        let now = Date()
        let hostKeys = documents.map { path -> HostKey in
            let certificate = { () -> HostKeyDocument.Document in
                do { return try HostKeyDocument.certificate(in: readInput(path, what: "host-key document")) } catch {
                    mkimageFail("host-key document \(path): \(error)")
                }
            }()
            if !noVerify {
                do { try HostKeyDocument.verify(certificate, signers: signers, at: now) } catch {
                    mkimageFail("cannot verify host-key document \(path): \(error) (pass its signer with --cert FILE, or --no-verify)")
                }
            }
            do { return try HostKey(certificate) } catch {
                mkimageFail("host-key document \(path): \((error as? SEKeyError) == .hostKeyNotP521 ? "its public key is not an EC key on secp521r1" : "\(error)")")
            }
        }

        // Keys (random unless given).
        var keys = SEImageKeys.random()
        if let cck { keys.customerCommunicationKey = readKey(cck, option: "--cck", size: 32) }
        if let hdrKey { keys.protectionKey = readKey(hdrKey, option: "--hdr-key", size: 32) }
        if let imageKey {
            let key = readKey(imageKey, option: "--image-key", size: 64)
            if key[..<32].elementsEqual(key[32...]) { mkimageFail("--image-key \(imageKey): the two 32-byte XTS halves are equal") }
            keys.xtsKey = key
        }

        // Control flags (spec §2.4).
        var plaintextFlags = pcf.map { parseNumber($0, option: "--x-pcf") } ?? SEImage.defaultPlaintextControlFlags
        var secretFlags = scf.map { parseNumber($0, option: "--x-scf") } ?? 0
        func apply(_ enable: Bool, _ disable: Bool, _ bits: UInt64, to flags: inout UInt64) {
            if enable { flags |= bits }
            if disable { flags &= ~bits }
        }
        apply(enableDump, disableDump, 0x2000_0000, to: &plaintextFlags)
        apply(disableImageEncryption, enableImageEncryption, SEImage.noComponentEncryption, to: &plaintextFlags)
        apply(enablePckmo, disablePckmo, 0xE0, to: &plaintextFlags)
        apply(enablePckmoHmac, disablePckmoHmac, 0x10, to: &plaintextFlags)
        apply(enableBackupKeys, disableBackupKeys, 0x2, to: &plaintextFlags)
        apply(enableCckExtensionSecret, disableCckExtensionSecret, 0x4000_0000_0000_0000, to: &secretFlags)
        apply(enableCckUpdate, disableCckUpdate, 0x2000_0000_0000_0000, to: &secretFlags)
        let pswAddress = psw.map { parseNumber($0, option: "--x-psw") }

        // Components and their checks (spec §5; pvimg's S390Kernel and Cmdline checks).
        let kernelBytes = readInput(kernel, what: "kernel")
        let ramdiskBytes = ramdisk.map { readInput($0, what: "ramdisk") }
        let parmfileBytes = parmfile.map { readInput($0, what: "parmfile") }
        if !noComponentCheck {
            if kernelBytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                mkimageFail("kernel \(kernel) is an ELF file, not a raw s390x kernel (objcopy -O binary it, or pass --no-component-check)")
            }
            guard SEImage.isRawS390Kernel(kernelBytes), kernelBytes.count >= Self.commandLineSizeOffset + 8 else {
                mkimageFail("kernel \(kernel) is not a raw s390x kernel (no \"S390EP\" at 0x10008; pass --no-component-check to use it anyway)")
            }
            if let parmfileBytes, let parmfile {
                var limit = Int(clamping: kernelBytes.readBigEndianUInt64(at: Self.commandLineSizeOffset))
                if limit == 0 { limit = Self.legacyCommandLineSize }
                let size = parmfileBytes.count + (parmfileBytes.last == 0 ? 0 : 1)
                if size > limit {
                    mkimageFail("parmfile \(parmfile) is \(size) bytes with its NUL, more than the kernel's \(limit)-byte command line (pass --no-component-check to skip)")
                }
            }
        }

        // Boot loaders.
        let loaderDirectory: String
        if let loaders {
            loaderDirectory = loaders
        } else {
            switch SEBootLoaders.defaultDirectory() {
            case .success(let directory): loaderDirectory = directory
            case .failure(let error): mkimageFail(error.description)
            }
        }
        let bootLoaders: SEBootLoaders
        do { bootLoaders = try SEBootLoaders(directory: loaderDirectory) } catch { mkimageFail(error.description) }

        // Build and write.
        var configuration = SEImageConfiguration(kernel: kernelBytes, ramdisk: ramdiskBytes, parmfile: parmfileBytes, hostKeys: hostKeys)
        configuration.plaintextControlFlags = plaintextFlags
        configuration.secretControlFlags = secretFlags
        configuration.pswAddressOverride = pswAddress
        let image: SEImage
        do { image = try SEImage.build(configuration, loaders: bootLoaders, keys: keys) } catch {
            mkimageFail("cannot build the image: \(error)")
        }
        do { try writeAtomically(image.bytes, to: output, mode: 0o666, replace: overwrite) } catch {
            mkimageFail(error.description)
        }
        // Warnings only once the image exists, so that a failure is always exactly one line.
        if noVerify { warn("host-key document verification is disabled; the Secure Execution image may not be protected") }
        if noComponentCheck { warn("the component check is turned off") }
    }

    /// Where a raw kernel keeps its maximum command-line size (u64; 0 means 896), as pvimg reads it.
    static let commandLineSizeOffset = 0x10430, legacyCommandLineSize = 896

    private func readKey(_ path: String, option: String, size: Int) -> [UInt8] {
        let bytes = readInput(path, what: "\(option) key")
        guard bytes.count == size else { mkimageFail("\(option) \(path) has \(bytes.count) bytes, it must have exactly \(size)") }
        return bytes
    }

    private func parseNumber(_ text: String, option: String) -> UInt64 {
        let value: UInt64? = text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let value else { mkimageFail("\(option) \(text) is not a number (hex 0x... or decimal, at most 64 bits)") }
        return value
    }

    private func readInput(_ path: String, what: String) -> [UInt8] {
        do { return try readFileBytes(path) } catch { mkimageFail("cannot read \(what) \(path): \(error.description)") }
    }

    private func warn(_ message: String) {
        FileHandle.standardError.write(Data("s390pv mkimage: warning: \(message)\n".utf8))
    }
}

/// One line on stderr, `s390pv mkimage: ...`, and exit status 1.
func mkimageFail(_ message: String) -> Never {
    commandFail("mkimage", message)
}

/// One line on stderr, `s390pv COMMAND: MESSAGE`, and exit status 1.
func commandFail(_ command: String, _ message: String) -> Never {
    let line = message.replacingOccurrences(of: "\n", with: " ")
    FileHandle.standardError.write(Data("s390pv \(command): \(line)\n".utf8))
    exit(1)
}

/// A failed system call on a path, with the C library's reason.
struct FileError: Error, CustomStringConvertible {
    let description: String
    init(_ operation: String, _ path: String, errno code: Int32 = errno) {
        description = "\(operation) \(path): \(String(cString: strerror(code)))"
    }
    init(reason: String) { description = reason }
}

/// The whole file at `path`, with strerror's reason on failure (directories included).
func readFileBytes(_ path: String) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FileError(reason: String(cString: strerror(errno)))
        }
        if count == 0 { return bytes }
        bytes += chunk[..<count]
    }
}

/// Writes `bytes` to a new temporary file beside `path` (created with `mode`, less the umask), then
/// moves it into place: `rename` when `replace`, else `link` + `unlink`, which fails if `path`
/// appeared meanwhile. The temporary file is removed on any failure, so no partial file is left.
func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t, replace: Bool) throws(FileError) {
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    var temporary = ""
    var fd: Int32 = -1
    for _ in 0 ..< 100 {
        temporary = ((directory.isEmpty ? "." : directory) as NSString)
            .appendingPathComponent(".\(name).\(UInt32.random(in: 0 ... .max)).part")
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd >= 0 || errno != EEXIST { break }
    }
    guard fd >= 0 else { throw FileError("cannot create a file in", directory.isEmpty ? "." : directory) }
    var failure: FileError?
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            failure = FileError("cannot write", path)
            break
        }
        offset += written
    }
    if failure == nil && fsync(fd) != 0 { failure = FileError("cannot write", path) }
    if close(fd) != 0 && failure == nil { failure = FileError("cannot write", path) }
    if failure == nil {
        if replace {
            if rename(temporary, path) != 0 { failure = FileError("cannot create", path) }
        } else if link(temporary, path) != 0 {
            failure = errno == EEXIST ? FileError(reason: "\(path) already exists") : FileError("cannot create", path)
        }
    }
    unlink(temporary)
    if let failure { throw failure }
}

extension Array where Element == UInt8 {
    /// The big-endian u64 at `offset` (the caller checked the bounds).
    func readBigEndianUInt64(at offset: Int) -> UInt64 {
        self[offset ..< offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
