import Foundation
import S390CPU
import Synchronization

/// KVM_GET/SET_MP_STATE values (include/uapi/linux/kvm.h).
public enum MPState: UInt32, Sendable {
    case stopped = 5, checkStop = 6, operating = 7, load = 8
}

/// kvm_run exit reasons this model produces (include/uapi/linux/kvm.h numbering).
public enum VCPUExit: Sendable, Equatable {
    /// KVM_EXIT_S390_SIEIC (13): an interception userspace must handle. `icptcode` 4 is an
    /// instruction (IPA/IPB), 0x1C a disabled wait, 0x28 the CPU stopped (SIGP STOP).
    case sieIntercept(icptcode: UInt8, ipa: UInt16, ipb: UInt32)
    /// KVM_EXIT_DEBUG (4): one instruction was executed in single-step mode.
    case debug
    /// KVM_EXIT_S390_STSI (25): STSI 3.2.2 was stored at logical `address` for userspace to amend.
    case systemInformation(address: UInt64)
    /// KVM_RUN returned EINTR: a signal (here: `kick`) interrupted it.
    case interrupted
    /// KVM_EXIT_INTERNAL_ERROR (17): the CPU check-stopped.
    case internalError(String)
    /// KVM_EXIT_MEMORY_FAULT (39) with EHWPOISON: a page of guest memory (guest_memfd, so
    /// private) suffered a memory failure and is still the guest's (__kvm_gmem_get_pfn).
    case memoryFault(guestAddress: UInt64, size: UInt64)
    /// A validity intercept: the state description cannot run (a secure CPU the Ultravisor never
    /// loaded). Linux's handle_validity makes KVM_RUN fail with EINVAL.
    case validity
}

/// SIE interception codes (arch/s390/kvm/kvm-s390.h).
public enum InterceptCode {
    public static let instruction: UInt8 = 0x04
    public static let waitPSW: UInt8 = 0x1C
    public static let stop: UInt8 = 0x28
}

/// Lets a vCPU thread sleep in the kernel (stopped, enabled wait) until something happens.
final class Doorbell: @unchecked Sendable {
    private let condition = NSCondition()
    private var rung = false
    func ring() { condition.lock(); rung = true; condition.signal(); condition.unlock() }
    /// Waits until rung or `deadline` (nil: forever); consumes the ring.
    func wait(until deadline: Date?) {
        condition.lock()
        while !rung {
            if let deadline { if !condition.wait(until: deadline) { break } } else { condition.wait() }
        }
        rung = false
        condition.unlock()
    }
}

/// A vCPU's MP state, with a way to wait for it to change (resets must wait for a stop).
final class MPStateCell: @unchecked Sendable {
    private let condition = NSCondition()
    private var state = MPState.stopped

    var value: MPState {
        condition.lock(); defer { condition.unlock() }
        return state
    }

    func set(_ new: MPState) {
        condition.lock()
        state = new
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the state is no longer operating, or `deadline`; true if it is not.
    func waitUntilNotOperating(until deadline: Date) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while state == .operating || state == .load {
            if !condition.wait(until: deadline) { break }
        }
        return state != .operating && state != .load
    }
}

/// A vCPU (KVM's `struct kvm_vcpu`): the CPU plus its run state. `run` is called only by the
/// vCPU's own thread; everything else may be called from any thread.
public final class VirtualCPU: @unchecked Sendable {
    /// Weak, so a vCPU that outlives its VM fails cleanly instead of trapping (through the ioctl
    /// surface a vCPU file keeps its VM alive, as in Linux).
    weak var vm: VirtualMachine?
    let cpu: CPU
    let doorbell = Doorbell()
    private let state = MPStateCell()
    private let kickPending = Atomic<Bool>(false)
    /// KVM_SET_GUEST_DEBUG with KVM_GUESTDBG_SINGLESTEP.
    public var singleStep = false
    /// A program interruption injected with KVM_S390_IRQ, delivered when KVM_RUN next enters.
    private let pendingProgram = Mutex<(code: ProgramInterruptionCode, ilc: Int)?>(nil)
    /// Instructions per CPU.run slice; bounds how long a kick can go unnoticed.
    static let slice = 1 << 20
    /// The secure CPU of a protected vCPU (vcpu->arch.pv); nil otherwise.
    var secureCPU: SecureCPU?

    init(vm: VirtualMachine, cpu: CPU) {
        self.vm = vm
        self.cpu = cpu
    }

    public var id: UInt16 { cpu.address }
    public var instructionCount: UInt64 { cpu.instructionCount }

    // MARK: KVM_GET/SET_MP_STATE

    public var mpState: MPState { state.value }

    /// KVM_SET_MP_STATE (kvm_arch_vcpu_ioctl_set_mpstate): a protected vCPU's state change goes
    /// to the Ultravisor too (CPU_SET_STATE; refused → EINVAL). LOAD needs a protected vCPU
    /// (else ENXIO) and only sets the UV state; CHECK_STOP is ENXIO.
    public func setMPState(_ new: MPState) throws(Errno) {
        switch new {
        case .stopped:
            if isProtected { try setSecureState(.stopped) }
        case .operating:
            if isProtected { try setSecureState(.operating) }
        case .load:
            guard isProtected else { throw Errno(6) }
            try setSecureState(.operatingLoad)
            return
        case .checkStop:
            throw Errno(6)
        }
        state.set(new)
        doorbell.ring()
    }

    /// Changes the state without waking the vCPU thread (used by the vCPU on itself).
    func setMPStateQuietly(_ new: MPState) { state.set(new) }

    // MARK: KVM_RUN

    /// Runs the vCPU until userspace must act. Blocks while the vCPU is stopped or in an enabled
    /// wait; returns `.interrupted` when kicked.
    public func run() -> VCPUExit {
        vm?.clockNamespace.freeze()   // the first vCPU to run fixes the VM's clock offsets (issue 6)
        while true {
            guard let vm else { return .internalError("the VM of vCPU \(id) no longer exists") }
            if let failed = vm.failedGuestPage { return .memoryFault(guestAddress: failed, size: 4096) }
            if kickPending.exchange(false, ordering: .acquiringAndReleasing) {
                // One kick, one EINTR: the CPU-level request posted with it is consumed too.
                cpu.interruptions.discardKick()
                return .interrupted
            }
            switch mpState {
            case .stopped:
                doorbell.wait(until: nil)
                continue
            case .checkStop:
                return .internalError("CPU \(id) is check-stopped")
            case .operating, .load:
                break
            }
            if let secure = secureCPU, !secure.loaded { return .validity }
            let program = pendingProgram.withLock { pending in defer { pending = nil }; return pending }
            completeSecureInstruction(discard: program != nil)
            if let program {
                do { try cpu.injectProgramInterruption(program.code, ilc: program.ilc) } catch {
                    state.set(.checkStop)
                    return .internalError("program interruption \(program.code) with the lowcore outside storage")
                }
            }
            let exit = cpu.run(maxInstructions: singleStep ? 1 : VirtualCPU.slice)
            switch exit {
            case .instructionLimit:
                if singleStep { return .debug }
            case .kicked:
                kickPending.store(false, ordering: .relaxed)
                return .interrupted
            case .instruction(let ipa, let ipb, let length):
                if handleInKernel(ipa: ipa, ipb: ipb, length: length) {
                    if singleStep { return .debug }
                    continue
                }
                switch secureIntercept(ipa: ipa, ipb: ipb) {
                case .notProtected: return .sieIntercept(icptcode: InterceptCode.instruction, ipa: ipa, ipb: ipb)
                case .completedByUltravisor: continue
                case .exit(let exit): return exit
                }
            case .systemInformation(let address):
                // A protected guest's STSI data is in secure storage: nothing for the host to amend.
                if isProtected { continue }
                return .systemInformation(address: address)
            case .wait:
                if cpu.psw.isDisabledWait { return .sieIntercept(icptcode: InterceptCode.waitPSW, ipa: 0, ipb: 0) }
                waitEnabled()
            case .stopRequested:
                if let storeStatus = cpu.interruptions.takeStop() {
                    if storeStatus { _ = cpu.storeStatus(atAbsolute: cpu.prefix + 0x1200, inPrefixArea: true) }
                    // With user CPU-state control the VMM records the stop (KVM_SET_MP_STATE).
                    if !vm.userCPUStateControl { state.set(.stopped) }
                    return .sieIntercept(icptcode: InterceptCode.stop, ipa: 0, ipb: 0)
                }
            case .checkStop(let reason):
                state.set(.checkStop)
                return .internalError(reason)
            }
        }
    }

    /// Enabled wait: sleep until an interruption is deliverable, a timer expires, a stop or
    /// restart arrives, or a kick.
    private func waitEnabled() {
        while !cpu.hasDeliverableInterruption && !cpu.interruptions.stopPending
            && !kickPending.load(ordering: .relaxed) && mpState == .operating {
            var deadline: Date?
            if let tod = cpu.nextTimerDeadline {
                let now = cpu.clock.read()
                guard tod > now else { return }
                deadline = Date(timeIntervalSinceNow: Double(tod - now) / 4096 / 1_000_000)
            }
            doorbell.wait(until: deadline)
        }
    }

    /// Makes `run` return `.interrupted` soon (a signal to the vCPU thread in Linux).
    public func kick() {
        kickPending.store(true, ordering: .releasing)
        cpu.interruptions.postKick()
        doorbell.ring()
    }

    // MARK: Intercepts KVM handles itself

    /// DIAG 0x44 and 0x9C (yield) and SIGP are handled here, as KVM does; false sends the
    /// intercept to userspace.
    private func handleInKernel(ipa: UInt16, ipb: UInt32, length: Int) -> Bool {
        if ipa == 0xB9A4 {
            handleUltravisorCall(ipb: ipb)
            return true
        }
        switch ipa >> 8 {
        case 0x83:
            let code = diagnoseCode(ipa: ipa, ipb: ipb)
            return code == 0x44 || code == 0x9C
        case 0xAE:
            return handleSignalProcessor(ipa: ipa, ipb: ipb)
        default:
            return false
        }
    }

    /// The DIAGNOSE function code: the base-displacement address of an RS-format DIAG.
    public func diagnoseCode(ipa: UInt16, ipb: UInt32) -> UInt64 {
        let base = Int(ipb >> 28), displacement = UInt64(ipb >> 16 & 0xFFF)
        return (displacement &+ (base == 0 ? 0 : cpu.gpr[base])) & 0xFFFF
    }

    // MARK: Registers (KVM_GET/SET_REGS, SREGS, kvm_run psw fields)

    /// The general registers the host sees: a protected vCPU shows only its intercept registers.
    public var gprs: [UInt64] {
        get { (0..<16).map { registerFiles.general[$0] } }
        set { for (index, value) in newValue.prefix(16).enumerated() { registerFiles.general[index] = value } }
    }
    public var controlRegisters: [UInt64] {
        get { (0..<16).map { cpu.cr[$0] } }
        set { for (index, value) in newValue.prefix(16).enumerated() { cpu.setControlRegister(index, value) } }
    }
    /// The PSW as the host sees it. A protected vCPU's PSW belongs to the Ultravisor: the host
    /// sees its mask only and cannot change it (the UV sets condition codes itself).
    public var psw: CPU.PSW {
        get { isProtected ? CPU.PSW(mask: cpu.psw.mask, address: 0) : cpu.psw }
        set { if !isProtected { cpu.loadPSW(newValue) } }
    }
    public var prefix: UInt64 { cpu.prefix }
    public var conditionCode: UInt8 {
        get { cpu.conditionCode }
        set { if !isProtected { cpu.conditionCode = newValue } }
    }

    /// KVM_S390_SET_INITIAL_PSW: EBUSY while the vCPU is operating, as Linux.
    public func setInitialPSW(_ psw: CPU.PSW) throws(Errno) {
        guard mpState != .operating else { throw .EBUSY }
        cpu.loadPSW(psw)
    }

    /// KVM_S390_INITIAL_RESET / KVM_S390_NORMAL_RESET / KVM_S390_CLEAR_RESET: the KVM-side reset,
    /// then the matching CPU_RESET* UVC for a protected vCPU (refused → EINVAL).
    public func initialReset() throws(Errno) {
        cpu.initialCPUReset()
        try resetSecureCPU(.initial)
    }
    public func normalReset() throws(Errno) {
        cpu.cpuReset()
        try resetSecureCPU(.normal)
    }
    public func clearReset() throws(Errno) {
        cpu.clearReset()
        try resetSecureCPU(.clear)
    }

    // MARK: KVM_S390_IRQ (local)

    /// KVM_S390_PROGRAM_INT: a program interruption for the instruction the last intercept
    /// reported (ILC `ilc` bytes), delivered as KVM_RUN next enters.
    public func injectProgramInterruption(_ code: ProgramInterruptionCode, ilc: Int) {
        pendingProgram.withLock { $0 = (code, ilc) }
    }

    /// KVM_S390_RESTART.
    public func injectRestart() {
        cpu.interruptions.postRestart()
        doorbell.ring()
    }

    /// KVM_S390_INT_EMERGENCY from CPU `source`.
    public func injectEmergencySignal(from source: UInt16) {
        cpu.interruptions.postEmergencySignal(from: source)
        doorbell.ring()
    }

    /// KVM_S390_INT_EXTERNAL_CALL from `source`; EBUSY if one is already pending (Linux).
    public func injectExternalCall(from source: UInt16) throws(Errno) {
        guard cpu.interruptions.postExternalCall(from: source) else { throw .EBUSY }
        doorbell.ring()
    }

    /// KVM_S390_SIGP_STOP, optionally storing status.
    public func injectStop(storeStatus: Bool) {
        cpu.interruptions.postStop(storeStatus: storeStatus)
        doorbell.ring()
    }

    /// KVM_S390_STORE_STATUS at absolute `address`, or into the prefix area.
    public func storeStatus(atAbsolute address: UInt64?) throws(Errno) {
        let area = address ?? cpu.prefix + 0x1200
        guard cpu.storeStatus(atAbsolute: area, inPrefixArea: address == nil) else { throw .EFAULT }
    }

    // MARK: KVM_GET/SET_SREGS, FPU, sync registers

    /// The vCPU's register files, for the kernel's bulk copies to and from kvm_run (only while
    /// the vCPU is not running). After writing `controlRegisters`, call `controlRegistersChanged`.
    public struct RegisterFiles {
        public let general, floatingPoint, control: UnsafeMutablePointer<UInt64>
        public let access: UnsafeMutablePointer<UInt32>
    }
    public var registerFiles: RegisterFiles {
        RegisterFiles(general: secureCPU?.interceptRegisters ?? cpu.gpr, floatingPoint: cpu.fpr, control: cpu.cr, access: cpu.ar)
    }
    public func controlRegistersChanged() { cpu.controlRegistersChanged() }

    public var accessRegisters: [UInt32] {
        get { (0..<16).map { cpu.ar[$0] } }
        set { for (index, value) in newValue.prefix(16).enumerated() { cpu.ar[index] = value } }
    }
    public var floatingPointRegisters: [UInt64] {
        get { (0..<16).map { cpu.fpr[$0] } }
        set { for (index, value) in newValue.prefix(16).enumerated() { cpu.fpr[index] = value } }
    }
    public var floatingPointControl: UInt32 {
        get { cpu.fpc }
        set { cpu.fpc = newValue }
    }
    public var todProgrammableRegister: UInt32 {
        get { cpu.todProgrammableRegister }
        set { cpu.todProgrammableRegister = newValue }
    }
    public var cpuTimer: UInt64 {
        get { cpu.cpuTimer }
        set { cpu.cpuTimer = newValue }
    }
    public var clockComparator: UInt64 {
        get { cpu.clockComparator }
        set { cpu.clockComparator = newValue }
    }
    public var breakingEventAddress: UInt64 {
        get { cpu.breakingEventAddress }
        set { cpu.breakingEventAddress = newValue }
    }
    public func setPrefix(_ value: UInt64) { cpu.setPrefix(value) }

    // MARK: KVM_S390_MEM_OP (logical)

    /// Logical MEM_OP: EINVAL on a protected vCPU (its storage is the Ultravisor's).
    public func readLogical(_ address: UInt64, count: Int) throws(MemoryOperationError) -> [UInt8] {
        guard !isProtected else { throw .errno(.EINVAL) }
        do { return try cpu.readLogical(address, count: count) } catch {
            if case .program(let code) = error { throw .programException(code) }
            throw .errno(.EFAULT)
        }
    }

    public func writeLogical(_ address: UInt64, _ bytes: [UInt8]) throws(MemoryOperationError) {
        guard !isProtected else { throw .errno(.EINVAL) }
        do { try cpu.writeLogical(address, bytes) } catch {
            if case .program(let code) = error { throw .programException(code) }
            throw .errno(.EFAULT)
        }
    }
}

extension VirtualCPU {
    /// KVM_S390_IRQ with KVM_S390_SIGP_STOP: the vCPU stops at its next instruction boundary.
    public func requestStop() {
        guard mpState == .operating else { return }
        cpu.interruptions.postStop(storeStatus: false)
        doorbell.ring()
    }

    /// Waits until the vCPU has left the operating state (after `requestStop`), at most until
    /// `deadline`; false if it is still operating then.
    public func waitUntilStopped(until deadline: Date) -> Bool {
        state.waitUntilNotOperating(until: deadline)
    }
}
