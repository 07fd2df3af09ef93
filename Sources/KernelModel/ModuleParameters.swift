// Kernel-model settings fixed for the life of the process, in the manner of KVM's module
// parameters (/sys/module/kvm/parameters): set before the first VM, then read-only.
import FaultInjection
import Foundation
import RestrictedMemory
import Synchronization

public enum ModuleParameters {
    private struct Values {
        var memoryBackend = Backend.automatic
        /// kvm.async_destroy=0 at "module load": `S390PV_ASYNC_DESTROY=0` in the environment.
        var asyncDestroy = ProcessInfo.processInfo.environment["S390PV_ASYNC_DESTROY"] != "0"
        var teardownWorkers = ProcessInfo.processInfo.activeProcessorCount
        var frozen = false
        var reportedFallbacks = Set<String>()
    }
    private static let values = Mutex(Values())

    /// The host object behind guest RAM: memfd (the default), memfd_secret, or a real
    /// /dev/kvm guest_memfd. An unavailable choice falls back to memfd with one log line.
    public static var memoryBackend: Backend { values.withLock { $0.memoryBackend } }

    /// Sets the memory backend; false once a VM exists (the parameter is read-only then).
    @discardableResult
    public static func setMemoryBackend(_ backend: Backend) -> Bool {
        values.withLock { values in
            guard !values.frozen else { return false }
            values.memoryBackend = backend
            return true
        }
    }

    /// kvm.async_destroy (spec kvm-pv-ioctl.md §1.2): asynchronous teardown of protected guests
    /// (KVM_PV_ASYNC_CLEANUP_*, capability 224). Default on; read-only once a VM exists.
    public static var asyncDestroy: Bool { values.withLock { $0.asyncDestroy } }

    @discardableResult
    public static func setAsyncDestroy(_ enabled: Bool) -> Bool {
        values.withLock { values in
            guard !values.frozen else { return false }
            values.asyncDestroy = enabled
            return true
        }
    }

    /// Threads that clear a set-aside configuration's pages in KVM_PV_ASYNC_CLEANUP_PERFORM
    /// (default: the number of cores). Read-only once a VM exists.
    public static var teardownWorkers: Int { values.withLock { $0.teardownWorkers } }

    @discardableResult
    public static func setTeardownWorkers(_ count: Int) -> Bool {
        values.withLock { values in
            guard !values.frozen, count >= 1 else { return false }
            values.teardownWorkers = count
            return true
        }
    }

    /// Called when each VM is created: the parameters become read-only, and S390PV_FAIL (the
    /// fault-injection settings, FaultInjection) is applied once per process. A bad setting is
    /// reported once on stderr and leaves every failure point disarmed (the CLI refuses it
    /// before it gets here).
    static func freeze() {
        values.withLock { $0.frozen = true }
        do throws(FaultInjectionError) {
            try FaultInjection.configureFromEnvironment()
        } catch {
            FaultInjection.clearAll()
            FileHandle.standardError.write(Data("s390pv: \(error)\n".utf8))
        }
    }

    /// Options for a guest_memfd of this process: the chosen backend, and a logger that reports
    /// each distinct fallback once per process rather than once per backing file.
    static var guestMemfdOptions: GuestMemfd.Options {
        GuestMemfd.Options(backend: memoryBackend, logger: { line in
            let first = values.withLock { $0.reportedFallbacks.insert(line).inserted }
            if first { FileHandle.standardError.write(Data("s390pv: \(line)\n".utf8)) }
        })
    }
}
