// The VM's clock namespace (issue 6): guest TOD = host TOD + offset, settable until the first
// KVM_RUN (then EACCES), ERANGE outside epoch 0, EOPNOTSUPP through KVM's TOD setter once the VM
// is protected (kvm_s390_set_tod), and what STCK in the guest sees.
import Foundation
@testable import KernelModel
import S390CPU
import Testing

@Suite("Clock namespace (issue 6)")
struct ClockNamespaceTests {
    static let hour = Int128(3600) * Int128(TODClock.unitsPerSecond)

    @Test("the offset is read back and moves the VM's TOD clock")
    func setAndGet() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 1 << 20))
        #expect(vm.clockNamespace.offset == 0)
        #expect(!vm.clockNamespace.isFrozen)
        try vm.clockNamespace.setOffset(seconds: 3600)
        #expect(vm.clockNamespace.offset == Int64(Self.hour))
        let host = TODClock.hostTOD()
        let guest = vm.clock.read()
        #expect(guest >= host &+ UInt64(Self.hour))
        #expect(guest - host - UInt64(Self.hour) < UInt64(TODClock.unitsPerSecond), "within a second of host + 1 h")
        try vm.setClockOffset(-Int64(Self.hour))
        #expect(vm.clockNamespace.offset == -Int64(Self.hour))
        #expect(vm.clock.read() < TODClock.hostTOD())
        // KVM's TOD setter: the guest TOD reads the value now, i.e. the offset is value - host TOD.
        let target = TODClock.tod(unixSeconds: 2_208_988_800)!   // 2040-01-01
        try vm.setGuestTOD(target)
        let offset = Int128(vm.clockNamespace.offset)
        #expect(Int128(target) - Int128(TODClock.hostTOD()) - offset < Int128(TODClock.unitsPerSecond))
        #expect(vm.clock.read() >= target)
    }

    @Test("out of range is ERANGE: before 1900, past epoch 0 (2042), beyond KTIME_SEC_MAX; the offset is unchanged")
    func outOfRange() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 1 << 20))
        try vm.clockNamespace.setOffset(seconds: 60)
        let host = Int128(TODClock.hostTOD())
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(-host - Int128(TODClock.unitsPerSecond)) }
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(Int128(UInt64.max) - host + Int128(TODClock.unitsPerSecond)) }
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(seconds: ClockNamespace.maximumOffsetSeconds + 1) }
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(seconds: -ClockNamespace.maximumOffsetSeconds - 1) }
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(seconds: 200 * 365 * 86400) }
        #expect(throws: Errno.EINVAL) { try vm.clockNamespace.setOffset(seconds: 1, nanoseconds: 1_000_000_000) }
        #expect(throws: Errno.ERANGE) { try vm.setClockOffset(.max) }   // +71 years: past 2042
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(-host - Int128(TODClock.unitsPerSecond)) }
        #expect(vm.clockNamespace.offset == 60 * TODClock.unitsPerSecond)
        // The edges of epoch 0 are allowed: 1900-01-01 00:00 (TOD 0) and just below 2^64; an
        // offset beyond the s64 (more than 71 years back) is fine too.
        try vm.clockNamespace.setOffset(-host + Int128(TODClock.unitsPerSecond))
        #expect(vm.clock.read() < 10 * UInt64(TODClock.unitsPerSecond))
        try vm.clockNamespace.setOffset(Int128(UInt64.max) - host - Int128(TODClock.unitsPerSecond))
        try vm.clockNamespace.setOffset(Int128(Int64.min) - Int128(TODClock.unitsPerSecond))
        #expect(TODClock.tod(unixSeconds: -2_208_988_801) == nil)
        #expect(TODClock.tod(unixSeconds: -2_208_988_800) == 0)
    }

    @Test("after the first KVM_RUN the offset is frozen: EACCES (after the range check, as Linux); STCK sees it")
    func frozenAfterFirstRun() throws {
        let machine = try TestVM(cpus: 2)
        let vm = machine.vm
        try vm.clockNamespace.setOffset(seconds: 3600)
        let before = TODClock.hostTOD() &+ UInt64(Self.hour)
        // STCK 0(R10), then the disabled wait that ends the program.
        try machine.load([0xB2, 0x05, 0xA0, 0x00] + TestVM.end())
        #expect(run(machine.vcpus[0]) == disabledWaitExit)
        let stored = get64(try machine.read(Layout.results, 8))
        #expect(stored >= before, "STCK reads host TOD + 1 h")
        #expect(stored - before < 5 * UInt64(TODClock.unitsPerSecond))
        #expect(vm.clockNamespace.isFrozen)
        #expect(throws: Errno.EACCES) { try vm.clockNamespace.setOffset(seconds: 0) }
        #expect(throws: Errno.EACCES) { try vm.setClockOffset(0) }
        #expect(throws: Errno.EACCES) { try vm.setGuestTOD(TODClock.hostTOD()) }
        #expect(throws: Errno.ERANGE) { try vm.clockNamespace.setOffset(seconds: ClockNamespace.maximumOffsetSeconds + 1) }
        #expect(vm.clockNamespace.offset == Int64(Self.hour), "the offset is unchanged")
        // A vCPU created after the first run (and a vCPU reset) reads the same clock.
        let late = try vm.createVCPU(id: 5)
        try late.setMPState(.stopped)
        let host = TODClock.hostTOD()
        #expect(vm.clock.read() >= host &+ UInt64(Self.hour))
    }

    @Test("a protected VM: KVM's TOD setters answer EOPNOTSUPP; the secure configuration has the namespace's clock")
    func protectedVM() throws {
        let fixture = try ProtectedFixture()
        let vm = fixture.vm
        try vm.clockNamespace.setOffset(seconds: 7200)
        #expect(fixture.protect().error == nil)
        #expect(vm.isProtected)
        #expect(throws: Errno.EOPNOTSUPP) { try vm.setGuestTOD(TODClock.hostTOD()) }
        #expect(throws: Errno.EOPNOTSUPP) { try vm.setClockOffset(0) }
        #expect(vm.clockNamespace.offset == 7200 * TODClock.unitsPerSecond)
        let host = TODClock.hostTOD()
        #expect(vm.clock.read() >= host &+ UInt64(7200 * TODClock.unitsPerSecond))
        // Unprotected again (DISABLE) and still before the first run: settable.
        #expect(fixture.command(.disable).error == nil)
        try vm.setClockOffset(0)
        #expect(vm.clockNamespace.offset == 0)
    }
}
