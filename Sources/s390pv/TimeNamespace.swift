// A real Linux time namespace for a VM process (issue 6): CLOCK_MONOTONIC and CLOCK_BOOTTIME of
// the process carry the VM's clock offset. Linux semantics (kernel/time/namespace.c,
// fs/proc/base.c; spec memory-clock-pidfd.md §4.1): unshare(CLONE_NEWTIME) creates the namespace
// for the caller's children; /proc/self/timens_offsets sets its offsets until a task enters it;
// setns(time_for_children, CLONE_NEWTIME) moves a single-threaded caller in at once (EUSERS when
// other threads exist). Needs CAP_SYS_ADMIN (unshare, setns) and CAP_SYS_TIME (the offsets).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CLONE_NEWTIME (Linux 5.6).
private let cloneNewTime: Int32 = 0x80

/// glibc's unshare(2) and setns(2), which its Swift module map hides (they need _GNU_SOURCE).
private typealias NamespaceCall = @convention(c) (Int32) -> Int32
private typealias SetNamespaceCall = @convention(c) (Int32, Int32) -> Int32
private func unshare(_ flags: Int32) -> Int32 {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { Glibc.errno = ENOSYS; return -1 }
    return unsafeBitCast(symbol, to: NamespaceCall.self)(flags)
}
private func setns(_ fd: Int32, _ type: Int32) -> Int32 {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { Glibc.errno = ENOSYS; return -1 }
    return unsafeBitCast(symbol, to: SetNamespaceCall.self)(fd, type)
}

/// A time namespace that was set up.
struct TimeNamespaceEntry: Equatable {
    /// Offset of CLOCK_MONOTONIC and CLOCK_BOOTTIME, in seconds.
    var offsetSeconds: Int64
    /// True when the caller itself moved in (setns); false when only children created from now
    /// on are in it (the caller had other threads: EUSERS).
    var callerEntered: Bool
    /// CLOCK_MONOTONIC after minus before entering, in seconds (nil when the caller stayed out).
    var measuredShift: Double?

    /// The one log line for stderr.
    var logLine: String {
        let sign = offsetSeconds >= 0 ? "+" : ""
        if callerEntered, let measuredShift {
            return "s390pv: host time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME \(sign)\(offsetSeconds) s (measured \(String(format: "%+.3f", measuredShift)) s)"
        }
        return "s390pv: host time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME \(sign)\(offsetSeconds) s for processes started from now on (this one has threads)"
    }
}

/// Why no time namespace was set up: the step that failed and its errno.
struct TimeNamespaceUnavailable: Error, Equatable {
    var step: String
    var errno: Int32

    /// The one fallback line for stderr.
    var logLine: String {
        "s390pv: host time namespace not used (\(step): \(String(cString: strerror(errno)))); the guest TOD offset still applies"
    }
}

/// Creates a time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME run `offsetSeconds` ahead of
/// the host's and moves the caller into it (or, if the caller has threads, leaves it for the
/// children it creates next). Call it before starting threads. Never exits or prints.
func enterTimeNamespace(offsetSeconds: Int64) -> Result<TimeNamespaceEntry, TimeNamespaceUnavailable> {
    func failure(_ step: String) -> Result<TimeNamespaceEntry, TimeNamespaceUnavailable> {
        .failure(TimeNamespaceUnavailable(step: step, errno: Glibc.errno))
    }
    guard unshare(cloneNewTime) == 0 else { return failure("unshare(CLONE_NEWTIME)") }
    let offsets = "monotonic \(offsetSeconds) 0\nboottime \(offsetSeconds) 0\n"
    let offsetsFD = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC)
    guard offsetsFD >= 0 else { return failure("open /proc/self/timens_offsets") }
    let written = offsets.withCString { write(offsetsFD, $0, strlen($0)) }
    let writeErrno = Glibc.errno
    close(offsetsFD)
    guard written == offsets.utf8.count else {
        return .failure(TimeNamespaceUnavailable(step: "write /proc/self/timens_offsets", errno: written < 0 ? writeErrno : EIO))
    }
    let namespaceFD = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC)
    guard namespaceFD >= 0 else { return failure("open /proc/self/ns/time_for_children") }
    defer { close(namespaceFD) }
    var before = timespec(), after = timespec()
    clock_gettime(CLOCK_MONOTONIC, &before)
    let entered = setns(namespaceFD, cloneNewTime)
    let setnsErrno = Glibc.errno
    clock_gettime(CLOCK_MONOTONIC, &after)
    if entered != 0 {
        guard setnsErrno == EUSERS else { return .failure(TimeNamespaceUnavailable(step: "setns(CLONE_NEWTIME)", errno: setnsErrno)) }
        return .success(TimeNamespaceEntry(offsetSeconds: offsetSeconds, callerEntered: false, measuredShift: nil))
    }
    let shift = Double(after.tv_sec - before.tv_sec) + Double(after.tv_nsec - before.tv_nsec) / 1e9
    return .success(TimeNamespaceEntry(offsetSeconds: offsetSeconds, callerEntered: true, measuredShift: shift))
}
