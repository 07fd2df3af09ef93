// Per-page ownership of one storage (spec kvm-pv-ioctl §9 item 12, se-image-format §8 item 5).
//
// Design: a storage has at most one owner at a time, the configuration created on it, live or
// dead (destroyed but not all its pages destroyed). Every page starts in `.owned` ("secure on first
// touch", §8 item 5): no per-page memory is spent until a page changes state. Changed pages live in
// 256-byte segment tables (one byte per 4 KiB page of a 1 MiB segment), allocated on first change.
// A page operation is O(1): find the segment, change one byte, adjust one counter.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One page's state. Raw value 0 is the state of a page in an unallocated segment.
enum PageState: UInt8 {
    /// Secure, owned by the storage's owner, content as it was (zero-on-first-touch after VERIFY).
    case owned = 0
    /// Secure and explicitly given to the owner by UNPACK or CONV_TO_SEC_STOR: kept at VERIFY.
    case imported = 1
    /// Secure but shared by the guest: host-accessible (SET_SHARED_ACCESS, §9.2).
    case shared = 2
    /// Non-secure: destroyed (DESTR_SEC_STOR), host-accessible.
    case nonSecure = 3
}

/// Page states of one storage. Every member is guarded by `lock`.
final class StoragePages: @unchecked Sendable {
    let storage: any SecureStorage
    let size: UInt64
    let pageCount: UInt64
    let lock = UVLock()
    /// The configuration owning the pages; nil once released.
    var owner: ConfigurationRecord?
    /// Segment directory: nil = every page `.owned`.
    private let segments: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    private let segmentCount: Int
    /// Number of `.nonSecure` pages: when it reaches `pageCount` a dead owner owns nothing.
    private(set) var nonSecureCount: UInt64 = 0

    init(storage: any SecureStorage) {
        self.storage = storage
        size = storage.size & ~(uvPageSize - 1)
        pageCount = size / uvPageSize
        segmentCount = Int((size + uvSegmentSize - 1) / uvSegmentSize)
        segments = .allocate(capacity: max(1, segmentCount))
        segments.initialize(repeating: nil, count: max(1, segmentCount))
    }

    deinit {
        freeSegments()
        segments.deallocate()
    }

    /// Back to "every page `.owned`". Caller holds `lock`.
    func resetStates() {
        freeSegments()
        nonSecureCount = 0
    }

    private func freeSegments() {
        for index in 0 ..< segmentCount where segments[index] != nil {
            free(segments[index])
            segments[index] = nil
        }
    }

    /// State of page `page` (index). Caller holds `lock`.
    @inline(__always)
    func state(_ page: UInt64) -> PageState {
        guard let segment = segments[Int(page >> 8)] else { return .owned }
        return PageState(rawValue: segment[Int(page & 0xFF)])!
    }

    /// Sets the state of page `page`. Caller holds `lock`.
    @inline(__always)
    func setState(_ page: UInt64, _ new: PageState) {
        let index = Int(page >> 8)
        var segment = segments[index]
        if segment == nil {
            if new == .owned { return }
            segment = calloc(uvPagesPerSegment, 1)!.assumingMemoryBound(to: UInt8.self)
            segments[index] = segment
        }
        let old = segment![Int(page & 0xFF)]
        if old == PageState.nonSecure.rawValue { nonSecureCount -= 1 }
        if new == .nonSecure { nonSecureCount += 1 }
        segment![Int(page & 0xFF)] = new.rawValue
    }

    /// Changes every page in state `from` to `to` (allocated segments only, so `from` ≠ `.owned`).
    func replaceAll(_ from: PageState, with to: PageState) {
        precondition(from != .owned)
        for index in 0 ..< segmentCount {
            guard let segment = segments[index] else { continue }
            for slot in 0 ..< uvPagesPerSegment where segment[slot] == from.rawValue {
                setState(UInt64(index * uvPagesPerSegment + slot), to)
            }
        }
    }

    /// Calls `body` with maximal runs of pages `[first, end)` inside `range` (page indices) whose
    /// states satisfy `select`. Unallocated segments count as `.owned` runs without a page walk.
    func forEachRun(in pages: Range<UInt64>, where select: (PageState) -> Bool, _ body: (Range<UInt64>) -> Void) {
        var runStart: UInt64? = nil
        var page = pages.lowerBound
        let ownedSelected = select(.owned)
        while page < pages.upperBound {
            let segmentIndex = Int(page >> 8)
            if segments[segmentIndex] == nil {
                let segmentEnd = min(pages.upperBound, UInt64(segmentIndex + 1) << 8)
                if ownedSelected {
                    if runStart == nil { runStart = page }
                } else if let start = runStart {
                    body(start ..< page)
                    runStart = nil
                }
                page = segmentEnd
                continue
            }
            if select(state(page)) {
                if runStart == nil { runStart = page }
            } else if let start = runStart {
                body(start ..< page)
                runStart = nil
            }
            page += 1
        }
        if let start = runStart { body(start ..< pages.upperBound) }
    }

    /// Clears (punch hole) every populated page in `pages` whose state satisfies `select`. Caller holds `lock`.
    func clearPopulated(in pages: Range<UInt64>, where select: (PageState) -> Bool) {
        let byteRange = pages.lowerBound * uvPageSize ..< pages.upperBound * uvPageSize
        for populated in storage.populatedRanges(in: byteRange) {
            let first = populated.lowerBound / uvPageSize
            let end = min(pages.upperBound, (populated.upperBound + uvPageSize - 1) / uvPageSize)
            guard first < end else { continue }
            forEachRun(in: first ..< end, where: select) { run in
                storage.clear(run.lowerBound * uvPageSize ..< run.upperBound * uvPageSize)
            }
        }
    }
}
