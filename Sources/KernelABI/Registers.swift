// Moving registers between the model and the uapi structs (C arrays arrive in Swift as tuples).
import CKVM
import KernelModel

/// The elements of a C array member as a Swift array.
func elements<Tuple, Element>(of tuple: Tuple, as _: Element.Type, count: Int) -> [Element] {
    withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: Element.self).prefix(count)) }
}

/// Replaces the elements of a C array member.
func setElements<Tuple, Element>(_ tuple: inout Tuple, _ values: [Element]) {
    withUnsafeMutableBytes(of: &tuple) { bytes in
        let target = bytes.bindMemory(to: Element.self)
        for (index, value) in values.enumerated() where index < target.count { target[index] = value }
    }
}

extension VCPUFile {
    /// Copies the registers userspace marked dirty in kvm_run into the vCPU, and the PSW, which
    /// s390 KVM always takes from kvm_run on entry (QEMU sets the CC there).
    func loadSyncRegisters() {
        var run = self.run.pointee
        let dirty = run.kvm_dirty_regs
        vcpu.psw = .init(mask: run.psw_mask, address: run.psw_addr)
        if dirty & UInt64(KVM_SYNC_PREFIX) != 0 { vcpu.setPrefix(run.s.regs.prefix) }
        // s390 KVM's general registers live in the run page: always in.
        vcpu.gprs = elements(of: run.s.regs.gprs, as: UInt64.self, count: 16)
        if dirty & UInt64(KVM_SYNC_ACRS) != 0 { vcpu.accessRegisters = elements(of: run.s.regs.acrs, as: UInt32.self, count: 16) }
        if dirty & UInt64(KVM_SYNC_CRS) != 0 { vcpu.controlRegisters = elements(of: run.s.regs.crs, as: UInt64.self, count: 16) }
        if dirty & UInt64(KVM_SYNC_ARCH0) != 0 {
            vcpu.todProgrammableRegister = UInt32(truncatingIfNeeded: run.s.regs.todpr)
            vcpu.cpuTimer = run.s.regs.cputm
            vcpu.clockComparator = run.s.regs.ckc
            vcpu.breakingEventAddress = run.s.regs.gbea
        }
        if dirty & UInt64(KVM_SYNC_FPRS) != 0 {
            vcpu.floatingPointRegisters = elements(of: run.s.regs.fprs, as: UInt64.self, count: 16)
            vcpu.floatingPointControl = run.s.regs.fpc
        }
        run.kvm_dirty_regs = 0
        self.run.pointee.kvm_dirty_regs = 0
    }

    /// Copies the vCPU's state into kvm_run after an exit (s390 KVM's store_regs).
    func storeSyncRegisters() {
        let psw = vcpu.psw
        run.pointee.psw_mask = psw.mask
        run.pointee.psw_addr = psw.address
        run.pointee.s.regs.prefix = vcpu.prefix
        setElements(&run.pointee.s.regs.gprs, vcpu.gprs)
        setElements(&run.pointee.s.regs.acrs, vcpu.accessRegisters)
        setElements(&run.pointee.s.regs.crs, vcpu.controlRegisters)
        run.pointee.s.regs.todpr = UInt64(vcpu.todProgrammableRegister)
        run.pointee.s.regs.cputm = vcpu.cpuTimer
        run.pointee.s.regs.ckc = vcpu.clockComparator
        run.pointee.s.regs.gbea = vcpu.breakingEventAddress
        setElements(&run.pointee.s.regs.fprs, vcpu.floatingPointRegisters)
        run.pointee.s.regs.fpc = vcpu.floatingPointControl
    }
}
