// Fault injection in the manner of Linux's lib/fault-inject.c: named failure points at the
// allocations of the kernel model and its restricted memory that can fail in Linux (spec
// kvm-pv-ioctl.md §2, each allocation that can give -ENOMEM; a full tmpfs/hugetlbfs behind guest
// memory gives ENOSPC), each with should_fail's attributes: times, interval, probability, and the
// errno the failing allocation returns. Configured from Swift (`FaultInjection.configure`) or, for
// a whole process such as `s390pv run`, from the environment:
//
//     S390PV_FAIL=point:errno[:interval[:times[:probability]]][,point:...]
//
// A point that is not configured costs one relaxed atomic load (`shouldFail`).
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The places that can be made to fail. Raw values are the names the environment uses.
public enum FailurePoint: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The host backing files of a guest_memfd, created and sized at KVM_CREATE_GUEST_MEMFD (and
    /// at the v10 memfd_restricted ftruncate). ENOMEM, or ENOSPC as a full tmpfs gives.
    case guestMemfdFiles = "gmem_files"
    /// The fresh backing files KVM_PV_ASYNC_CLEANUP_PREPARE gives the VM when it detaches the old
    /// memory: the model's counterpart of kvm_s390_pv_set_aside's tracking-record allocation.
    case detachFiles = "gmem_detach"
    /// The donated base and variable storage of KVM_PV_ENABLE (kvm_s390_pv_alloc_vm), spec §2.1.
    case enableStorage = "pv_enable_storage"
    /// The donated CPU storage and SIDA page of a secure CPU (kvm_s390_pv_create_cpu), spec §2.1
    /// step 4, at ENABLE and at KVM_CREATE_VCPU of a protected VM.
    case cpuStorage = "pv_cpu_storage"
    /// The fault-in of a guest page by KVM_PV_UNPACK (kvm_s390_faultin_gfn_simple after
    /// make_secure's -ENXIO): ENOMEM stays ENOMEM; any other errno is a SIGBUS fault, -EFAULT.
    case unpackFault = "pv_unpack_fault"
    /// The vmalloc of the SE header copy of KVM_PV_SET_SEC_PARMS, spec §2.3 step 4.
    case secureParameters = "pv_sec_parms"

    public var description: String { rawValue }

    var bit: Int { 1 << FailurePoint.allCases.firstIndex(of: self)! }
}

/// should_fail's attributes (struct fault_attr), with the errno the failing call returns.
public struct FaultAttributes: Sendable, Equatable, CustomStringConvertible {
    /// The errno (positive) the failing allocation reports.
    public var errno: Int32
    /// Fail every `interval`-th call that reaches the check (1: every call).
    public var interval: Int
    /// How many failures in all; -1 for no limit.
    public var times: Int
    /// Percentage (0-100) of the calls passing the interval check that fail.
    public var probability: Int
    /// Only calls on the thread that configured the point count and fail (Linux's task-filter,
    /// make-it-fail): lets tests that run in parallel in one process arm a point for themselves.
    public var onlyConfiguringThread: Bool

    public init(errno: Int32, interval: Int = 1, times: Int = -1, probability: Int = 100, onlyConfiguringThread: Bool = false) {
        self.errno = errno
        self.interval = interval
        self.times = times
        self.probability = probability
        self.onlyConfiguringThread = onlyConfiguringThread
    }

    public var description: String {
        "\(FaultInjection.errnoName(errno)) interval \(interval) times \(times) probability \(probability)%"
            + (onlyConfiguringThread ? " (configuring thread only)" : "")
    }
}

/// A bad fault-injection setting (unknown point, errno, or an attribute out of range).
public struct FaultInjectionError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

public enum FaultInjection {
    private struct PointState {
        var attributes: FaultAttributes
        /// Calls that reached the check (fault_attr.count).
        var calls = 0
        /// Failures injected so far.
        var failures = 0
        /// xorshift state for `probability` (seeded, so a configured run is reproducible).
        var random: UInt64
        /// The configuring thread, when the attributes restrict failures to it.
        var thread: UInt?
    }

    /// Bit per configured point: the only thing a hot path reads.
    private static let configured = Atomic<Int>(0)
    /// Guards `points` and `injected`. A pthread mutex (NSLock), which ThreadSanitizer sees, where
    /// Synchronization.Mutex's futex is invisible to it (and made every test that met a configured
    /// point a reported race).
    private static let lock = NSLock()
    nonisolated(unsafe) private static var points: [FailurePoint: PointState] = [:]
    /// Failures injected per point since the process started (kept after `clear`).
    nonisolated(unsafe) private static var injected: [FailurePoint: Int] = [:]
    private static let environmentApplied = Atomic<Bool>(false)

    /// should_fail(): the errno to fail with, or nil. Context: any thread; with nothing configured
    /// for `point` it is one relaxed atomic load.
    @inline(__always)
    public static func shouldFail(_ point: FailurePoint) -> Int32? {
        guard configured.load(ordering: .relaxed) & point.bit != 0 else { return nil }
        return slowShouldFail(point)
    }

    @inline(never)
    private static func slowShouldFail(_ point: FailurePoint) -> Int32? {
        let result = lock.withLock { () -> Int32? in
            guard var state = points[point] else { return nil }
            if let thread = state.thread, thread != UInt(bitPattern: Int(bitPattern: pthread_self())) { return nil }
            defer { points[point] = state }
            // lib/fault-inject.c order: times exhausted, interval, probability.
            guard state.attributes.times != 0 else { return nil }
            state.calls += 1
            if state.attributes.interval > 1, state.calls % state.attributes.interval != 0 { return nil }
            if state.attributes.probability < 100 {
                state.random ^= state.random << 13
                state.random ^= state.random >> 7
                state.random ^= state.random << 17
                guard Int(state.random % 100) < state.attributes.probability else { return nil }
            }
            if state.attributes.times > 0 { state.attributes.times -= 1 }
            state.failures += 1
            return state.attributes.errno
        }
        if result != nil { lock.withLock { injected[point, default: 0] += 1 } }
        return result
    }

    /// Arms `point` (replacing any earlier setting; the call count starts again). `seed` drives
    /// `probability`. Throws for an errno ≤ 0, an interval < 1, times < -1 or a probability outside
    /// 0...100.
    public static func configure(_ point: FailurePoint, _ attributes: FaultAttributes, seed: UInt64 = 0x5EED) throws(FaultInjectionError) {
        guard attributes.errno > 0, attributes.errno < 4096 else { throw FaultInjectionError(description: "\(point): errno must be 1 to 4095") }
        guard attributes.interval >= 1 else { throw FaultInjectionError(description: "\(point): interval must be at least 1") }
        guard attributes.times >= -1 else { throw FaultInjectionError(description: "\(point): times must be -1 (no limit) or more") }
        guard (0...100).contains(attributes.probability) else { throw FaultInjectionError(description: "\(point): probability must be 0 to 100") }
        lock.withLock {
            points[point] = PointState(attributes: attributes, random: seed | 1,
                                       thread: attributes.onlyConfiguringThread ? UInt(bitPattern: Int(bitPattern: pthread_self())) : nil)
            configured.bitwiseOr(point.bit, ordering: .relaxed)
        }
    }

    /// Disarms `point`.
    public static func clear(_ point: FailurePoint) {
        lock.withLock {
            points[point] = nil
            configured.bitwiseAnd(~point.bit, ordering: .relaxed)
        }
    }

    /// Disarms every point.
    public static func clearAll() {
        lock.withLock {
            points.removeAll()
            configured.store(0, ordering: .relaxed)
        }
    }

    /// Failures injected at `point` since the process started.
    public static func failures(at point: FailurePoint) -> Int { lock.withLock { injected[point] ?? 0 } }

    /// The current setting of `point`, nil when disarmed (times counts down as failures happen).
    public static func attributes(of point: FailurePoint) -> FaultAttributes? { lock.withLock { points[point]?.attributes } }

    // MARK: The environment

    /// Parses `point:errno[:interval[:times[:probability]]]`, comma separated; errno by name
    /// (ENOMEM, ENOSPC, ...) or number. Defaults: interval 1, times -1 (no limit), probability 100.
    public static func parse(_ text: String) throws(FaultInjectionError) -> [(FailurePoint, FaultAttributes)] {
        var result: [(FailurePoint, FaultAttributes)] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: true) {
            let fields = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (2...5).contains(fields.count) else {
                throw FaultInjectionError(description: "S390PV_FAIL entry '\(entry)': want point:errno[:interval[:times[:probability]]]")
            }
            guard let point = FailurePoint(rawValue: fields[0]) else {
                throw FaultInjectionError(description: "S390PV_FAIL: unknown failure point '\(fields[0])' (known: \(FailurePoint.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let errno = errnoNumber(fields[1]) else {
                throw FaultInjectionError(description: "S390PV_FAIL: unknown errno '\(fields[1])' for \(point) (a name such as ENOMEM or a number)")
            }
            func number(_ index: Int, _ name: String, _ fallback: Int) throws(FaultInjectionError) -> Int {
                guard index < fields.count else { return fallback }
                guard let value = Int(fields[index]) else {
                    throw FaultInjectionError(description: "S390PV_FAIL: \(name) '\(fields[index])' of \(point) is not a number")
                }
                return value
            }
            let attributes = FaultAttributes(errno: errno, interval: try number(2, "interval", 1), times: try number(3, "times", -1),
                                             probability: try number(4, "probability", 100))
            result.append((point, attributes))
        }
        return result
    }

    /// Applies `S390PV_FAIL` once per process (later calls do nothing). Called by the CLI at start
    /// (which reports a bad setting and exits) and when the first VM is created (C programs using
    /// the kernel model). Throws a bad setting, leaving every point disarmed.
    public static func configureFromEnvironment() throws(FaultInjectionError) {
        guard !environmentApplied.exchange(true, ordering: .relaxed) else { return }
        guard let pointer = getenv("S390PV_FAIL") else { return }
        let text = String(cString: pointer)
        for (point, attributes) in try parse(text) { try configure(point, attributes) }
    }

    private static let errnoNames: [(String, Int32)] = [
        ("EPERM", 1), ("ENOENT", 2), ("EINTR", 4), ("EIO", 5), ("E2BIG", 7), ("EBADF", 9), ("EAGAIN", 11), ("ENOMEM", 12),
        ("EFAULT", 14), ("EBUSY", 16), ("EEXIST", 17), ("ENODEV", 19), ("EINVAL", 22), ("ENFILE", 23), ("EMFILE", 24),
        ("EFBIG", 27), ("ENOSPC", 28), ("EDQUOT", 122), ("EHWPOISON", 133),
    ]

    /// The errno of a name (ENOMEM) or a decimal number; nil otherwise.
    public static func errnoNumber(_ text: String) -> Int32? {
        if let value = Int32(text), value > 0 { return value }
        return errnoNames.first { $0.0 == text.uppercased() }?.1
    }

    /// ENOMEM for 12, ...; "errno N" for a number without a name here.
    public static func errnoName(_ value: Int32) -> String { errnoNames.first { $0.1 == value }?.0 ?? "errno \(value)" }
}
