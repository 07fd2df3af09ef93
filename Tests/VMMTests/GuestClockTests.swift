// The guest clock through the KVM TOD device attributes only (KVMIoctls), as the VMM sets it:
// the clock-namespace offset before the first KVM_RUN, EACCES afterwards, ERANGE, and the guest
// clock guest keeping the offset across reboots (issue 6).
import Foundation
import KVMIoctls
@testable import VMM
import Testing

@Suite("Guest clock through the TOD attributes (issue 6)")
struct GuestClockTests {
    static let second: Int64 = 4_096_000_000

    /// The errno an ioctl wrapper failed with, nil if it succeeded.
    func errno(_ body: () throws(KVMError) -> Void) -> Int32? {
        do { try body(); return nil } catch { return error.errno }
    }

    @Test("offset and TOD attributes round-trip; ERANGE; EACCES once the guest has run")
    func attributes() throws {
        let elf = GuestBootTests.imagePath("clock")
        try #require(FileManager.default.fileExists(atPath: elf), "build the guests first: make guests")
        var configuration = MachineConfiguration(imagePath: elf)
        configuration.guestClock = .offset(seconds: 3600, nanoseconds: 0)
        configuration.commandLine = "reboots=1"
        let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
        let machine = try Machine(configuration, console: console)
        let vm = machine.vm
        #expect(try vm.clockOffset() == 3600 * Self.second)
        try vm.setClockOffset(-60 * Self.second)
        #expect(try vm.clockOffset() == -60 * Self.second)
        let target: UInt64 = 0xF000_0000_0000_0000   // 2040-ish, within epoch 0
        try vm.setGuestTOD(target)
        let tod = try vm.guestTOD()
        #expect(tod >= target && tod - target < UInt64(Self.second))
        #expect(errno { () throws(KVMError) in try vm.setClockOffset(.max) } == 34)
        try vm.setClockOffset(3600 * Self.second)
        #expect(machine.run() == .stopped(status: 1))
        #expect(console.text.contains("clock: 2 boot(s), the TOD never went backwards"))
        #expect(errno { () throws(KVMError) in try vm.setClockOffset(0) } == 13)
        #expect(errno { () throws(KVMError) in try vm.setGuestTOD(target) } == 13)
        #expect(errno { () throws(KVMError) in try vm.setClockOffset(.max) } == 34)   // the range is checked first
        #expect(try vm.clockOffset() == 3600 * Self.second, "kept across the reboot")
    }

    @Test("--clock-offset out of range fails before the guest runs")
    func outOfRange() throws {
        var configuration = MachineConfiguration(imagePath: GuestBootTests.imagePath("clock"))
        try #require(FileManager.default.fileExists(atPath: configuration.imagePath), "build the guests first: make guests")
        configuration.guestClock = .offset(seconds: 40 * 365 * 86400, nanoseconds: 0)
        #expect(throws: MachineError.self) { _ = try Machine(configuration) }
        configuration.guestClock = .epoch(unixSeconds: 2_300_000_000, nanoseconds: 0)   // 2042-11: past epoch 0
        #expect(throws: MachineError.self) { _ = try Machine(configuration) }
        configuration.guestClock = .epoch(unixSeconds: 2_208_988_800, nanoseconds: 0)   // 2040-01-01
        _ = try Machine(configuration)
        // 100 years back: beyond the s64 offset attribute, so the VMM uses TOD_EXT; the offset
        // attribute then answers ERANGE on GET.
        configuration.guestClock = .offset(seconds: -100 * 365 * 86400, nanoseconds: 0)
        let machine = try Machine(configuration)
        #expect(try machine.vm.guestTOD() < 30 * 365 * 86400 * UInt64(Self.second))
        #expect(errno { () throws(KVMError) in _ = try machine.vm.clockOffset() } == 34)
    }
}
