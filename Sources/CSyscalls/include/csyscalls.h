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

#endif
