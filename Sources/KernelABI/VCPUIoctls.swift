// vCPU descriptor ioctls (kvm_vcpu_ioctl, kvm_arch_vcpu_async_ioctl, kvm_arch_vcpu_ioctl).
import CKVM
import Foundation
import KernelModel
import S390CPU

/// s390pv's one private vCPU ioctl: make a KVM_RUN in progress on another thread return EINTR.
/// It stands for "send the vCPU thread a signal", which an in-process kernel model cannot see.
public let S390PV_KVM_KICK_VCPU: UInt = 0xAEFE    // _IO(KVMIO, 0xfe): unused by Linux
/// s390pv's other private vCPU ioctl: the guest instructions this vCPU executed (a u64 out),
/// for benchmarks; real KVM has no such counter.
public let S390PV_KVM_GET_INSTRUCTION_COUNT: UInt = 0x8008_AEFD   // _IOR(KVMIO, 0xfd, __u64)

extension KVMDevice {
    static func vcpuIoctl(_ file: VCPUFile, _ request: UInt, _ argument: UInt) -> Result<Int, Errno> {
        // kvm_vcpu_ioctl: only KVM ioctls (type 0xAE) reach a vCPU.
        guard (request >> 8) & 0xFF == 0xAE else { return .failure(.EINVAL) }
        let vcpu = file.vcpu
        // Asynchronous ioctls do not wait for a running KVM_RUN.
        switch request {
        case S390PV_KVM_S390_IRQ:
            return attempt { () throws(Errno) in
                try injectIRQ(file, try UserMemory.read(kvm_s390_irq.self, from: argument))
                return 0
            }
        case S390PV_KVM_S390_INTERRUPT:
            return attempt { () throws(Errno) in
                let interrupt = try UserMemory.read(kvm_s390_interrupt.self, from: argument)
                // s390int_to_s390irq: these types carry a 16-bit code.
                if [KVM_S390_PROGRAM_INT, KVM_S390_INT_EMERGENCY, KVM_S390_INT_EXTERNAL_CALL].contains(interrupt.type),
                   interrupt.parm & 0xFFFF_0000 != 0 {
                    throw .EINVAL
                }
                var irq = kvm_s390_irq()
                irq.type = UInt64(interrupt.type)
                switch interrupt.type {
                case KVM_S390_PROGRAM_INT: irq.u.pgm.code = UInt16(truncatingIfNeeded: interrupt.parm)
                case KVM_S390_INT_EMERGENCY: irq.u.emerg.code = UInt16(truncatingIfNeeded: interrupt.parm)
                case KVM_S390_INT_EXTERNAL_CALL: irq.u.extcall.code = UInt16(truncatingIfNeeded: interrupt.parm)
                default: break
                }
                try injectIRQ(file, irq)
                return 0
            }
        case S390PV_KVM_KICK_VCPU:
            vcpu.kick()
            return .success(0)
        case S390PV_KVM_GET_INSTRUCTION_COUNT:
            return attempt { () throws(Errno) in try UserMemory.write(vcpu.instructionCount, to: argument); return 0 }
        default:
            break
        }
        file.mutex.lock()
        defer { file.mutex.unlock() }
        switch request {
        case S390PV_KVM_RUN:
            guard argument == 0 else { return .failure(.EINVAL) }
            return run(file)
        case S390PV_KVM_GET_REGS:
            var registers = kvm_regs()
            setElements(&registers.gprs, vcpu.gprs)
            return attempt { () throws(Errno) in try UserMemory.write(registers, to: argument); return 0 }
        case S390PV_KVM_SET_REGS:
            return attempt { () throws(Errno) in
                let registers = try UserMemory.read(kvm_regs.self, from: argument)
                vcpu.gprs = elements(of: registers.gprs, as: UInt64.self, count: 16)
                s390pv_sync_gprs(file.run).update(from: vcpu.registerFiles.general, count: 16)
                return 0
            }
        case S390PV_KVM_GET_SREGS:
            var registers = kvm_sregs()
            setElements(&registers.acrs, vcpu.accessRegisters)
            setElements(&registers.crs, vcpu.controlRegisters)
            return attempt { () throws(Errno) in try UserMemory.write(registers, to: argument); return 0 }
        case S390PV_KVM_SET_SREGS:
            return attempt { () throws(Errno) in
                let registers = try UserMemory.read(kvm_sregs.self, from: argument)
                vcpu.accessRegisters = elements(of: registers.acrs, as: UInt32.self, count: 16)
                vcpu.controlRegisters = elements(of: registers.crs, as: UInt64.self, count: 16)
                return 0
            }
        case S390PV_KVM_GET_FPU:
            var fpu = kvm_fpu()
            fpu.fpc = vcpu.floatingPointControl
            setElements(&fpu.fprs, vcpu.floatingPointRegisters)
            return attempt { () throws(Errno) in try UserMemory.write(fpu, to: argument); return 0 }
        case S390PV_KVM_SET_FPU:
            return attempt { () throws(Errno) in
                let fpu = try UserMemory.read(kvm_fpu.self, from: argument)
                // test_fp_ctl: reserved FPC bits set is EINVAL.
                guard fpu.fpc & 0x0303_0088 == 0 else { throw .EINVAL }
                vcpu.floatingPointControl = fpu.fpc
                vcpu.floatingPointRegisters = elements(of: fpu.fprs, as: UInt64.self, count: 16)
                return 0
            }
        case S390PV_KVM_GET_MP_STATE:
            // s390's kvm_arch_vcpu_ioctl_get_mpstate returns the state itself, which kvm_vcpu_ioctl
            // passes back as the result without copying the struct: a Linux quirk kept as is.
            return .success(Int(vcpu.mpState == .stopped ? MPState.stopped.rawValue : MPState.operating.rawValue))
        case S390PV_KVM_SET_MP_STATE:
            return attempt { () throws(Errno) in
                let state = try UserMemory.read(kvm_mp_state.self, from: argument)
                // Userspace now owns run states (kvm_s390_set_user_cpu_state_ctrl).
                file.vmFile.vm.enableUserCPUStateControl()
                // ENXIO for values beyond the known states, as for CHECK_STOP.
                guard let target = MPState(rawValue: state.mp_state) else { throw Errno(6) }
                try vcpu.setMPState(target)
                return 0
            }
        case S390PV_KVM_S390_SET_INITIAL_PSW:
            return attempt { () throws(Errno) in
                let psw = try UserMemory.read(kvm_s390_psw.self, from: argument)
                try vcpu.setInitialPSW(CPU.PSW(mask: psw.mask, address: psw.addr))
                file.run.pointee.psw_mask = psw.mask
                file.run.pointee.psw_addr = psw.addr
                return 0
            }
        case S390PV_KVM_S390_INITIAL_RESET:
            return attempt { () throws(Errno) in
                defer { file.storeSyncRegisters() }
                try vcpu.initialReset()
                return 0
            }
        case S390PV_KVM_S390_NORMAL_RESET:
            return attempt { () throws(Errno) in try vcpu.normalReset(); return 0 }
        case S390PV_KVM_S390_CLEAR_RESET:
            return attempt { () throws(Errno) in
                defer { file.storeSyncRegisters() }
                try vcpu.clearReset()
                return 0
            }
        case S390PV_KVM_S390_STORE_STATUS:
            // The argument is the address, or KVM_S390_STORE_STATUS_NOADDR / _PREFIXED.
            return attempt { () throws(Errno) in
                try vcpu.storeStatus(atAbsolute: argument >= UInt.max - 1 ? nil : UInt64(argument))
                return 0
            }
        case S390PV_KVM_S390_MEM_OP:
            return attempt { () throws(Errno) in try logicalMemoryOperation(vcpu, try UserMemory.read(kvm_s390_mem_op.self, from: argument)) }
        case S390PV_KVM_SET_GUEST_DEBUG:
            return attempt { () throws(Errno) in
                let debug = try UserMemory.read(kvm_guest_debug.self, from: argument)
                let enabled = debug.control & UInt32(KVM_GUESTDBG_ENABLE) != 0
                vcpu.singleStep = enabled && debug.control & UInt32(KVM_GUESTDBG_SINGLESTEP) != 0
                return 0
            }
        case S390PV_KVM_S390_PV_CPU_COMMAND:
            return protectedCPUCommand(file, argument)
        case S390PV_KVM_ENABLE_CAP:
            return attempt { () throws(Errno) in
                _ = try UserMemory.read(kvm_enable_cap.self, from: argument)
                throw .EINVAL
            }
        default:
            return .failure(.ENOTTY)
        }
    }

    /// KVM_RUN (kvm_arch_vcpu_ioctl_run).
    static func run(_ file: VCPUFile) -> Result<Int, Errno> {
        let run = file.run
        let vcpu = file.vcpu
        let vm = file.vmFile.vm
        // s390 returns EINTR for immediate_exit without touching exit_reason.
        if run.pointee.immediate_exit != 0 { return .failure(.EINTR) }
        let valid = UInt64(KVM_SYNC_PREFIX | KVM_SYNC_GPRS | KVM_SYNC_ACRS | KVM_SYNC_CRS | KVM_SYNC_ARCH0 | KVM_SYNC_PFAULT
                           | KVM_SYNC_VRS | KVM_SYNC_RICCB | KVM_SYNC_FPRS | KVM_SYNC_GSCB | KVM_SYNC_BPBC
                           | KVM_SYNC_ETOKEN | KVM_SYNC_DIAG318)
        guard run.pointee.kvm_valid_regs & ~valid == 0, run.pointee.kvm_dirty_regs & ~valid == 0 else { return .failure(.EINVAL) }
        if !vm.userCPUStateControl {
            if vcpu.mpState == .stopped { try? vcpu.setMPState(.operating) }
        } else if vcpu.mpState == .stopped {
            return .failure(.EINVAL)   // "can't run stopped vcpu"
        }
        file.loadSyncRegisters()
        let exit = vcpu.run()
        file.storeSyncRegisters()
        switch exit {
        case .sieIntercept(let icptcode, let ipa, let ipb):
            run.pointee.exit_reason = UInt32(KVM_EXIT_S390_SIEIC)
            run.pointee.s390_sieic.icptcode = icptcode
            run.pointee.s390_sieic.ipa = ipa
            run.pointee.s390_sieic.ipb = ipb
        case .debug:
            run.pointee.exit_reason = UInt32(KVM_EXIT_DEBUG)
            run.pointee.debug.arch.addr = vcpu.psw.address
            run.pointee.debug.arch.type = 0
        case .systemInformation(let address):
            run.pointee.exit_reason = UInt32(KVM_EXIT_S390_STSI)
            run.pointee.s390_stsi.addr = address
            run.pointee.s390_stsi.ar = 0
            run.pointee.s390_stsi.fc = 3
            run.pointee.s390_stsi.sel1 = 2
            run.pointee.s390_stsi.sel2 = 2
        case .interrupted:
            run.pointee.exit_reason = UInt32(KVM_EXIT_INTR)
            return .failure(.EINTR)
        case .validity:
            return .failure(.EINVAL)
        case .internalError:
            run.pointee.exit_reason = UInt32(KVM_EXIT_INTERNAL_ERROR)
            run.pointee.internal.suberror = 1   // KVM_INTERNAL_ERROR_EMULATION
            run.pointee.internal.ndata = 0
        case .memoryFault(let address, let size):
            // kvm_prepare_memory_fault_exit, then KVM_RUN fails with the gmem fault's -EHWPOISON.
            run.pointee.exit_reason = UInt32(KVM_EXIT_MEMORY_FAULT)
            run.pointee.memory_fault.flags = KVM_MEMORY_EXIT_FLAG_PRIVATE
            run.pointee.memory_fault.gpa = address
            run.pointee.memory_fault.size = size
            return .failure(.EHWPOISON)
        }
        return .success(0)
    }

    /// kvm_s390_inject_vcpu: the local interruption types.
    static func injectIRQ(_ file: VCPUFile, _ irq: kvm_s390_irq) throws(Errno) {
        let vcpu = file.vcpu
        switch UInt32(truncatingIfNeeded: irq.type) {
        case KVM_S390_PROGRAM_INT:
            // The ILC comes from the flags when marked valid, else from the intercepted instruction.
            let flags = irq.u.pgm.flags
            let ilc = flags & UInt8(KVM_S390_PGM_FLAGS_ILC_VALID) != 0 ? Int((flags >> 1) & 3) * 2 : 4
            vcpu.injectProgramInterruption(ProgramInterruptionCode(rawValue: irq.u.pgm.code), ilc: ilc)
        case KVM_S390_SIGP_STOP:
            vcpu.injectStop(storeStatus: irq.u.stop.flags & UInt32(KVM_S390_STOP_FLAG_STORE_STATUS) != 0)
        case KVM_S390_RESTART:
            vcpu.injectRestart()
        case KVM_S390_INT_EMERGENCY:
            // __inject_sigp_emergency / __inject_extcall: the source must be a vCPU of this VM.
            guard file.vmFile.vm.hasVCPU(id: irq.u.emerg.code) else { throw .EINVAL }
            vcpu.injectEmergencySignal(from: irq.u.emerg.code)
        case KVM_S390_INT_EXTERNAL_CALL:
            guard file.vmFile.vm.hasVCPU(id: irq.u.extcall.code) else { throw .EINVAL }
            try vcpu.injectExternalCall(from: irq.u.extcall.code)
        default:
            throw .EINVAL
        }
    }

    /// KVM_S390_MEM_OP on a vCPU: logical reads and writes (kvm_s390_vcpu_mem_op), and the SIDA
    /// of a protected vCPU (kvm_s390_vcpu_sida_op).
    static func logicalMemoryOperation(_ vcpu: VirtualCPU, _ operation: kvm_s390_mem_op) throws(Errno) -> Int {
        if operation.op == KVM_S390_MEMOP_SIDA_READ || operation.op == KVM_S390_MEMOP_SIDA_WRITE {
            return try sidaOperation(vcpu, operation)
        }
        guard operation.op == KVM_S390_MEMOP_LOGICAL_READ || operation.op == KVM_S390_MEMOP_LOGICAL_WRITE else { throw .EINVAL }
        try validateMemoryOperation(operation, supportedFlags: UInt64(KVM_S390_MEMOP_F_INJECT_EXCEPTION
                                                                         | KVM_S390_MEMOP_F_CHECK_ONLY | KVM_S390_MEMOP_F_SKEY_PROTECTION))
        guard operation.ar < 16 else { throw .EINVAL }
        let count = Int(operation.size)
        let inject = operation.flags & UInt64(KVM_S390_MEMOP_F_INJECT_EXCEPTION) != 0
        return try memoryOperationResult({
            if operation.op == KVM_S390_MEMOP_LOGICAL_READ {
                let bytes = try vcpu.readLogical(operation.gaddr, count: count)
                if operation.flags & UInt64(KVM_S390_MEMOP_F_CHECK_ONLY) == 0 { try UserMemory.writeBytes(bytes, to: UInt(operation.buf)) }
            } else if operation.flags & UInt64(KVM_S390_MEMOP_F_CHECK_ONLY) != 0 {
                _ = try vcpu.readLogical(operation.gaddr, count: count)
            } else {
                try vcpu.writeLogical(operation.gaddr, try UserMemory.readBytes(from: UInt(operation.buf), count: count))
            }
        }, onProgram: { code in
            if inject { vcpu.injectProgramInterruption(code, ilc: 0) }
        })
    }
}

extension KVMDevice {
    /// kvm_s390_vcpu_sida_op, in its order: flags 0 and size non-zero (EINVAL), offset + size
    /// not wrapping in 32 bits (EINVAL), inside the one-page SIDA (E2BIG), then a protected vCPU
    /// (EINVAL).
    static func sidaOperation(_ vcpu: VirtualCPU, _ operation: kvm_s390_mem_op) throws(Errno) -> Int {
        guard operation.flags == 0, operation.size != 0 else { throw .EINVAL }
        let offset = operation.sida_offset
        let (end, wrapped) = operation.size.addingReportingOverflow(offset)
        guard !wrapped else { throw .EINVAL }
        guard end <= UInt32(VirtualCPU.sidaSize) else { throw .E2BIG }
        if operation.op == KVM_S390_MEMOP_SIDA_READ {
            try UserMemory.writeBytes(try vcpu.readSIDA(offset: offset, count: Int(operation.size)), to: UInt(operation.buf))
        } else {
            let bytes = try UserMemory.readBytes(from: UInt(operation.buf), count: Int(operation.size))
            try vcpu.writeSIDA(offset: offset, bytes)
        }
        return 0
    }

    /// KVM_S390_PV_CPU_COMMAND (spec kvm-pv-ioctl.md §1.5, §2.10): only KVM_PV_DUMP exists
    /// (any other cmd is EINVAL, not ENOTTY), and its handler needs a dump in progress, which
    /// this host (no dump UVCs) never has: EINVAL. After the handler, Linux writes {rc, rrc} to
    /// offset 0 of the struct, over `cmd` (a quirk kept bit for bit); a failing write is EFAULT.
    static func protectedCPUCommand(_ file: VCPUFile, _ argument: UInt) -> Result<Int, Errno> {
        guard HostFirmware.isProtectedVirtualizationHost else { return .failure(.EINVAL) }
        return attempt { () throws(Errno) in
            let command = try UserMemory.read(kvm_pv_cmd.self, from: argument)
            guard command.flags == 0, command.cmd == UInt32(KVM_PV_DUMP.rawValue) else { throw .EINVAL }
            try UserMemory.write((command.rc, command.rrc), to: argument)
            throw .EINVAL
        }
    }
}
