// The backing files a guest_memfd gave up (GuestMemfd.detachBacking): the contents of a torn-down
// guest, unreachable by any guest, waiting to be cleared by the teardown workers.
import CSyscalls
import Glibc

public final class DetachedBacking: @unchecked Sendable {
    private let files: [HostFile]
    public let size: UInt64
    /// A shared mapping of all the files, for the Ultravisor's view of the old pages.
    private let mapping: UnsafeMutableRawPointer

    /// `mapping`, if given, is a shared mapping of all of `files` that becomes this backing's.
    init(files: [HostFile], size: UInt64, mapping existing: UnsafeMutableRawPointer?) throws(MemoryErrno) {
        self.files = files
        self.size = size
        if let existing {
            mapping = existing
            return
        }
        guard let reserved = Glibc.mmap(nil, Int(size), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reserved != MAP_FAILED else { throw .ENOMEM }
        for file in files {
            let target = reserved + Int(file.fileOffset)
            guard Glibc.mmap(target, Int(file.length), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file.fd, 0) == target else {
                Glibc.munmap(reserved, Int(size))
                throw .host
            }
        }
        mapping = reserved
    }

    deinit { Glibc.munmap(mapping, Int(size)) }

    /// Host address of file offset `offset` (< size).
    public func pointer(to offset: UInt64) -> UnsafeMutableRawPointer { mapping + Int(offset) }

    /// File ranges that may hold non-zero bytes.
    public func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] { HostFile.populatedRanges(of: files, in: range) }

    /// Clears and frees `range` (page aligned): a punch hole per backing file; memfd_secret, which
    /// cannot punch, is zeroed instead (its pages go when the file closes).
    public func release(_ range: Range<UInt64>) throws(MemoryErrno) {
        let range = range.clamped(to: 0..<size)
        for file in files where file.range.overlaps(range) {
            let part = file.range.clamped(to: range)
            _ = madvise(mapping + Int(part.lowerBound), Int(part.count), MADV_DONTNEED)
            if file.kind == .memfdSecret {
                (mapping + Int(part.lowerBound)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(part.count))
                continue
            }
            try file.lock.withLock { _ throws(MemoryErrno) in
                guard s390pv_fallocate(file.fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE,
                                       Int64(part.lowerBound - file.fileOffset), Int64(part.count)) == 0 else {
                    throw MemoryErrno.host
                }
            }
        }
    }
}
