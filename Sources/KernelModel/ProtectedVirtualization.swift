// KVM_S390_PV_COMMAND: the VM side of protected virtualization (arch/s390/kvm/pv.c and
// kvm_s390_handle_pv in kvm-s390.c), with Linux's order of checks, errno and rc/rrc
// (../shared/spec/kvm-pv-ioctl.md §2). Reference kernel profile (spec §9 item 1): the 6.2 ABI
// with the 2023 fixes, the ESCA always allocated (no ENABLE step 1), the SE-header limit of
// 8192 bytes, no mmu-notifier registration step (nothing here can be interrupted by a signal).
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
        // async_destroy is 0 on this host until asynchronous teardown exists (spec §2.8, §2.9).
        case .asyncCleanupPrepare, .asyncCleanupPerform: return .failure(.EINVAL)
        }
    }

    /// KVM_PV_ENABLE (spec §2.1). Context: VM lock held. Creates the secure configuration over
    /// the VM's storage, then a secure CPU per vCPU; any CPU failure undoes everything. The
    /// service-signal mask bit is set at the end whatever happened (Linux quirk).
    private func enableProtection(_ ultravisor: Ultravisor) -> PVCommandResult {
        guard protectedState.handle == 0 else { return .failure(.EINVAL) }
        defer { floating.isServiceSignalMasked = true }
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
        protectedState.handle = handle
        var last = created
        for vcpu in vcpuList {
            let response = vcpu.makeSecure(ultravisor, configuration: handle)
            guard response.succeeded else {
                _ = destroySecureCPUs(ultravisor)
                _ = destroyConfiguration(ultravisor)
                return .failure(.EIO, response)
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

    /// kvm_s390_pv_deinit_cleanup_all (spec §3.4): destroys the configuration, then makes every
    /// page of the address space accessible again (the UV clears the secure ones). rc is preset
    /// to 1 and then taken from DESTROY_SEC_CONF. Context: VM lock held.
    func cleanupAll(_ ultravisor: Ultravisor) -> PVCommandResult {
        var response = UVResponse.executed
        var failed = false
        if protectedState.handle != 0 {
            response = destroyConfiguration(ultravisor)
            failed = !response.succeeded
        }
        destroyAllSecurePages(ultravisor)
        return failed ? .failure(.EIO, response) : .success(response)
    }

    /// kvm_s390_pv_deinit_vm: DESTROY_SEC_CONF; on success the count drops and the PV state is
    /// cleared; on failure the handle stays (Linux leaks the configuration's storage).
    private func destroyConfiguration(_ ultravisor: Ultravisor) -> UVResponse {
        let response = ultravisor.destroySecureConfiguration(protectedState.handle)
        if response.succeeded {
            protectedCount.subtract(1, ordering: .relaxed)
            protectedState = ProtectedState()
        }
        return response
    }

    /// The walk over the whole address space that destroys secure pages (s390_uv_destroy_range):
    /// only populated pages can hold anything, so only they are visited.
    private func destroyAllSecurePages(_ ultravisor: Ultravisor) {
        let storage = secureStorage
        for range in storage.populatedRanges(in: 0..<storage.size) {
            for page in stride(from: range.lowerBound, to: range.upperBound, by: 4096) {
                _ = ultravisor.destroyPage(storage: storage, guestAddress: page)
            }
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

/// VM storage as the Ultravisor sees it. Holds the VM weakly: a configuration the UV still
/// tracks must not keep a closed VM alive.
final class VMSecureStorage: SecureStorage, @unchecked Sendable {
    private weak var vm: VirtualMachine?
    private let base: UnsafeMutableRawPointer

    init(vm: VirtualMachine, base: UnsafeMutableRawPointer) {
        self.vm = vm
        self.base = base
    }

    var size: UInt64 { vm?.memslotEnd ?? 0 }

    func hostPointer(_ address: UInt64) -> UnsafeMutableRawPointer { base + Int(address) }

    func clear(_ range: Range<UInt64>) { vm?.release(range) }

    func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] { vm?.populatedRanges(in: range) ?? [] }
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
