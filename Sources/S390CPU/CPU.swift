import Synchronization

/// Guest absolute storage as the CPU sees it: one contiguous host mapping owned by the memory
/// layer. The CPU never allocates or frees it.
public struct GuestStorage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: UInt64
    public init(base: UnsafeMutableRawPointer, size: UInt64) {
        precondition(size % 4096 == 0, "guest storage is a whole number of pages")
        self.base = base
        self.size = size
    }
}

/// Who the machine says it is in STSI (configuration-level data the VMM supplies).
public struct MachineIdentity: Sendable, Equatable {
    /// Configured CPUs and the maximum (STSI 1.2.2/2.2.2/3.2.2 counts, SCLP CPU entries).
    public var cpuCount: Int
    public var maxCPUs: Int
    /// VM name (STSI 3.2.2, at most 8 characters in EBCDIC) and UUID (16 bytes).
    public var name: String
    public var uuid: [UInt8]
    public init(cpuCount: Int = 1, maxCPUs: Int = 1, name: String = "s390pv", uuid: [UInt8] = [UInt8](repeating: 0, count: 16)) {
        self.cpuCount = cpuCount
        self.maxCPUs = maxCPUs
        self.name = name
        self.uuid = uuid
    }
}

/// What is fixed for all CPUs of a machine: facilities, identity, decode tables.
public final class CPUModel: Sendable {
    /// STFLE facility bits (bit 0 = MSB of the first doubleword).
    public let facilities: Set<Int>
    public let decodeTables: DecodeTables
    /// STIDP value (QEMU's: version 0, machine type 0x8561).
    public let cpuID: UInt64 = 0x0000_0000_8561_0000

    /// QEMU 7.2's default "qemu" model, less what s390pv does not implement (no facility is
    /// advertised before it is complete): MSA (17/76/77/57/146), vector (129/135/148), IEP (130),
    /// ESOP-2 (131), and the misc-instruction/interlocked-access/load-on-condition extensions 2
    /// (52, 53, 58) whose instructions are not in the table yet.
    public static let qemuFacilities: Set<Int> = [0, 1, 2, 3, 4, 7, 9, 16, 18, 19, 21, 22, 24, 25, 27, 30, 31,
                                                  32, 33, 34, 35, 37, 40, 41, 45, 49, 51, 61, 69, 71, 72, 75, 138]

    public init(facilities: Set<Int> = CPUModel.qemuFacilities) {
        self.facilities = facilities
        self.decodeTables = DecodeTables(enabled: { $0.implemented && facilities.contains($0.facility.stfleBit) })
    }

    /// The facility list as STFLE stores it, `doublewords` long.
    public func facilityList(doublewords: Int) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: doublewords)
        for bit in facilities where bit / 64 < doublewords { words[bit / 64] |= 1 << (63 - UInt64(bit % 64)) }
        return words
    }
}

/// One z/Architecture CPU. Owned by one vCPU thread, which alone calls `run`; other threads
/// reach it only through `interruptions` (posting) and, while it is stopped, its registers.
public final class CPU: @unchecked Sendable {
    public let address: UInt16
    public let model: CPUModel
    public private(set) var storage: GuestStorage
    public let clock: TODClock
    public let interruptions: PendingInterruptions
    public let floating: FloatingInterruptions
    /// The machine's storage keys, shared by all its CPUs.
    public let storageKeys: StorageKeys
    /// The machine's translation-purge count, and the value this CPU last acted on.
    let translationEpoch: TranslationEpoch
    var seenTranslationEpoch: UInt64 = 0

    // Architected registers, in unsafe memory so the hot loop pays no ARC or bounds checks.
    public let gpr = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
    public let fpr = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
    public let cr = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
    public let ar = UnsafeMutablePointer<UInt32>.allocate(capacity: 16)
    public var fpc: UInt32 = 0
    public internal(set) var prefix: UInt64 = 0
    /// CPU timer expiry as a TOD value: the timer reads `cpuTimerDeadline - TOD`.
    var cpuTimerDeadline: UInt64 = 0
    public var clockComparator: UInt64 = 0
    public var todProgrammableRegister: UInt32 = 0
    public var breakingEventAddress: UInt64 = 0
    /// The configuration STSI reports.
    public var identity = MachineIdentity()
    /// After storing SYSIB 3.2.2, leave to the host so it can add the VM name and UUID
    /// (KVM_CAP_S390_USER_STSI).
    public var hostAmendsSystemInformation = false

    // The PSW, split for speed: mask bits without the CC, the CC, the address.
    public internal(set) var pswMask: UInt64 = 0
    var cc: UInt8 = 0
    public var pswAddress: UInt64 = 0
    /// 24-, 31- or 64-bit wrap mask from the PSW's EA/BA bits.
    var addressMask: UInt64 = 0xFF_FFFF
    var dat = false
    /// Whether storage accesses need more than prefixing and a bounds check: DAT is on, the PSW
    /// key is nonzero (key-controlled protection) or CR0 enables low-address protection.
    /// Recomputed whenever the PSW or CR0 changes (`refreshAccessChecks`).
    var accessChecks = false
    /// The address of the instruction executing now (EX: of the target), for relative operands.
    var currentInstructionAddress: UInt64 = 0
    /// Set by handlers before throwing a translation exception, or a data exception.
    var exceptionTEID: UInt64 = 0
    var exceptionDXC: UInt8 = 0
    /// True while an EXECUTE target runs (EX of EX is an execute exception).
    var executing = false
    /// Raised by anything that may change interruption enablement, to end the current block.
    var endBlock = false

    /// This CPU's software TLB for DAT.
    let translationBuffer = TranslationBuffer()
    /// Cached host pointer for the page instructions are fetched from.
    var fetchPage: UInt64 = .max
    var fetchHost: UnsafeMutableRawPointer
    /// Guest instructions completed, exact.
    public internal(set) var instructionCount: UInt64 = 0

    public init(address: UInt16, model: CPUModel, storage: GuestStorage, clock: TODClock,
                floating: FloatingInterruptions, storageKeys: StorageKeys? = nil,
                translationEpoch: TranslationEpoch? = nil) {
        self.address = address
        self.model = model
        self.storage = storage
        self.storageKeys = storageKeys ?? StorageKeys(storageSize: storage.size)
        self.translationEpoch = translationEpoch ?? TranslationEpoch()
        self.clock = clock
        self.floating = floating
        self.interruptions = PendingInterruptions()
        self.fetchHost = storage.base
        gpr.initialize(repeating: 0, count: 16)
        fpr.initialize(repeating: 0, count: 16)
        cr.initialize(repeating: 0, count: 16)
        ar.initialize(repeating: 0, count: 16)
        initialCPUReset()
    }

    deinit {
        gpr.deallocate(); fpr.deallocate(); cr.deallocate(); ar.deallocate()
    }

    // MARK: PSW

    public struct PSW: Equatable, Sendable {
        public var mask: UInt64
        public var address: UInt64
        public init(mask: UInt64, address: UInt64) { self.mask = mask; self.address = address }

        public static let dat: UInt64 = 0x0400_0000_0000_0000
        public static let io: UInt64 = 0x0200_0000_0000_0000
        public static let external: UInt64 = 0x0100_0000_0000_0000
        public static let key: UInt64 = 0x00F0_0000_0000_0000
        public static let fixed12: UInt64 = 0x0008_0000_0000_0000
        public static let machineCheck: UInt64 = 0x0004_0000_0000_0000
        public static let wait: UInt64 = 0x0002_0000_0000_0000
        public static let problemState: UInt64 = 0x0001_0000_0000_0000
        public static let addressSpace: UInt64 = 0x0000_C000_0000_0000
        public static let conditionCode: UInt64 = 0x0000_3000_0000_0000
        public static let programMask: UInt64 = 0x0000_0F00_0000_0000
        public static let extendedAddressing: UInt64 = 0x0000_0001_0000_0000
        public static let basicAddressing: UInt64 = 0x0000_0000_8000_0000

        /// Bits that must be zero in a z/Architecture PSW mask (PoP 4-6): 0, 2-4, 12, 24-30, 33-63.
        static let reservedBits: UInt64 = 0xB800_0000_0000_0000 | fixed12 | 0x0000_00FE_0000_0000 | 0x7FFF_FFFF

        /// Why this PSW is invalid as a z/Architecture PSW, or nil (PoP "specification exception").
        public var isValid: Bool {
            if mask & PSW.reservedBits != 0 { return false }
            let ea = mask & PSW.extendedAddressing != 0, ba = mask & PSW.basicAddressing != 0
            if ea && !ba { return false }
            if address & 1 != 0 { return false }
            if !ea && address >> (ba ? 31 : 24) != 0 { return false }
            return true
        }

        public var isWait: Bool { mask & PSW.wait != 0 }
        /// Wait with I/O, external and machine-check masks all off: the end state.
        public var isDisabledWait: Bool { isWait && mask & (PSW.io | PSW.external | PSW.machineCheck) == 0 }
    }

    public var psw: PSW {
        get { PSW(mask: pswMask | UInt64(cc) << 44, address: pswAddress) }
        set { loadPSW(newValue) }
    }

    /// Installs a new PSW (no validity check: callers that must check use `PSW.isValid`).
    public func loadPSW(_ new: PSW) {
        pswMask = new.mask & ~PSW.conditionCode
        cc = UInt8(truncatingIfNeeded: (new.mask >> 44) & 3)
        switch new.mask & (PSW.extendedAddressing | PSW.basicAddressing) {
        case PSW.extendedAddressing | PSW.basicAddressing: addressMask = .max
        case PSW.basicAddressing: addressMask = 0x7FFF_FFFF
        default: addressMask = 0xFF_FFFF
        }
        pswAddress = new.address & addressMask
        dat = new.mask & PSW.dat != 0
        refreshAccessChecks()
        fetchPage = .max
        // Enablement may have changed: re-evaluate pending interruptions before the next instruction.
        interruptions.requestAttention()
        endBlock = true
    }

    var problemState: Bool { pswMask & PSW.problemState != 0 }
    var pswKey: UInt8 { UInt8(truncatingIfNeeded: (pswMask >> 52) & 0xF) }
    var programMask: UInt8 { UInt8(truncatingIfNeeded: (pswMask >> 40) & 0xF) }

    @inline(__always)
    func requireSupervisorState() throws(CPUException) {
        if _slowPath(problemState) { throw .program(.privilegedOperation) }
    }

    // MARK: Resets (PoP 4-50, spec 7.3)

    /// CPU reset: pending local interruptions cleared, CPU state otherwise kept.
    public func cpuReset() {
        interruptions.clearAll()
        fetchPage = .max
    }

    /// Initial CPU reset: CPU reset plus PSW, prefix, CPU timer, clock comparator, FPC, TOD
    /// programmable register and control registers to their initial values.
    public func initialCPUReset() {
        cpuReset()
        loadPSW(PSW(mask: 0, address: 0))
        prefix = 0
        fpc = 0
        cpuTimerDeadline = clock.read()
        clockComparator = 0
        todProgrammableRegister = 0
        breakingEventAddress = 1
        for index in 0..<16 { cr[index] = 0 }
        cr[0] = 0xE0
        cr[14] = 0xC200_0000
        refreshAccessChecks()
    }

    /// The host changed how much guest storage exists from absolute 0 (memslots); the base of
    /// the mapping never moves.
    public func setStorageSize(_ size: UInt64) {
        storage = GuestStorage(base: storage.base, size: size)
        invalidateTranslations()
    }

    /// Recomputes `accessChecks` after a change of the PSW or of CR0.
    func refreshAccessChecks() {
        accessChecks = dat || pswKey != 0 || cr[0] & DATBits.cr0LowAddressProtection != 0
    }

    /// Sets control register `index` from the host (KVM_SET_SREGS), keeping derived state right.
    public func setControlRegister(_ index: Int, _ value: UInt64) {
        cr[index] = value
        controlRegistersChanged()
    }

    /// The host wrote the control registers directly (`cr`): recompute what depends on them.
    public func controlRegistersChanged() {
        refreshAccessChecks()
        invalidateTranslations()
        interruptions.requestAttention()
    }

    /// Clear reset of this CPU: initial CPU reset plus general, floating-point and access registers.
    public func clearReset() {
        initialCPUReset()
        for index in 0..<16 { gpr[index] = 0; fpr[index] = 0; ar[index] = 0 }
    }

    /// SET PREFIX semantics shared by SPX and SIGP SET PREFIX (the caller has validated `value`).
    public func setPrefix(_ value: UInt64) {
        prefix = value & 0x7FFF_E000
        fetchPage = .max
    }

    public var cpuTimer: UInt64 {
        get { cpuTimerDeadline &- clock.read() }
        set { cpuTimerDeadline = clock.read() &+ newValue }
    }

    /// The condition code, for hosts that complete an intercepted instruction.
    public var conditionCode: UInt8 {
        get { cc }
        set { cc = newValue & 3 }
    }
}
