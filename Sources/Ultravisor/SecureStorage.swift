// The UV's view of one VM's guest absolute storage, and the lock the module uses
// (spec kvm-pv-ioctl §5.7, se-image-format §8 item 5).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Guest absolute storage of one VM, as the UV sees host pages. Implemented by the kernel model.
///
/// The Ultravisor keeps a strong reference to a storage while any configuration (live or dead)
/// may own pages of it, so object identity is a stable key for the page-state table.
public protocol SecureStorage: AnyObject, Sendable {
    /// Bytes of guest absolute storage (a multiple of 4096).
    var size: UInt64 { get }
    /// Host address of guest absolute `address` (< size). Valid while the storage exists.
    func hostPointer(_ address: UInt64) -> UnsafeMutableRawPointer
    /// Zeroes the pages of `range` (4 KiB aligned), releasing their backing (punch hole).
    func clear(_ range: Range<UInt64>)
    /// Ranges (4 KiB aligned) inside `range` that may hold non-zero bytes; the rest reads as zero.
    func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>]
}

/// A plain pthread mutex: the analogue of the spinlocks/mutexes the real UV and KVM use.
/// Never held across a call out of the module except `SecureStorage` methods.
final class UVLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// 4 KiB: the unit of every page operation (spec kvm-pv-ioctl §5.7).
let uvPageSize: UInt64 = 4096
/// 1 MiB: the unit of guest storage lengths and of the lazily allocated page-state segments.
let uvSegmentSize: UInt64 = 1 << 20
let uvPagesPerSegment = Int(uvSegmentSize / uvPageSize)
