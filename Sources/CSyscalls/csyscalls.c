#define _GNU_SOURCE
#include "csyscalls.h"
#include <errno.h>
#include <string.h>

#ifdef __linux__
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

unsigned long long s390pv_memlock_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return ~0ULL;
    return (unsigned long long)limit.rlim_cur;
}
// The raw system call: an LD_PRELOAD shim that routes "/dev/kvm" to s390pv must not catch this probe.
int s390pv_host_kvm_open(void) { return (int)syscall(SYS_openat, AT_FDCWD, "/dev/kvm", O_RDWR | O_CLOEXEC); }
int s390pv_host_kvm_check_extension(int fd, unsigned long capability) {
    return ioctl(fd, 0xAE03UL, capability);
}
int s390pv_host_kvm_create_vm(int kvm_fd, unsigned long type) {
    int fd = ioctl(kvm_fd, 0xAE01UL, type);
    if (fd >= 0) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);   // KVM already sets O_CLOEXEC; be sure.
    return fd;
}
int s390pv_host_kvm_create_guest_memfd(int vm_fd, unsigned long long size, unsigned long long flags) {
    struct { unsigned long long size, flags, reserved[6]; } request = { size, flags, { 0 } };
    _Static_assert(sizeof(request) == 64, "struct kvm_create_guest_memfd is 64 bytes");
    return ioctl(vm_fd, 0xC040AED4UL, &request);
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

unsigned long long s390pv_memlock_limit(void) { return ~0ULL; }
int s390pv_host_kvm_open(void) { return enosys(); }
int s390pv_host_kvm_check_extension(int fd, unsigned long capability) { (void)fd; (void)capability; return enosys(); }
int s390pv_host_kvm_create_vm(int kvm_fd, unsigned long type) { (void)kvm_fd; (void)type; return enosys(); }
int s390pv_host_kvm_create_guest_memfd(int vm_fd, unsigned long long size, unsigned long long flags) {
    (void)vm_fd; (void)size; (void)flags; return enosys();
}

#endif

int s390pv_errno(void) { return errno; }

long s390pv_read_own_memory(void *local, unsigned long remote, unsigned long length) {
    struct iovec to = { local, length }, from = { (void *)remote, length };
    return (long)process_vm_readv(getpid(), &to, 1, &from, 1, 0);
}

long s390pv_write_own_memory(unsigned long remote, const void *local, unsigned long length) {
    struct iovec from = { (void *)local, length }, to = { (void *)remote, length };
    return (long)process_vm_writev(getpid(), &from, 1, &to, 1, 0);
}

int s390pv_fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static volatile sig_atomic_t fatal_signal;

static void note_fatal_signal(int signal)
{
	if (!fatal_signal)
		fatal_signal = signal;
}

void s390pv_install_fatal_signal_handlers(void)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = note_fatal_signal;
	sigemptyset(&action.sa_mask);
	for (unsigned int i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &action, NULL);
}

int s390pv_fatal_signal_pending(void)
{
	return fatal_signal;
}

void *s390pv_mremap_fixed(void *old_address, unsigned long length, void *target)
{
	void *result = mremap(old_address, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, target);

	return result == MAP_FAILED ? NULL : result;
}
