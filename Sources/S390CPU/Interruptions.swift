import Synchronization

/// External-interruption codes (lowcore 0x86) and their CR0 subclass-mask bits.
public enum ExternalInterruptionCode: UInt16, Sendable {
    case clockComparator = 0x1004
    case cpuTimer = 0x1005
    case emergencySignal = 0x1201
    case externalCall = 0x1202
    case serviceSignal = 0x2401

    /// The CR0 bit (as a mask) that enables this subclass.
    var subclassMask: UInt64 {
        switch self {
        case .clockComparator: 0x800
        case .cpuTimer: 0x400
        case .emergencySignal: 0x4000
        case .externalCall: 0x2000
        case .serviceSignal: 0x200
        }
    }
}

/// Interruptions pending for one CPU, posted by any thread, taken by the CPU's own thread.
public final class PendingInterruptions: Sendable {
    struct State {
        var emergencySources = Set<UInt16>()
        var externalCallSource: UInt16?
        var restart = false
        var stop = false
        var storeStatusOnStop = false
        var kick = false
    }
    private let state = Mutex(State())
    /// Cheap hint for the run loop: something may need its attention.
    private let attention = Atomic<Bool>(true)

    public init() {}

    @inline(__always) func needsAttention() -> Bool { attention.load(ordering: .relaxed) }
    public func requestAttention() { attention.store(true, ordering: .releasing) }
    func clearAttention() { attention.store(false, ordering: .relaxed) }

    /// Posts an emergency signal from `source`.
    public func postEmergencySignal(from source: UInt16) { state.withLock { _ = $0.emergencySources.insert(source) }; requestAttention() }

    /// Posts an external call; false if one is already pending (SIGP then reports status 0x80... by the caller).
    public func postExternalCall(from source: UInt16) -> Bool {
        let posted = state.withLock { s -> Bool in
            guard s.externalCallSource == nil else { return false }
            s.externalCallSource = source
            return true
        }
        if posted { requestAttention() }
        return posted
    }

    public var externalCallPending: Bool { state.withLock { $0.externalCallSource != nil } }
    public func postRestart() { state.withLock { $0.restart = true }; requestAttention() }
    public func postStop(storeStatus: Bool) {
        state.withLock { $0.stop = true; $0.storeStatusOnStop = $0.storeStatusOnStop || storeStatus }
        requestAttention()
    }
    public var stopPending: Bool { state.withLock { $0.stop } }
    /// Asks the CPU's run loop to return to its host at the next instruction boundary.
    public func postKick() { state.withLock { $0.kick = true }; requestAttention() }
    func takeKick() -> Bool { state.withLock { s in defer { s.kick = false }; return s.kick } }
    /// Drops a kick the host has already acted on (it returned to its caller another way).
    public func discardKick() { state.withLock { $0.kick = false } }
    /// Takes a pending stop request; returns whether status must be stored, or nil if none.
    public func takeStop() -> Bool? {
        state.withLock { s in
            guard s.stop else { return nil }
            defer { s.stop = false; s.storeStatusOnStop = false }
            return s.storeStatusOnStop
        }
    }
    func takeRestart() -> Bool { state.withLock { s in defer { s.restart = false }; return s.restart } }
    public var restartPending: Bool { state.withLock { $0.restart } }

    /// Removes and returns the next pending emergency signal or external call enabled by `cr0`.
    func takeExternal(cr0: UInt64) -> (ExternalInterruptionCode, UInt16)? {
        state.withLock { s in
            if cr0 & ExternalInterruptionCode.emergencySignal.subclassMask != 0, let source = s.emergencySources.min() {
                s.emergencySources.remove(source)
                return (.emergencySignal, source)
            }
            if cr0 & ExternalInterruptionCode.externalCall.subclassMask != 0, let source = s.externalCallSource {
                s.externalCallSource = nil
                return (.externalCall, source)
            }
            return nil
        }
    }

    func hasExternal(cr0: UInt64) -> Bool {
        state.withLock { s in
            (cr0 & ExternalInterruptionCode.emergencySignal.subclassMask != 0 && !s.emergencySources.isEmpty)
                || (cr0 & ExternalInterruptionCode.externalCall.subclassMask != 0 && s.externalCallSource != nil)
        }
    }

    /// CPU reset: drops every pending local interruption.
    public func clearAll() {
        state.withLock { $0 = State() }
        requestAttention()
    }
}

/// Interruptions pending for the whole machine (floating): any enabled CPU may take them.
public final class FloatingInterruptions: Sendable {
    /// The service-signal parameter (SCCB address | event-pending bit), 0 when none is pending.
    private let serviceSignal = Atomic<UInt32>(0)
    /// KVM's IRQ_PEND_EXT_SERVICE bit in masked_irqs: a pending service signal is held back
    /// (protected VMs: until the SERVC that it answers has completed, spec kvm-pv-ioctl.md §2.1).
    private let serviceMasked = Atomic<Bool>(false)
    public init() {}

    public var isServiceSignalMasked: Bool {
        get { serviceMasked.load(ordering: .relaxed) }
        set { serviceMasked.store(newValue, ordering: .releasing) }
    }

    /// Replaces the SCCB address of a pending service signal, keeping its event-pending bits
    /// (the Ultravisor substitutes the real SCCB for the host's dummy one, se-image-format §9.4).
    public func replaceServiceSignalAddress(_ address: UInt32) {
        var current = serviceSignal.load(ordering: .relaxed)
        while current != 0 {
            let (done, original) = serviceSignal.compareExchange(expected: current, desired: (address & ~7) | (current & 7),
                                                                 ordering: .acquiringAndReleasing)
            if done { return }
            current = original
        }
    }

    /// Makes a service signal pending; a second one before the first is taken merges into it,
    /// as on QEMU (the parameter of the later one wins, the event-pending bits accumulate).
    public func postServiceSignal(parameter: UInt32) {
        var current = serviceSignal.load(ordering: .relaxed)
        while true {
            let merged = (parameter & ~3) | (current & 1) | (parameter & 1)
            let (done, original) = serviceSignal.compareExchange(expected: current, desired: merged, ordering: .acquiringAndReleasing)
            if done { return }
            current = original
        }
    }

    @inline(__always) public var servicePending: Bool {
        serviceSignal.load(ordering: .relaxed) != 0 && !serviceMasked.load(ordering: .relaxed)
    }
    func takeServiceSignal() -> UInt32? {
        guard !serviceMasked.load(ordering: .relaxed) else { return nil }
        let value = serviceSignal.exchange(0, ordering: .acquiringAndReleasing)
        return value == 0 ? nil : value
    }
    public func clear() { serviceSignal.store(0, ordering: .relaxed) }
}

// MARK: Delivery (PoP chapter 6; lowcore layout spec 7.2)

extension CPU {
    enum Lowcore {
        static let externalParameter: UInt64 = 0x80
        static let externalCPUAddress: UInt64 = 0x84
        static let externalCode: UInt64 = 0x86
        static let svcILC: UInt64 = 0x88
        static let svcCode: UInt64 = 0x8A
        static let programILC: UInt64 = 0x8C
        static let programCode: UInt64 = 0x8E
        static let dataExceptionCode: UInt64 = 0x90
        static let translationExceptionID: UInt64 = 0xA8
        static let restartOldPSW: UInt64 = 0x120
        static let externalOldPSW: UInt64 = 0x130
        static let svcOldPSW: UInt64 = 0x140
        static let programOldPSW: UInt64 = 0x150
        static let newPSWOffset: UInt64 = 0x80   // new PSW = old PSW slot + 0x80
    }

    /// Stores the current PSW at `oldSlot` and loads the new PSW from `oldSlot + 0x80`.
    /// An addressing failure here means the lowcore is outside storage: the CPU can only stop.
    func swapPSW(oldSlot: UInt64, oldAddress: UInt64) throws(CPUException) {
        try storeReal64(oldSlot, pswMask | UInt64(cc) << 44)
        try storeReal64(oldSlot + 8, oldAddress)
        let newMask = try loadReal64(oldSlot + Lowcore.newPSWOffset)
        let newAddress = try loadReal64(oldSlot + Lowcore.newPSWOffset + 8)
        loadPSW(PSW(mask: newMask, address: newAddress))
    }

    /// Delivers a program interruption for the instruction at `instructionAddress` of length `ilc`
    /// (0 when recognized before the fetch); `pswAddress` already points past the instruction.
    func deliverProgramInterruption(_ code: ProgramInterruptionCode, ilc: Int, instructionAddress: UInt64) throws(CPUException) {
        let oldAddress = code.isNullifying || ilc == 0 ? instructionAddress : pswAddress
        try storeReal16(Lowcore.programILC, UInt16(ilc))
        try storeReal16(Lowcore.programCode, code.rawValue)
        switch code {
        case .data:
            try storeReal32(Lowcore.dataExceptionCode, UInt32(exceptionDXC))
            if cr[0] & 0x40000 != 0 { fpc = (fpc & ~0xFF00) | UInt32(exceptionDXC) << 8 }
        case .protection, .segmentTranslation, .pageTranslation, .asceType, .regionFirstTranslation,
             .regionSecondTranslation, .regionThirdTranslation, .secureStorageAccess, .secureStorageViolation:
            try storeReal64(Lowcore.translationExceptionID, exceptionTEID)
        default: break
        }
        try swapPSW(oldSlot: Lowcore.programOldPSW, oldAddress: oldAddress)
    }

    /// A program interruption injected by the host for an intercepted instruction that has
    /// already completed (the PSW points past it); nullifying codes rewind, as Linux does.
    public func injectProgramInterruption(_ code: ProgramInterruptionCode, ilc: Int) throws(CPUException) {
        try deliverProgramInterruption(code, ilc: ilc, instructionAddress: (pswAddress &- UInt64(ilc)) & addressMask)
    }

    func deliverExternal(_ code: ExternalInterruptionCode, parameter: UInt32 = 0, source: UInt16 = 0) throws(CPUException) {
        try storeReal16(Lowcore.externalCode, code.rawValue)
        try storeReal16(Lowcore.externalCPUAddress, source)
        if code == .serviceSignal { try storeReal32(Lowcore.externalParameter, parameter) }
        try swapPSW(oldSlot: Lowcore.externalOldPSW, oldAddress: pswAddress)
    }

    func deliverSupervisorCall(code: UInt8, ilc: Int) throws(CPUException) {
        try storeReal16(Lowcore.svcILC, UInt16(ilc))
        try storeReal16(Lowcore.svcCode, UInt16(code))
        try swapPSW(oldSlot: Lowcore.svcOldPSW, oldAddress: pswAddress)
    }

    /// The restart interruption (SIGP RESTART): not maskable.
    public func deliverRestart() throws(CPUException) {
        try swapPSW(oldSlot: Lowcore.restartOldPSW, oldAddress: pswAddress)
    }

    var clockComparatorPending: Bool { clock.read() > clockComparator }
    var cpuTimerPending: Bool { Int64(bitPattern: cpuTimer) < 0 }

    /// True if an interruption could be taken now (used to end an enabled wait).
    public var hasDeliverableInterruption: Bool {
        if interruptions.restartPending { return true }
        guard pswMask & PSW.external != 0 else { return false }
        let cr0 = cr[0]
        if interruptions.hasExternal(cr0: cr0) { return true }
        if cr0 & ExternalInterruptionCode.clockComparator.subclassMask != 0 && clockComparatorPending { return true }
        if cr0 & ExternalInterruptionCode.cpuTimer.subclassMask != 0 && cpuTimerPending { return true }
        return cr0 & ExternalInterruptionCode.serviceSignal.subclassMask != 0 && floating.servicePending
    }

    /// The TOD value at which a timer interruption becomes pending, if one is enabled; lets a
    /// waiting CPU sleep exactly until then.
    public var nextTimerDeadline: UInt64? {
        guard pswMask & PSW.external != 0 else { return nil }
        var deadline: UInt64?
        if cr[0] & ExternalInterruptionCode.clockComparator.subclassMask != 0 { deadline = clockComparator &+ 1 }
        if cr[0] & ExternalInterruptionCode.cpuTimer.subclassMask != 0 { deadline = min(deadline ?? .max, cpuTimerDeadline) }
        return deadline
    }

    /// Delivers the highest-priority deliverable interruption, if any (QEMU's order within the
    /// external class: emergency, external call, clock comparator, CPU timer, service signal).
    /// Returns true if one was delivered.
    func deliverPendingInterruption() throws(CPUException) -> Bool {
        if pswMask & PSW.external != 0 {
            let cr0 = cr[0]
            if let (code, source) = interruptions.takeExternal(cr0: cr0) {
                try deliverExternal(code, source: source)
                return true
            }
            if cr0 & ExternalInterruptionCode.clockComparator.subclassMask != 0 && clockComparatorPending {
                try deliverExternal(.clockComparator)
                return true
            }
            if cr0 & ExternalInterruptionCode.cpuTimer.subclassMask != 0 && cpuTimerPending {
                try deliverExternal(.cpuTimer)
                return true
            }
            if cr0 & ExternalInterruptionCode.serviceSignal.subclassMask != 0, let parameter = floating.takeServiceSignal() {
                try deliverExternal(.serviceSignal, parameter: parameter)
                return true
            }
        }
        if interruptions.takeRestart() {
            try deliverRestart()
            return true
        }
        return false
    }

    /// Whether a timer condition needs the slow path (checked once per block of instructions).
    @inline(__always)
    var timersNeedAttention: Bool {
        guard pswMask & PSW.external != 0, cr[0] & 0xC00 != 0 else { return false }
        return (cr[0] & 0x800 != 0 && clockComparatorPending) || (cr[0] & 0x400 != 0 && cpuTimerPending)
    }
}
