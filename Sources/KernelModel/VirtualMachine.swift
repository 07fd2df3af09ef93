import Foundation
import RestrictedMemory
import S390CPU
import Synchronization

/// A VM: guest memory, vCPUs, floating interruptions and the TOD clock (KVM's `struct kvm`).
/// Thread-safe: vCPU threads and the VMM call in concurrently.
public final class VirtualMachine: @unchecked Sendable {
    /// Guest absolute addresses a memslot may cover (KVM's mem_limit for this model): the host
    /// range is reserved up front, so memslots never move guest RAM.
    public static let maxGuestMemory: UInt64 = 64 << 30
    /// KVM_USER_MEM_SLOTS on s390.
    public static let memslotCount = 32

    public let configuration: VMConfiguration
    let addressSpace: GuestAddressSpace
    let model: CPUModel
    /// The VM's clock namespace: the guest TOD offset, fixed at the first KVM_RUN (issue 6).
    public let clockNamespace = ClockNamespace()
    public var clock: TODClock { clockNamespace.clock }
    let floating = FloatingInterruptions()
    let storageKeys: StorageKeys
    let translationEpoch = TranslationEpoch()
    /// Serializes vCPU creation, memslot changes and CPU-state changes across vCPUs (kvm->lock).
    let lock = NSLock()
    private var vcpus: [UInt16: VirtualCPU] = [:]
    /// The same vCPUs in creation order, for broadcasts (copy-on-write, read without sorting).
    private(set) var vcpuList: [VirtualCPU] = []
    private var memslots: [UInt16: Memslot] = [:]
    /// guest_memfd files created by this VM (KVM_CREATE_GUEST_MEMFD), by identity.
    private var ownMemfds = Set<ObjectIdentifier>()
    /// Guest storage the CPUs can address: the run of memslots that starts at absolute 0.
    private(set) var storageSize: UInt64 = 0
    /// Guest ranges reported by memory-failure notifications whose pages may still be failed:
    /// KVM_RUN ends with KVM_EXIT_MEMORY_FAULT while one is. `memoryFailurePending` mirrors "not
    /// empty" so a KVM_RUN without failures costs one atomic load.
    private let memoryFailures = Mutex<[Range<UInt64>]>([])
    private let memoryFailurePending = Atomic<Bool>(false)
    /// Detached memory a PERFORM is clearing (no longer in the PV state), for memory-failure
    /// injection into a teardown in progress.
    let tearingDown = Mutex<[VMSecureStorage]>([])
    /// PV state (spec kvm-pv-ioctl.md §3.1), guarded by `lock`.
    var protectedState = ProtectedState()
    /// mm->context.protected_count: secure configurations that may own pages of this VM.
    let protectedCount = Atomic<Int>(0)
    /// The storage object the Ultravisor tracks this VM's pages by; replaced when
    /// KVM_PV_ASYNC_CLEANUP_PREPARE detaches the memory (guarded by `lock` then).
    var secureStorageView: VMSecureStorage!

    struct Memslot {
        let guestAddress: UInt64
        let size: UInt64
        let memfd: GuestMemfd
        let registration: NotifierRegistration
    }

    init(configuration: VMConfiguration) throws(Errno) {
        ModuleParameters.freeze()
        self.configuration = configuration
        do {
            addressSpace = try GuestAddressSpace(maxBytes: VirtualMachine.maxGuestMemory)
        } catch {
            throw .ENOMEM
        }
        storageKeys = StorageKeys(storageSize: VirtualMachine.maxGuestMemory)
        // A PV host offers the UV-call (158) and unpack (161) facilities to its guests.
        model = HostFirmware.isProtectedVirtualizationHost ? CPUModel(facilities: CPUModel.qemuFacilities.union([158, 161])) : CPUModel()
        secureStorageView = VMSecureStorage(vm: self, base: addressSpace.base)
    }

    /// kvm_arch_destroy_vm: the secure CPUs and every configuration go with the VM.
    deinit {
        if protectedCount.load(ordering: .relaxed) > 0, let ultravisor = HostFirmware.ultravisor {
            for vcpu in vcpuList { _ = vcpu.makeNonSecure(ultravisor) }
            _ = cleanupAll(ultravisor)
        }
        for slot in memslots.values { slot.memfd.unregister(slot.registration) }
    }

    // MARK: KVM_CREATE_GUEST_MEMFD, KVM_SET_USER_MEMORY_REGION2

    /// KVM_CREATE_GUEST_MEMFD: a restricted-memory file bound to this VM.
    public func createGuestMemfd(size: UInt64, flags: UInt64) throws(Errno) -> GuestMemfd {
        let memfd: GuestMemfd
        do {
            memfd = try GuestMemfd(size: size, flags: flags, options: ModuleParameters.guestMemfdOptions)
        } catch {
            throw Errno(error.rawValue)
        }
        lock.withLock { _ = ownMemfds.insert(ObjectIdentifier(memfd)) }
        return memfd
    }

    /// KVM_SET_USER_MEMORY_REGION2, with Linux's checks in its order (__kvm_set_memory_region,
    /// then kvm_gmem_bind, then s390's kvm_arch_prepare_memory_region). All guest RAM of s390pv is
    /// restricted memory, so a slot that is not backed by a guest_memfd is refused (EINVAL).
    public func setMemoryRegion(slot: UInt32, flags: UInt32, guestAddress: UInt64, size: UInt64,
                                userspaceAddress: UInt64, memfd: Result<GuestMemfd, Errno>?, memfdOffset: UInt64) throws(Errno) {
        let logDirtyPages: UInt32 = 1 << 0, guestMemfdFlag: UInt32 = 1 << 2
        let page: UInt64 = 4096, segment: UInt64 = 1 << 20
        guard flags & ~(logDirtyPages | guestMemfdFlag) == 0 else { throw .EINVAL }
        guard size % page == 0, guestAddress % page == 0, userspaceAddress % page == 0 else { throw .EINVAL }
        if flags & guestMemfdFlag != 0 {
            guard memfdOffset % page == 0, memfdOffset &+ size >= memfdOffset else { throw .EINVAL }
        }
        let id = UInt16(truncatingIfNeeded: slot)
        guard slot >> 16 == 0, Int(id) < VirtualMachine.memslotCount else { throw .EINVAL }
        guard guestAddress &+ size >= guestAddress else { throw .EINVAL }
        lock.lock()
        defer { lock.unlock() }
        do {
            // kvm_arch_prepare_memory_region: no memslot changes while protected.
            guard protectedState.handle == 0 else { throw .EINVAL }
            if size == 0 {
                guard let old = memslots[id] else { throw .EINVAL }
                deleteMemslot(id, old)
                return
            }
            // Moving or changing a slot is not modelled; a guest_memfd slot can only be deleted in Linux.
            guard memslots[id] == nil else { throw .EINVAL }
            if memslots.values.contains(where: { $0.guestAddress < guestAddress + size && guestAddress < $0.guestAddress + $0.size }) {
                throw .EEXIST
            }
            // kvm_gmem_bind: the descriptor must be open (EBADF), a guest_memfd of this VM (EINVAL).
            guard flags & guestMemfdFlag != 0, let memfd else { throw .EINVAL }
            let file = try memfd.get()
            guard ownMemfds.contains(ObjectIdentifier(file)), memfdOffset + size <= file.size else { throw .EINVAL }
            // Then s390's kvm_arch_prepare_memory_region: whole 1 MiB segments, below the limit.
            guard userspaceAddress % segment == 0, size % segment == 0, guestAddress + size <= VirtualMachine.maxGuestMemory else {
                throw .EINVAL
            }
            do throws(MemoryErrno) {
                try addressSpace.map(file, fileOffset: memfdOffset, length: size, at: guestAddress)
            } catch {
                throw Errno(error.rawValue)
            }
            let registration = file.register(notifier: MemoryNotifier(vm: self, guestAddress: guestAddress, fileOffset: memfdOffset))
            memslots[id] = Memslot(guestAddress: guestAddress, size: size, memfd: file, registration: registration)
            updateStorageSize()
        }
    }

    /// Removes a memslot; the CPUs stop addressing it before it is unmapped.
    private func deleteMemslot(_ id: UInt16, _ slot: Memslot) {
        memslots[id] = nil
        updateStorageSize()
        slot.memfd.unregister(slot.registration)
        try? addressSpace.unmap(at: slot.guestAddress)
    }

    /// Storage the CPUs see: contiguous memslots from absolute 0 (a slot beyond a gap exists, but
    /// an access there is an addressing exception, as an address outside every memslot).
    private func updateStorageSize() {
        var end: UInt64 = 0
        let sorted = memslots.values.sorted { $0.guestAddress < $1.guestAddress }
        for slot in sorted where slot.guestAddress == end { end += slot.size }
        storageSize = end
        for vcpu in vcpuList { vcpu.cpu.setStorageSize(end) }
        translationEpoch.advance()
    }

    var storage: GuestStorage { GuestStorage(base: addressSpace.base, size: storageSize) }

    /// End of the highest memslot (the guest_len of a secure configuration).
    var memslotEnd: UInt64 { memslots.values.map { $0.guestAddress + $0.size }.max() ?? 0 }

    func hasMemslot(containing address: UInt64) -> Bool {
        memslots.values.contains { $0.guestAddress <= address && address - $0.guestAddress < $0.size }
    }

    /// Releases the backing of guest `range` (the UV clearing pages): the memslots' files punch it.
    func release(_ range: Range<UInt64>) {
        for slot in addressSpace.slots where slot.guestRange.overlaps(range) {
            let part = slot.guestRange.clamped(to: range)
            try? slot.memfd.release(part.lowerBound - slot.guestAddress + slot.fileOffset ..< part.upperBound - slot.guestAddress + slot.fileOffset)
        }
    }

    /// Guest ranges inside `range` whose backing may hold non-zero bytes.
    func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for slot in addressSpace.slots.sorted(by: { $0.guestAddress < $1.guestAddress }) where slot.guestRange.overlaps(range) {
            let part = slot.guestRange.clamped(to: range)
            let delta = slot.fileOffset &- slot.guestAddress
            for fileRange in slot.memfd.populatedRanges(in: part.lowerBound &+ delta ..< part.upperBound &+ delta) {
                result.append(fileRange.lowerBound &- delta ..< fileRange.upperBound &- delta)
            }
        }
        return result
    }

    /// Reports a memory failure in guest memory: every vCPU's next KVM_RUN ends with
    /// KVM_EXIT_MEMORY_FAULT (there is no machine-check delivery in this model yet).
    func noteMemoryFailure(guestRange: Range<UInt64>) {
        memoryFailures.withLock { failures in
            failures.append(guestRange)
            memoryFailurePending.store(true, ordering: .releasing)
        }
        kickAll()
    }

    /// The first failed page still in guest memory (the address KVM_RUN reports), nil when none
    /// is left. A failure whose pages were released since (punched, torn down by DISABLE,
    /// detached by PREPARE) no longer counts: a poisoned page that was truncated is not the
    /// guest's any more.
    var failedGuestPage: UInt64? {
        guard memoryFailurePending.load(ordering: .acquiring) else { return nil }
        return memoryFailures.withLock { failures -> UInt64? in
            failures.removeAll { !isStillFailed($0) }
            guard let first = failures.first else {
                memoryFailurePending.store(false, ordering: .releasing)
                return nil
            }
            return first.lowerBound
        }
    }

    /// Whether a page of guest `range` is still marked failed in the guest_memfd behind it.
    private func isStillFailed(_ range: Range<UInt64>) -> Bool {
        addressSpace.slots.contains { slot in
            guard slot.guestRange.overlaps(range) else { return false }
            let part = slot.guestRange.clamped(to: range)
            let delta = slot.fileOffset &- slot.guestAddress
            return slot.memfd.failedRange(overlapping: part.lowerBound &+ delta ..< part.upperBound &+ delta) != nil
        }
    }

    /// Test and fault-injection hook (memory-failure.c on the pages of a guest range): marks the
    /// populated pages of guest `range` failed, in the VM's own memory (`tornDown` false: the
    /// guest stops at its next KVM_RUN) or in the detached memory of the configurations set
    /// aside or being torn down (`tornDown` true: the guest is not affected; the teardown frees
    /// the pages with their marks). Holes are skipped (no page frame to fail). Returns the guest
    /// ranges marked; EINVAL for an empty range.
    public func injectMemoryFailure(guestRange range: Range<UInt64>, tornDown: Bool) throws(Errno) -> [Range<UInt64>] {
        guard !range.isEmpty else { throw .EINVAL }
        var marked: [Range<UInt64>] = []
        if tornDown {
            var storages = lock.withLock { [protectedState.setAside?.storage].compactMap { $0 } + protectedState.needCleanup.map(\.storage) }
            storages += tearingDown.withLock { $0 }
            for storage in storages { marked += storage.injectMemoryFailure(range) }
            return marked
        }
        for slot in addressSpace.slots where slot.guestRange.overlaps(range) {
            let part = slot.guestRange.clamped(to: range)
            let delta = slot.fileOffset &- slot.guestAddress
            let ranges = (try? slot.memfd.injectMemoryFailureInPopulatedPages(offset: part.lowerBound &+ delta, length: UInt64(part.count))) ?? []
            marked += ranges.map { $0.lowerBound &- delta ..< $0.upperBound &- delta }
        }
        return marked
    }

    /// Failed pages left in this VM's memory and in the detached memory of its set-aside and
    /// leftover configurations (guest ranges): what a teardown should have freed.
    public var failedGuestRanges: (guest: [Range<UInt64>], detached: [Range<UInt64>]) {
        let guest = addressSpace.slots.flatMap { slot in
            slot.memfd.failedRanges.compactMap { range -> Range<UInt64>? in
                let fileRange = slot.fileOffset..<slot.fileOffset + UInt64(slot.guestRange.count)
                guard range.overlaps(fileRange) else { return nil }
                let part = range.clamped(to: fileRange)
                return part.lowerBound - slot.fileOffset + slot.guestAddress ..< part.upperBound - slot.fileOffset + slot.guestAddress
            }
        }
        let detached = lock.withLock { [protectedState.setAside?.storage].compactMap { $0 } + protectedState.needCleanup.map(\.storage) }
            .flatMap(\.failedRanges)
        return (guest, detached)
    }

    /// Userspace controls vCPU run states (set by KVM_SET_MP_STATE and KVM_S390_PV_COMMAND, as
    /// kvm_s390_set_user_cpu_state_ctrl): the kernel then never stops or starts a vCPU itself.
    public private(set) var userCPUStateControl: Bool {
        get { userControl.load(ordering: .acquiring) }
        set { userControl.store(newValue, ordering: .releasing) }
    }
    private let userControl = Atomic<Bool>(false)
    public func enableUserCPUStateControl() { userCPUStateControl = true }

    /// KVM_CAP_S390_USER_STSI: STSI 3.2.2 exits to userspace once stored (kvm->arch.user_stsi).
    public private(set) var userSTSI = false
    public func enableUserSTSI() {
        lock.lock(); defer { lock.unlock() }
        userSTSI = true
        for vcpu in vcpuList { vcpu.cpu.hostAmendsSystemInformation = true }
    }

    /// KVM_CREATE_VCPU: EEXIST for a used id, EINVAL beyond the maximum.
    public func createVCPU(id: UInt16) throws(Errno) -> VirtualCPU {
        lock.lock(); defer { lock.unlock() }
        guard Int(id) < configuration.maxCPUs else { throw .EINVAL }
        guard vcpus[id] == nil else { throw .EEXIST }
        let cpu = CPU(address: id, model: model, storage: storage, clock: clock, floating: floating, storageKeys: storageKeys,
                      translationEpoch: translationEpoch)
        cpu.identity = configuration.identity
        cpu.hostAmendsSystemInformation = userSTSI
        let vcpu = VirtualCPU(vm: self, cpu: cpu)
        // kvm_s390_vcpu_setup: a vCPU created after KVM_PV_ENABLE is made secure at once; its
        // error (EIO for the UVC, ENOMEM for the donated storage) fails the creation.
        if protectedState.handle != 0, let ultravisor = HostFirmware.ultravisor,
           let error = vcpu.makeSecure(ultravisor, configuration: protectedState.handle).error {
            throw error
        }
        vcpus[id] = vcpu
        vcpuList.append(vcpu)
        return vcpu
    }

    public func hasVCPU(id: UInt16) -> Bool { vcpu(address: id) != nil }

    func vcpu(address: UInt16) -> VirtualCPU? {
        lock.lock(); defer { lock.unlock() }
        return vcpus[address]
    }

    var allVCPUs: [VirtualCPU] {
        lock.lock(); defer { lock.unlock() }
        return vcpuList
    }

    public var memorySize: UInt64 { storageSize }

    // MARK: KVM_S390_MEM_OP with KVM_S390_MEMOP_ABSOLUTE_READ/WRITE

    /// Reads guest absolute storage; a range outside memory is the addressing exception (Linux
    /// returns PGM_ADDRESSING as a positive ioctl result).
    public func readAbsolute(_ address: UInt64, count: Int) throws(MemoryOperationError) -> [UInt8] {
        try checkAbsolute(address, count)
        return [UInt8](UnsafeRawBufferPointer(start: addressSpace.base + Int(address), count: count))
    }

    public func writeAbsolute(_ address: UInt64, _ bytes: some Collection<UInt8>) throws(MemoryOperationError) {
        try checkAbsolute(address, bytes.count)
        UnsafeMutableRawBufferPointer(start: addressSpace.base + Int(address), count: bytes.count).copyBytes(from: bytes)
    }

    /// Decision (spec kvm-pv-ioctl.md §2.10 refuses every absolute MEM_OP on a protected VM):
    /// pages the guest shared stay reachable, because the VMM has no other way to reach guest
    /// RAM than this ioctl (QEMU reads shared pages through its own mapping). A range that
    /// touches any secure page, of a live or a destroyed configuration, is EINVAL as in Linux
    /// and copies nothing.
    private func checkAbsolute(_ address: UInt64, _ count: Int) throws(MemoryOperationError) {
        guard count >= 0, count <= 65536 else { throw .errno(.E2BIG) }
        guard isMapped(address, count) else { throw .programException(.addressing) }
        if protectedCount.load(ordering: .relaxed) > 0, let ultravisor = HostFirmware.ultravisor,
           !ultravisor.isHostAccessible(storage: secureStorage, address..<address + UInt64(count)) {
            throw .errno(.EINVAL)
        }
    }

    /// Whether every byte of [address, address + count) lies in some memslot (KVM's absolute
    /// MEM_OP reaches any memslot, also one beyond a gap the CPUs cannot address).
    public func isMapped(_ address: UInt64, _ count: Int) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(UInt64(max(count, 1)))
        guard !overflow else { return false }
        var cursor = address
        while cursor < end {
            guard let slot = addressSpace.slot(containing: cursor) else { return false }
            cursor = slot.guestRange.upperBound
        }
        return true
    }

    // MARK: KVM_S390_INTERRUPT (floating)

    /// KVM_S390_INT_SERVICE: a service-signal interruption with `parameter` (SCCB | pending).
    public func injectServiceSignal(parameter: UInt32) {
        floating.postServiceSignal(parameter: parameter)
        for vcpu in allVCPUs { vcpu.doorbell.ring() }
    }

    /// Makes every vCPU return from KVM_RUN (as a signal to each vCPU thread would).
    public func kickAll() {
        for vcpu in allVCPUs { vcpu.kick() }
    }
}

/// How a memory operation failed: an errno, or the program-interruption code the guest would
/// see (Linux returns it as a positive ioctl result).
public enum MemoryOperationError: Error, Equatable {
    case errno(Errno)
    case programException(ProgramInterruptionCode)
}

extension Errno {
    public static let E2BIG = Errno(7)
}

/// Connects a memslot's guest_memfd notifications to its VM without keeping the VM alive.
private final class MemoryNotifier: GuestMemfdNotifier, @unchecked Sendable {
    weak var vm: VirtualMachine?
    let guestAddress: UInt64
    let fileOffset: UInt64

    init(vm: VirtualMachine, guestAddress: UInt64, fileOffset: UInt64) {
        self.vm = vm
        self.guestAddress = guestAddress
        self.fileOffset = fileOffset
    }

    private func guestRange(_ range: Range<UInt64>) -> Range<UInt64> {
        (range.lowerBound - fileOffset + guestAddress)..<(range.upperBound - fileOffset + guestAddress)
    }

    /// Pages are about to go: every CPU drops its cached translations and fetch pages.
    func invalidateStart(_ range: Range<UInt64>) { vm?.translationEpoch.advance() }
    func invalidateEnd(_ range: Range<UInt64>) {}
    func error(_ range: Range<UInt64>) { vm?.noteMemoryFailure(guestRange: guestRange(range)) }
}
