import CKVM
import Glibc
import KernelABI

/// Why KVM_RUN returned.
public enum VCPUExit: Equatable, Sendable {
    /// KVM_EXIT_S390_SIEIC: icptcode 4 (instruction: IPA/IPB), 0x1C (disabled wait), 0x28 (stop).
    case sieIntercept(icptcode: UInt8, ipa: UInt16, ipb: UInt32)
    /// KVM_EXIT_DEBUG after a single step.
    case debug
    /// KVM_EXIT_S390_STSI: SYSIB 3.2.2 stored at logical `address`, for the VMM to amend.
    case systemInformation(address: UInt64)
    /// EINTR: kicked (or immediate_exit).
    case interrupted
    /// KVM_EXIT_INTERNAL_ERROR.
    case internalError(suberror: UInt32)
    /// EHWPOISON with KVM_EXIT_MEMORY_FAULT: the guest page at `guestAddress` suffered a memory failure.
    case memoryFault(guestAddress: UInt64, size: UInt64)
    case other(reason: UInt32)
}

/// A vCPU descriptor with its mapped kvm_run page.
public final class VCPUFd: @unchecked Sendable {
    let fd: Int32
    public let id: Int
    /// The descriptor number (rust-vmm's AsRawFd), for tools that issue raw ioctls on it.
    public var descriptor: Int32 { fd }
    let runPage: UnsafeMutablePointer<kvm_run>
    let runPageSize: Int

    init(fd: Int32, id: Int, runPageSize: Int) throws(KVMError) {
        self.fd = fd
        self.id = id
        self.runPageSize = runPageSize
        guard let page = s390pv_kvm_mmap(nil, runPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              page != UnsafeMutableRawPointer(bitPattern: -1) else {
            let error = errno
            _ = KVMDevice.close(fd)
            throw KVMError(errno: error)
        }
        runPage = page.bindMemory(to: kvm_run.self, capacity: 1)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(runPage), runPageSize)
        _ = KVMDevice.close(fd)
    }

    /// KVM_RUN.
    public func run() throws(KVMError) -> VCPUExit {
        do throws(KVMError) {
            try kvmIoctl(fd, S390PV_KVM_RUN)
        } catch {
            if error.errno == EINTR { return .interrupted }
            if error.errno == EHWPOISON, Int32(runPage.pointee.exit_reason) == KVM_EXIT_MEMORY_FAULT {
                return .memoryFault(guestAddress: runPage.pointee.memory_fault.gpa, size: runPage.pointee.memory_fault.size)
            }
            throw error
        }
        switch Int32(runPage.pointee.exit_reason) {
        case KVM_EXIT_S390_SIEIC:
            let sieic = runPage.pointee.s390_sieic
            return .sieIntercept(icptcode: sieic.icptcode, ipa: sieic.ipa, ipb: sieic.ipb)
        case KVM_EXIT_DEBUG: return .debug
        case KVM_EXIT_S390_STSI: return .systemInformation(address: runPage.pointee.s390_stsi.addr)
        case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: runPage.pointee.internal.suberror)
        default: return .other(reason: runPage.pointee.exit_reason)
        }
    }

    /// The s390pv stand-in for signalling the vCPU thread: a KVM_RUN in progress returns EINTR.
    public func kick() { _ = try? kvmIoctl(fd, S390PV_KVM_KICK_VCPU) }

    /// Guest instructions executed so far (s390pv's private counter ioctl).
    public var instructionCount: UInt64 {
        var count: UInt64 = 0
        _ = try? kvmIoctl(fd, S390PV_KVM_GET_INSTRUCTION_COUNT, &count)
        return count
    }

    // MARK: State in kvm_run (the PSW and the synchronized registers)

    public var psw: PSW {
        get { PSW(mask: runPage.pointee.psw_mask, address: runPage.pointee.psw_addr) }
        set { runPage.pointee.psw_mask = newValue.mask; runPage.pointee.psw_addr = newValue.address }
    }

    /// The condition code in kvm_run's PSW (QEMU's setcc).
    public var conditionCode: UInt8 {
        get { UInt8(truncatingIfNeeded: (runPage.pointee.psw_mask >> 44) & 3) }
        set { runPage.pointee.psw_mask = (runPage.pointee.psw_mask & ~(3 << 44)) | UInt64(newValue & 3) << 44 }
    }

    /// General register `index` (s390 keeps them in kvm_run's sync registers).
    public func gpr(_ index: Int) -> UInt64 { s390pv_sync_gprs(runPage)[index] }

    public func setGPR(_ index: Int, _ value: UInt64) { s390pv_sync_gprs(runPage)[index] = value }

    public var prefix: UInt64 { s390pv_sync_regs(runPage).pointee.prefix }

    // MARK: vCPU ioctls

    public func setInitialPSW(_ psw: PSW) throws(KVMError) {
        var value = kvm_s390_psw(mask: psw.mask, addr: psw.address)
        try kvmIoctl(fd, S390PV_KVM_S390_SET_INITIAL_PSW, &value)
    }

    public func initialReset() throws(KVMError) { try kvmIoctl(fd, S390PV_KVM_S390_INITIAL_RESET) }
    public func normalReset() throws(KVMError) { try kvmIoctl(fd, S390PV_KVM_S390_NORMAL_RESET) }
    public func clearReset() throws(KVMError) { try kvmIoctl(fd, S390PV_KVM_S390_CLEAR_RESET) }

    /// KVM_SET_MP_STATE; userspace then controls the run states of all vCPUs.
    public func setMPState(operating: Bool) throws(KVMError) {
        var state = kvm_mp_state(mp_state: UInt32(operating ? KVM_MP_STATE_OPERATING : KVM_MP_STATE_STOPPED))
        try kvmIoctl(fd, S390PV_KVM_SET_MP_STATE, &state)
    }

    /// KVM_S390_IRQ with a program interruption for the intercepted instruction of `ilc` bytes.
    public func injectProgramInterruption(code: UInt16, ilc: Int) throws(KVMError) {
        var irq = kvm_s390_irq()
        irq.type = UInt64(KVM_S390_PROGRAM_INT)
        irq.u.pgm.code = code
        irq.u.pgm.flags = UInt8(KVM_S390_PGM_FLAGS_ILC_VALID) | UInt8(ilc / 2) << 1
        try kvmIoctl(fd, S390PV_KVM_S390_IRQ, &irq)
    }

    /// KVM_S390_IRQ with KVM_S390_RESTART.
    public func injectRestart() throws(KVMError) {
        var irq = kvm_s390_irq()
        irq.type = UInt64(KVM_S390_RESTART)
        try kvmIoctl(fd, S390PV_KVM_S390_IRQ, &irq)
    }

    /// KVM_S390_IRQ with KVM_S390_SIGP_STOP: KVM_RUN ends with the stop intercept.
    public func injectStop() throws(KVMError) {
        var irq = kvm_s390_irq()
        irq.type = UInt64(KVM_S390_SIGP_STOP)
        try kvmIoctl(fd, S390PV_KVM_S390_IRQ, &irq)
    }

    /// KVM_SET_GUEST_DEBUG single-stepping.
    public func setSingleStep(_ enabled: Bool) throws(KVMError) {
        var debug = kvm_guest_debug()
        debug.control = enabled ? UInt32(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP) : 0
        try kvmIoctl(fd, S390PV_KVM_SET_GUEST_DEBUG, &debug)
    }

    /// KVM_S390_MEM_OP logical write through this vCPU's translation.
    public func writeLogical(_ address: UInt64, _ bytes: [UInt8]) throws(MemoryAccessFailure) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: bytes, byteCount: bytes.count)
        try memoryOperation(fd, KVM_S390_MEMOP_LOGICAL_WRITE, address, buffer, bytes.count)
    }

    /// KVM_S390_MEM_OP logical read through this vCPU's translation.
    public func readLogical(_ address: UInt64, count: Int) throws(MemoryAccessFailure) -> [UInt8] {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 8)
        defer { buffer.deallocate() }
        try memoryOperation(fd, KVM_S390_MEMOP_LOGICAL_READ, address, buffer, count)
        return [UInt8](UnsafeRawBufferPointer(start: buffer, count: count))
    }
}
