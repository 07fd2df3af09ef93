// Typed wrappers for protected virtualization: KVM_S390_PV_COMMAND on the VM, the SIDA memory
// operations and KVM_SET_MP_STATE LOAD on a vCPU (../shared/spec/kvm-pv-ioctl.md §1, §2, §6.0).
import CKVM
import Glibc
import KernelABI

/// `enum pv_cmd_id`.
public enum PVCommandID: UInt32, Sendable, CustomStringConvertible {
    case enable = 0, disable, setSecureParameters, unpack, verify, prepareReset, unshareAll, info
    case asyncCleanupPrepare = 9, asyncCleanupPerform

    /// QEMU's names (KVM_PV_*), for messages.
    public var description: String {
        switch self {
        case .enable: "KVM_PV_ENABLE"
        case .disable: "KVM_PV_DISABLE"
        case .setSecureParameters: "KVM_PV_SET_SEC_PARMS"
        case .unpack: "KVM_PV_UNPACK"
        case .verify: "KVM_PV_VERIFY"
        case .prepareReset: "KVM_PV_PREP_RESET"
        case .unshareAll: "KVM_PV_UNSHARE_ALL"
        case .info: "KVM_PV_INFO"
        case .asyncCleanupPrepare: "KVM_PV_ASYNC_CLEANUP_PREPARE"
        case .asyncCleanupPerform: "KVM_PV_ASYNC_CLEANUP_PERFORM"
        }
    }
}

/// A failed PV command: the ioctl's errno and the UV's rc/rrc as the kernel copied them back.
public struct PVCommandError: Error, Equatable, CustomStringConvertible {
    public let command: PVCommandID
    public let errno: Int32
    public let rc: UInt16
    public let rrc: UInt16

    /// QEMU's message (target/s390x/kvm/pv.c).
    public var description: String {
        "KVM PV command \(command.rawValue) (\(command)) failed: header rc \(String(rc, radix: 16)) rrc \(String(rrc, radix: 16)) IOCTL rc: -\(errno)"
    }
}

/// KVM_PV_INFO with KVM_PV_INFO_VM.
public struct PVVMInfo: Equatable, Sendable {
    public var installedCalls: [UInt64]
    public var maxCPUs: UInt64
    public var maxGuests: UInt64
    public var maxGuestAddress: UInt64
    public var featureIndication: UInt64
}

extension VMFd {
    /// KVM_S390_PV_COMMAND, retried while it fails with EINTR (QEMU's __s390_pv_cmd). Returns
    /// the UV's rc/rrc.
    @discardableResult
    public func protectedVirtualizationCommand(_ command: PVCommandID, data: UnsafeMutableRawPointer? = nil) throws(PVCommandError) -> (rc: UInt16, rrc: UInt16) {
        var request = kvm_pv_cmd()
        request.cmd = command.rawValue
        request.data = UInt64(UInt(bitPattern: data))
        while true {
            do throws(KVMError) {
                try kvmIoctl(fd, S390PV_KVM_S390_PV_COMMAND, &request)
                return (request.rc, request.rrc)
            } catch {
                if error.errno == EINTR { continue }
                throw PVCommandError(command: command, errno: error.errno, rc: request.rc, rrc: request.rrc)
            }
        }
    }

    /// KVM_PV_SET_SEC_PARMS with the SE header in a host buffer.
    public func setSecureParameters(header: [UInt8]) throws(PVCommandError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(header.count, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: header)
        var parameters = kvm_s390_pv_sec_parm(origin: UInt64(UInt(bitPattern: buffer.baseAddress)), length: UInt64(header.count))
        try protectedVirtualizationCommand(.setSecureParameters, data: &parameters)
    }

    /// KVM_PV_UNPACK of one component (`size` a multiple of 4 KiB).
    public func unpack(address: UInt64, size: UInt64, tweak: UInt64) throws(PVCommandError) {
        var request = kvm_s390_pv_unp(addr: address, size: size, tweak: tweak)
        try protectedVirtualizationCommand(.unpack, data: &request)
    }

    /// KVM_PV_INFO (KVM_PV_INFO_VM).
    public func protectedVirtualizationInfo() throws(PVCommandError) -> PVVMInfo {
        var info = kvm_s390_pv_info()
        info.header.id = KVM_PV_INFO_VM.rawValue
        info.header.len_max = UInt32(MemoryLayout<kvm_s390_pv_info>.size)
        try protectedVirtualizationCommand(.info, data: &info)
        let vm = info.vm
        return PVVMInfo(installedCalls: withUnsafeBytes(of: vm.inst_calls_list) { Array($0.bindMemory(to: UInt64.self)) },
                        maxCPUs: vm.max_cpus, maxGuests: vm.max_guests, maxGuestAddress: vm.max_guest_addr,
                        featureIndication: vm.feature_indication)
    }
}

extension VCPUFd {
    /// KVM_SET_MP_STATE LOAD: a protected vCPU takes the start PSW of its SE header.
    public func loadProtectedState() throws(KVMError) {
        var state = kvm_mp_state(mp_state: UInt32(KVM_MP_STATE_LOAD))
        try kvmIoctl(fd, S390PV_KVM_SET_MP_STATE, &state)
    }

    /// KVM_S390_MEM_OP SIDA_READ.
    public func readSIDA(offset: UInt32, count: Int) throws(KVMError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 8)
        defer { buffer.deallocate() }
        try sidaOperation(KVM_S390_MEMOP_SIDA_READ, offset: offset, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        return [UInt8](buffer.prefix(count))
    }

    /// KVM_S390_MEM_OP SIDA_WRITE.
    public func writeSIDA(offset: UInt32, _ bytes: [UInt8]) throws(KVMError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        try sidaOperation(KVM_S390_MEMOP_SIDA_WRITE, offset: offset, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]))
    }

    private func sidaOperation(_ op: Int32, offset: UInt32, _ buffer: UnsafeMutableRawBufferPointer) throws(KVMError) {
        var operation = kvm_s390_mem_op()
        operation.sida_offset = offset
        operation.size = UInt32(buffer.count)
        operation.op = UInt32(op)
        operation.buf = UInt64(UInt(bitPattern: buffer.baseAddress))
        try kvmIoctl(fd, S390PV_KVM_S390_MEM_OP, &operation)
    }
}

extension KVMSystem {
    /// KVM_CAP_S390_PROTECTED.
    public var isProtectedVirtualizationHost: Bool { checkExtension(KVM_CAP_S390_PROTECTED) == 1 }
    /// KVM_CAP_S390_PROTECTED_ASYNC_DISABLE.
    public var hasAsyncProtectedTeardown: Bool { checkExtension(KVM_CAP_S390_PROTECTED_ASYNC_DISABLE) == 1 }
}
