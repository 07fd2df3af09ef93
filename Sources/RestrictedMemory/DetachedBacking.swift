// The backing files a guest_memfd gave up (GuestMemfd.detachBacking): the contents of a torn-down
// guest, unreachable by any guest, waiting to be cleared by the teardown workers.
import CSyscalls
import Glibc
import Synchronization

/// Fresh backing files made by `GuestMemfd.makeFreshBacking()` and not yet switched to: closed
/// again when dropped.
public final class FreshBacking: @unchecked Sendable {
    let owner: ObjectIdentifier
    let files: [HostFile]
    let size: UInt64

    init(owner: ObjectIdentifier, files: [HostFile], size: UInt64) {
        self.owner = owner
        self.files = files
        self.size = size
    }
}

public final class DetachedBacking: @unchecked Sendable {
    private let files: [HostFile]
    public let size: UInt64
    /// A shared mapping of all the files, for the Ultravisor's view of the old pages.
    private let mapping: UnsafeMutableRawPointer
    /// Failed pages (file ranges, sorted, disjoint): those the guest_memfd had at the detach and
    /// those failed since. A release clears the marks of what it frees.
    private let failures: Mutex<[Range<UInt64>]>

    /// `mapping`, if given, is a shared mapping of all of `files` that becomes this backing's;
    /// `failures` are the failed pages the files carry.
    init(files: [HostFile], size: UInt64, mapping existing: UnsafeMutableRawPointer?, failures: [Range<UInt64>] = []) throws(MemoryErrno) {
        self.files = files
        self.size = size
        self.failures = Mutex(failures)
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

    /// The files close here: every page left, failed or not, goes with them.
    deinit { Glibc.munmap(mapping, Int(size)) }

    /// The failed ranges of the old files, sorted.
    public var failedRanges: [Range<UInt64>] { failures.withLock { $0 } }

    /// memory_failure() on the populated pages of [offset, offset + length) of the old files
    /// (holes have no page to fail). Each file's lock is held from the population check to the
    /// mark, so a concurrent release either freed the page first or clears the mark after.
    /// Returns the ranges marked; EINVAL for an empty or out-of-range request.
    @discardableResult
    public func injectMemoryFailure(offset: UInt64, length: UInt64) throws(MemoryErrno) -> [Range<UInt64>] {
        let range = try GuestMemfd.failureRange(offset: offset, length: length, size: size)
        var marked: [Range<UInt64>] = []
        for file in files where file.range.overlaps(range) {
            file.lock.withLock { _ in
                let present = HostFile.populatedRangesLocked(of: file, in: file.range.clamped(to: range))
                guard !present.isEmpty else { return }
                failures.withLock { $0 = GuestMemfd.merged($0 + present) }
                marked += present
            }
        }
        return marked
    }

    /// Removes the marks of `range` (its pages were just freed). Context: the file lock held.
    private func clearFailures(in range: Range<UInt64>) {
        failures.withLock { ranges in
            guard !ranges.isEmpty else { return }
            var result: [Range<UInt64>] = []
            for failed in ranges {
                if failed.lowerBound < range.lowerBound { result.append(failed.lowerBound..<min(failed.upperBound, range.lowerBound)) }
                if failed.upperBound > range.upperBound { result.append(max(failed.lowerBound, range.upperBound)..<failed.upperBound) }
            }
            ranges = result
        }
    }

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
                file.lock.withLock { _ in
                    (mapping + Int(part.lowerBound)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(part.count))
                    clearFailures(in: part)
                }
                continue
            }
            try file.lock.withLock { _ throws(MemoryErrno) in
                guard s390pv_fallocate(file.fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE,
                                       Int64(part.lowerBound - file.fileOffset), Int64(part.count)) == 0 else {
                    throw MemoryErrno.host
                }
                // The failed pages were freed with the rest (truncation removes a poisoned folio).
                clearFailures(in: part)
            }
        }
    }
}
