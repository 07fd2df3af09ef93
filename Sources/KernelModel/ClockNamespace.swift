// A VM's clock namespace (issue 6; spec memory-clock-pidfd.md §4): the guest TOD is the host TOD
// plus this namespace's offset, with the semantics of a Linux time namespace
// (kernel/time/namespace.c, timens_set_offset / proc_timens_set_offset):
// - the offset can be changed only until the first vCPU of the VM enters KVM_RUN (Linux: until the
//   first task enters the namespace, timens_commit sets frozen_offsets); afterwards EACCES;
// - an offset out of range is ERANGE, checked before the frozen state, as Linux does;
// - the namespace belongs to the VM, not to a boot: a reboot (DIAG 308, sync or async teardown,
//   protected or not) keeps it, so the guest clock continues across reboots.
// KVM's TOD setter (KVM_SET_DEVICE_ATTR, group KVM_S390_VM_TOD) sets this offset: in Linux it sets
// kvm->arch.epoch, here the namespace offset plays that role. For a protected VM the Ultravisor
// owns the TOD: the secure configuration takes the VM's clock (namespace offset) when KVM_PV_ENABLE
// creates it, and KVM's setter answers EOPNOTSUPP (kvm_s390_set_tod, Linux 6.0+).
import S390CPU
import Synchronization

public final class ClockNamespace: Sendable {
    /// KTIME_SEC_MAX (KTIME_MAX / NSEC_PER_SEC): Linux refuses |offset| above it with ERANGE.
    public static let maximumOffsetSeconds: Int64 = Int64.max / 1_000_000_000

    /// The VM's TOD clock, whose offset this namespace sets.
    public let clock: TODClock
    private struct State {
        var offset: Int128 = 0
        var frozen = false
    }
    private let state = Mutex(State())

    public init(clock: TODClock = TODClock()) { self.clock = clock }

    /// The offset, in TOD units (4096 per microsecond), the guest TOD has relative to the host TOD.
    public var offset: Int128 { state.withLock { $0.offset } }

    /// True once a vCPU of the VM has run: the offset can no longer change.
    public var isFrozen: Bool { state.withLock { $0.frozen } }

    /// Whether `offset` TOD units are allowed now. The range (the TOD form of Linux's rules
    /// "|sec| <= KTIME_SEC_MAX" and "now + offset in [0, KTIME_SEC_MAX / 2]"): the guest TOD,
    /// host TOD + offset, must lie within epoch 0 when the offset is set, i.e. not before
    /// 1900-01-01 and not past 2042-09-17 23:53:47 UTC, since no multiple-epoch facility (139)
    /// is offered (the epoch index is always 0). Any such offset is below KTIME_SEC_MAX seconds
    /// (about 292 years), which is checked too.
    public static func inRange(_ offset: Int128, hostTOD: UInt64 = TODClock.hostTOD()) -> Bool {
        guard offset.magnitude <= UInt128(maximumOffsetSeconds) * UInt128(TODClock.unitsPerSecond) else { return false }
        let guest = Int128(hostTOD) + offset
        return guest >= 0 && guest <= Int128(UInt64.max)
    }

    /// Sets the offset in TOD units. ERANGE when out of range, EACCES once a vCPU has run.
    public func setOffset(_ offset: Int128) throws(Errno) {
        guard ClockNamespace.inRange(offset) else { throw .ERANGE }
        try state.withLock { state throws(Errno) in
            guard !state.frozen else { throw .EACCES }
            state.offset = offset
            clock.setOffset(UInt64(truncatingIfNeeded: offset))   // modulo 2^64, as KVM's epoch
        }
    }

    /// Sets the offset in seconds and nanoseconds, as /proc/PID/timens_offsets takes it:
    /// nanoseconds must be in 0..<1e9 (else EINVAL), |seconds| at most KTIME_SEC_MAX (else ERANGE).
    public func setOffset(seconds: Int64, nanoseconds: Int64 = 0) throws(Errno) {
        guard (0..<1_000_000_000).contains(nanoseconds) else { throw .EINVAL }
        guard seconds.magnitude <= UInt64(ClockNamespace.maximumOffsetSeconds) else { throw .ERANGE }
        try setOffset(Int128(seconds) * Int128(TODClock.unitsPerSecond) + Int128(nanoseconds) * 4096 / 1000)
    }

    /// Sets the offset so that the guest TOD reads `tod` now (KVM's TOD setter: epoch = tod - host).
    public func setGuestTOD(_ tod: UInt64) throws(Errno) {
        try setOffset(Int128(tod) - Int128(TODClock.hostTOD()))
    }

    /// The first KVM_RUN of any vCPU of the VM: the offsets are fixed from now on (timens_commit).
    public func freeze() {
        state.withLock { $0.frozen = true }
    }
}

extension VirtualMachine {
    /// KVM's TOD setter (KVM_S390_VM_TOD_LOW/EXT): the guest TOD reads `tod` now. EOPNOTSUPP
    /// for a protected VM (its TOD belongs to the Ultravisor), else the namespace's ERANGE/EACCES.
    public func setGuestTOD(_ tod: UInt64) throws(Errno) {
        guard !isProtected else { throw .EOPNOTSUPP }
        try clockNamespace.setGuestTOD(tod)
    }

    /// s390pv's offset attribute: the clock-namespace offset in TOD units, with the same rules.
    public func setClockOffset(_ offset: Int64) throws(Errno) {
        guard !isProtected else { throw .EOPNOTSUPP }
        try clockNamespace.setOffset(Int128(offset))
    }
}
