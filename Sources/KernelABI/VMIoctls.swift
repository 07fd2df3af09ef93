// VM descriptor ioctls (kvm_vm_ioctl, kvm_arch_vm_ioctl).
import CKVM
import CSyscalls
import KernelModel
import RestrictedMemory
import S390CPU

extension KVMDevice {
    static func vmIoctl(_ file: VMFile, _ request: UInt, _ argument: UInt) -> Result<Int, Errno> {
        let vm = file.vm
        switch request {
        case S390PV_KVM_CREATE_VCPU:
            return attempt { () throws(Errno) in
                guard argument < 248 else { throw .EINVAL }
                let vcpu = try vm.createVCPU(id: UInt16(argument))
                return Int(try FileTable.shared.install(.vcpu(try VCPUFile(vmFile: file, vcpu: vcpu))))
            }
        case S390PV_KVM_CREATE_GUEST_MEMFD:
            return attempt { () throws(Errno) in
                let request = try UserMemory.read(kvm_create_guest_memfd.self, from: argument)
                // No guest_memfd flag is offered (KVM_CAP_GUEST_MEMFD_FLAGS is 0): any bit is EINVAL.
                guard request.flags == 0 else { throw .EINVAL }
                let memfd = try vm.createGuestMemfd(size: request.size, flags: 0)
                return Int(try FileTable.shared.install(.guestMemfd(GuestMemfdFile(vmFile: file, memfd: memfd))))
            }
        case S390PV_KVM_SET_USER_MEMORY_REGION:
            return attempt { () throws(Errno) in
                let region = try UserMemory.read(kvm_userspace_memory_region.self, from: argument)
                // The v1 ioctl cannot name a guest_memfd.
                guard region.flags & UInt32(KVM_MEM_GUEST_MEMFD) == 0 else { throw .EINVAL }
                try vm.setMemoryRegion(slot: region.slot, flags: region.flags, guestAddress: region.guest_phys_addr,
                                       size: region.memory_size, userspaceAddress: region.userspace_addr,
                                       memfd: nil, memfdOffset: 0)
                return 0
            }
        case S390PV_KVM_SET_USER_MEMORY_REGION2:
            return attempt { () throws(Errno) in
                let region = try UserMemory.read(kvm_userspace_memory_region2.self, from: argument)
                let memfd: Result<GuestMemfd, Errno>?
                if region.flags & UInt32(KVM_MEM_GUEST_MEMFD) != 0 {
                    switch FileTable.shared.lookup(Int32(bitPattern: region.guest_memfd)) {
                    case .guestMemfd(let memfdFile)?: memfd = .success(memfdFile.memfd)
                    case nil: memfd = s390pv_fd_is_open(Int32(bitPattern: region.guest_memfd)) == 0 ? .failure(.EBADF) : .failure(.EINVAL)
                    default: memfd = .failure(.EINVAL)
                    }
                } else {
                    memfd = nil
                }
                try vm.setMemoryRegion(slot: region.slot, flags: region.flags, guestAddress: region.guest_phys_addr,
                                       size: region.memory_size, userspaceAddress: region.userspace_addr,
                                       memfd: memfd, memfdOffset: region.guest_memfd_offset)
                return 0
            }
        case S390PV_KVM_S390_MEM_OP:
            return attempt { () throws(Errno) in try absoluteMemoryOperation(vm, try UserMemory.read(kvm_s390_mem_op.self, from: argument)) }
        case S390PV_KVM_SET_DEVICE_ATTR, S390PV_KVM_GET_DEVICE_ATTR, S390PV_KVM_HAS_DEVICE_ATTR:
            return attempt { () throws(Errno) in
                let attribute = try UserMemory.read(kvm_device_attr.self, from: argument)
                try todAttribute(vm, attribute, request: request)
                return 0
            }
        case S390PV_KVM_S390_INTERRUPT:
            return attempt { () throws(Errno) in
                let interrupt = try UserMemory.read(kvm_s390_interrupt.self, from: argument)
                // Floating interruptions: the service signal is what this machine has (no I/O,
                // virtio or machine-check sources are modelled; those types are refused).
                guard interrupt.type == KVM_S390_INT_SERVICE else { throw .EINVAL }
                vm.injectServiceSignal(parameter: interrupt.parm)
                return 0
            }
        case S390PV_KVM_S390_PV_COMMAND:
            return protectedVirtualizationCommand(vm, argument)
        case S390PV_KVM_SET_MEMORY_ATTRIBUTES:
            return .failure(.ENOTTY)   // KVM_CAP_MEMORY_ATTRIBUTES is 0 (spec D1)
        case S390PV_KVM_CHECK_EXTENSION:
            return .success(checkExtension(argument))
        case S390PV_KVM_ENABLE_CAP:
            return attempt { () throws(Errno) in
                // kvm_vm_ioctl_enable_cap: flags must be 0; unknown capabilities are EINVAL.
                let capability = try UserMemory.read(kvm_enable_cap.self, from: argument)
                guard capability.flags == 0, capability.cap == UInt32(KVM_CAP_S390_USER_STSI) else { throw .EINVAL }
                vm.enableUserSTSI()
                return 0
            }
        default:
            return .failure(.ENOTTY)
        }
    }

    /// KVM_S390_PV_COMMAND (spec kvm-pv-ioctl.md §1.5), in Linux's order: user CPU-state control
    /// first (even when everything then fails), PV host, copy-in, flags, the command; then the
    /// whole struct is copied back whatever the command returned, rc/rrc updated if it wrote them.
    static func protectedVirtualizationCommand(_ vm: VirtualMachine, _ argument: UInt) -> Result<Int, Errno> {
        vm.enableUserCPUStateControl()
        guard HostFirmware.isProtectedVirtualizationHost else { return .failure(.EINVAL) }
        var command: kvm_pv_cmd
        do { command = try UserMemory.read(kvm_pv_cmd.self, from: argument) } catch { return .failure(error) }
        guard command.flags == 0 else { return .failure(.EINVAL) }
        let result = vm.protectedVirtualizationCommand(command.cmd, data: command.data, user: CallerMemory())
        if let response = result.response {
            command.rc = response.rc
            command.rrc = response.rrc
        }
        do { try UserMemory.write(command, to: argument) } catch { return .failure(error) }
        return result.error.map { .failure($0) } ?? .success(0)
    }

    /// KVM_S390_MEM_OP on a VM (kvm_s390_vm_mem_op, kvm_s390_vm_mem_op_abs), checks in order.
    /// A positive result is the program-interruption code the access would raise.
    static func absoluteMemoryOperation(_ vm: VirtualMachine, _ operation: kvm_s390_mem_op) throws(Errno) -> Int {
        guard operation.op == KVM_S390_MEMOP_ABSOLUTE_READ || operation.op == KVM_S390_MEMOP_ABSOLUTE_WRITE else { throw .EINVAL }
        try validateMemoryOperation(operation, supportedFlags: UInt64(KVM_S390_MEMOP_F_SKEY_PROTECTION | KVM_S390_MEMOP_F_CHECK_ONLY))
        let count = Int(operation.size)
        let readOnly = operation.op == KVM_S390_MEMOP_ABSOLUTE_READ
        guard vm.isMapped(operation.gaddr, count) else {
            return Int(ProgramInterruptionCode.addressing.rawValue)
        }
        if operation.flags & UInt64(KVM_S390_MEMOP_F_CHECK_ONLY) != 0 { return 0 }
        return try memoryOperationResult {
            if readOnly {
                try UserMemory.writeBytes(try vm.readAbsolute(operation.gaddr, count: count), to: UInt(operation.buf))
            } else {
                try vm.writeAbsolute(operation.gaddr, try UserMemory.readBytes(from: UInt(operation.buf), count: count))
            }
        }
    }

    /// The result of a MEM_OP's access: 0, or the program-interruption code the access raised (a
    /// positive ioctl result, after `onProgram`); an errno from the model or a user copy is thrown.
    static func memoryOperationResult(_ access: () throws -> Void,
                                      onProgram: (ProgramInterruptionCode) -> Void = { _ in }) throws(Errno) -> Int {
        do {
            try access()
        } catch let error as Errno {
            throw error
        } catch MemoryOperationError.programException(let code) {
            onProgram(code)
            return Int(code.rawValue)
        } catch MemoryOperationError.errno(let error) {
            throw error
        } catch {
            throw .EFAULT
        }
        return 0
    }

    /// mem_op_validate_common: flags, size, storage key.
    static func validateMemoryOperation(_ operation: kvm_s390_mem_op, supportedFlags: UInt64) throws(Errno) {
        guard operation.flags & ~supportedFlags == 0, operation.size != 0 else { throw .EINVAL }
        guard operation.size <= 65536 else { throw .E2BIG }
        if operation.flags & UInt64(KVM_S390_MEMOP_F_SKEY_PROTECTION) != 0 && operation.key > 0xF { throw .EINVAL }
    }

    /// The TOD group of the VM device attributes (kvm_s390_set_tod / kvm_s390_get_tod), plus
    /// s390pv's clock-namespace offset attribute. Setting the TOD sets the VM's clock-namespace
    /// offset (Linux sets kvm->arch.epoch = tod - host TOD): ERANGE outside epoch 0, EACCES once a
    /// vCPU has run. For a protected VM the TOD belongs to the Ultravisor and every setter answers
    /// EOPNOTSUPP, checked after the flags and before the attribute, as kvm_s390_set_tod does.
    static func todAttribute(_ vm: VirtualMachine, _ attribute: kvm_device_attr, request: UInt) throws(Errno) {
        guard attribute.group == KVM_S390_VM_TOD else { throw Errno(6) }   // ENXIO
        if request != S390PV_KVM_HAS_DEVICE_ATTR && attribute.flags != 0 { throw .EINVAL }   // kvm_s390_set/get_tod
        if request == S390PV_KVM_SET_DEVICE_ATTR && vm.isProtected { throw .EOPNOTSUPP }
        let known = [UInt64(KVM_S390_VM_TOD_LOW), UInt64(KVM_S390_VM_TOD_HIGH), UInt64(KVM_S390_VM_TOD_EXT), S390PV_KVM_S390_VM_TOD_OFFSET]
        guard known.contains(attribute.attr) else { throw Errno(6) }
        let address = UInt(attribute.addr)
        if attribute.attr == S390PV_KVM_S390_VM_TOD_OFFSET {
            switch request {
            case S390PV_KVM_HAS_DEVICE_ATTR: return
            case S390PV_KVM_GET_DEVICE_ATTR:
                // An offset beyond the s64 (about 71 years; set through TOD_EXT) is ERANGE here.
                guard let offset = Int64(exactly: vm.clockNamespace.offset) else { throw .ERANGE }
                try UserMemory.write(offset, to: address)
            default: try vm.setClockOffset(try UserMemory.read(Int64.self, from: address))
            }
            return
        }
        switch (request, Int32(attribute.attr)) {
        case (S390PV_KVM_HAS_DEVICE_ATTR, _):
            return
        case (S390PV_KVM_GET_DEVICE_ATTR, KVM_S390_VM_TOD_LOW):
            try UserMemory.write(vm.clock.read(), to: address)
        case (S390PV_KVM_GET_DEVICE_ATTR, KVM_S390_VM_TOD_HIGH):
            try UserMemory.write(UInt8(0), to: address)           // no multiple-epoch facility
        case (S390PV_KVM_GET_DEVICE_ATTR, _):
            var clock = kvm_s390_vm_tod_clock()
            clock.tod = vm.clock.read()
            try UserMemory.write(clock, to: address)
        case (_, KVM_S390_VM_TOD_LOW):
            try vm.setGuestTOD(try UserMemory.read(UInt64.self, from: address))
        case (_, KVM_S390_VM_TOD_HIGH):
            guard try UserMemory.read(UInt8.self, from: address) == 0 else { throw .EINVAL }
        default:
            let clock = try UserMemory.read(kvm_s390_vm_tod_clock.self, from: address)
            guard clock.epoch_idx == 0 else { throw .EINVAL }
            try vm.setGuestTOD(clock.tod)
        }
    }
}

/// The ioctl caller's memory for the kernel model's copy_from_user/copy_to_user.
struct CallerMemory: UserCopy {
    func read(_ address: UInt64, count: Int) throws(Errno) -> [UInt8] { try UserMemory.readBytes(from: UInt(address), count: count) }
    func write(_ bytes: [UInt8], to address: UInt64) throws(Errno) { try UserMemory.writeBytes(bytes, to: UInt(address)) }
}
