// The emulated host's firmware: whether it offers protected virtualization, and its Ultravisor
// (what `prot_virt=1`, facility 158 and a successful INIT_UV give a real host, spec
// kvm-pv-ioctl.md §5.6). Configured once per process, before the first VM, like ModuleParameters.
import Crypto
import Foundation
import SecureExecution
import Ultravisor

public enum HostFirmware {
    /// Environment variable naming a PEM file with the UV's P-521 host private key; read when no
    /// key was installed by `installHostKey` (C programs using the preload shim set it).
    public static let hostKeyEnvironmentVariable = "S390PV_HOST_KEY"

    private struct State {
        var hostKey: HostPrivateKey?
        var protectedVirtualization = true
        var ultravisor: Ultravisor?
    }
    /// Guarded by `lock` (a host key is not Sendable, so no Mutex).
    nonisolated(unsafe) private static var current = State()
    private static let lock = NSLock()

    /// Installs the UV's host private key; false once the Ultravisor exists (it is fixed at "boot").
    @discardableResult
    public static func installHostKey(_ key: HostPrivateKey) -> Bool {
        lock.withLock { () -> Bool in
            guard current.ultravisor == nil else { return false }
            current.hostKey = key
            return true
        }
    }

    /// Turns the host's PV support off (as booting without `prot_virt=1`): KVM_CAP_S390_PROTECTED
    /// is then 0 and every PV command is EINVAL. False once the Ultravisor exists.
    @discardableResult
    public static func disableProtectedVirtualization() -> Bool {
        lock.withLock { () -> Bool in
            guard current.ultravisor == nil else { return false }
            current.protectedVirtualization = false
            return true
        }
    }

    /// `is_prot_virt_host()`.
    public static var isProtectedVirtualizationHost: Bool { ultravisor != nil }

    /// The host's Ultravisor, created on first use with the installed key, else the key in
    /// `$S390PV_HOST_KEY`, else a fresh random key (a host that can open no existing image).
    /// nil when PV is disabled or the key file named by the environment cannot be read; the
    /// latter is reported once on stderr, as a failed UV initialisation is in the kernel log.
    public static var ultravisor: Ultravisor? {
        lock.withLock { () -> Ultravisor? in
            if let ultravisor = current.ultravisor { return ultravisor }
            guard current.protectedVirtualization else { return nil }
            let key: HostPrivateKey
            if let installed = current.hostKey {
                key = installed
            } else if let path = ProcessInfo.processInfo.environment[hostKeyEnvironmentVariable] {
                do {
                    key = try HostPrivateKey(pemEncoded: try String(contentsOfFile: path, encoding: .utf8))
                } catch {
                    FileHandle.standardError.write(Data("s390pv: ultravisor: cannot use host key \(path): \(error); protected virtualization is off\n".utf8))
                    current.protectedVirtualization = false
                    return nil
                }
            } else {
                key = HostPrivateKey(.init())
            }
            let ultravisor = Ultravisor(hostKey: key)
            current.ultravisor = ultravisor
            return ultravisor
        }
    }
}
