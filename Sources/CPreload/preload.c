// LD_PRELOAD shim: routes a KVM userspace program's /dev/kvm and the descriptors the s390pv
// kernel model handed out to the model; every other call goes to libc untouched.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "s390pv_fdtable.h"
#include "s390pv_kvm_abi.h"

#define NEXT(name) static __typeof__(name) *next_##name; \
    if (!next_##name) next_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int is_dev_kvm(const char *path) { return path && strcmp(path, "/dev/kvm") == 0; }

static mode_t mode_argument(int flags, va_list arguments) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(arguments, int) : 0;
}

int open(const char *path, int flags, ...) {
    NEXT(open);
    va_list arguments; va_start(arguments, flags); mode_t mode = mode_argument(flags, arguments); va_end(arguments);
    return is_dev_kvm(path) ? s390pv_kvm_open(flags) : next_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    NEXT(open64);
    va_list arguments; va_start(arguments, flags); mode_t mode = mode_argument(flags, arguments); va_end(arguments);
    return is_dev_kvm(path) ? s390pv_kvm_open(flags) : next_open64(path, flags, mode);
}

int openat(int directory, const char *path, int flags, ...) {
    NEXT(openat);
    va_list arguments; va_start(arguments, flags); mode_t mode = mode_argument(flags, arguments); va_end(arguments);
    return is_dev_kvm(path) ? s390pv_kvm_open(flags) : next_openat(directory, path, flags, mode);
}

int openat64(int directory, const char *path, int flags, ...) {
    NEXT(openat64);
    va_list arguments; va_start(arguments, flags); mode_t mode = mode_argument(flags, arguments); va_end(arguments);
    return is_dev_kvm(path) ? s390pv_kvm_open(flags) : next_openat64(directory, path, flags, mode);
}

/// ioctls the VFS answers for every file before a driver sees them (fs/ioctl.c do_vfs_ioctl):
/// they act on the model's placeholder descriptor itself.
static int is_vfs_ioctl(unsigned long request) {
    return request == FIOCLEX || request == FIONCLEX || request == FIONBIO || request == FIOASYNC;
}

int ioctl(int fd, unsigned long request, ...) {
    NEXT(ioctl);
    va_list arguments; va_start(arguments, request); void *argument = va_arg(arguments, void *); va_end(arguments);
    return s390pv_fd_owned(fd) && !is_vfs_ioctl(request) ? s390pv_kvm_ioctl(fd, request, argument)
                                                         : next_ioctl(fd, request, argument);
}

void *mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    NEXT(mmap);
    return s390pv_fd_owned(fd) ? s390pv_kvm_mmap(address, length, protection, flags, fd, offset)
                               : next_mmap(address, length, protection, flags, fd, offset);
}

void *mmap64(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    NEXT(mmap64);
    return s390pv_fd_owned(fd) ? s390pv_kvm_mmap(address, length, protection, flags, fd, offset)
                               : next_mmap64(address, length, protection, flags, fd, offset);
}

int close(int fd) {
    NEXT(close);
    return s390pv_fd_owned(fd) ? s390pv_kvm_close(fd) : next_close(fd);
}

ssize_t read(int fd, void *buffer, size_t count) {
    NEXT(read);
    return s390pv_fd_owned(fd) ? s390pv_kvm_read(fd, buffer, count) : next_read(fd, buffer, count);
}

ssize_t write(int fd, const void *buffer, size_t count) {
    NEXT(write);
    return s390pv_fd_owned(fd) ? s390pv_kvm_write(fd, buffer, count) : next_write(fd, buffer, count);
}

ssize_t pread(int fd, void *buffer, size_t count, off_t offset) {
    NEXT(pread);
    return s390pv_fd_owned(fd) ? s390pv_kvm_pread(fd, buffer, count, offset) : next_pread(fd, buffer, count, offset);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
    NEXT(pwrite);
    return s390pv_fd_owned(fd) ? s390pv_kvm_pwrite(fd, buffer, count, offset) : next_pwrite(fd, buffer, count, offset);
}

off_t lseek(int fd, off_t offset, int whence) {
    NEXT(lseek);
    return s390pv_fd_owned(fd) ? s390pv_kvm_lseek(fd, offset, whence) : next_lseek(fd, offset, whence);
}

int ftruncate(int fd, off_t length) {
    NEXT(ftruncate);
    return s390pv_fd_owned(fd) ? s390pv_kvm_ftruncate(fd, length) : next_ftruncate(fd, length);
}

int fallocate(int fd, int mode, off_t offset, off_t length) {
    NEXT(fallocate);
    return s390pv_fd_owned(fd) ? s390pv_kvm_fallocate(fd, mode, offset, length) : next_fallocate(fd, mode, offset, length);
}
