// The KVM-shaped VM and vCPU: ioctl-style errors, memory operations, and KVM_RUN's exits, driven
// the way a VMM drives them (guest code written with writeAbsolute, PSW set, run on a thread).
import Foundation
import RestrictedMemory
@testable import KernelModel
import S390CPU
import Testing

@Suite("VM and vCPU errors")
struct KernelModelErrorTests {
    @Test("createVCPU refuses a used id (EEXIST) and an id beyond maxCPUs (EINVAL)")
    func createVCPUErrors() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 1 << 20, maxCPUs: 4))
        _ = try vm.createVCPU(id: 0)
        #expect(throws: Errno.EEXIST) { _ = try vm.createVCPU(id: 0) }
        #expect(throws: Errno.EINVAL) { _ = try vm.createVCPU(id: 4) }
        #expect(throws: Errno.EINVAL) { _ = try vm.createVCPU(id: .max) }
        let last = try vm.createVCPU(id: 3)
        #expect(last.id == 3)
        #expect(last.mpState == .stopped, "a new vCPU starts stopped")
    }

    @Test("createVM with a size that is not a whole number of MiB fails with EINVAL",
          arguments: [4096, (1 << 20) + 512] as [UInt64])
    func createVMBadSize(_ size: UInt64) {
        #expect(throws: Errno.EINVAL) { _ = try KVM.createVM(VMConfiguration(memorySize: size)) }
    }

    @Test("createVM without memory has no storage until a memslot is set")
    func createVMWithoutMemory() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 0))
        #expect(vm.memorySize == 0)
        #expect(throws: MemoryOperationError.programException(.addressing)) { _ = try vm.readAbsolute(0, count: 1) }
    }

    @Test("setInitialPSW is EBUSY while operating and allowed when stopped")
    func setInitialPSWBusy() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: 0x4000))
        #expect(vcpu.psw.address == 0x4000)
        try vcpu.setMPState(.operating)
        #expect(throws: Errno.EBUSY) { try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: 0x8000)) }
        #expect(vcpu.psw.address == 0x4000)
        #expect(throws: Errno(6), "LOAD needs a protected vCPU (ENXIO)") { try vcpu.setMPState(.load) }
        #expect(vcpu.mpState == .operating)
        try vcpu.setMPState(.stopped)
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: 0x8000))
        #expect(vcpu.psw.address == 0x8000)
    }

    @Test("absolute memory operations: range checks and the 64 KiB limit")
    func memoryOperations() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 1 << 20))
        #expect(vm.memorySize == 1 << 20)
        try vm.writeAbsolute(0xFFFFC, [1, 2, 3, 4])
        #expect(try vm.readAbsolute(0xFFFFC, count: 4) == [1, 2, 3, 4])
        #expect(try vm.readAbsolute(0, count: 65536).count == 65536)
        #expect(try vm.readAbsolute(0x1000, count: 0) == [])
        #expect(throws: MemoryOperationError.programException(.addressing)) { _ = try vm.readAbsolute(1 << 20, count: 0) }
        #expect(throws: MemoryOperationError.programException(.addressing)) { _ = try vm.readAbsolute(0xFFFFD, count: 4) }
        #expect(throws: MemoryOperationError.programException(.addressing)) { _ = try vm.readAbsolute(1 << 20, count: 1) }
        #expect(throws: MemoryOperationError.programException(.addressing)) { _ = try vm.readAbsolute(.max, count: 2) }
        #expect(throws: MemoryOperationError.programException(.addressing)) { try vm.writeAbsolute(0xFFFFF, [1, 2]) }
        #expect(throws: MemoryOperationError.errno(.E2BIG)) { _ = try vm.readAbsolute(0, count: 65537) }
        #expect(throws: MemoryOperationError.errno(.E2BIG)) { _ = try vm.readAbsolute(0, count: -1) }
        #expect(throws: MemoryOperationError.errno(.E2BIG)) { try vm.writeAbsolute(0, [UInt8](repeating: 0, count: 65537)) }
        #expect(try vm.readAbsolute(0xFFFFC, count: 4) == [1, 2, 3, 4], "failed writes change nothing")
    }
}

@Suite("KVM_RUN exits")
struct VCPURunTests {
    @Test("SERVC exits to userspace with icptcode 4, IPA B220 and the PSW past it")
    func servcIntercept() throws {
        let machine = try TestVM(cpus: 1)
        try machine.load(Asm.lhi(1, 7) + Asm.servc(1, 2) + TestVM.end())
        let vcpu = machine.vcpus[0]
        let exit = try #require(run(vcpu))
        guard case .sieIntercept(let icptcode, let ipa, let ipb) = exit else {
            Issue.record("unexpected exit \(exit)"); return
        }
        #expect(icptcode == InterceptCode.instruction)
        #expect(ipa == 0xB220)
        #expect(ipb >> 16 == 0x0012, "IPB bytes 0-1 are instruction bytes 2-3 (R1=1, R2=2); ipb = \(String(ipb, radix: 16))")
        #expect(vcpu.psw.address == Layout.code + 8)
        #expect(vcpu.gprs[1] == 7, "the instruction before SERVC ran")
        #expect(vcpu.mpState == .operating)
        // The VMM completes the instruction and runs on.
        vcpu.conditionCode = 0
        #expect(run(vcpu) == disabledWaitExit)
        #expect(vcpu.psw.address == Layout.endAddress)
    }

    @Test("DIAG 0x44 and 0x9C are handled in the kernel: no exit")
    func diagnoseYieldInKernel() throws {
        let machine = try TestVM(cpus: 1)
        try machine.load(Asm.diag(0, 0, code: 0x44) + Asm.diag(0, 0, code: 0x9C) + Asm.lhi(1, 1) + TestVM.end())
        let vcpu = machine.vcpus[0]
        #expect(run(vcpu) == disabledWaitExit)
        #expect(vcpu.psw.address == Layout.endAddress, "a program check would end at 0xBAD0")
        #expect(vcpu.gprs[1] == 1)
    }

    @Test("DIAG 0x308 exits with icptcode 4 and IPA 83xx; diagnoseCode decodes base + displacement")
    func diagnose308Exits() throws {
        let machine = try TestVM(cpus: 1)
        // DIAG 2,3,0x300(5) with R5 = 8: the code is 0x308.
        try machine.load(Asm.lghi(5, 8) + Asm.diag(2, 3, code: 0x300, base: 5) + TestVM.end())
        let vcpu = machine.vcpus[0]
        let exit = try #require(run(vcpu))
        guard case .sieIntercept(let icptcode, let ipa, let ipb) = exit else {
            Issue.record("unexpected exit \(exit)"); return
        }
        #expect(icptcode == InterceptCode.instruction)
        #expect(ipa == 0x8323)
        #expect(ipb >> 16 == 0x5300)
        #expect(vcpu.diagnoseCode(ipa: ipa, ipb: ipb) == 0x308)
        #expect(vcpu.psw.address == Layout.code + 8)
    }

    @Test("DIAG with code 0x308 in the displacement alone also exits")
    func diagnose308Plain() throws {
        let machine = try TestVM(cpus: 1)
        try machine.load(Asm.diag(0, 0, code: 0x308) + TestVM.end())
        let vcpu = machine.vcpus[0]
        let exit = try #require(run(vcpu))
        guard case .sieIntercept(4, 0x8300, let ipb) = exit else { Issue.record("unexpected exit \(exit)"); return }
        #expect(ipb >> 16 == 0x0308)
        #expect(vcpu.diagnoseCode(ipa: 0x8300, ipb: ipb) == 0x308)
    }

    @Test("a disabled wait exits with icptcode 0x1C")
    func disabledWait() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.disabledWait, address: 0x1234))
        try vcpu.setMPState(.operating)
        #expect(run(vcpu) == disabledWaitExit)
        #expect(vcpu.psw.isDisabledWait)
        #expect(vcpu.psw.address == 0x1234)
        // Through LPSWE too.
        try machine.load(Asm.lhi(2, 2) + TestVM.end())
        #expect(run(vcpu) == disabledWaitExit)
        #expect(vcpu.psw.address == Layout.endAddress)
    }

    @Test("an enabled wait blocks until a service signal, then the external new PSW runs")
    func enabledWaitServiceSignal() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        // External handler: mark, then the disabled wait at R11 + 32.
        try machine.vm.writeAbsolute(Layout.externalHandler, Asm.mvi(0x100, base: 10, 0xEE) + Asm.lpswe(32, base: 11))
        try machine.writePSW(Layout.externalNewPSW, mask: PSWMask.supervisor64, address: Layout.externalHandler)
        var control = vcpu.controlRegisters
        control[0] = 0x200   // service-signal subclass
        vcpu.controlRegisters = control
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x5678))
        try vcpu.setMPState(.operating)
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.1), "an enabled wait with nothing pending must block")
        machine.vm.injectServiceSignal(parameter: 0x0001_2340)
        #expect(running.finish() == disabledWaitExit)
        #expect(vcpu.psw.address == Layout.externalEndAddress)
        #expect(try machine.read(Layout.results + 0x100, 1) == [0xEE])
        #expect(try get16(machine.read(0x86, 2)) == 0x2401, "external-interruption code")
        #expect(try get32(machine.read(0x80, 4)) == 0x0001_2340, "service-signal parameter")
        let oldPSW = try machine.read(0x130, 16)
        #expect(get64(oldPSW) == PSWMask.enabledWait)
        #expect(get64(oldPSW, 8) == 0x5678)
    }

    @Test("a service signal is not taken while the subclass mask is off")
    func serviceSignalMasked() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try machine.writePSW(Layout.externalNewPSW, mask: PSWMask.disabledWait, address: Layout.externalEndAddress)
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x5678))   // CR0 = 0: masked
        try vcpu.setMPState(.operating)
        let running = RunningVCPU(vcpu)
        machine.vm.injectServiceSignal(parameter: 0x2000)
        #expect(running.isStillRunning(after: 0.1))
        vcpu.kick()
        #expect(running.finish() == .interrupted)
        #expect(vcpu.psw.address == 0x5678)
    }

    @Test("kick makes a run blocked in the stopped state return .interrupted")
    func kickStopped() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        #expect(vcpu.mpState == .stopped)
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.05), "a stopped vCPU must block in run()")
        vcpu.kick()
        #expect(running.finish() == .interrupted)
    }

    @Test("kick makes a run blocked in an enabled wait return .interrupted")
    func kickEnabledWait() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x5678))
        try vcpu.setMPState(.operating)
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.05))
        vcpu.kick()
        #expect(running.finish() == .interrupted)
        #expect(vcpu.mpState == .operating)
    }

    @Test("kick interrupts a vCPU executing an endless loop")
    func kickLoop() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try machine.load(Asm.loopForever)
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.05))
        machine.vm.kickAll()
        #expect(running.finish() == .interrupted)
        #expect(vcpu.psw.address == Layout.code)
        #expect(vcpu.instructionCount > 0)
    }

    @Test("one kick is one .interrupted: the next run proceeds (KVM: one signal, one EINTR)")
    func kickConsumedOnce() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try machine.load(TestVM.end())
        vcpu.kick()
        #expect(run(vcpu) == .interrupted, "a kick pending before run makes it return at once")
        #expect(run(vcpu) == disabledWaitExit)
    }

    @Test("a kick to a blocked run is consumed by that run")
    func kickWhileBlockedConsumedOnce() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x5678))
        try vcpu.setMPState(.operating)
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.05))
        vcpu.kick()
        #expect(running.finish() == .interrupted)
        // Now give it something to do: the next run must execute it.
        try machine.load(TestVM.end())
        #expect(run(vcpu) == disabledWaitExit)
    }

    @Test("single-step returns .debug after each instruction")
    func singleStep() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try machine.load(Asm.lhi(1, 5) + Asm.lhi(2, 6) + Asm.diag(0, 0, code: 0x44) + TestVM.end())
        vcpu.singleStep = true
        #expect(run(vcpu) == .debug)
        #expect(vcpu.gprs[1] == 5)
        #expect(vcpu.gprs[2] == 0)
        #expect(vcpu.psw.address == Layout.code + 4)
        #expect(vcpu.instructionCount == 1)
        #expect(run(vcpu) == .debug)
        #expect(vcpu.gprs[2] == 6)
        #expect(vcpu.psw.address == Layout.code + 8)
        #expect(run(vcpu) == .debug, "a kernel-handled DIAG is one step too")
        #expect(vcpu.psw.address == Layout.code + 12)
        vcpu.singleStep = false
        #expect(run(vcpu) == disabledWaitExit)
    }

    @Test("a program interruption injected for an intercepted instruction goes through the program new PSW")
    func injectProgramInterruption() throws {
        let machine = try TestVM(cpus: 1)
        let vcpu = machine.vcpus[0]
        try machine.load(Asm.servc(1, 2) + TestVM.end())
        guard case .sieIntercept(4, 0xB220, _)? = run(vcpu) else { Issue.record("no SERVC intercept"); return }
        vcpu.injectProgramInterruption(.specification, ilc: 4)
        #expect(run(vcpu) == disabledWaitExit, "delivered as KVM_RUN enters, into the program new PSW")
        #expect(vcpu.psw.address == Layout.programCheckAddress)
        #expect(try get16(machine.read(0x8E, 2)) == 6)
        #expect(try get16(machine.read(0x8C, 2)) == 4)
        #expect(try get64(machine.read(0x158, 8)) == Layout.code + 4, "specification is completing: old PSW past the instruction")
    }
}

@Suite("STSI 3.2.2 to userspace")
struct SystemInformationTests {
    /// STSI 0(2) with fc 3, selectors 2/2, into the page at 0x20000.
    static func stsi322(_ machine: TestVM) throws {
        let vcpu = machine.vcpus[0]
        var registers = vcpu.gprs
        registers[0] = 0x3000_0002
        registers[1] = 2
        registers[2] = 0x20000
        vcpu.gprs = registers
        try machine.load([0xB2, 0x7D, 0x20, 0x00] + TestVM.end())
    }

    @Test("with KVM_CAP_S390_USER_STSI the SYSIB is stored, then KVM_RUN exits for userspace to amend it")
    func exitsToUserspace() throws {
        let machine = try TestVM(cpus: 1)
        machine.vm.enableUserSTSI()
        try Self.stsi322(machine)
        #expect(run(machine.vcpus[0]) == .systemInformation(address: 0x20000))
        #expect(machine.vcpus[0].conditionCode == 0)
        #expect(try machine.read(0x20000 + 56, 4) == [0xD2, 0xE5, 0xD4, 0x61], "\"KVM/\" in EBCDIC, as the kernel fills it")
    }

    @Test("without the capability STSI 3.2.2 stays in the kernel")
    func staysInKernel() throws {
        let machine = try TestVM(cpus: 1)
        try Self.stsi322(machine)
        #expect(run(machine.vcpus[0]) == disabledWaitExit)
    }
}

@Suite("Restricted memory under a VM")
struct RestrictedMemoryVMTests {
    /// A VM whose 16 MiB of RAM is one guest_memfd bound as memslot 0, and one vCPU looping at 0x10000.
    static func machine() throws -> (VirtualMachine, GuestMemfd, VirtualCPU) {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 0))
        let memfd = try vm.createGuestMemfd(size: 16 << 20, flags: 0)
        try vm.setMemoryRegion(slot: 0, flags: 1 << 2, guestAddress: 0, size: 16 << 20, userspaceAddress: 0,
                               memfd: .success(memfd), memfdOffset: 0)
        let vcpu = try vm.createVCPU(id: 0)
        try vm.writeAbsolute(0x10000, [0xA7, 0xF4, 0x00, 0x00])   // BRC 15,*
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: 0x10000))
        try vcpu.setMPState(.operating)
        return (vm, memfd, vcpu)
    }

    @Test("a memory failure in bound guest memory ends the next KVM_RUN with KVM_EXIT_MEMORY_FAULT at the failed page")
    func memoryFailureStopsTheVM() throws {
        let (vm, memfd, vcpu) = try Self.machine()
        try memfd.injectMemoryFailure(offset: 0x100000, length: 4096)
        #expect(run(vcpu) == .memoryFault(guestAddress: 0x100000, size: 4096))
        withExtendedLifetime(vm) {}
    }

    @Test("a vCPU whose VM is gone fails cleanly (no trap)")
    func vcpuOutlivesItsVM() throws {
        let vcpu = try Self.machine().2
        #expect(run(vcpu) == .internalError("the VM of vCPU 0 no longer exists"))
    }

    @Test("a hole punched in bound guest memory reads back as zeros, and the guest runs on")
    func punchHoleZeroes() throws {
        let (vm, memfd, vcpu) = try Self.machine()
        defer { withExtendedLifetime(vm) {} }
        try vm.writeAbsolute(0x200000, [UInt8](repeating: 0xA5, count: 8192))
        try memfd.fallocate(mode: [.punchHole, .keepSize], offset: 0x200000, length: 4096)
        #expect(try vm.readAbsolute(0x200000, count: 4096) == [UInt8](repeating: 0, count: 4096))
        #expect(try vm.readAbsolute(0x201000, count: 4) == [0xA5, 0xA5, 0xA5, 0xA5], "only the punched page")
        let running = RunningVCPU(vcpu)
        vcpu.kick()
        #expect(running.finish() == .interrupted)
    }
}
