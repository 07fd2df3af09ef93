// The kernel model's entry point, shaped after Linux's /dev/kvm for s390 (Documentation/virt/
// kvm/api.rst). Typed wrappers here; the fd/ioctl C ABI is built on top of them.
import RestrictedMemory
import S390CPU

/// A Linux errno, as the ioctl layer returns it.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static let EPERM = Errno(1), ENOENT = Errno(2), EINTR = Errno(4), EBADF = Errno(9), EAGAIN = Errno(11),
                      ENOMEM = Errno(12), EACCES = Errno(13), EFAULT = Errno(14), EBUSY = Errno(16), EEXIST = Errno(17),
                      EINVAL = Errno(22), ENOTTY = Errno(25), ENOSPC = Errno(28), ERANGE = Errno(34),
                      EOPNOTSUPP = Errno(95)
    public var description: String { "errno \(rawValue)" }
}

/// What a VM is created with (the VMM's machine configuration as the kernel sees it).
public struct VMConfiguration: Sendable {
    public var memorySize: UInt64
    public var maxCPUs: Int
    public var identity: MachineIdentity
    public init(memorySize: UInt64, maxCPUs: Int = 248, identity: MachineIdentity = MachineIdentity()) {
        self.memorySize = memorySize
        self.maxCPUs = maxCPUs
        self.identity = identity
    }
}

/// "/dev/kvm": reports the API and creates VMs.
public enum KVM {
    /// KVM_GET_API_VERSION.
    public static let apiVersion = 12

    /// KVM_CREATE_VM plus the memory slot a VMM would add with KVM_SET_USER_MEMORY_REGION2.
    public static func createVM(_ configuration: VMConfiguration) throws(Errno) -> VirtualMachine {
        let memory: RestrictedMemory
        do {
            memory = try RestrictedMemory(size: configuration.memorySize)
        } catch {
            if case .invalidSize = error { throw .EINVAL }
            throw .ENOMEM
        }
        return VirtualMachine(configuration: configuration, memory: memory)
    }
}
