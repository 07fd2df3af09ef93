// Restricted memory: guest RAM in backing files that only the kernel model maps (the
// memfd_restricted design, upstream as guest_memfd). The VMM never links this module.
//
// `RestrictedMemory` is the original single-slot API, now a thin layer: one `GuestMemfd` (flags 0,
// memfd backend) of `size` bytes mapped at guest address 0 of its own `GuestAddressSpace`.
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
    public static let defaultFileSize: UInt64 = GuestMemfd.defaultFileSize
    public static let pageSize: UInt64 = GuestMemfd.pageSize

    public let size: UInt64
    public let fileSize: UInt64
    /// The guest_memfd-shaped file holding the RAM.
    public let memfd: GuestMemfd
    /// The reserved host range; the RAM is its only slot, at guest address 0.
    public let addressSpace: GuestAddressSpace

    /// One descriptor per backing file, in guest-address order.
    public var backingFiles: [Int32] { memfd.hostDescriptors }
    /// Host address of guest absolute address 0. Only the kernel model may use it.
    public var base: UnsafeMutableRawPointer { addressSpace.base }

    public init(size: UInt64, fileSize: UInt64 = RestrictedMemory.defaultFileSize,
                backend: Backend = .memfd) throws(RestrictedMemoryError) {
        guard size > 0, size % (1 << 20) == 0, size <= 1 << 46, fileSize % (1 << 20) == 0, fileSize > 0 else {
            throw .invalidSize(size)
        }
        self.size = size
        self.fileSize = fileSize
        do {
            addressSpace = try GuestAddressSpace(maxBytes: size)
        } catch {
            throw .system(call: "mmap(reserve)", errno: error.rawValue)
        }
        do {
            memfd = try GuestMemfd(size: size, flags: 0, options: .init(backend: backend, fileSize: fileSize))
        } catch {
            throw .system(call: "guest memory backing file", errno: error.rawValue)
        }
        do {
            try addressSpace.map(memfd, fileOffset: 0, length: size, at: 0)
        } catch {
            throw .system(call: "mmap(backing file)", errno: error.rawValue)
        }
    }

    /// Releases the backing pages of [offset, offset + length) (page aligned, inside the memory,
    /// else `.system(errno: EINVAL)`): later reads see zeros. Unlike a guest_memfd PUNCH_HOLE, a
    /// range reaching past the end is refused, since it can only be a model bug here.
    public func punchHole(offset: UInt64, length: UInt64) throws(RestrictedMemoryError) {
        do throws(MemoryErrno) {
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, end <= size else { throw MemoryErrno.EINVAL }
            try memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(offset), length: Int64(length))
        } catch {
            throw .system(call: "fallocate(PUNCH_HOLE)", errno: error.rawValue)
        }
    }

    /// Bytes of guest RAM currently backed by host memory (allocated pages of all files).
    public var residentBytes: UInt64 { memfd.residentBytes }
}
