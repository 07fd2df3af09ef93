import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The machine's TOD clock: host wall-clock time in TOD units (bit 51 = 1 microsecond, epoch
/// 1900-01-01) plus a per-machine offset (modulo 2^64, as KVM's epoch) that the VM's clock
/// namespace sets before the first run and the guest's SET CLOCK changes afterwards.
/// Shared by all CPUs of a machine; thread-safe.
public final class TODClock: Sendable {
    /// Microseconds between 1900-01-01 and 1970-01-01.
    static let unixEpochMicroseconds: UInt64 = 2_208_988_800 * 1_000_000
    /// Seconds between 1900-01-01 (TOD epoch) and 1970-01-01 (Unix epoch).
    public static let unixEpochSeconds: Int64 = 2_208_988_800
    /// TOD units per second (bit 51 = 1 microsecond: 4096 units per microsecond).
    public static let unitsPerSecond: Int64 = 4_096_000_000
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

    /// Sets the offset itself (the clock namespace's value; KVM's epoch).
    public func setOffset(_ value: UInt64) { offset.store(value, ordering: .relaxed) }

    /// A TOD value for a Unix time (seconds and nanoseconds since 1970-01-01 UTC), or nil when it
    /// lies outside epoch 0 (1900-01-01 to 2042-09-17).
    public static func tod(unixSeconds seconds: Int64, nanoseconds: Int64 = 0) -> UInt64? {
        let units = (Int128(seconds) + Int128(unixEpochSeconds)) * Int128(unitsPerSecond) + Int128(nanoseconds) * 4096 / 1000
        guard units >= 0, units <= Int128(UInt64.max) else { return nil }
        return UInt64(units)
    }
}
