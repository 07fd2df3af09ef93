// Thin, typed wrappers over the KVM ioctl surface (in the manner of rust-vmm's kvm-ioctls):
// each call is one ioctl with its Linux number and uapi struct, and a failure is its errno.
// This is all the VMM knows of the kernel model.
import CKVM
import CSyscalls
import Glibc
import KernelABI

/// A failed ioctl: the errno it returned.
public struct KVMError: Error, Equatable, CustomStringConvertible {
    public let errno: Int32
    public var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
}

/// A PSW as kvm_run and KVM_S390_SET_INITIAL_PSW carry it.
public struct PSW: Equatable, Sendable {
    public var mask: UInt64
    public var address: UInt64
    public init(mask: UInt64, address: UInt64) { self.mask = mask; self.address = address }

    public static let wait: UInt64 = 0x0002_0000_0000_0000
    public static let extendedAddressing: UInt64 = 0x0000_0001_0000_0000
    public static let basicAddressing: UInt64 = 0x0000_0000_8000_0000
    public static let fixed12: UInt64 = 0x0008_0000_0000_0000

    /// Wait with I/O, external and machine-check masks all off: the guest's end state.
    public var isDisabledWait: Bool { mask & PSW.wait != 0 && mask & 0x0304_0000_0000_0000 == 0 }

    /// The ESA/390 short PSW (IPL PSW, DIAG 308 load) in z/Architecture form: bits 0-32 kept,
    /// bit 12 cleared, the address from bits 33-63 (spec s390x-cpu.md 7.1).
    public init(shortPSW short: UInt64) {
        self.init(mask: (short & 0xFFFF_FFFF_8000_0000) & ~PSW.fixed12, address: short & 0x7FFF_FFFF)
    }

    public var hexDescription: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return "\(hex(mask)) \(hex(address))"
    }
}

/// One ioctl on a model descriptor; `argument` is a pointer or an integer, as the ioctl wants.
@discardableResult
func kvmIoctl(_ fd: Int32, _ request: UInt, _ argument: UInt = 0) throws(KVMError) -> Int {
    let result = KVMDevice.ioctl(fd, request, argument)
    guard result >= 0 else { throw KVMError(errno: Int32(-result)) }
    return result
}

/// ioctl with a pointer to `value` (in, out or both).
@discardableResult
func kvmIoctl<T>(_ fd: Int32, _ request: UInt, _ value: inout T) throws(KVMError) -> Int {
    let result = withUnsafeMutablePointer(to: &value) { KVMDevice.ioctl(fd, request, UInt(bitPattern: $0)) }
    guard result >= 0 else { throw KVMError(errno: Int32(-result)) }
    return result
}

/// "/dev/kvm".
public final class KVMSystem: @unchecked Sendable {
    let fd: Int32

    public init() throws(KVMError) {
        let fd = KVMDevice.open()
        guard fd >= 0 else { throw KVMError(errno: -fd) }
        self.fd = fd
    }

    deinit { _ = KVMDevice.close(fd) }

    public var apiVersion: Int { (try? kvmIoctl(fd, S390PV_KVM_GET_API_VERSION)) ?? -1 }
    public func checkExtension(_ capability: Int32) -> Int { (try? kvmIoctl(fd, S390PV_KVM_CHECK_EXTENSION, UInt(capability))) ?? 0 }

    public func createVM() throws(KVMError) -> VMFd {
        VMFd(fd: Int32(try kvmIoctl(fd, S390PV_KVM_CREATE_VM, 0)), runPageSize: try kvmIoctl(fd, S390PV_KVM_GET_VCPU_MMAP_SIZE))
    }
}

/// The outcome of a KVM_S390_MEM_OP: done, or the program-interruption code the access raises.
public enum MemoryAccessFailure: Error, Equatable {
    case programException(UInt16)
    case ioctl(KVMError)
}

/// A VM descriptor.
public final class VMFd: @unchecked Sendable {
    let fd: Int32
    let runPageSize: Int

    init(fd: Int32, runPageSize: Int) {
        self.fd = fd
        self.runPageSize = runPageSize
    }

    deinit { _ = KVMDevice.close(fd) }

    /// The model descriptor number (for the fault-injection hooks of KVMDevice).
    public var descriptor: Int32 { fd }

    public func createVCPU(id: Int) throws(KVMError) -> VCPUFd {
        try VCPUFd(fd: Int32(try kvmIoctl(fd, S390PV_KVM_CREATE_VCPU, UInt(id))), id: id, runPageSize: runPageSize)
    }

    /// KVM_CREATE_GUEST_MEMFD: restricted memory for guest RAM.
    public func createGuestMemfd(size: UInt64) throws(KVMError) -> GuestMemfdFd {
        var request = kvm_create_guest_memfd()
        request.size = size
        return GuestMemfdFd(fd: Int32(try kvmIoctl(fd, S390PV_KVM_CREATE_GUEST_MEMFD, &request)))
    }

    /// KVM_SET_USER_MEMORY_REGION2 binding [offset, offset + size) of `memfd` at `guestAddress`.
    public func setMemoryRegion(slot: UInt32, guestAddress: UInt64, size: UInt64, memfd: GuestMemfdFd, offset: UInt64) throws(KVMError) {
        var region = kvm_userspace_memory_region2()
        region.slot = slot
        region.flags = UInt32(KVM_MEM_GUEST_MEMFD)
        region.guest_phys_addr = guestAddress
        region.memory_size = size
        region.guest_memfd = UInt32(bitPattern: memfd.fd)
        region.guest_memfd_offset = offset
        try kvmIoctl(fd, S390PV_KVM_SET_USER_MEMORY_REGION2, &region)
    }

    /// KVM_S390_MEM_OP absolute read.
    public func readAbsolute(_ address: UInt64, count: Int) throws(MemoryAccessFailure) -> [UInt8] {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 8)
        defer { buffer.deallocate() }
        try memoryOperation(fd, KVM_S390_MEMOP_ABSOLUTE_READ, address, buffer, count)
        return [UInt8](UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// KVM_S390_MEM_OP absolute write.
    public func writeAbsolute(_ address: UInt64, _ bytes: [UInt8]) throws(MemoryAccessFailure) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: bytes, byteCount: bytes.count)
        try memoryOperation(fd, KVM_S390_MEMOP_ABSOLUTE_WRITE, address, buffer, bytes.count)
    }

    /// KVM_ENABLE_CAP(KVM_CAP_S390_USER_STSI): STSI 3.2.2 then exits to userspace once stored.
    public func enableUserSTSI() throws(KVMError) {
        var request = kvm_enable_cap()
        request.cap = UInt32(KVM_CAP_S390_USER_STSI)
        try kvmIoctl(fd, S390PV_KVM_ENABLE_CAP, &request)
    }

    /// KVM_S390_INTERRUPT with KVM_S390_INT_SERVICE.
    public func injectServiceSignal(parameter: UInt32) throws(KVMError) {
        var interrupt = kvm_s390_interrupt()
        interrupt.type = KVM_S390_INT_SERVICE
        interrupt.parm = parameter
        try kvmIoctl(fd, S390PV_KVM_S390_INTERRUPT, &interrupt)
    }
}

/// KVM_S390_MEM_OP of `count` bytes at `address` (chunked to the 64 KiB the kernel allows).
func memoryOperation(_ fd: Int32, _ op: Int32, _ address: UInt64, _ buffer: UnsafeMutableRawPointer?, _ count: Int) throws(MemoryAccessFailure) {
    var offset = 0
    while offset < count {
        let chunk = min(count - offset, 65536)
        var operation = kvm_s390_mem_op()
        operation.gaddr = address + UInt64(offset)
        operation.size = UInt32(chunk)
        operation.op = UInt32(op)
        operation.buf = UInt64(UInt(bitPattern: buffer! + offset))
        let result: Int
        do throws(KVMError) { result = try kvmIoctl(fd, S390PV_KVM_S390_MEM_OP, &operation) } catch { throw .ioctl(error) }
        if result > 0 { throw .programException(UInt16(result)) }
        offset += chunk
    }
}

/// A guest_memfd descriptor (restricted memory: the VMM can only size, allocate, punch, close).
public final class GuestMemfdFd: @unchecked Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { _ = KVMDevice.close(fd) }

    /// fallocate(PUNCH_HOLE | KEEP_SIZE): the guest reads zeros there afterwards.
    public func punchHole(offset: UInt64, length: UInt64) throws(KVMError) {
        guard s390pv_kvm_fallocate(fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE, Int(offset), Int(length)) == 0 else {
            throw KVMError(errno: errno)
        }
    }
}
