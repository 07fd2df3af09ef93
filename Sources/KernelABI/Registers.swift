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
    /// s390 KVM always takes from kvm_run on entry (QEMU sets the CC there). Registers move as
    /// raw copies through s390pv_kvm_access.h: no field store goes through an imported C union.
    func loadSyncRegisters() {
        let dirty = run.pointee.kvm_dirty_regs
        let regs = s390pv_sync_regs(run)!, files = vcpu.registerFiles
        vcpu.psw = .init(mask: run.pointee.psw_mask, address: run.pointee.psw_addr)
        if dirty & UInt64(KVM_SYNC_PREFIX) != 0 { vcpu.setPrefix(regs.pointee.prefix) }
        // s390 KVM's general registers live in the run page: always in.
        files.general.update(from: s390pv_sync_gprs(run), count: 16)
        if dirty & UInt64(KVM_SYNC_ACRS) != 0 { files.access.update(from: s390pv_sync_acrs(run), count: 16) }
        if dirty & UInt64(KVM_SYNC_CRS) != 0 {
            files.control.update(from: s390pv_sync_crs(run), count: 16)
            vcpu.controlRegistersChanged()
        }
        if dirty & UInt64(KVM_SYNC_ARCH0) != 0 {
            vcpu.todProgrammableRegister = UInt32(truncatingIfNeeded: regs.pointee.todpr)
            vcpu.cpuTimer = regs.pointee.cputm
            vcpu.clockComparator = regs.pointee.ckc
            vcpu.breakingEventAddress = regs.pointee.gbea
        }
        if dirty & UInt64(KVM_SYNC_FPRS) != 0 {
            files.floatingPoint.update(from: s390pv_sync_fprs(run), count: 16)
            vcpu.floatingPointControl = regs.pointee.fpc
        }
        run.pointee.kvm_dirty_regs = 0
    }

    /// Copies the vCPU's state into kvm_run after an exit (s390 KVM's store_regs).
    func storeSyncRegisters() {
        let regs = s390pv_sync_regs(run)!, files = vcpu.registerFiles
        let psw = vcpu.psw
        run.pointee.psw_mask = psw.mask
        run.pointee.psw_addr = psw.address
        regs.pointee.prefix = vcpu.prefix
        s390pv_sync_gprs(run).update(from: files.general, count: 16)
        s390pv_sync_acrs(run).update(from: files.access, count: 16)
        s390pv_sync_crs(run).update(from: files.control, count: 16)
        regs.pointee.todpr = UInt64(vcpu.todProgrammableRegister)
        regs.pointee.cputm = vcpu.cpuTimer
        regs.pointee.ckc = vcpu.clockComparator
        regs.pointee.gbea = vcpu.breakingEventAddress
        s390pv_sync_fprs(run).update(from: files.floatingPoint, count: 16)
        regs.pointee.fpc = vcpu.floatingPointControl
    }
}
