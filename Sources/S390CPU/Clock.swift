import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The machine's TOD clock: host wall-clock time in TOD units (bit 51 = 1 microsecond, epoch
/// 1900-01-01) plus a per-machine offset that SET CLOCK (and later the clock namespace) changes.
/// Shared by all CPUs of a machine; thread-safe.
public final class TODClock: Sendable {
    /// Microseconds between 1900-01-01 and 1970-01-01.
    static let unixEpochMicroseconds: UInt64 = 2_208_988_800 * 1_000_000
    private let offset = Atomic<UInt64>(0)
    private let lastValue = Atomic<UInt64>(0)

    public init(offset: UInt64 = 0) { self.offset.store(offset, ordering: .relaxed) }

    /// Host time as an unsigned TOD value (no offset).
    public static func hostTOD() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let micros = UInt64(now.tv_sec) &* 1_000_000 &+ UInt64(now.tv_nsec / 1000)
        let subMicro = UInt64(now.tv_nsec % 1000) * 4096 / 1000
        return (micros &+ unixEpochMicroseconds) << 12 | subMicro
    }

    /// The current TOD value, not necessarily unique (STCKF).
    public func read() -> UInt64 { TODClock.hostTOD() &+ offset.load(ordering: .relaxed) }

    /// A TOD value larger than any returned before by this call (STCK's uniqueness rule).
    public func readUnique() -> UInt64 {
        var candidate = read()
        var last = lastValue.load(ordering: .relaxed)
        while true {
            if candidate <= last { candidate = last &+ 1 }
            let (exchanged, original) = lastValue.compareExchange(expected: last, desired: candidate, ordering: .relaxed)
            if exchanged { return candidate }
            last = original
        }
    }

    /// SET CLOCK: from now on the clock reads `value` plus elapsed time.
    public func set(_ value: UInt64) { offset.store(value &- TODClock.hostTOD(), ordering: .relaxed) }

    public var currentOffset: UInt64 { offset.load(ordering: .relaxed) }
}
