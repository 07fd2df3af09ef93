// s390pv: run s390x guests, disassemble images, benchmark the CPU.
import ArgumentParser
import FaultInjection
import Foundation

/// Exit statuses of `s390pv run` (and of every command for unusable input).
enum ExitStatus {
    static let success: Int32 = 0
    static let guestFailure: Int32 = 1
    static let unusableInput: Int32 = 2
    static let crash: Int32 = 3
    static let timeout: Int32 = 4
    static let guestSkipped: Int32 = 77
}

@main
struct S390PV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s390pv",
        abstract: "An emulator for IBM Z guests, protected (Secure Execution) ones in time.",
        subcommands: [Run.self, Info.self, Disasm.self, Bench.self, MkImage.self, HostKeyCommand.self, Fuzz.self, Tamper.self, Isolation.self, Faults.self,
                      PsCommand.self, KillCommand.self, WaitCommand.self, ConsoleCommand.self, RmCommand.self])

    /// ArgumentParser exits 64 for bad usage; s390pv documents one status for unusable input.
    static func main() {
        // S390PV_FAIL (fault injection, Sources/FaultInjection) is read once, here: a bad
        // setting is unusable input, not a silently disarmed point.
        do { try FaultInjection.configureFromEnvironment() } catch { fail(error.description) }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success { print(fullMessage(for: error)); Foundation.exit(0) }
            let message = fullMessage(for: error)
            FileHandle.standardError.write(Data(("s390pv: " + (message.split(separator: "\n").first.map(String.init) ?? "\(error)") + "\n").utf8))
            Foundation.exit(code == .validationFailure ? ExitStatus.unusableInput : code.rawValue)
        }
    }
}

/// One-line error on stderr and the given status.
func fail(_ message: String, status: Int32 = ExitStatus.unusableInput) -> Never {
    FileHandle.standardError.write(Data("s390pv: \(message)\n".utf8))
    exit(status)
}

/// A memory size: a number with an optional K, M, G or T suffix (powers of 1024); a bare
/// number means MiB, as QEMU's -m.
struct MemorySize: ExpressibleByArgument {
    let bytes: UInt64
    /// How --help shows a default: 128M, 1G.
    var defaultValueDescription: String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : "\(bytes >> 20)M"
    }
    init?(argument: String) {
        let text = argument.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let shifts: [Character: UInt64] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = Substring(text), shift: UInt64 = 20
        if let last = text.last, let unit = shifts[last] { digits = text.dropLast(); shift = unit }
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = UInt64(digits),
              value > 0, value <= UInt64.max >> shift else { return nil }
        bytes = value << shift
    }
}
