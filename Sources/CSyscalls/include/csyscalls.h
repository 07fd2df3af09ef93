// Linux syscalls that Swift's Glibc module does not expose. Every function returns -1 and
// sets errno on failure (ENOSYS where the kernel or platform lacks the call).
#ifndef S390PV_CSYSCALLS_H
#define S390PV_CSYSCALLS_H

// memfd_create(2) flags.
static const unsigned S390PV_MFD_CLOEXEC = 0x0001U;
static const unsigned S390PV_MFD_ALLOW_SEALING = 0x0002U;
static const unsigned S390PV_MFD_HUGETLB = 0x0004U;

// fallocate(2) modes.
static const int S390PV_FALLOC_FL_KEEP_SIZE = 0x01;
static const int S390PV_FALLOC_FL_PUNCH_HOLE = 0x02;
static const int S390PV_FALLOC_FL_COLLAPSE_RANGE = 0x08;
static const int S390PV_FALLOC_FL_ZERO_RANGE = 0x10;

/// memfd_secret(2) (syscall 447): fd of memory unmapped from the kernel's direct map.
int s390pv_memfd_secret(unsigned flags);
/// pidfd_open(2) (syscall 434): a pidfd referring to process `pid`.
int s390pv_pidfd_open(int pid, unsigned flags);
/// pidfd_send_signal(2) (syscall 424) with a NULL siginfo: send `sig` through `pidfd`.
int s390pv_pidfd_send_signal(int pidfd, int sig, unsigned flags);
/// memfd_create(2): an anonymous memory-backed file; `flags` are S390PV_MFD_*.
int s390pv_memfd_create(const char *name, unsigned flags);
/// fallocate(2): allocate, punch or zero a byte range; `mode` is S390PV_FALLOC_FL_* or 0.
int s390pv_fallocate(int fd, int mode, long long offset, long long length);
/// The calling thread's errno (Swift's `errno` works too; this avoids macro issues).
int s390pv_errno(void);

// KVM (the host's /dev/kvm), used only to detect and back guest RAM with host guest_memfd files.
// Numbers from include/uapi/linux/kvm.h (6.18); defined here so old system headers do not matter.
static const unsigned long S390PV_KVM_CAP_GUEST_MEMFD = 234UL;
static const unsigned long S390PV_KVM_CAP_GUEST_MEMFD_FLAGS = 244UL;
static const unsigned long long S390PV_GUEST_MEMFD_FLAG_MMAP = 1ULL << 0;
static const unsigned long long S390PV_GUEST_MEMFD_FLAG_INIT_SHARED = 1ULL << 1;

/// The soft RLIMIT_MEMLOCK in bytes (~0ULL when unlimited or unknown).
unsigned long long s390pv_memlock_limit(void);
/// open("/dev/kvm", O_RDWR | O_CLOEXEC).
int s390pv_host_kvm_open(void);
/// KVM_CHECK_EXTENSION (_IO(0xAE, 0x03)) on a system or VM fd: the capability's value, or -1.
int s390pv_host_kvm_check_extension(int fd, unsigned long capability);
/// KVM_CREATE_VM (_IO(0xAE, 0x01)) with machine type `type`: a VM fd (close-on-exec).
int s390pv_host_kvm_create_vm(int kvm_fd, unsigned long type);
/// KVM_CREATE_GUEST_MEMFD (0xC040AED4) on a VM fd: a guest_memfd of `size` bytes.
int s390pv_host_kvm_create_guest_memfd(int vm_fd, unsigned long long size, unsigned long long flags);

/// Copies `length` bytes from address `remote` of this process to `local` without faulting:
/// process_vm_readv(2) on our own pid. Returns the byte count, or -1 (EFAULT for a bad range).
long s390pv_read_own_memory(void *local, unsigned long remote, unsigned long length);
/// The same in the other direction (process_vm_writev(2)).
long s390pv_write_own_memory(unsigned long remote, const void *local, unsigned long length);
/// 1 if `fd` is an open descriptor of this process.
int s390pv_fd_is_open(int fd);

/* mremap(old, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, target): the mapping moves to
 * target (replacing what is there); returns target, or NULL with errno. */
void *s390pv_mremap_fixed(void *old_address, unsigned long length, void *target);

/* Fatal signals as the kernel model sees them: SIGTERM, SIGINT and SIGHUP set a flag that
 * long kernel work (KVM_PV_ASYNC_CLEANUP_PERFORM) checks between batches, as Linux checks
 * fatal_signal_pending(). Installing is idempotent; the first signal is remembered. */
void s390pv_install_fatal_signal_handlers(void);
int s390pv_fatal_signal_pending(void);

#endif
