import Foundation
import Testing
@testable import VMM

/// Boots every guest of Guests/ on s390pv and checks its console and outcome; where
/// qemu-system-s390x is installed, the console must be identical to QEMU's (spec 3.8).
@Suite(.serialized)
struct GuestBootTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let qemu = ["/usr/bin/qemu-system-s390x", "/usr/local/bin/qemu-system-s390x"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Case: CustomStringConvertible, Sendable {
        let guest: String, cpus: Int, append: String?, expected: [String]
        var description: String { "\(guest) cpus=\(cpus)\(append.map { " append=\($0)" } ?? "")" }
    }

    static let cases: [Case] = [
        Case(guest: "hello", cpus: 1, append: nil, expected: ["Hello from s390pv guest!", "command line: (none)"]),
        Case(guest: "hello", cpus: 1, append: "test 123", expected: ["command line: test 123"]),
        Case(guest: "cpu-selftest", cpus: 1, append: nil, expected: ["cpu-selftest: 0 failure(s)"]),
        Case(guest: "cpu-selftest-zec12", cpus: 1, append: nil, expected: ["PASS: LAAG new value = 0x2a", "cpu-selftest: 0 failure(s)"]),
        Case(guest: "smp", cpus: 1, append: nil, expected: ["smp: SCLP reports 1 CPU(s)", "smp: 0 failure(s)"]),
        Case(guest: "smp", cpus: 4, append: nil, expected: ["cpu 3 online", "PASS: cpu 3: stopped by SIGP STOP, SENSE agrees", "smp: 0 failure(s)"]),
        Case(guest: "timers", cpus: 1, append: nil, expected: ["PASS: round 1: codes 0x1004 then 0x1005", "timers: 0 failure(s)"]),
        Case(guest: "sieve", cpus: 1, append: "iterations=2", expected: ["primes: 78498", "checksum: 0x2f363d8a86ed8e73"]),
        Case(guest: "sclp-checks", cpus: 1, append: nil, expected: ["PASS: SERVC, SCCB at 1 GiB (beyond storage): program interruption 0x05 (expected 0x05)",
                                                                    "sclp-checks: 128 MiB, 1 CPU(s), CPU entries at 128", "sclp-checks: 0 failure(s)"]),
        Case(guest: "sclp-checks", cpus: 2, append: nil, expected: ["sclp-checks: 128 MiB, 2 CPU(s), CPU entries at 128", "sclp-checks: 0 failure(s)"]),
        Case(guest: "diag308", cpus: 1, append: nil, expected: ["PASS: subcode 1: resumed at the PSW stored at absolute 0",
                                                                "PASS: subcode 0: r3 zeroed by the clear reset = 0x0", "diag308: 0 failure(s)"]),
        Case(guest: "sigp-checks", cpus: 1, append: nil, expected: ["sigp-checks: checks on CPU 1 need 2 CPUs, skipped", "sigp-checks: 0 failure(s)"]),
        Case(guest: "sigp-checks", cpus: 2, append: nil, expected: ["PASS: CPU 1: code 0x1201, source CPU address (0x84) 0 (expected 0x1201, 0)",
                                                                    "PASS: after the reset: stored CR14 = 0xc2000000", "sigp-checks: 0 failure(s)"]),
    ]

    static func imagePath(_ guest: String) -> String { repository.appending(path: "Guests/build/\(guest).elf").path }

    static func runOnS390PV(_ testCase: Case) throws -> (RunOutcome, String) {
        var configuration = MachineConfiguration(imagePath: imagePath(testCase.guest))
        configuration.cpus = testCase.cpus
        configuration.commandLine = testCase.append
        configuration.timeout = .seconds(60)
        let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
        let machine = try Machine(configuration, console: console)
        return (machine.run(), console.text)
    }

    /// The console lines that must match QEMU: all but the guest's own timing line.
    static func comparable(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.hasPrefix("elapsed:") } }

    @Test("guest boots and passes", arguments: cases)
    func boots(_ testCase: Case) throws {
        try #require(FileManager.default.fileExists(atPath: Self.imagePath(testCase.guest)), "build the guests first: make guests")
        let (outcome, text) = try Self.runOnS390PV(testCase)
        #expect(outcome == .stopped(status: 1), "\(text)")
        #expect(text.contains("EXIT: STATUS=1"))
        for line in testCase.expected { #expect(text.contains(line), "missing \(line) in:\n\(text)") }
        #expect(!text.contains("FAIL"))
    }

    @Test("console identical to qemu-system-s390x", .enabled(if: qemu != nil, "qemu-system-s390x is not installed (apt-get install qemu-system-misc)"),
          arguments: cases)
    func matchesQEMU(_ testCase: Case) throws {
        let (_, ours) = try Self.runOnS390PV(testCase)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.qemu!)
        process.arguments = ["-nodefaults", "-nographic", "-machine", "s390-ccw-virtio,accel=tcg", "-chardev", "stdio,id=con0",
                             "-device", "sclpconsole,chardev=con0", "-smp", "\(testCase.cpus)", "-kernel", Self.imagePath(testCase.guest)]
            + (testCase.append.map { ["-append", $0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        let theirs = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(Self.comparable(ours) == Self.comparable(theirs))
    }
}

/// Bad images and guest crashes end with the documented outcome, never a crash or a hang.
struct MachineFailureTests {
    static func temporaryFile(_ bytes: [UInt8]) -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "s390pv-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func missingImageIsRefused() {
        #expect(throws: MachineError.self) { try Machine(MachineConfiguration(imagePath: "/nonexistent/guest.elf")) }
    }

    @Test func garbageImageIsRefused() {
        let path = Self.temporaryFile([UInt8](repeating: 0x5A, count: 100))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: MachineError.self) { try Machine(MachineConfiguration(imagePath: path)) }
    }

    @Test func disabledWaitIsACrash() throws {
        // A flat image whose IPL PSW is a disabled wait (short PSW: bit 12 and the wait bit).
        let path = Self.temporaryFile([0x00, 0x0A, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00] + [UInt8](repeating: 0, count: 8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let machine = try Machine(MachineConfiguration(imagePath: path))
        guard case .disabledWait(let cpu, let psw) = machine.run() else { Issue.record("expected a disabled wait"); return }
        #expect(cpu == 0)
        #expect(psw.isDisabledWait)
    }

    @Test func endlessLoopTimesOut() throws {
        // A flat image that branches to itself forever: BRC 15,0 at 0x10000.
        var bytes = [UInt8](repeating: 0, count: 0x10004)
        bytes.replaceSubrange(0..<8, with: [0x00, 0x08, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00])
        bytes.replaceSubrange(0x10000..<0x10004, with: [0xA7, 0xF4, 0x00, 0x00])
        let path = Self.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = MachineConfiguration(imagePath: path)
        configuration.timeout = .milliseconds(300)
        let machine = try Machine(configuration)
        #expect(machine.run() == .timeout)
    }

    @Test func wildBranchGetsAnAddressingException() throws {
        // BR to an address beyond storage, with program-new PSW = disabled wait at 0x1234:
        // the guest gets the architected interruption and the machine reports the wait.
        var bytes = [UInt8](repeating: 0, count: 0x10010)
        bytes.replaceSubrange(0..<8, with: [0x00, 0x08, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00])
        bytes.replaceSubrange(0x1D0..<0x1E0, with: [0x00, 0x02, 0x00, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34])
        // LLILH r1,0x7000 (r1 = 0x70000000, outside 128 MiB); BR r1
        bytes.replaceSubrange(0x10000..<0x10006, with: [0xA5, 0x1E, 0x70, 0x00, 0x07, 0xF1])
        let path = Self.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let machine = try Machine(MachineConfiguration(imagePath: path))
        guard case .disabledWait(_, let psw) = machine.run() else { Issue.record("expected the program-new disabled wait"); return }
        #expect(psw.address == 0x1234)
    }
}
