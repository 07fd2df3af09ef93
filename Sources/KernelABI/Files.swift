// The objects behind model file descriptors. References mirror Linux: a vCPU file and a
// guest_memfd file keep their VM alive; the VM keeps neither.
import CKVM
import CSyscalls
import Foundation
import KernelModel
import RestrictedMemory

final class VMFile: @unchecked Sendable {
    let vm: VirtualMachine
    init(vm: VirtualMachine) { self.vm = vm }
}

final class VCPUFile: @unchecked Sendable {
    let vmFile: VMFile
    let vcpu: VirtualCPU
    /// The shared kvm_run page: a one-page memfd the model maps once and every mmap of the
    /// vCPU fd maps again, so all mappings alias the same struct kvm_run.
    let runFile: Int32
    let run: UnsafeMutablePointer<kvm_run>
    /// KVM_RUN holds the vCPU (vcpu->mutex in Linux): other vCPU ioctls wait for it.
    let mutex = NSLock()

    static let runPageSize = 4096

    init(vmFile: VMFile, vcpu: VirtualCPU) throws(Errno) {
        self.vmFile = vmFile
        self.vcpu = vcpu
        let fd = s390pv_memfd_create("s390pv-kvm-run", S390PV_MFD_CLOEXEC)
        guard fd >= 0 else { throw Errno(errno) }
        guard ftruncate(fd, off_t(VCPUFile.runPageSize)) == 0,
              let page = Glibc.mmap(nil, VCPUFile.runPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              page != MAP_FAILED else {
            let error = errno
            Glibc.close(fd)
            throw Errno(error)
        }
        runFile = fd
        run = page.bindMemory(to: kvm_run.self, capacity: 1)
        // s390 KVM keeps these registers in the run page from vCPU creation on.
        run.pointee.kvm_valid_regs = UInt64(KVM_SYNC_PREFIX | KVM_SYNC_GPRS | KVM_SYNC_ACRS | KVM_SYNC_CRS
                                            | KVM_SYNC_ARCH0 | KVM_SYNC_FPRS)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(run), VCPUFile.runPageSize)
        Glibc.close(runFile)
    }
}

final class GuestMemfdFile: @unchecked Sendable {
    let vmFile: VMFile
    let memfd: GuestMemfd
    init(vmFile: VMFile, memfd: GuestMemfd) {
        self.vmFile = vmFile
        self.memfd = memfd
    }
}
