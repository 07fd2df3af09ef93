// The file descriptors of the kernel model. Each is a real descriptor number (a placeholder
// open of /dev/null, so numbers never collide with the process's other files) mapped to the
// object it stands for; closing the last descriptor of an object releases it, as in Linux.
import CKVM
import Foundation
import KernelModel
import RestrictedMemory

/// What a model file descriptor refers to.
enum KVMFile {
    case system
    case vm(VMFile)
    case vcpu(VCPUFile)
    case guestMemfd(GuestMemfdFile)
    /// A memfd_restricted(2) file, not created by (or bound to) any VM.
    case restrictedMemfd(GuestMemfd)

    /// "kvm", "kvm-vm", ... as Linux's anon-inode names, for messages.
    var kindName: String {
        switch self {
        case .system: "kvm"
        case .vm: "kvm-vm"
        case .vcpu: "kvm-vcpu"
        case .guestMemfd: "kvm-guest-memfd"
        case .restrictedMemfd: "memfd:restrictedmem"
        }
    }
}

final class FileTable: @unchecked Sendable {
    static let shared = FileTable()
    private let lock = NSLock()
    private var files: [Int32: KVMFile] = [:]

    /// Installs `file` under a new descriptor (EMFILE when the process has none left).
    func install(_ file: KVMFile, closeOnExec: Bool = true) throws(Errno) -> Int32 {
        let fd = Glibc.open("/dev/null", O_RDWR | (closeOnExec ? O_CLOEXEC : 0))
        guard fd >= 0 else { throw Errno(errno) }
        guard fd < S390PV_MAX_FDS else {
            Glibc.close(fd)
            throw Errno(24)   // EMFILE: the ownership table covers 64K descriptors
        }
        lock.withLock { files[fd] = file }
        s390pv_fd_set_owned(fd, 1)
        return fd
    }

    func lookup(_ fd: Int32) -> KVMFile? { lock.withLock { files[fd] } }

    /// Closes a model descriptor: EBADF if it is not one.
    func close(_ fd: Int32) throws(Errno) {
        let removed = lock.withLock { files.removeValue(forKey: fd) }
        guard removed != nil else { throw .EBADF }
        s390pv_fd_set_owned(fd, 0)
        Glibc.close(fd)
        // `removed` goes out of scope here: the last reference to the object releases it.
    }

    var openCount: Int { lock.withLock { files.count } }

    /// A copy of the table (descriptor → file).
    func snapshot() -> [Int32: KVMFile] { lock.withLock { files } }
}
