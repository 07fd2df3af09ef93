// Restricted memory: guest RAM in backing files that only the kernel model maps (the
// memfd_restricted design, upstream as guest_memfd). The VMM never links this module.
import CSyscalls
#if canImport(Glibc)
import Glibc
#endif

public enum RestrictedMemoryError: Error, CustomStringConvertible, Equatable {
    /// A size of zero, not a multiple of the page size, or too large to map.
    case invalidSize(UInt64)
    /// A system call failed; `errno` says why.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidSize(let size): "guest memory size \(size) must be a nonzero multiple of 1 MiB"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// Guest RAM of one VM: `size` bytes split over backing files of at most `fileSize` bytes each
/// (so teardown can release files in parallel), mapped back to back into one reserved range of
/// host address space. Pages are allocated on first touch.
public final class RestrictedMemory: @unchecked Sendable {
    public static let defaultFileSize: UInt64 = 1 << 30
    public static let pageSize: UInt64 = 4096

    public let size: UInt64
    public let fileSize: UInt64
    /// One descriptor per backing file, in guest-address order.
    public let backingFiles: [Int32]
    /// Host address of guest absolute address 0. Only the kernel model may use it.
    public let base: UnsafeMutableRawPointer

    public init(size: UInt64, fileSize: UInt64 = RestrictedMemory.defaultFileSize) throws(RestrictedMemoryError) {
        guard size > 0, size % (1 << 20) == 0, size <= 1 << 46, fileSize % (1 << 20) == 0, fileSize > 0 else {
            throw .invalidSize(size)
        }
        self.size = size
        self.fileSize = fileSize
        // Reserve the whole range first so the files land contiguously.
        guard let reserved = mmap(nil, Int(size), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reserved != MAP_FAILED else { throw .system(call: "mmap(reserve)", errno: errno) }
        var files: [Int32] = []
        var offset: UInt64 = 0
        do throws(RestrictedMemoryError) {
            while offset < size {
                let length = min(fileSize, size - offset)
                let fd = s390pv_memfd_create("s390pv-guest-ram", S390PV_MFD_CLOEXEC)
                guard fd >= 0 else { throw RestrictedMemoryError.system(call: "memfd_create", errno: errno) }
                files.append(fd)
                guard ftruncate(fd, off_t(length)) == 0 else { throw RestrictedMemoryError.system(call: "ftruncate", errno: errno) }
                let target = reserved + Int(offset)
                guard mmap(target, Int(length), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == target else {
                    throw RestrictedMemoryError.system(call: "mmap(backing file)", errno: errno)
                }
                offset += length
            }
        } catch {
            for fd in files { close(fd) }
            munmap(reserved, Int(size))
            throw error
        }
        backingFiles = files
        base = reserved
    }

    deinit {
        munmap(base, Int(size))
        for fd in backingFiles { close(fd) }
    }

    /// Releases the backing pages of [offset, offset + length) (page aligned): later reads see zeros.
    public func punchHole(offset: UInt64, length: UInt64) throws(RestrictedMemoryError) {
        var position = offset
        let end = offset + length
        while position < end {
            let file = Int(position / fileSize)
            let fileOffset = position % fileSize
            let chunk = min(end - position, fileSize - fileOffset)
            guard s390pv_fallocate(backingFiles[file], S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE,
                                   Int64(fileOffset), Int64(chunk)) == 0 else {
                throw .system(call: "fallocate(PUNCH_HOLE)", errno: errno)
            }
            position += chunk
        }
    }

    /// Bytes of guest RAM currently backed by host memory (allocated pages of all files).
    public var residentBytes: UInt64 {
        backingFiles.reduce(0) { total, fd in
            var info = stat()
            return fstat(fd, &info) == 0 ? total + UInt64(info.st_blocks) * 512 : total
        }
    }
}
