#define _GNU_SOURCE
#include "csyscalls.h"
#include <errno.h>

#ifdef __linux__
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

// Numbers from the unified table (the same on x86_64, aarch64 and s390x), for old headers.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

int s390pv_memfd_secret(unsigned flags) { return (int)syscall(SYS_memfd_secret, flags); }
int s390pv_pidfd_open(int pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
int s390pv_pidfd_send_signal(int pidfd, int sig, unsigned flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, (void *)0, flags);
}
int s390pv_memfd_create(const char *name, unsigned flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}
int s390pv_fallocate(int fd, int mode, long long offset, long long length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

#else  // Not Linux: every call is absent.

static int enosys(void) { errno = ENOSYS; return -1; }
int s390pv_memfd_secret(unsigned flags) { (void)flags; return enosys(); }
int s390pv_pidfd_open(int pid, unsigned flags) { (void)pid; (void)flags; return enosys(); }
int s390pv_pidfd_send_signal(int pidfd, int sig, unsigned flags) {
    (void)pidfd; (void)sig; (void)flags; return enosys();
}
int s390pv_memfd_create(const char *name, unsigned flags) { (void)name; (void)flags; return enosys(); }
int s390pv_fallocate(int fd, int mode, long long offset, long long length) {
    (void)fd; (void)mode; (void)offset; (void)length; return enosys();
}

#endif

int s390pv_errno(void) { return errno; }
