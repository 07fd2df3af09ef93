// The kernel model's C ABI, used by the LD_PRELOAD shim and by C programs linked against the
// library. Each function behaves as the libc call it stands for: -1 (MAP_FAILED for mmap)
// with errno set on failure. Declarations: Sources/CPreload/include/s390pv_kvm_abi.h.
import CKVM
import Foundation
import KernelModel
import RestrictedMemory

/// Sets errno from a negative result and returns -1, or passes a non-negative result through.
private func libcResult(_ value: Int) -> Int {
    if value >= 0 { return value }
    errno = Int32(-value)
    return -1
}

private func guestMemfd(_ fd: Int32) -> Result<GuestMemfd, Errno> {
    switch FileTable.shared.lookup(fd) {
    case .guestMemfd(let file)?: return .success(file.memfd)
    case .restrictedMemfd(let memfd)?: return .success(memfd)
    case nil: return .failure(.EBADF)
    default: return .failure(.EINVAL)   // read/write/... on a KVM fd: no such file operation
    }
}

/// Runs a guest_memfd file operation and returns its libc-style result.
private func fileOperation(_ fd: Int32, _ body: (GuestMemfd) throws(MemoryErrno) -> Int) -> Int {
    switch guestMemfd(fd) {
    case .failure(let error): return libcResult(-Int(error.rawValue))
    case .success(let memfd):
        do { return try body(memfd) } catch { return libcResult(-Int(error.rawValue)) }
    }
}

@_cdecl("s390pv_kvm_open")
public func s390pv_kvm_open(_ flags: Int32) -> Int32 { Int32(libcResult(Int(KVMDevice.open(flags: flags)))) }

@_cdecl("s390pv_kvm_ioctl")
public func s390pv_kvm_ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    Int32(truncatingIfNeeded: libcResult(KVMDevice.ioctl(fd, request, UInt(bitPattern: argument))))
}

@_cdecl("s390pv_kvm_close")
public func s390pv_kvm_close(_ fd: Int32) -> Int32 { Int32(libcResult(Int(KVMDevice.close(fd)))) }

@_cdecl("s390pv_kvm_mmap")
public func s390pv_kvm_mmap(_ address: UnsafeMutableRawPointer?, _ length: Int, _ protection: Int32, _ flags: Int32,
                            _ fd: Int32, _ offset: Int) -> UnsafeMutableRawPointer? {
    let failed = UnsafeMutableRawPointer(bitPattern: -1)
    switch FileTable.shared.lookup(fd) {
    case .vcpu(let file)?:
        // The kvm_run page: offset 0, at most one page (kvm_vcpu_mmap); a new alias of it.
        guard offset == 0, length <= VCPUFile.runPageSize else { errno = EINVAL; return failed }
        return Glibc.mmap(address, length, protection, flags, file.runFile, 0)
    case .guestMemfd(let file)?:
        return mapGuestMemfd(file.memfd, address, length, protection, flags, offset)
    case .restrictedMemfd(let memfd)?:
        return mapGuestMemfd(memfd, address, length, protection, flags, offset)
    case nil:
        errno = EBADF
        return failed
    default:
        errno = ENODEV   // the system and VM descriptors cannot be mapped
        return failed
    }
}

private func mapGuestMemfd(_ memfd: GuestMemfd, _ address: UnsafeMutableRawPointer?, _ length: Int, _ protection: Int32,
                           _ flags: Int32, _ offset: Int) -> UnsafeMutableRawPointer? {
    do {
        return try memfd.mmap(length: UInt64(length), offset: Int64(offset), shared: flags & MAP_SHARED != 0,
                              protection: protection)
    } catch {
        errno = error.rawValue
        return UnsafeMutableRawPointer(bitPattern: -1)
    }
}

@_cdecl("s390pv_kvm_read")
public func s390pv_kvm_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    fileOperation(fd) { memfd throws(MemoryErrno) in try memfd.read(count: count).count }
}

@_cdecl("s390pv_kvm_write")
public func s390pv_kvm_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    fileOperation(fd) { memfd throws(MemoryErrno) in try memfd.write([]) }
}

@_cdecl("s390pv_kvm_pread")
public func s390pv_kvm_pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: Int) -> Int {
    fileOperation(fd) { memfd throws(MemoryErrno) in try memfd.pread(count: count, offset: Int64(offset)).count }
}

@_cdecl("s390pv_kvm_pwrite")
public func s390pv_kvm_pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ offset: Int) -> Int {
    fileOperation(fd) { memfd throws(MemoryErrno) in try memfd.pwrite([], offset: Int64(offset)) }
}

@_cdecl("s390pv_kvm_lseek")
public func s390pv_kvm_lseek(_ fd: Int32, _ offset: Int, _ whence: Int32) -> Int {
    fileOperation(fd) { memfd throws(MemoryErrno) in Int(try memfd.lseek(offset: Int64(offset), whence: whence)) }
}

@_cdecl("s390pv_kvm_ftruncate")
public func s390pv_kvm_ftruncate(_ fd: Int32, _ length: Int) -> Int32 {
    Int32(fileOperation(fd) { memfd throws(MemoryErrno) in try memfd.ftruncate(Int64(length)); return 0 })
}

@_cdecl("s390pv_kvm_fallocate")
public func s390pv_kvm_fallocate(_ fd: Int32, _ mode: Int32, _ offset: Int, _ length: Int) -> Int32 {
    Int32(fileOperation(fd) { memfd throws(MemoryErrno) in
        try memfd.fallocate(mode: FallocateMode(rawValue: mode), offset: Int64(offset), length: Int64(length))
        return 0
    })
}

/// memfd_restricted(2) of the v10 proposal: a restricted-memory file whose size is set once by
/// ftruncate. It belongs to no VM until bound.
@_cdecl("memfd_restricted")
public func memfd_restricted(_ flags: UInt32) -> Int32 {
    do {
        let memfd = try GuestMemfd.memfdRestricted(flags: flags)
        return try FileTable.shared.install(.restrictedMemfd(memfd))
    } catch let error as MemoryErrno {
        errno = error.rawValue
    } catch let error as Errno {
        errno = error.rawValue
    } catch {
        errno = EINVAL
    }
    return -1
}
