// SIGNAL PROCESSOR as the kernel model handles it (spec s390x-cpu.md section 7.5): guest code on
// CPU 0 issues SIGP against CPU 1 and saves the CC (IPM) and the status register (STG).
import Foundation
@testable import KernelModel
import S390CPU
import Testing

/// One SIGP of a test program.
struct SIGPStep {
    var order: Int
    var target: Int16 = 1
    var parameter: UInt32 = 0
    /// R1 of the SIGP: even (status in R1, parameter in R1+1) or odd (both in R1).
    var r1 = 4
}

/// What a SIGP left behind.
struct SIGPOutcome: Equatable, CustomStringConvertible {
    var cc: UInt8
    /// The low word of R1.
    var status: UInt32
    /// The high word of R1 (must survive a stored status).
    var high: UInt32
    var description: String { "cc \(cc) status 0x\(String(status, radix: 16)) high 0x\(String(high, radix: 16))" }
}

enum SIGPProgram {
    static let highMarker: UInt32 = 0xAAAA_5555

    /// Per step: LGHI R3,target; R1 preset; SIGP; IPM R6; ST R6,16*i(R10); STG R1,16*i+8(R10). Then the end wait.
    static func code(_ steps: [SIGPStep]) -> [UInt8] {
        var code: [UInt8] = []
        for (index, step) in steps.enumerated() {
            code += Asm.lghi(3, step.target)
            if step.r1 % 2 == 0 {
                code += Asm.llihf(step.r1, highMarker)              // status register: marker high, 0 low
                code += Asm.llilf(step.r1 + 1, step.parameter)
            } else {
                code += Asm.llilf(step.r1, step.parameter)          // parameter and status share R1
            }
            code += Asm.sigp(step.r1, 3, order: step.order)
            code += Asm.ipm(6)
            code += Asm.st(6, 16 * index, base: 10)
            code += Asm.stg(step.r1, 16 * index + 8, base: 10)
        }
        return code + TestVM.end()
    }

    /// Runs `steps` on CPU 0 and returns each SIGP's outcome (nil if the program did not end normally).
    static func run(_ machine: TestVM, _ steps: [SIGPStep]) throws -> [SIGPOutcome]? {
        try machine.load(code(steps))
        let exit = KernelModelTests.run(machine.vcpus[0])
        guard exit == disabledWaitExit, machine.vcpus[0].psw.address == Layout.endAddress else {
            Issue.record("SIGP program ended with \(String(describing: exit)) at 0x\(String(machine.vcpus[0].psw.address, radix: 16))")
            return nil
        }
        let results = try machine.read(Layout.results, 16 * steps.count)
        return (0..<steps.count).map { index in
            let ipm = get32(results, 16 * index)
            let register = get64(results, 16 * index + 8)
            return SIGPOutcome(cc: UInt8(ipm >> 28 & 3), status: UInt32(truncatingIfNeeded: register),
                               high: UInt32(truncatingIfNeeded: register >> 32))
        }
    }

    static func accepted() -> SIGPOutcome { SIGPOutcome(cc: 0, status: 0, high: highMarker) }
    static func status(_ value: UInt32) -> SIGPOutcome { SIGPOutcome(cc: 1, status: value, high: highMarker) }
    static func notOperational() -> SIGPOutcome { SIGPOutcome(cc: 3, status: 0, high: highMarker) }
}

/// `signal(...)` results in a comparable form.
func describe(_ result: VirtualCPU.SIGPResult) -> String {
    switch result {
    case .accepted: "accepted"
    case .status(let status): "status 0x\(String(status, radix: 16))"
    case .busy: "busy"
    case .notOperational: "not operational"
    case .userspace: "userspace"
    }
}

@Suite("SIGP")
struct SignalProcessorTests {
    @Test("SENSE of a stopped CPU: cc 1, status 0x40 (STOPPED); of an operating CPU: cc 0")
    func senseStopped() throws {
        let machine = try TestVM()
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x01)]) == [SIGPProgram.status(0x40)])
        try machine.vcpus[1].setMPState(.operating)
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x01)]) == [SIGPProgram.accepted()])
    }

    @Test("a nonexistent CPU address gives cc 3, even for an invalid order")
    func notOperational() throws {
        let machine = try TestVM()   // CPUs 0 and 1 of at most 8
        let outcomes = try SIGPProgram.run(machine, [
            SIGPStep(order: 0x01, target: 2),
            SIGPStep(order: 0x01, target: 7),
            SIGPStep(order: 0x01, target: 300),
            SIGPStep(order: 0x7F, target: 5),
        ])
        #expect(outcomes == Array(repeating: SIGPProgram.notOperational(), count: 4))
    }

    @Test("START, RESTART, the CPU resets, STORE ADDITIONAL STATUS and unknown orders exit to userspace as an instruction intercept (handle_sigp_dst answers -EOPNOTSUPP)",
          arguments: [0x04, 0x06, 0x0B, 0x0C, 0x17, 0x00, 0x7F])
    func ordersForUserspace(_ order: Int) throws {
        let machine = try TestVM()
        #expect(describe(machine.vcpus[0].signal(orderCode: UInt8(order), targetAddress: 1, parameter: 0)) == "userspace")
        try machine.load(SIGPProgram.code([SIGPStep(order: order)]))
        guard case .sieIntercept(4, let ipa, _)? = run(machine.vcpus[0]) else { Issue.record("no intercept"); return }
        #expect(ipa >> 8 == 0xAE)
        #expect(machine.vcpus[1].mpState == .stopped, "the kernel changed nothing")
    }

    @Test("only the low 8 bits of the second-operand address are the order")
    func orderFromLowByte() throws {
        let machine = try TestVM()
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x301)]) == [SIGPProgram.status(0x40)])
    }

    @Test("SET ARCHITECTURE: cc 1, status 0x100 (invalid parameter) under CZAM")
    func setArchitecture() throws {
        let machine = try TestVM()
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x12, parameter: 1), SIGPStep(order: 0x12, target: 0, parameter: 2)])
        #expect(outcomes == [SIGPProgram.status(0x100), SIGPProgram.status(0x100)])
    }

    @Test("SET PREFIX of a stopped CPU: cc 0 and the target's prefix changes; out of range: 0x100")
    func setPrefix() throws {
        let machine = try TestVM()   // 16 MiB
        let outcomes = try SIGPProgram.run(machine, [
            SIGPStep(order: 0x0D, parameter: 0x6000),
            SIGPStep(order: 0x0D, parameter: 0x7FFF_E000),            // beyond 16 MiB
            SIGPStep(order: 0x0D, parameter: 0x100_0000),              // just past the end
            SIGPStep(order: 0x0D, parameter: 0xFF_E000),               // the last 8 KiB: fine
        ])
        #expect(outcomes == [SIGPProgram.accepted(), SIGPProgram.status(0x100), SIGPProgram.status(0x100), SIGPProgram.accepted()])
        #expect(machine.vcpus[1].prefix == 0xFF_E000)
        #expect(machine.vcpus[0].prefix == 0)
    }

    @Test("SET PREFIX with an odd R1 takes the parameter from R1 and ignores the low 13 bits")
    func setPrefixOddRegister() throws {
        let machine = try TestVM()
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x0D, parameter: 0x00FE_1FFF, r1: 5)])
        #expect(outcomes == [SIGPOutcome(cc: 0, status: 0x00FE_1FFF, high: 0)])
        #expect(machine.vcpus[1].prefix == 0xFE_0000)
    }

    @Test("SET PREFIX and STORE STATUS AT ADDRESS need a stopped target (0x200)")
    func incorrectState() throws {
        let machine = try TestVM()
        try machine.vcpus[1].setMPState(.operating)
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x0D, parameter: 0x6000), SIGPStep(order: 0x0E, parameter: 0x40000)])
        #expect(outcomes == [SIGPProgram.status(0x200), SIGPProgram.status(0x200)])
        #expect(machine.vcpus[1].prefix == 0)
    }

    @Test("SET PREFIX checks the address before the state (QEMU sigp_set_prefix, KVM __sigp_set_prefix)")
    func setPrefixCheckOrder() throws {
        let machine = try TestVM()
        try machine.vcpus[1].setMPState(.operating)
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x0D, parameter: 0x7FFF_E000)])
        #expect(outcomes == [SIGPProgram.status(0x100)])
    }

    @Test("STORE STATUS AT ADDRESS stores PSW, prefix and registers at the documented offsets")
    func storeStatusAtAddress() throws {
        let machine = try TestVM()
        let target = machine.vcpus[1]
        target.gprs = (0..<16).map { 0x1111_0000_0000_0000 | UInt64($0) << 8 | 0x42 }
        var control = target.controlRegisters
        control[0] = 0xE0
        control[14] = 0xC200_0000
        target.controlRegisters = control
        try target.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64 | 2 << 44, address: 0x5550))
        let area: UInt64 = 0x40000
        try machine.vm.writeAbsolute(area, [UInt8](repeating: 0xFF, count: 0x200))
        let outcomes = try SIGPProgram.run(machine, [
            SIGPStep(order: 0x0D, parameter: 0x8000),
            SIGPStep(order: 0x0E, parameter: UInt32(area) | 0x1FF),   // low 9 bits ignored
        ])
        #expect(outcomes == [SIGPProgram.accepted(), SIGPProgram.accepted()])
        let status = try machine.read(area, 0x200)
        for index in 0..<16 {
            #expect(get64(status, 0x80 + 8 * index) == 0x1111_0000_0000_0000 | UInt64(index) << 8 | 0x42, "GR\(index)")
        }
        #expect(get64(status, 0x100) == PSWMask.supervisor64 | 2 << 44, "PSW mask (with CC 2)")
        #expect(get64(status, 0x108) == 0x5550, "PSW address")
        #expect(get32(status, 0x118) == 0x8000, "prefix")
        #expect(get64(status, 0x180) == 0xE0, "CR0")
        #expect(get64(status, 0x180 + 14 * 8) == 0xC200_0000, "CR14")
        // The architectural-mode byte belongs to the prefix area only: nothing at area - 0x1200 + 0xA3.
        #expect(try machine.read(area - 0x1200 + 0xA3, 1) == [0], "store status at address must not touch other storage")
    }

    @Test("STORE STATUS AT ADDRESS beyond storage: cc 1, 0x100")
    func storeStatusOutOfRange() throws {
        let machine = try TestVM()
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x0E, parameter: 0x7FFF_0000), SIGPStep(order: 0x0E, parameter: 0x100_0000),
                                                          SIGPStep(order: 0x0E, parameter: 0xFF_FE00)])
        #expect(outcomes == [SIGPProgram.status(0x100), SIGPProgram.status(0x100), SIGPProgram.accepted()], "the last 512 bytes are in range")
    }

    @Test("STOP AND STORE STATUS of a stopped CPU stores into its prefix area")
    func stopAndStoreStatusStopped() throws {
        let machine = try TestVM()
        let target = machine.vcpus[1]
        try target.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: 0x7770))
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x0D, parameter: 0x50000), SIGPStep(order: 0x09)])
        #expect(outcomes == [SIGPProgram.accepted(), SIGPProgram.accepted()])
        #expect(try get64(machine.read(0x50000 + 0x1308, 8)) == 0x7770)
        #expect(try get32(machine.read(0x50000 + 0x1318, 4)) == 0x50000)
        #expect(try machine.read(0x50000 + 0xA3, 1) == [1], "architectural-mode id in the prefix area")
        #expect(target.mpState == .stopped)
    }

    @Test("EXTERNAL CALL twice: the second gets cc 1, 0x80; SENSE then reports 0xC0")
    func externalCallTwice() throws {
        let machine = try TestVM()
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x02), SIGPStep(order: 0x02), SIGPStep(order: 0x01)])
        #expect(outcomes == [SIGPProgram.accepted(), SIGPProgram.status(0x80), SIGPProgram.status(0xC0)])
    }

    @Test("EMERGENCY SIGNAL and CONDITIONAL EMERGENCY SIGNAL are accepted")
    func emergency() throws {
        let machine = try TestVM()
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x03), SIGPStep(order: 0x13)])
        #expect(outcomes == [SIGPProgram.accepted(), SIGPProgram.accepted()])
    }

    @Test("SENSE RUNNING STATUS: 0x400 for a stopped CPU")
    func senseRunningStatus() throws {
        let machine = try TestVM()
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x15)]) == [SIGPProgram.status(0x400)])
    }

    @Test("a check-stopped CPU: SENSE reports 0x10, and its run() is an internal error")
    func checkStop() throws {
        let machine = try TestVM()
        machine.vcpus[1].setMPStateQuietly(.checkStop)
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x01)]) == [SIGPProgram.status(0x10)])
        guard case .internalError? = run(machine.vcpus[1]) else { Issue.record("expected an internal error"); return }
    }

    @Test("SIGP STOP to itself: icptcode 0x28 and the CPU is stopped")
    func stopSelf() throws {
        let machine = try TestVM()
        let vcpu = machine.vcpus[0]
        try machine.load(Asm.lghi(3, 0) + Asm.sigp(4, 3, order: 0x05) + TestVM.end())
        #expect(run(vcpu) == stopExit)
        #expect(vcpu.mpState == .stopped)
        #expect(vcpu.psw.address == Layout.code + 8, "the PSW points past the SIGP")
        // A stopped vCPU blocks in run() until it is started again.
        let running = RunningVCPU(vcpu)
        #expect(running.isStillRunning(after: 0.05))
        try vcpu.setMPState(.operating)
        #expect(running.finish() == disabledWaitExit)
    }

    @Test("SIGP STOP AND STORE STATUS to itself stores the status in its prefix area")
    func stopAndStoreStatusSelf() throws {
        let machine = try TestVM()
        let vcpu = machine.vcpus[0]
        try machine.load(Asm.lghi(3, 0) + Asm.lghi(7, 0x1234) + Asm.sigp(4, 3, order: 0x09) + TestVM.end())
        #expect(run(vcpu) == stopExit)
        #expect(vcpu.mpState == .stopped)
        #expect(try get64(machine.read(0x1300 + 8, 8)) == Layout.code + 12)
        #expect(try get64(machine.read(0x1280 + 7 * 8, 8)) == 0x1234)
    }

    @Test("SIGP STOP to a CPU in an enabled wait stops it (icptcode 0x28 on its thread)")
    func stopOther() throws {
        let machine = try TestVM()
        let target = machine.vcpus[1]
        try target.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x6660))
        try target.setMPState(.operating)
        let secondary = RunningVCPU(target)
        #expect(secondary.isStillRunning(after: 0.05))
        let outcomes = try SIGPProgram.run(machine, [SIGPStep(order: 0x05)])
        #expect(outcomes == [SIGPProgram.accepted()])
        #expect(secondary.finish() == stopExit)
        #expect(target.mpState == .stopped)
        #expect(try SIGPProgram.run(machine, [SIGPStep(order: 0x01)]) == [SIGPProgram.status(0x40)])
    }

    // MARK: The internal entry point

    @Test("signal(): orders whose setup is clumsy in guest code")
    func signalDirect() throws {
        let machine = try TestVM(cpus: 3)
        let (source, target) = (machine.vcpus[0], machine.vcpus[1])
        #expect(describe(source.signal(orderCode: 0x01, targetAddress: 1, parameter: 0)) == "status 0x40")
        #expect(describe(source.signal(orderCode: 0x01, targetAddress: 3, parameter: 0)) == "not operational")
        #expect(describe(source.signal(orderCode: 0x12, targetAddress: 3, parameter: 0)) == "status 0x100")
        // Operating target: SENSE accepted, SENSE RUNNING STATUS accepted unless it waits.
        try target.setMPState(.operating)
        #expect(describe(source.signal(orderCode: 0x01, targetAddress: 1, parameter: 0)) == "accepted")
        #expect(describe(source.signal(orderCode: 0x15, targetAddress: 1, parameter: 0)) == "accepted")
        try machine.vcpus[2].setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0))
        try machine.vcpus[2].setMPState(.operating)
        #expect(describe(source.signal(orderCode: 0x15, targetAddress: 2, parameter: 0)) == "status 0x400")
        // Set prefix to an operating CPU.
        #expect(describe(source.signal(orderCode: 0x0D, targetAddress: 1, parameter: 0x6000)) == "status 0x200")
        // An external call pending on an operating CPU shows in SENSE.
        #expect(describe(source.signal(orderCode: 0x02, targetAddress: 1, parameter: 0)) == "accepted")
        #expect(describe(source.signal(orderCode: 0x01, targetAddress: 1, parameter: 0)) == "status 0x80")
        // A pending stop makes every other order busy (cc 2).
        target.injectStop(storeStatus: false)
        #expect(describe(source.signal(orderCode: 0x01, targetAddress: 1, parameter: 0)) == "busy")
        try target.setMPState(.stopped)
        // STOP of a stopped CPU is accepted and changes nothing.
        #expect(describe(source.signal(orderCode: 0x05, targetAddress: 1, parameter: 0)) == "accepted")
        #expect(target.mpState == .stopped)
    }

    @Test("an emergency signal and an external call are delivered as EXT 0x1201 / 0x1202 with the source address")
    func externalInterruptionsDelivered() throws {
        let machine = try TestVM(cpus: 2)
        let target = machine.vcpus[1]
        // Handler: count interruptions in results+0x300 is clumsy; just end and inspect the lowcore.
        try machine.vm.writeAbsolute(Layout.externalHandler, Asm.lpswe(32, base: 11))
        try machine.writePSW(Layout.externalNewPSW, mask: PSWMask.supervisor64, address: Layout.externalHandler)
        var control = target.controlRegisters
        control[0] = 0x4000   // emergency signal only
        target.controlRegisters = control
        try target.setInitialPSW(CPU.PSW(mask: PSWMask.enabledWait, address: 0x6660))
        try target.setMPState(.operating)
        #expect(describe(machine.vcpus[0].signal(orderCode: 0x02, targetAddress: 1, parameter: 0)) == "accepted")
        let secondary = RunningVCPU(target)
        #expect(secondary.isStillRunning(after: 0.05), "an external call is masked by CR0")
        #expect(describe(machine.vcpus[0].signal(orderCode: 0x03, targetAddress: 1, parameter: 0)) == "accepted")
        #expect(secondary.finish() == disabledWaitExit)
        #expect(try get16(machine.read(0x86, 2)) == 0x1201)
        #expect(try get16(machine.read(0x84, 2)) == 0, "source CPU address")
        #expect(target.psw.address == Layout.externalEndAddress)
    }
}
