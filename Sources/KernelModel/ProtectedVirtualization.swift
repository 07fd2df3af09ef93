// KVM_S390_PV_COMMAND: the VM side of protected virtualization (arch/s390/kvm/pv.c and
// kvm_s390_handle_pv in kvm-s390.c), with Linux's order of checks, errno and rc/rrc
// (../shared/spec/kvm-pv-ioctl.md §2). Reference kernel profile (spec §9 item 1): the 6.2 ABI
// with the 2023 fixes, the ESCA always allocated (no ENABLE step 1), the SE-header limit of
// 8192 bytes, no mmu-notifier registration step (nothing here can be interrupted by a signal).
import CSyscalls
import FaultInjection
import Foundation
import RestrictedMemory
import Synchronization
import Ultravisor

/// `enum pv_cmd_id` (spec §1.3).
public enum PVCommand: UInt32, Sendable {
    case enable = 0, disable, setSecureParameters, unpack, verify, prepareReset, unshareAll, info, dump,
         asyncCleanupPrepare, asyncCleanupPerform
}

/// What a PV command returns: the errno (nil on success) and the UV response to copy into the
/// caller's rc/rrc (nil: the command did not write them, so the caller's values are echoed).
public struct PVCommandResult: Sendable, Equatable {
    public var error: Errno?
    public var response: UVResponse?

    static func success(_ response: UVResponse?) -> PVCommandResult { PVCommandResult(error: nil, response: response) }
    static func failure(_ error: Errno, _ response: UVResponse? = nil) -> PVCommandResult { PVCommandResult(error: error, response: response) }
}

/// Copies between the kernel model and the ioctl caller's memory (copy_from_user/copy_to_user):
/// a bad pointer is EFAULT.
public protocol UserCopy {
    func read(_ address: UInt64, count: Int) throws(Errno) -> [UInt8]
    func write(_ bytes: [UInt8], to address: UInt64) throws(Errno)
}

/// The VM's PV state (spec §3.1), guarded by the VM lock (kvm->lock).
struct ProtectedState {
    /// The current secure configuration; non-zero means "protected".
    var handle: UInt64 = 0
    /// The one configuration prepared for asynchronous teardown and not yet taken by PERFORM.
    var setAside: AsideRecord?
    /// Configurations whose PERFORM was interrupted: destroyed by DISABLE or VM destruction.
    var needCleanup: [AsideRecord] = []
}

/// A configuration set aside by KVM_PV_ASYNC_CLEANUP_PREPARE (Linux's pv_vm_to_be_destroyed):
/// its handle (0 when DESTROY_SEC_CONF_FAST already destroyed it) and its detached memory.
struct AsideRecord {
    let handle: UInt64
    let storage: VMSecureStorage
}

extension Errno {
    public static let EIO = Errno(5)
}

extension VirtualMachine {
    /// Whether the VM has a secure configuration (kvm_s390_pv_is_protected).
    public var isProtected: Bool { lock.withLock { protectedState.handle != 0 } }

    /// The Ultravisor's view of this VM's storage.
    var secureStorage: SecureStorage { secureStorageView }

    /// KVM_S390_PV_COMMAND after the generic checks of spec §1.5 (the ioctl layer copies the
    /// struct, checks flags and writes it back). Context: any thread; takes the VM lock for
    /// every command (PERFORM has no work here: this host reports async_destroy off).
    public func protectedVirtualizationCommand(_ command: UInt32, data: UInt64, user: UserCopy) -> PVCommandResult {
        guard let ultravisor = HostFirmware.ultravisor else { return .failure(.EINVAL) }
        guard let command = PVCommand(rawValue: command) else { return .failure(.ENOTTY) }
        // PERFORM is the one command that runs without the VM lock (spec §2.9).
        if command == .asyncCleanupPerform { return asyncCleanupPerform(ultravisor) }
        lock.lock()
        defer { lock.unlock() }
        switch command {
        case .enable: return enableProtection(ultravisor)
        case .disable: return disableProtection(ultravisor)
        case .setSecureParameters: return setSecureParameters(ultravisor, data: data, user: user)
        case .unpack: return unpack(ultravisor, data: data, user: user)
        case .verify: return configurationCall { ultravisor.verify($0) }
        case .prepareReset: return configurationCall { ultravisor.prepareReset($0) }
        case .unshareAll: return configurationCall { ultravisor.unshareAll($0) }
        case .info: return info(ultravisor, data: data, user: user)
        case .dump: return dump(data: data, user: user)
        case .asyncCleanupPrepare: return asyncCleanupPrepare(ultravisor)
        case .asyncCleanupPerform: return .failure(.EINVAL)   // handled above, without the lock
        }
    }

    /// KVM_PV_ENABLE (spec §2.1). Context: VM lock held. Allocates the donated storage (ENOMEM),
    /// creates the secure configuration over the VM's storage (EIO), then a secure CPU per vCPU
    /// (EIO, ENOMEM); any CPU failure undoes everything. The service-signal mask bit is set once
    /// the configuration was created, whatever the CPUs did (Linux quirk).
    private func enableProtection(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard protectedState.handle == 0 else { return .failure(.EINVAL) }
        // kvm_s390_pv_alloc_vm: the donated base and variable storage, before CREATE_SEC_CONF;
        // -ENOMEM with rc/rrc untouched, the count unchanged, and (as kvm_s390_handle_pv breaks
        // out before it) the service-signal mask bit not set. Failure point `pv_enable_storage`.
        if let error = FaultInjection.shouldFail(.enableStorage) { return .failure(Errno(error)) }
        let guestLength = memslotEnd
        let query = ultravisor.configuration
        let variable = (query.variableStorageLengthPerMiB * (guestLength >> 20) + 4095) & ~4095 + query.baseVirtualStorageLength
        let (created, handle) = ultravisor.createSecureConfiguration(storage: secureStorage, guestStorageLength: guestLength,
                                                                     baseStorageLength: query.baseStorageLength,
                                                                     variableStorageLength: variable, flags: 0)
        protectedCount.add(1, ordering: .relaxed)
        guard created.succeeded else {
            // UVC_RC_NEED_DESTROY: the half-made configuration must be destroyed (deinit_vm).
            if created.rc & 0x8000 != 0 {
                if ultravisor.destroySecureConfiguration(handle).succeeded { protectedCount.subtract(1, ordering: .relaxed) }
            } else {
                protectedCount.subtract(1, ordering: .relaxed)
            }
            return .failure(.EIO, created)
        }
        // kvm_s390_handle_pv sets the mask bit once kvm_s390_pv_init_vm succeeded, also when a
        // CPU then fails (the VM is not protected, the mask stays: spec §2.1 step 5 quirk).
        defer { floating.isServiceSignalMasked = true }
        protectedState.handle = handle
        var last = created
        for vcpu in vcpuList {
            let (error, response) = vcpu.makeSecure(ultravisor, configuration: handle)
            guard error == nil, let response else {
                // kvm_s390_cpus_to_pv: every CPU back, then deinit_vm (both with a dummy rc); the
                // caller's rc/rrc are those of the failing CPU's UVC, or of the last successful
                // one when the CPU's storage could not be allocated (no UVC was issued).
                _ = destroySecureCPUs(ultravisor)
                _ = destroyConfiguration(ultravisor)
                return .failure(error ?? .EIO, response ?? last)
            }
            last = response
        }
        return .success(last)
    }

    /// KVM_PV_DISABLE (spec §2.2). Context: VM lock held.
    private func disableProtection(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard protectedState.handle != 0 else { return .failure(.EINVAL) }
        if let failure = destroySecureCPUs(ultravisor) { return .failure(.EIO, failure) }
        let result = cleanupAll(ultravisor)
        floating.isServiceSignalMasked = false
        return result
    }

    /// kvm_s390_cpus_from_pv: destroys every secure CPU, continuing past failures; returns the
    /// first failure's response. Context: VM lock held.
    private func destroySecureCPUs(_ ultravisor: Ultravisor) -> UVResponse? {
        var firstFailure: UVResponse?
        for vcpu in vcpuList {
            if let response = vcpu.makeNonSecure(ultravisor), !response.succeeded, firstFailure == nil { firstFailure = response }
        }
        return firstFailure
    }

    /// kvm_s390_pv_deinit_cleanup_all (spec §3.4): nothing when no configuration may own pages;
    /// else destroys the current configuration, the set-aside one and every leftover, then makes
    /// every page of the address space accessible again (the UV clears the secure ones). rc is
    /// preset to 1, then taken from DESTROY_SEC_CONF, or from the first failing leftover while
    /// still 1. Not interruptible. Context: VM lock held.
    func cleanupAll(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard protectedCount.load(ordering: .relaxed) > 0 else { return .success(nil) }
        var response = UVResponse.executed
        var failed = false
        if protectedState.handle != 0 {
            response = destroyConfiguration(ultravisor)
            failed = !response.succeeded
        }
        if let record = protectedState.setAside {
            protectedState.needCleanup.append(record)
            protectedState.setAside = nil
        }
        for record in protectedState.needCleanup {
            tearDown(record.storage, ultravisor, interruptible: false)
            let disposed = dispose(record, ultravisor)
            if disposed.error != nil {
                failed = true
                if response.succeeded, let leftover = disposed.response { response = leftover }
            }
        }
        protectedState.needCleanup = []
        destroyAllSecurePages(ultravisor)
        // Every page is accessible again: the UV forgets the storage's page states (pages never
        // populated are zero anyway), or it would keep a table per DISABLE.
        ultravisor.storageReleased(secureStorage)
        return failed ? .failure(.EIO, response) : .success(response)
    }

    /// KVM_PV_ASYNC_CLEANUP_PREPARE (spec §2.8). Context: VM lock held. Destroys the secure CPUs,
    /// then sets the configuration aside: DESTROY_SEC_CONF_FAST when the UV has it, and the VM's
    /// memory is detached from it, so the next boot starts on fresh memory at once. Linux
    /// instead clears the memory below 2 GiB here; detaching keeps that observable result (the
    /// new boot sees no secure or old page anywhere) at O(backing files). The service-signal mask
    /// is cleared whatever happened. A failure after the CPU step leaves the VM protected with no
    /// secure CPUs (P0), as in Linux.
    private func asyncCleanupPrepare(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard protectedState.handle != 0, ModuleParameters.asyncDestroy else { return .failure(.EINVAL) }
        defer { floating.isServiceSignalMasked = false }
        if let failure = destroySecureCPUs(ultravisor) { return .failure(.EIO, failure) }
        guard protectedState.setAside == nil else { return .failure(.EINVAL) }
        // A guest limit of at most 2 GiB has a segment-table ASCE, which cannot be replaced (292a7d6fca33).
        guard memslotEnd > 2 << 30 else { return .failure(.EINVAL) }
        var handle = protectedState.handle
        let storage = secureStorageView!
        // kvm_s390_pv_set_aside allocates its record before it destroys anything: the fresh
        // backing files are this model's allocation, so they come first, and a failure (-ENOMEM)
        // leaves the configuration, its handle and the VM's memory as they were.
        let fresh: VMSecureStorage.FreshBackings
        do { fresh = try storage.prepareDetach(slots: addressSpace.slots) } catch { return .failure(.ENOMEM) }
        if ultravisor.configuration.fastDestroyAvailable {
            let response = ultravisor.destroySecureConfigurationFast(handle)
            guard response.succeeded else { return .failure(.EIO, response) }
            handle = 0
        }
        do {
            try storage.detach(slots: addressSpace.slots, size: memslotEnd, fresh: fresh)
        } catch {
            // Only a host mapping refused by the kernel gets here. With the configuration already
            // destroyed fast, no handle may stay behind: its pages are cleared in place, as DISABLE
            // would, and the VM is no longer protected.
            guard handle == 0 else { return .failure(.ENOMEM) }
            protectedState.handle = 0
            protectedCount.subtract(1, ordering: .relaxed)
            destroyAllSecurePages(ultravisor)
            ultravisor.storageReleased(secureStorage)
            return .failure(.ENOMEM)
        }
        secureStorageView = VMSecureStorage(vm: self, base: addressSpace.base)
        protectedState.handle = 0
        protectedState.setAside = AsideRecord(handle: handle, storage: storage)
        return .success(UVResponse(rc: 1, rrc: 42))
    }

    /// KVM_PV_ASYNC_CLEANUP_PERFORM (spec §2.9). Context: any thread, without the VM lock, which
    /// it takes only to take the record (a new PREPARE is allowed from then on) and to queue an
    /// interrupted one. The record's pages are cleared by the worker pool; a fatal signal stops it
    /// within one batch, the record goes to needCleanup and the result is rc 1 / rrc 42.
    private func asyncCleanupPerform(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard ModuleParameters.asyncDestroy else { return .failure(.EINVAL) }
        let taken = lock.withLock { () -> AsideRecord? in
            defer { protectedState.setAside = nil }
            return protectedState.setAside
        }
        guard let record = taken else { return .failure(.EINVAL) }
        tearingDown.withLock { $0.append(record.storage) }
        defer { tearingDown.withLock { $0.removeAll { $0 === record.storage } } }
        guard tearDown(record.storage, ultravisor, interruptible: true) else {
            lock.withLock { protectedState.needCleanup.append(record) }
            return .success(UVResponse(rc: 1, rrc: 42))
        }
        return dispose(record, ultravisor)
    }

    /// Disposal of a set-aside record (§2.9 step 4): DESTROY_SEC_CONF unless the fast destroy
    /// already happened (then rc/rrc stay as the caller passed them); the count drops on success.
    private func dispose(_ record: AsideRecord, _ ultravisor: Ultravisor) -> PVCommandResult {
        var response: UVResponse?
        if record.handle != 0 {
            let destroyed = ultravisor.destroySecureConfiguration(record.handle)
            response = destroyed
            guard destroyed.succeeded else { return .failure(.EIO, destroyed) }
        }
        protectedCount.subtract(1, ordering: .relaxed)
        ultravisor.storageReleased(record.storage)
        return .success(response)
    }

    /// DESTR_SEC_STOR over every populated page of `storage`, on the teardown worker pool: each
    /// worker takes whole 1 GiB units (no two punch one backing file) in batches of 2 MiB, and
    /// checks for a fatal signal after every batch when `interruptible`. False if interrupted.
    @discardableResult
    func tearDown(_ storage: VMSecureStorage, _ ultravisor: Ultravisor, interruptible: Bool) -> Bool {
        let units = storage.teardownUnits()
        let batch: UInt64 = 2 << 20
        let interrupted = Atomic<Bool>(false)
        let workers = max(1, min(ModuleParameters.teardownWorkers, units.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for unit in stride(from: worker, to: units.count, by: workers) {
                for range in units[unit] {
                    var start = range.lowerBound
                    while start < range.upperBound {
                        if interruptible && (interrupted.load(ordering: .relaxed) || s390pv_fatal_signal_pending() != 0) {
                            interrupted.store(true, ordering: .relaxed)
                            return
                        }
                        let end = min(range.upperBound, start + batch)
                        _ = ultravisor.destroyPages(storage: storage, start..<end)
                        start = end
                    }
                }
            }
        }
        return !interrupted.load(ordering: .relaxed)
    }

    /// kvm_s390_pv_deinit_vm: DESTROY_SEC_CONF; on success the count drops and the PV state is
    /// cleared; on failure the handle stays (Linux leaks the configuration's storage).
    private func destroyConfiguration(_ ultravisor: Ultravisor) -> UVResponse {
        let response = ultravisor.destroySecureConfiguration(protectedState.handle)
        if response.succeeded {
            protectedCount.subtract(1, ordering: .relaxed)
            protectedState.handle = 0
        }
        return response
    }

    /// The walk over the whole address space that destroys secure pages (s390_uv_destroy_range):
    /// only populated pages can hold anything, so only they are visited.
    private func destroyAllSecurePages(_ ultravisor: Ultravisor) {
        let storage = secureStorage
        for range in storage.populatedRanges(in: 0..<storage.size) {
            _ = ultravisor.destroyPages(storage: storage, range)
        }
    }

    /// The no-data commands VERIFY, PREP_RESET and UNSHARE_ALL (spec §2.5): EINVAL when not
    /// protected or when the UV refuses; rc/rrc always copied once the UVC was issued.
    private func configurationCall(_ call: (UInt64) -> UVResponse) -> PVCommandResult {
        guard protectedState.handle != 0 else { return .failure(.EINVAL) }
        let response = call(protectedState.handle)
        return response.succeeded ? .success(response) : .failure(.EINVAL, response)
    }

    /// KVM_PV_SET_SEC_PARMS (spec §2.3).
    private func setSecureParameters(_ ultravisor: Ultravisor, data: UInt64, user: UserCopy) -> PVCommandResult {
        guard protectedState.handle != 0 else { return .failure(.EINVAL) }
        do throws(Errno) {
            let parameters = try user.read(data, count: 16)
            let origin = parameters.nativeField(UInt64.self, at: 0), length = parameters.nativeField(UInt64.self, at: 8)
            guard length <= 8192 else { return .failure(.EINVAL) }
            guard length > 0 else { return .failure(.ENOMEM) }   // vmalloc(0) returns NULL
            // vmalloc(length) of the header copy: failure point `pv_sec_parms`.
            if let error = FaultInjection.shouldFail(.secureParameters) { return .failure(Errno(error)) }
            let header = try user.read(origin, count: Int(length))
            let response = header.withUnsafeBytes { ultravisor.setSecureConfigurationParameters(protectedState.handle, header: $0) }
            return response.succeeded ? .success(response) : .failure(.EINVAL, response)
        } catch {
            return .failure(error)
        }
    }

    /// KVM_PV_UNPACK (spec §2.4): one UNPACK_IMG per page, tweak[1] = the offset in the component.
    private func unpack(_ ultravisor: Ultravisor, data: UInt64, user: UserCopy) -> PVCommandResult {
        guard protectedState.handle != 0, protectedCount.load(ordering: .relaxed) > 0 else { return .failure(.EINVAL) }
        let request: [UInt8]
        do { request = try user.read(data, count: 24) } catch { return .failure(error) }
        let address = request.nativeField(UInt64.self, at: 0), size = request.nativeField(UInt64.self, at: 8)
        let tweak = request.nativeField(UInt64.self, at: 16)
        guard address % 4096 == 0, size % 4096 == 0, size > 0 else { return .failure(.EINVAL) }
        var response: UVResponse?
        var offset: UInt64 = 0
        while offset < size {
            let (page, overflow) = address.addingReportingOverflow(offset)
            // No memslot behind the page: -EFAULT (the gmap has nothing to make secure).
            guard !overflow, page < memslotEnd, hasMemslot(containing: page) else { return .failure(.EFAULT, response) }
            // make_secure's -ENXIO, then kvm_s390_faultin_gfn_simple: the fault-in's error is the
            // result (vm_fault_to_errno: VM_FAULT_OOM → -ENOMEM; a backing store out of space is
            // VM_FAULT_SIGBUS → -EFAULT). unpack_one copies the rc/rrc of a UVC that was never
            // issued: 0/0. Failure point `pv_unpack_fault`.
            if let error = FaultInjection.shouldFail(.unpackFault) {
                return .failure(error == Errno.ENOMEM.rawValue ? .ENOMEM : .EFAULT, UVResponse(rc: 0, rrc: 0))
            }
            let result = ultravisor.unpack(protectedState.handle, guestAddress: page, tweak: (tweak, offset))
            response = result
            guard result.succeeded else { return .failure(.EINVAL, result) }
            offset += 4096
        }
        return .success(response)
    }

    /// KVM_PV_INFO (spec §2.6): works without protection; rc/rrc untouched.
    private func info(_ ultravisor: Ultravisor, data: UInt64, user: UserCopy) -> PVCommandResult {
        do throws(Errno) {
            let header = try user.read(data, count: 16)
            let id = header.nativeField(UInt32.self, at: 0), maximum = header.nativeField(UInt32.self, at: 4)
            guard maximum >= 16 else { return .failure(.EINVAL) }
            let query = ultravisor.configuration
            var reply = header
            switch id {
            case 0:   // KVM_PV_INFO_VM
                guard maximum >= 80 else { return .failure(.EINVAL) }
                reply += [UInt8](repeating: 0, count: 64)
                for (index, word) in query.hostInstalledCalls.enumerated() { reply.setNativeField(word, at: 16 + 8 * index) }
                reply.setNativeField(UInt64(query.maximumGuestCPUID) + 1, at: 48)
                reply.setNativeField(UInt64(query.maximumConfigurations), at: 56)
                reply.setNativeField((query.maximumGuestStorageAddress + 4095) & ~4095, at: 64)
                reply.setNativeField(query.featureIndications, at: 72)
            case 1:   // KVM_PV_INFO_DUMP
                guard maximum >= 40 else { return .failure(.EINVAL) }
                reply += [UInt8](repeating: 0, count: 24)
                reply.setNativeField(query.cpuStorageLength, at: 16)
                reply.setNativeField(query.dumpStorageStateLength, at: 24)
                reply.setNativeField(query.dumpFinalizeLength, at: 32)
            default:
                return .failure(.EINVAL)
            }
            reply.setNativeField(UInt32(reply.count), at: 8)
            try user.write(reply, to: data)
            return .success(nil)
        } catch {
            return .failure(error)
        }
    }

    /// KVM_PV_DUMP (spec §2.7). The UV installs no dump calls (KVM_CAP_S390_PROTECTED_DUMP is 0):
    /// INIT gets the UV's "invalid command"; the other known subcommands need a dump in progress.
    private func dump(data: UInt64, user: UserCopy) -> PVCommandResult {
        guard protectedState.handle != 0 else { return .failure(.EINVAL) }
        let request: [UInt8]
        do { request = try user.read(data, count: 64) } catch { return .failure(error) }
        switch request.nativeField(UInt64.self, at: 0) {
        case 0: return .failure(.EINVAL, UVResponse(rc: 0x0002, rrc: 0))
        case 1, 2: return .failure(.EINVAL)
        default: return .failure(.ENOTTY)
        }
    }
}

/// VM storage as the Ultravisor sees it: the VM's guest memory, until KVM_PV_ASYNC_CLEANUP_PREPARE
/// detaches it. Then it is the old backing files of the set-aside configuration (the VM itself
/// has fresh ones), which the teardown workers clear. Holds the VM weakly: a configuration the
/// UV still tracks must not keep a closed VM alive.
final class VMSecureStorage: SecureStorage, @unchecked Sendable {
    /// One guest range of detached memory and where it now lives.
    struct DetachedPart {
        let guestRange: Range<UInt64>
        let backing: DetachedBacking
        let fileOffset: UInt64
        func fileRange(_ guest: Range<UInt64>) -> Range<UInt64> {
            let part = guestRange.clamped(to: guest)
            return part.lowerBound - guestRange.lowerBound + fileOffset ..< part.upperBound - guestRange.lowerBound + fileOffset
        }
    }

    private weak var vm: VirtualMachine?
    private let base: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var detachedParts: [DetachedPart]?
    private var detachedSize: UInt64 = 0

    init(vm: VirtualMachine, base: UnsafeMutableRawPointer) {
        self.vm = vm
        self.base = base
    }

    private var parts: [DetachedPart]? { lock.withLock { detachedParts } }

    var size: UInt64 { lock.withLock { detachedParts == nil ? vm?.memslotEnd ?? 0 : detachedSize } }

    func hostPointer(_ address: UInt64) -> UnsafeMutableRawPointer {
        guard let parts, let part = parts.first(where: { $0.guestRange.contains(address) }) else { return base + Int(address) }
        return part.backing.pointer(to: address - part.guestRange.lowerBound + part.fileOffset)
    }

    func clear(_ range: Range<UInt64>) {
        guard let parts else { vm?.release(range); return }
        for part in parts where part.guestRange.overlaps(range) { try? part.backing.release(part.fileRange(range)) }
    }

    func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] {
        guard let parts else { return vm?.populatedRanges(in: range) ?? [] }
        return parts.filter { $0.guestRange.overlaps(range) }.flatMap { part in
            part.backing.populatedRanges(in: part.fileRange(range)).map {
                $0.lowerBound - part.fileOffset + part.guestRange.lowerBound ..< $0.upperBound - part.fileOffset + part.guestRange.lowerBound
            }
        }
    }

    /// Fresh backing files for every guest_memfd behind a memslot, by file identity.
    typealias FreshBackings = [ObjectIdentifier: FreshBacking]

    /// The allocation half of `detach`: fresh backing files for every guest_memfd behind
    /// `slots`; nothing changes yet, and dropping the result closes them. Context: VM lock held.
    func prepareDetach(slots: [GuestAddressSpace.Slot]) throws(MemoryErrno) -> FreshBackings {
        var fresh: FreshBackings = [:]
        for slot in slots where fresh[ObjectIdentifier(slot.memfd)] == nil {
            fresh[ObjectIdentifier(slot.memfd)] = try slot.memfd.makeFreshBacking()
        }
        return fresh
    }

    /// Takes the VM's memory away from the VM: every guest_memfd behind a memslot switches to
    /// its `fresh` backing files (from `prepareDetach`), and this storage keeps the old ones,
    /// with their failure marks. Context: VM lock held.
    func detach(slots: [GuestAddressSpace.Slot], size: UInt64, fresh: FreshBackings) throws(MemoryErrno) {
        var backings: [ObjectIdentifier: DetachedBacking] = [:]
        var parts: [DetachedPart] = []
        for slot in slots {
            let key = ObjectIdentifier(slot.memfd)
            if backings[key] == nil {
                guard let files = fresh[key] else { throw .EINVAL }
                backings[key] = try slot.memfd.detachBacking(to: files)
            }
            parts.append(DetachedPart(guestRange: slot.guestRange, backing: backings[key]!, fileOffset: slot.fileOffset))
        }
        lock.withLock {
            detachedParts = parts
            detachedSize = size
        }
    }

    /// Whether this storage holds detached memory (a set-aside configuration's).
    var isDetached: Bool { parts != nil }

    /// memory_failure() on the populated pages of guest `range` of the detached memory; the
    /// guest ranges marked. Nothing for a storage that is still the VM's own memory.
    func injectMemoryFailure(_ range: Range<UInt64>) -> [Range<UInt64>] {
        guard let parts else { return [] }
        var marked: [Range<UInt64>] = []
        for part in parts where part.guestRange.overlaps(range) {
            let file = part.fileRange(range)
            let ranges = (try? part.backing.injectMemoryFailure(offset: file.lowerBound, length: UInt64(file.count))) ?? []
            marked += ranges.map { $0.lowerBound - part.fileOffset + part.guestRange.lowerBound ..< $0.upperBound - part.fileOffset + part.guestRange.lowerBound }
        }
        return marked
    }

    /// The failed pages of the detached memory, as guest ranges.
    var failedRanges: [Range<UInt64>] {
        guard let parts else { return [] }
        var seen = Set<ObjectIdentifier>()
        return parts.flatMap { part -> [Range<UInt64>] in
            guard seen.insert(ObjectIdentifier(part.backing)).inserted else { return [] }
            return part.backing.failedRanges.map { $0.lowerBound - part.fileOffset + part.guestRange.lowerBound ..< $0.upperBound - part.fileOffset + part.guestRange.lowerBound }
        }
    }

    /// Guest ranges to tear down, one list per 1 GiB region (the VMM's backing-file size), so
    /// that no two workers punch the same file.
    func teardownUnits() -> [[Range<UInt64>]] {
        let unit: UInt64 = 1 << 30
        var units: [UInt64: [Range<UInt64>]] = [:]
        for range in populatedRanges(in: 0..<size) {
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(range.upperBound, (start / unit + 1) * unit)
                units[start / unit, default: []].append(start..<end)
                start = end
            }
        }
        return units.keys.sorted().map { units[$0]! }
    }
}

extension [UInt8] {
    /// A field of an ioctl payload in the calling process's native byte order, as Linux reads its
    /// uapi structs (spec §9 item 14: the callers are host programs using <linux/kvm.h>; payloads
    /// in the guest's byte order would break every C caller on x86-64).
    func nativeField<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    mutating func setNativeField<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: T.self) }
    }
}
