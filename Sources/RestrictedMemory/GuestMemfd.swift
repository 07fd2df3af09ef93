// GuestMemfd: the object behind one fd returned by KVM_CREATE_GUEST_MEMFD (or, in the v10 design,
// memfd_restricted). Spec: ../shared/spec/memory-clock-pidfd.md §1.1–1.5, decisions D1–D5.
//
// The userspace-visible file operations (read, write, pread, lseek, mmap, ftruncate, fallocate)
// behave as Linux 6.18's guest_memfd, errno for errno (§1.4, re-observed on this project's
// development machine); the kernel model's C ABI layer calls them. Only the kernel model maps
// guest RAM, through `map(at:fileOffset:length:)`.
import CSyscalls
import Dispatch
import FaultInjection
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Callbacks of the v10 restrictedmem notifier (guest_memfd: kvm_gmem_invalidate_begin/end and
/// .error_remove_folio). Ranges are byte ranges of the file, page aligned.
public protocol GuestMemfdNotifier: AnyObject, Sendable {
    /// Before pages of `range` are released: stop using (and drop any translation of) them.
    func invalidateStart(_ range: Range<UInt64>)
    /// After the pages are released: the range reads as zeros from now on.
    func invalidateEnd(_ range: Range<UInt64>)
    /// Pages of `range` suffered a memory failure (machine check); they are not released.
    func error(_ range: Range<UInt64>)
}

/// A notifier made of closures.
public final class ClosureNotifier: GuestMemfdNotifier {
    public typealias Callback = @Sendable (Range<UInt64>) -> Void
    private let onInvalidateStart: Callback
    private let onInvalidateEnd: Callback
    private let onError: Callback

    public init(invalidateStart: @escaping Callback = { _ in }, invalidateEnd: @escaping Callback = { _ in },
                error: @escaping Callback = { _ in }) {
        onInvalidateStart = invalidateStart
        onInvalidateEnd = invalidateEnd
        onError = error
    }

    public func invalidateStart(_ range: Range<UInt64>) { onInvalidateStart(range) }
    public func invalidateEnd(_ range: Range<UInt64>) { onInvalidateEnd(range) }
    public func error(_ range: Range<UInt64>) { onError(range) }
}

/// Returned by `register(notifier:)`; pass it to `unregister(_:)`.
public struct NotifierRegistration: Hashable, Sendable {
    let id: UInt64
}

/// fallocate(2) mode bits (include/uapi/linux/falloc.h).
public struct FallocateMode: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let keepSize = FallocateMode(rawValue: 0x01)
    public static let punchHole = FallocateMode(rawValue: 0x02)
    public static let noHideStale = FallocateMode(rawValue: 0x04)
    public static let collapseRange = FallocateMode(rawValue: 0x08)
    public static let zeroRange = FallocateMode(rawValue: 0x10)
    public static let insertRange = FallocateMode(rawValue: 0x20)
    public static let unshareRange = FallocateMode(rawValue: 0x40)
    public static let writeZeroes = FallocateMode(rawValue: 0x80)

    /// FALLOC_FL_MODE_MASK (6.18): the mutually exclusive mode bits.
    static let modeMask: FallocateMode = [.punchHole, .collapseRange, .zeroRange, .insertRange, .unshareRange, .writeZeroes]
}

public final class GuestMemfd: @unchecked Sendable {
    public static let pageSize: UInt64 = 4096
    public static let defaultFileSize: UInt64 = 1 << 30
    /// GUEST_MEMFD_FLAG_MMAP: userspace may mmap the file (MAP_SHARED only).
    public static let flagMmap: UInt64 = 1 << 0
    /// GUEST_MEMFD_FLAG_INIT_SHARED: pages start shared, so user faults succeed.
    public static let flagInitShared: UInt64 = 1 << 1
    public static let supportedFlags: UInt64 = flagMmap | flagInitShared

    /// Which uAPI the object follows.
    public enum Semantics: Sendable, Equatable {
        /// KVM_CREATE_GUEST_MEMFD (6.18): size fixed at creation, ftruncate → EINVAL.
        case guestMemfd
        /// memfd_restricted v10: created empty, size set once by ftruncate.
        case restrictedV10
    }

    public struct Options: Sendable {
        /// Host object for the backing files; an unavailable one falls back to `.memfd` (one log line).
        public var backend: Backend
        /// Largest backing file; guest RAM is split over files of this size so teardown can punch
        /// them in parallel (punches on one file serialise in Linux). Page aligned, nonzero.
        public var fileSize: UInt64
        /// memfd name of memfd backing files (/proc/self/fd shows "/memfd:<name> (deleted)").
        public var name: String
        /// Where the fallback line goes; nil writes it to standard error.
        public var logger: (@Sendable (String) -> Void)?
        /// Backends to treat as absent whatever the kernel offers (tests, `--no-…` switches).
        public var unavailableBackends: Set<Backend>

        public init(backend: Backend = .automatic, fileSize: UInt64 = GuestMemfd.defaultFileSize,
                    name: String = "s390pv-guest-ram", logger: (@Sendable (String) -> Void)? = nil,
                    unavailableBackends: Set<Backend> = []) {
            self.backend = backend
            self.fileSize = fileSize
            self.name = name
            self.logger = logger
            self.unavailableBackends = unavailableBackends
        }
    }

    /// A host mapping of part of the file: made by the model (`map`) or by userspace (`mmap`).
    struct HostMapping {
        var address: UInt
        var fileOffset: UInt64
        var length: UInt64
        var protection: Int32
        var user: Bool

        var fileRange: Range<UInt64> { fileOffset..<fileOffset + length }
        /// Host address of `offset` (inside `fileRange`).
        func pointer(to offset: UInt64) -> UnsafeMutableRawPointer {
            UnsafeMutableRawPointer(bitPattern: address + UInt(offset - fileOffset))!
        }
    }

    private struct State {
        var size: UInt64
        var backend: Backend
        var files: [HostFile] = []
        var mappings: [HostMapping] = []
        var notifiers: [(id: UInt64, notifier: any GuestMemfdNotifier)] = []
        var nextNotifierID: UInt64 = 1
    }

    public let flags: UInt64
    public let semantics: Semantics
    /// The backend the creator asked for.
    public let requestedBackend: Backend
    public let fileSize: UInt64
    private let options: Options
    private let state: Mutex<State>
    /// Failed (poisoned) page ranges, sorted and disjoint; `failureCount` mirrors their number so
    /// the common no-failure query costs one atomic load.
    private let failures = Mutex<[Range<UInt64>]>([])
    private let failureCount = Atomic<Int>(0)

    /// KVM_CREATE_GUEST_MEMFD: `size` > 0 and page aligned, `flags` ⊆ MMAP|INIT_SHARED, else EINVAL.
    public convenience init(size: UInt64, flags: UInt64, options: Options = Options()) throws(MemoryErrno) {
        guard flags & ~Self.supportedFlags == 0 else { throw .EINVAL }
        guard size > 0, size <= UInt64(Int64.max), size % Self.pageSize == 0 else { throw .EINVAL }
        try self.init(semantics: .guestMemfd, flags: flags, size: size, options: options)
    }

    /// memfd_restricted(flags) of the v10 design: any nonzero flag → EINVAL; the file starts with
    /// size 0 and gets its size once through `ftruncate`.
    public static func memfdRestricted(flags: UInt32, options: Options = Options()) throws(MemoryErrno) -> GuestMemfd {
        guard flags == 0 else { throw .EINVAL }
        return try GuestMemfd(semantics: .restrictedV10, flags: 0, size: 0, options: options)
    }

    private init(semantics: Semantics, flags: UInt64, size: UInt64, options: Options) throws(MemoryErrno) {
        guard options.fileSize > 0, options.fileSize % Self.pageSize == 0 else { throw .EINVAL }
        self.semantics = semantics
        self.flags = flags
        self.options = options
        requestedBackend = options.backend
        fileSize = options.fileSize
        let requested = options.backend == .automatic ? Backend.memfd : options.backend
        state = Mutex(State(size: 0, backend: requested))
        if size > 0 { try createFiles(size: size) }
    }

    // MARK: Properties

    /// Current size of the file (0 for a v10 file before its ftruncate).
    public var size: UInt64 { state.withLock { $0.size } }
    /// The backend actually in use (after any fallback).
    public var backend: Backend { state.withLock { $0.backend } }
    /// Number of host backing files (each at most `fileSize` bytes).
    public var backingFileCount: Int { state.withLock { $0.files.count } }
    /// File ranges of the backing files, in order: the unit of parallel teardown.
    public var backingFileRanges: [Range<UInt64>] { state.withLock { $0.files.map(\.range) } }
    /// Host descriptors of the backing files, in file order. The kernel model must not hand them
    /// out; a memfdSecret punch may replace one.
    public var hostDescriptors: [Int32] { state.withLock { $0.files.map { file in file.lock.withLock { _ in file.fd } } } }

    // MARK: Creation of the backing files

    private func log(_ line: String) {
        if let logger = options.logger {
            logger(line)
        } else {
            let text = line + "\n"
            _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
        }
    }

    private func fallbackLine(_ backend: Backend, _ reason: String) -> String {
        "s390pv: restricted memory: backend \(backend) unavailable (\(reason)); falling back to memfd"
    }

    /// Creates and sizes the backing files of a `size`-byte file. Failure point `gmem_files`
    /// (ENOMEM, or ENOSPC as a full tmpfs): nothing is created and the error is thrown.
    private func createFiles(size: UInt64) throws(MemoryErrno) {
        if let error = FaultInjection.shouldFail(.guestMemfdFiles) { throw MemoryErrno(rawValue: error) }
        var lengths: [UInt64] = []
        var offset: UInt64 = 0
        while offset < size {
            lengths.append(min(fileSize, size - offset))
            offset += lengths.last!
        }
        var backend = state.withLock { $0.backend }
        if backend != .memfd {
            var reason: String?
            if options.unavailableBackends.contains(backend) {
                reason = "disabled"
            } else if case .unavailable(let why) = Backend.detect().availability(of: backend) {
                reason = why
            } else if backend == .memfdSecret, geteuid() != 0 {
                let limit = s390pv_memlock_limit()
                if limit < size {
                    reason = "RLIMIT_MEMLOCK \(limit) bytes is below the guest RAM size \(size)"
                }
            }
            if let reason {
                log(fallbackLine(backend, reason))
                backend = .memfd
            }
        }
        var descriptors: [Int32]
        do {
            descriptors = try Self.makeDescriptors(backend, lengths: lengths, name: options.name)
        } catch {
            guard backend != .memfd else { throw error }
            log(fallbackLine(backend, "creating the backing file failed: \(error)"))
            backend = .memfd
            descriptors = try Self.makeDescriptors(.memfd, lengths: lengths, name: options.name)
        }
        var files: [HostFile] = []
        offset = 0
        for (fd, length) in zip(descriptors, lengths) {
            files.append(HostFile(kind: backend, fileOffset: offset, length: length, fd: fd))
            offset += length
        }
        state.withLock { [files, backend] state in
            state.files = files
            state.backend = backend
            state.size = size
        }
    }

    private static func makeDescriptors(_ backend: Backend, lengths: [UInt64], name: String) throws(MemoryErrno) -> [Int32] {
        if backend == .kvmGuestMemfd { return try HostFile.createGuestMemfds(lengths: lengths) }
        var descriptors: [Int32] = []
        do {
            for length in lengths {
                descriptors.append(backend == .memfdSecret ? try HostFile.createSecret(length: length)
                                                           : try HostFile.createMemfd(name: name, length: length))
            }
        } catch {
            for fd in descriptors { close(fd) }
            throw error
        }
        return descriptors
    }

    // MARK: Userspace file operations (guest_memfd has no .read/.write/.llseek)

    /// read(2): no read operation (FMODE_CAN_READ unset) → EINVAL.
    public func read(count: Int) throws(MemoryErrno) -> [UInt8] { throw .EINVAL }

    /// write(2): no write operation → EINVAL.
    public func write(_ bytes: [UInt8]) throws(MemoryErrno) -> Int { throw .EINVAL }

    /// pread(2): a negative offset → EINVAL; otherwise not seekable → ESPIPE.
    public func pread(count: Int, offset: Int64) throws(MemoryErrno) -> [UInt8] {
        if offset < 0 { throw .EINVAL }
        throw .ESPIPE
    }

    /// pwrite(2): as pread.
    public func pwrite(_ bytes: [UInt8], offset: Int64) throws(MemoryErrno) -> Int {
        if offset < 0 { throw .EINVAL }
        throw .ESPIPE
    }

    /// lseek(2): no llseek (FMODE_LSEEK unset) → ESPIPE, whatever the whence.
    public func lseek(offset: Int64, whence: Int32) throws(MemoryErrno) -> Int64 { throw .ESPIPE }

    /// ftruncate(2). guest_memfd: the size is immutable (kvm_gmem_setattr) → EINVAL.
    /// v10: a negative length → EINVAL; once the size is nonzero → EPERM; not page aligned → EINVAL;
    /// otherwise the size is set (allocating nothing yet).
    public func ftruncate(_ length: Int64) throws(MemoryErrno) {
        guard length >= 0 else { throw .EINVAL }
        switch semantics {
        case .guestMemfd:
            throw .EINVAL
        case .restrictedV10:
            let current = size
            guard current == 0 else { throw .EPERM }
            guard UInt64(length) % Self.pageSize == 0 else { throw .EINVAL }
            if length > 0 { try createFiles(size: UInt64(length)) }
        }
    }

    /// mmap(2) of the file by userspace.
    /// - Without GUEST_MEMFD_FLAG_MMAP → ENODEV (also v10 files); MAP_PRIVATE → EINVAL.
    /// - With MMAP but without INIT_SHARED the mapping succeeds, but every access raises SIGBUS
    ///   (as in Linux, where the pages are private). Emulated by mapping an empty file.
    /// - With MMAP|INIT_SHARED: a shared mapping of the guest RAM; the part beyond the end of the
    ///   file raises SIGBUS on access. Release it with `munmap(_:length:)`, never plain munmap,
    ///   so punches stop tracking it.
    /// Every backend here can provide a host mapping; one that could not would throw ENODEV.
    public func mmap(length: UInt64, offset: Int64, shared: Bool,
                     protection: Int32 = PROT_READ | PROT_WRITE) throws(MemoryErrno) -> UnsafeMutableRawPointer {
        guard length > 0, offset >= 0, UInt64(offset) % Self.pageSize == 0 else { throw .EINVAL }
        guard flags & Self.flagMmap != 0 else { throw .ENODEV }
        guard shared else { throw .EINVAL }
        let length = (length + Self.pageSize - 1) & ~(Self.pageSize - 1)
        guard length <= UInt64(Int.max) else { throw .ENOMEM }
        let offset = UInt64(offset)
        guard let reserved = Glibc.mmap(nil, Int(length), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reserved != MAP_FAILED else { throw .ENOMEM }
        do throws(MemoryErrno) {
            let size = self.size
            let mappedLength = flags & Self.flagInitShared != 0 && offset < size ? min(length, size - offset) : 0
            if mappedLength > 0 {
                try state.withLock { state throws(MemoryErrno) in
                    try Self.mapFiles(state.files, at: reserved, fileOffset: offset, length: mappedLength, protection: protection)
                    state.mappings.append(HostMapping(address: UInt(bitPattern: reserved), fileOffset: offset,
                                                      length: mappedLength, protection: protection, user: true))
                }
            }
            if mappedLength < length {
                try Self.mapSigbus(at: reserved + Int(mappedLength), length: length - mappedLength, protection: protection)
            }
        } catch {
            forgetMappings(at: UInt(bitPattern: reserved), user: true)
            Glibc.munmap(reserved, Int(length))
            throw error
        }
        return reserved
    }

    /// munmap(2) of a mapping returned by `mmap(length:offset:shared:protection:)`.
    public func munmap(_ address: UnsafeMutableRawPointer, length: UInt64) throws(MemoryErrno) {
        forgetMappings(at: UInt(bitPattern: address), user: true)
        guard Glibc.munmap(address, Int(length)) == 0 else { throw .host }
    }

    /// fallocate(2), with Linux's checks in Linux's order (vfs_fallocate, then the file's op).
    /// guest_memfd: KEEP_SIZE is mandatory (else EOPNOTSUPP); only KEEP_SIZE (allocate) and
    /// KEEP_SIZE|PUNCH_HOLE are supported (else EOPNOTSUPP); offset and length page aligned (else
    /// EINVAL); allocating past the end → EINVAL; punching past the end releases what exists.
    /// v10 (shmem underneath): bits other than KEEP_SIZE|PUNCH_HOLE → EOPNOTSUPP; PUNCH_HOLE needs
    /// page alignment (EINVAL); allocation rounds outward to pages. Deviation: an allocation
    /// without KEEP_SIZE that reaches past the end → EINVAL here (shmem would grow the file).
    public func fallocate(mode: FallocateMode, offset: Int64, length: Int64) throws(MemoryErrno) {
        // vfs_fallocate.
        guard offset >= 0, length > 0 else { throw .EINVAL }
        guard mode.isSubset(of: FallocateMode.modeMask.union(.keepSize)) else { throw .EOPNOTSUPP }
        switch mode.intersection(FallocateMode.modeMask) {
        case [], .unshareRange, .zeroRange:
            break
        case .punchHole:
            guard mode.contains(.keepSize) else { throw .EOPNOTSUPP }
        case .collapseRange, .insertRange, .writeZeroes:
            guard !mode.contains(.keepSize) else { throw .EOPNOTSUPP }
        default:
            throw .EOPNOTSUPP
        }
        guard offset <= Int64.max - length else { throw .EFBIG }
        let start = UInt64(offset), end = UInt64(offset) + UInt64(length)
        switch semantics {
        case .guestMemfd:
            // kvm_gmem_fallocate.
            guard mode.contains(.keepSize), mode.isSubset(of: [.keepSize, .punchHole]) else { throw .EOPNOTSUPP }
            guard start % Self.pageSize == 0, end % Self.pageSize == 0 else { throw .EINVAL }
            if mode.contains(.punchHole) {
                try punchHole(start..<end)
            } else {
                guard end <= size else { throw .EINVAL }
                try allocate(start..<end)
            }
        case .restrictedV10:
            // restrictedmem_fallocate, then shmem_fallocate.
            if mode.contains(.punchHole) {
                guard start % Self.pageSize == 0, end % Self.pageSize == 0 else { throw .EINVAL }
                guard mode.isSubset(of: [.keepSize, .punchHole]) else { throw .EOPNOTSUPP }
                try punchHole(start..<end)
            } else {
                guard mode.isSubset(of: [.keepSize]) else { throw .EOPNOTSUPP }
                let size = self.size
                if !mode.contains(.keepSize), end > size { throw .EINVAL }
                let first = start & ~(Self.pageSize - 1)
                let last = min((end + Self.pageSize - 1) & ~(Self.pageSize - 1), size)
                if first < last { try allocate(first..<last) }
            }
        }
    }

    // MARK: Notifiers

    /// Registers `notifier` (held strongly until `unregister`).
    @discardableResult
    public func register(notifier: any GuestMemfdNotifier) -> NotifierRegistration {
        state.withLock { state in
            let id = state.nextNotifierID
            state.nextNotifierID += 1
            state.notifiers.append((id, notifier))
            return NotifierRegistration(id: id)
        }
    }

    public func unregister(_ registration: NotifierRegistration) {
        state.withLock { $0.notifiers.removeAll { $0.id == registration.id } }
    }

    private var notifiers: [any GuestMemfdNotifier] { state.withLock { $0.notifiers.map(\.notifier) } }

    // MARK: Memory failure

    /// Test hook standing in for memory-failure.c: marks the pages of [offset, offset + length)
    /// (rounded out to pages, clipped to the file) as failed and calls every notifier's `error`.
    /// As in guest_memfd (MF_DELAYED) the pages stay in the file; a later PUNCH_HOLE over them
    /// releases them and clears the mark. Nothing on the host is poisoned: the model must check
    /// `failedRange(containing:)` before it accesses guest RAM and report EHWPOISON itself.
    public func injectMemoryFailure(offset: UInt64, length: UInt64) throws(MemoryErrno) {
        let range = try Self.failureRange(offset: offset, length: length, size: size)
        mark([range])
        for notifier in notifiers { notifier.error(range) }
    }

    /// memory_failure() on the pages of [offset, offset + length) that exist: only populated
    /// pages have a page frame to fail, so holes are skipped. Each backing file's lock is held
    /// from the population check to the mark, so a concurrent punch either released the page
    /// first (no mark) or clears the mark after. Returns the ranges marked (notifiers see each);
    /// EINVAL as `injectMemoryFailure(offset:length:)`.
    @discardableResult
    public func injectMemoryFailureInPopulatedPages(offset: UInt64, length: UInt64) throws(MemoryErrno) -> [Range<UInt64>] {
        let range = try Self.failureRange(offset: offset, length: length, size: size)
        var marked: [Range<UInt64>] = []
        for file in state.withLock({ $0.files }) where file.range.overlaps(range) {
            file.lock.withLock { _ in
                let present = HostFile.populatedRangesLocked(of: file, in: file.range.clamped(to: range))
                mark(present)
                marked += present
            }
        }
        for part in marked { for notifier in notifiers { notifier.error(part) } }
        return marked
    }

    /// [offset, offset + length) rounded out to pages and clipped to a file of `size` bytes;
    /// EINVAL for an empty, overflowing or out-of-file range.
    static func failureRange(offset: UInt64, length: UInt64, size: UInt64) throws(MemoryErrno) -> Range<UInt64> {
        let start = offset & ~(pageSize - 1)
        let (sum, overflow) = offset.addingReportingOverflow(length)
        guard length > 0, !overflow, start < size else { throw .EINVAL }
        return start..<min((sum + pageSize - 1) & ~(pageSize - 1), size)
    }

    private func mark(_ new: [Range<UInt64>]) {
        guard !new.isEmpty else { return }
        failures.withLock { ranges in
            ranges += new
            ranges = Self.merged(ranges)
            failureCount.store(ranges.count, ordering: .releasing)
        }
    }

    /// The failed range (page aligned, maximal) that contains `offset`, or nil. One atomic load
    /// when no page has failed.
    @inline(__always)
    public func failedRange(containing offset: UInt64) -> Range<UInt64>? {
        guard failureCount.load(ordering: .acquiring) != 0 else { return nil }
        return failures.withLock { ranges in ranges.first { $0.contains(offset) } }
    }

    /// The first failed range that overlaps `range`, or nil (for accesses spanning pages).
    @inline(__always)
    public func failedRange(overlapping range: Range<UInt64>) -> Range<UInt64>? {
        guard failureCount.load(ordering: .acquiring) != 0 else { return nil }
        return failures.withLock { ranges in ranges.first { $0.overlaps(range) } }
    }

    /// Every failed range, sorted.
    public var failedRanges: [Range<UInt64>] { failures.withLock { $0 } }

    private func clearFailures(in range: Range<UInt64>) {
        guard failureCount.load(ordering: .acquiring) != 0 else { return }
        failures.withLock { ranges in
            var result: [Range<UInt64>] = []
            for failed in ranges {
                if failed.lowerBound < range.lowerBound { result.append(failed.lowerBound..<min(failed.upperBound, range.lowerBound)) }
                if failed.upperBound > range.upperBound { result.append(max(failed.lowerBound, range.upperBound)..<failed.upperBound) }
            }
            ranges = result
            failureCount.store(ranges.count, ordering: .releasing)
        }
    }

    static func merged(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    // MARK: Mapping for the kernel model

    /// Maps [fileOffset, fileOffset + length) of the file MAP_SHARED|MAP_FIXED at `address`
    /// (read/write), replacing whatever was there (normally the model's PROT_NONE reservation).
    /// Offset and length page aligned and inside the file, else EINVAL. Pages become resident
    /// only when touched.
    public func map(at address: UnsafeMutableRawPointer, fileOffset: UInt64, length: UInt64) throws(MemoryErrno) {
        guard length > 0, fileOffset % Self.pageSize == 0, length % Self.pageSize == 0,
              UInt(bitPattern: address) % UInt(Self.pageSize) == 0 else { throw .EINVAL }
        try state.withLock { state throws(MemoryErrno) in
            guard fileOffset <= state.size, length <= state.size - fileOffset else { throw .EINVAL }
            try Self.mapFiles(state.files, at: address, fileOffset: fileOffset, length: length,
                              protection: PROT_READ | PROT_WRITE)
            state.mappings.append(HostMapping(address: UInt(bitPattern: address), fileOffset: fileOffset, length: length,
                                              protection: PROT_READ | PROT_WRITE, user: false))
        }
    }

    /// Undoes `map(at:fileOffset:length:)` (same address and length, else EINVAL): the range goes
    /// back to a PROT_NONE, MAP_NORESERVE reservation, so the caller's reserved range stays whole.
    public func unmap(at address: UnsafeMutableRawPointer, length: UInt64) throws(MemoryErrno) {
        try state.withLock { state throws(MemoryErrno) in
            guard let index = state.mappings.firstIndex(where: {
                !$0.user && $0.address == UInt(bitPattern: address) && $0.length == length
            }) else { throw .EINVAL }
            state.mappings.remove(at: index)
            try Self.reserve(at: address, length: length)
        }
    }

    /// Number of live mappings (model and userspace) of this file.
    public var mappingCount: Int { state.withLock { $0.mappings.count } }

    /// Bytes of the file backed by host memory: st_blocks for memfd, mincore through a temporary
    /// PROT_NONE mapping for memfd_secret and guest_memfd (whose st_blocks stay 0).
    public var residentBytes: UInt64 {
        let files = state.withLock { $0.files }
        var total: UInt64 = 0
        for file in files {
            total += file.lock.withLock { _ -> UInt64 in
                if file.kind == .memfd {
                    var info = stat()
                    return fstat(file.fd, &info) == 0 ? UInt64(info.st_blocks) * 512 : 0
                }
                return Self.residentPages(fd: file.fd, offset: 0, length: file.length) * Self.pageSize
            }
        }
        return total
    }

    private static func residentPages(fd: Int32, offset: UInt64, length: UInt64) -> UInt64 {
        guard let mapping = Glibc.mmap(nil, Int(length), PROT_NONE, MAP_SHARED, fd, off_t(offset)),
              mapping != MAP_FAILED else { return 0 }
        defer { Glibc.munmap(mapping, Int(length)) }
        var vector = [UInt8](repeating: 0, count: Int(length / pageSize))
        guard mincore(mapping, Int(length), &vector) == 0 else { return 0 }
        return UInt64(vector.reduce(0) { $0 + Int($1 & 1) })
    }

    // MARK: Releasing

    /// Releases every backing file, up to `workers` files at a time (D3: the teardown unit is a
    /// whole file, and no two workers share one). Notifiers see one start/end pair for the file.
    public func releaseAll(workers: Int) throws(MemoryErrno) {
        let (files, size) = state.withLock { ($0.files, $0.size) }
        guard size > 0 else { return }
        let range: Range<UInt64> = 0..<size
        let notifiers = self.notifiers
        for notifier in notifiers { notifier.invalidateStart(range) }
        zapMappings(range)
        let firstError = Mutex<MemoryErrno?>(nil)
        let width = max(1, min(workers, files.count))
        DispatchQueue.concurrentPerform(iterations: width) { worker in
            for index in stride(from: worker, to: files.count, by: width) {
                do throws(MemoryErrno) {
                    try punch(files[index], files[index].range)
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        clearFailures(in: range)
        for notifier in notifiers { notifier.invalidateEnd(range) }
        if let error = firstError.withLock({ $0 }) { throw error }
    }

    /// Kernel-internal release of `range` (the Ultravisor clearing secure pages): the same as a
    /// userspace PUNCH_HOLE, without the fallocate argument checks.
    public func release(_ range: Range<UInt64>) throws(MemoryErrno) { try punchHole(range) }

    /// The parts of `range` that may hold non-zero bytes: the allocated extents of the backing
    /// files (SEEK_DATA/SEEK_HOLE). A backend without extent queries reports the whole range.
    public func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] {
        HostFile.populatedRanges(of: state.withLock { $0.files }, in: range)
    }

    /// Gives the file fresh, empty backing files and returns the old ones with their contents:
    /// every mapping of the file (the guest's view) switches to the new files at once, so the
    /// old contents can be cleared later, off the critical path (asynchronous teardown). O(number
    /// of backing files): nothing is copied or cleared here. Notifiers see the whole file change.
    public func detachBacking() throws(MemoryErrno) -> DetachedBacking { try detachBacking(to: makeFreshBacking()) }

    /// The first half of `detachBacking()`: creates the fresh, empty backing files (the one step
    /// that can fail for want of memory) without touching the file, so a caller can allocate
    /// before it destroys anything (as kvm_s390_pv_set_aside allocates its record first).
    /// Failure point `gmem_detach`. Throws EINVAL for a file without size. Dropping the result
    /// closes the files again.
    public func makeFreshBacking() throws(MemoryErrno) -> FreshBacking {
        let (oldFiles, size, backend) = state.withLock { ($0.files, $0.size, $0.backend) }
        guard size > 0 else { throw .EINVAL }
        if let error = FaultInjection.shouldFail(.detachFiles) { throw MemoryErrno(rawValue: error) }
        let descriptors = try Self.makeDescriptors(backend, lengths: oldFiles.map(\.length), name: options.name)
        let files = zip(oldFiles, descriptors).map { HostFile(kind: backend, fileOffset: $0.fileOffset, length: $0.length, fd: $1) }
        return FreshBacking(owner: ObjectIdentifier(self), files: files, size: size)
    }

    /// The second half of `detachBacking()`: switches every mapping to `fresh` (made by this
    /// file's `makeFreshBacking()` while its size was the same, else EINVAL) and returns the old
    /// files with their contents and their failure marks. Fails only if the host refuses a mapping.
    public func detachBacking(to fresh: FreshBacking) throws(MemoryErrno) -> DetachedBacking {
        let (oldFiles, size) = state.withLock { ($0.files, $0.size) }
        guard fresh.owner == ObjectIdentifier(self), fresh.size == size, size > 0 else { throw .EINVAL }
        let newFiles = fresh.files
        let range: Range<UInt64> = 0..<size
        let notifiers = self.notifiers
        for notifier in notifiers { notifier.invalidateStart(range) }
        defer { for notifier in notifiers { notifier.invalidateEnd(range) } }
        // The old pages' page-table entries would take long to zap (about 25 ms per populated
        // GiB): a mapping of the whole file moves them away with mremap (page tables move at
        // PMD granularity) and becomes the detached backing's view of the old contents.
        var moved: UnsafeMutableRawPointer?
        try state.withLock { state throws(MemoryErrno) in
            for mapping in state.mappings {
                let address = UnsafeMutableRawPointer(bitPattern: mapping.address)!
                if moved == nil, mapping.fileOffset == 0, mapping.length == size {
                    moved = Self.moveMapping(address, length: size)
                }
                try Self.mapFiles(newFiles, at: address, fileOffset: mapping.fileOffset, length: mapping.length,
                                  protection: mapping.protection)
            }
            state.files = newFiles
        }
        // The failed pages go with the old files (the torn-down guest's), not the fresh ones.
        let marks = failures.withLock { $0 }
        clearFailures(in: range)
        return try DetachedBacking(files: oldFiles, size: size, mapping: moved, failures: marks)
    }

    /// Moves a mapping of `length` bytes at `address` to a fresh place; nil (nothing moved) if the
    /// kernel refuses. The old range is left unmapped.
    private static func moveMapping(_ address: UnsafeMutableRawPointer, length: UInt64) -> UnsafeMutableRawPointer? {
        guard let target = Glibc.mmap(nil, Int(length), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              target != MAP_FAILED else { return nil }
        guard let result = s390pv_mremap_fixed(address, UInt(length), target), result == target else {
            Glibc.munmap(target, Int(length))
            return nil
        }
        return target
    }

    /// PUNCH_HOLE of [range] clipped to the file: invalidateStart, zap host mappings (D4), release
    /// file by file, clear failure marks, invalidateEnd (also when a release fails).
    private func punchHole(_ requested: Range<UInt64>) throws(MemoryErrno) {
        let (files, size) = state.withLock { ($0.files, $0.size) }
        let range = requested.clamped(to: 0..<size)
        guard !range.isEmpty else { return }
        let notifiers = self.notifiers
        for notifier in notifiers { notifier.invalidateStart(range) }
        defer { for notifier in notifiers { notifier.invalidateEnd(range) } }
        zapMappings(range)
        for file in files where file.range.overlaps(range) {
            try punch(file, file.range.clamped(to: range))
        }
        clearFailures(in: range)
    }

    /// D4: drop the host page-table entries of every mapping of `range` before punching (5.8×
    /// faster for guest_memfd). Not possible for memfd_secret (VM_LOCKED: MADV_DONTNEED → EINVAL).
    private func zapMappings(_ range: Range<UInt64>) {
        guard backend != .memfdSecret else { return }
        let mappings = state.withLock { $0.mappings }
        for mapping in mappings where mapping.fileRange.overlaps(range) {
            let part = mapping.fileRange.clamped(to: range)
            _ = madvise(mapping.pointer(to: part.lowerBound), Int(part.count), MADV_DONTNEED)
        }
    }

    /// Releases `range` (inside `file`).
    private func punch(_ file: HostFile, _ range: Range<UInt64>) throws(MemoryErrno) {
        switch file.kind {
        case .memfd, .kvmGuestMemfd, .automatic:
            try file.lock.withLock { _ throws(MemoryErrno) in
                guard s390pv_fallocate(file.fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE,
                                       Int64(range.lowerBound - file.fileOffset), Int64(range.count)) == 0 else {
                    throw MemoryErrno.host
                }
            }
        case .memfdSecret:
            if range == file.range, (try? replaceSecretFile(file)) != nil { return }
            try zeroResidentPages(file, range)
        }
    }

    /// memfd_secret "punch" of a whole file: a fresh file replaces it at every mapping; the old
    /// file's pages are zeroed and freed by the kernel when its last reference goes.
    private func replaceSecretFile(_ file: HostFile) throws(MemoryErrno) {
        try state.withLock { state throws(MemoryErrno) in
            try file.lock.withLock { _ throws(MemoryErrno) in
                let fresh = try HostFile.createSecret(length: file.length)
                for mapping in state.mappings where mapping.fileRange.overlaps(file.range) {
                    let part = mapping.fileRange.clamped(to: file.range)
                    let target = mapping.pointer(to: part.lowerBound)
                    guard Glibc.mmap(target, Int(part.count), mapping.protection, MAP_SHARED | MAP_FIXED, fresh,
                                     off_t(part.lowerBound - file.fileOffset)) == target else {
                        close(fresh)
                        throw MemoryErrno.EIO
                    }
                }
                file.replaceDescriptor(with: fresh)
            }
        }
    }

    /// memfd_secret partial "punch": memset the resident pages of `range` to zero (they stay
    /// allocated; non-resident pages already read as zeros).
    private func zeroResidentPages(_ file: HostFile, _ range: Range<UInt64>) throws(MemoryErrno) {
        try file.lock.withLock { _ throws(MemoryErrno) in
            let length = Int(range.count)
            guard let mapping = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd,
                                           off_t(range.lowerBound - file.fileOffset)),
                  mapping != MAP_FAILED else { throw MemoryErrno.host }
            defer { Glibc.munmap(mapping, length) }
            var vector = [UInt8](repeating: 0, count: length / Int(Self.pageSize))
            guard mincore(mapping, length, &vector) == 0 else { throw MemoryErrno.host }
            for (page, residency) in vector.enumerated() where residency & 1 != 0 {
                memset(mapping + page * Int(Self.pageSize), 0, Int(Self.pageSize))
            }
        }
    }

    /// Allocation (fallocate KEEP_SIZE) of [range] inside the file: fallocate for memfd and
    /// guest_memfd (guest_memfd does not zero until the first fault, which is invisible here);
    /// MADV_POPULATE_WRITE through a temporary mapping for memfd_secret (no fallocate there).
    private func allocate(_ range: Range<UInt64>) throws(MemoryErrno) {
        let files = state.withLock { $0.files }
        for file in files where file.range.overlaps(range) {
            let part = file.range.clamped(to: range)
            let offset = part.lowerBound - file.fileOffset
            try file.lock.withLock { _ throws(MemoryErrno) in
                if file.kind != .memfdSecret {
                    guard s390pv_fallocate(file.fd, S390PV_FALLOC_FL_KEEP_SIZE, Int64(offset), Int64(part.count)) == 0 else {
                        throw MemoryErrno.host
                    }
                    return
                }
                guard let mapping = Glibc.mmap(nil, Int(part.count), PROT_READ | PROT_WRITE, MAP_SHARED, file.fd, off_t(offset)),
                      mapping != MAP_FAILED else { throw MemoryErrno.host }
                defer { Glibc.munmap(mapping, Int(part.count)) }
                let madvPopulateWrite: Int32 = 23
                if madvise(mapping, Int(part.count), madvPopulateWrite) != 0 {
                    // Before 5.14: a read fault allocates a secretmem page too.
                    var sink: UInt8 = 0
                    for page in stride(from: 0, to: Int(part.count), by: Int(Self.pageSize)) {
                        sink |= mapping.load(fromByteOffset: page, as: UInt8.self)
                    }
                    withExtendedLifetime(sink) {}
                }
            }
        }
    }

    // MARK: Host mapping helpers

    /// MAP_FIXED of [fileOffset, +length) of `files` at `address` (length inside the files).
    private static func mapFiles(_ files: [HostFile], at address: UnsafeMutableRawPointer, fileOffset: UInt64,
                                 length: UInt64, protection: Int32) throws(MemoryErrno) {
        let range = fileOffset..<fileOffset + length
        for file in files where file.range.overlaps(range) {
            let part = file.range.clamped(to: range)
            let target = address + Int(part.lowerBound - fileOffset)
            let fd = file.lock.withLock { _ in file.fd }
            guard Glibc.mmap(target, Int(part.count), protection, MAP_SHARED | MAP_FIXED, fd,
                             off_t(part.lowerBound - file.fileOffset)) == target else {
                let error = MemoryErrno.host
                try? reserve(at: address, length: length)
                throw error
            }
        }
    }

    /// A PROT_NONE, MAP_NORESERVE anonymous reservation at `address` (MAP_FIXED).
    static func reserve(at address: UnsafeMutableRawPointer, length: UInt64) throws(MemoryErrno) {
        guard Glibc.mmap(address, Int(length), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                         -1, 0) == address else { throw .host }
    }

    /// A shared mapping of an empty file at `address`: every access raises SIGBUS.
    private static func mapSigbus(at address: UnsafeMutableRawPointer, length: UInt64, protection: Int32) throws(MemoryErrno) {
        let fd = s390pv_memfd_create("s390pv-guest-memfd-private", S390PV_MFD_CLOEXEC)
        guard fd >= 0 else { throw .host }
        defer { close(fd) }
        guard Glibc.mmap(address, Int(length), protection, MAP_SHARED | MAP_FIXED, fd, 0) == address else { throw .host }
    }

    private func forgetMappings(at address: UInt, user: Bool) {
        state.withLock { $0.mappings.removeAll { $0.user == user && $0.address == address } }
    }
}
