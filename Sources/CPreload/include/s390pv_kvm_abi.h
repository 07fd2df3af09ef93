// The kernel model's C ABI (implemented in Swift, KernelABI/CABI.swift). Every function
// behaves as the libc call it stands for: -1 (or MAP_FAILED) with errno set on failure.
#ifndef S390PV_KVM_ABI_H
#define S390PV_KVM_ABI_H
#include <stddef.h>
#include <sys/types.h>

/// open("/dev/kvm", flags): a new system fd.
int s390pv_kvm_open(int flags);
int s390pv_kvm_ioctl(int fd, unsigned long request, void *argument);
void *s390pv_kvm_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset);
int s390pv_kvm_close(int fd);
ssize_t s390pv_kvm_read(int fd, void *buffer, size_t count);
ssize_t s390pv_kvm_write(int fd, const void *buffer, size_t count);
ssize_t s390pv_kvm_pread(int fd, void *buffer, size_t count, off_t offset);
ssize_t s390pv_kvm_pwrite(int fd, const void *buffer, size_t count, off_t offset);
off_t s390pv_kvm_lseek(int fd, off_t offset, int whence);
int s390pv_kvm_ftruncate(int fd, off_t length);
int s390pv_kvm_fallocate(int fd, int mode, off_t offset, off_t length);
/// memfd_restricted(2) of the v10 proposal: flags must be 0.
int memfd_restricted(unsigned int flags);

#endif
