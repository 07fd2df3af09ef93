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
                      EOPNOTSUPP = Errno(95), EHWPOISON = Errno(133)
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

    /// KVM_CREATE_VM, plus (when `memorySize` is set) what a VMM does next: one guest_memfd
    /// of that size bound as memslot 0 at guest address 0.
    public static func createVM(_ configuration: VMConfiguration) throws(Errno) -> VirtualMachine {
        let vm = try VirtualMachine(configuration: configuration)
        if configuration.memorySize > 0 {
            guard configuration.memorySize % (1 << 20) == 0 else { throw .EINVAL }
            let memfd = try vm.createGuestMemfd(size: configuration.memorySize, flags: 0)
            try vm.setMemoryRegion(slot: 0, flags: 1 << 2, guestAddress: 0, size: configuration.memorySize,
                                   userspaceAddress: 0, memfd: .success(memfd), memfdOffset: 0)
        }
        return vm
    }
}
