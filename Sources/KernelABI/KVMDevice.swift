// The ioctl surface of the kernel model: /dev/kvm, VM and vCPU file descriptors with Linux's
// numbers, struct layouts, errno values and order of checks (virt/kvm/kvm_main.c and
// arch/s390/kvm/kvm-s390.c). Every entry returns what the system call would: a non-negative
// result, or -errno.
import CKVM
import Foundation
import KernelModel
import RestrictedMemory
import S390CPU

public enum KVMDevice {
    /// Capability values reported by KVM_CHECK_EXTENSION (on any fd kind).
    static func checkExtension(_ capability: UInt) -> Int {
        switch Int32(truncatingIfNeeded: capability) {
        case KVM_CAP_S390_MEM_OP: return 65536                       // MEM_OP_MAX_SIZE
        case KVM_CAP_NR_VCPUS, KVM_CAP_MAX_VCPUS, KVM_CAP_MAX_VCPU_ID: return 248
        case KVM_CAP_SYNC_REGS, KVM_CAP_MP_STATE, KVM_CAP_S390_INJECT_IRQ, KVM_CAP_IMMEDIATE_EXIT,
             KVM_CAP_S390_VCPU_RESETS, KVM_CAP_USER_MEMORY2, KVM_CAP_GUEST_MEMFD, KVM_CAP_S390_USER_STSI:
            return 1
        case KVM_CAP_S390_PROTECTED:
            return HostFirmware.isProtectedVirtualizationHost ? 1 : 0
        case KVM_CAP_S390_PROTECTED_ASYNC_DISABLE:
            return ModuleParameters.asyncDestroy && HostFirmware.isProtectedVirtualizationHost ? 1 : 0
        // The UV installs no dump calls (PROTECTED_DUMP needs bits 24-27); no host mapping of
        // guest RAM (spec memory-clock-pidfd.md D1): no guest_memfd flags.
        case KVM_CAP_S390_PROTECTED_DUMP, KVM_CAP_GUEST_MEMFD_FLAGS:
            return 0
        default: return 0
        }
    }

    /// open("/dev/kvm", flags): a new system descriptor (O_CLOEXEC as the caller asks; VM,
    /// vCPU and guest_memfd descriptors are always O_CLOEXEC, as anon_inode_getfd makes them).
    public static func open(flags: Int32 = O_CLOEXEC) -> Int32 {
        do { return try FileTable.shared.install(.system, closeOnExec: flags & O_CLOEXEC != 0) } catch { return -error.rawValue }
    }

    public static func close(_ fd: Int32) -> Int32 {
        do { try FileTable.shared.close(fd) } catch { return -error.rawValue }
        return 0
    }

    /// ioctl(fd, request, argument) on a model descriptor.
    public static func ioctl(_ fd: Int32, _ request: UInt, _ argument: UInt) -> Int {
        guard let file = FileTable.shared.lookup(fd) else { return -Int(Errno.EBADF.rawValue) }
        let result: Result<Int, Errno>
        switch file {
        case .system: result = systemIoctl(request, argument)
        case .vm(let vm): result = vmIoctl(vm, request, argument)
        case .vcpu(let vcpu): result = vcpuIoctl(vcpu, request, argument)
        case .guestMemfd, .restrictedMemfd: result = .failure(.ENOTTY)     // these files have no ioctls
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): return -Int(error.rawValue)
        }
    }

    // MARK: /dev/kvm (kvm_dev_ioctl)

    static func systemIoctl(_ request: UInt, _ argument: UInt) -> Result<Int, Errno> {
        switch request {
        case S390PV_KVM_GET_API_VERSION:
            return argument == 0 ? .success(KVM.apiVersion) : .failure(.EINVAL)
        case S390PV_KVM_CREATE_VM:
            // s390: type 0, or KVM_VM_S390_UCONTROL (1), which needs CAP_SYS_ADMIN and is not modelled.
            guard argument == 0 else { return .failure(.EINVAL) }
            do {
                let vm = try KVM.createVM(VMConfiguration(memorySize: 0))
                return .success(Int(try FileTable.shared.install(.vm(VMFile(vm: vm)))))
            } catch {
                return .failure(error)
            }
        case S390PV_KVM_CHECK_EXTENSION:
            return .success(checkExtension(argument))
        case S390PV_KVM_GET_VCPU_MMAP_SIZE:
            return argument == 0 ? .success(VCPUFile.runPageSize) : .failure(.EINVAL)
        case S390PV_KVM_S390_ENABLE_SIE:
            return .success(0)   // s390_enable_sie: this process can always host SIE guests here
        default:
            // s390's kvm_arch_dev_ioctl answers EINVAL to everything it does not know.
            return .failure(.EINVAL)
        }
    }
}

/// Runs `body` and turns a thrown errno into a failure.
func attempt(_ body: () throws(Errno) -> Int) -> Result<Int, Errno> {
    do { return .success(try body()) } catch { return .failure(error) }
}
