// guest_memfd through the preload shim: the errno table of spec memory-clock-pidfd.md §1.4 (Linux
// 6.18 guest_memfd, flags 0), decision D1 (no guest_memfd flags), punching a bound range (the guest
// then reads zeros) and the v10 memfd_restricted(2) entry point.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>

// Exported by the preload library (the v10 design's system call). Weak: run.sh links without the
// library, the dynamic linker binds it to the preloaded definition at run time.
int memfd_restricted(unsigned int flags) __attribute__((weak));

static int passed, failed;
#define CHECK(condition, ...) do { if (condition) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define ERR(call, expected) ({ errno = 0; long r_ = (long)(call); r_ == -1 && errno == (expected); })

static const __u64 mib = 1 << 20;

static int create(int vm, __u64 size, __u64 flags) {
    struct kvm_create_guest_memfd gmem = { .size = size, .flags = flags };
    return ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
}

static void file_operations(int vm) {
    CHECK(ERR(create(vm, 0, 0), EINVAL), "create size 0: errno %d", errno);
    CHECK(ERR(create(vm, 4097, 0), EINVAL), "create size 4097: errno %d", errno);
    CHECK(ERR(create(vm, 4095, 0), EINVAL), "create size 4095: errno %d", errno);
    CHECK(ERR(create(vm, 1ULL << 63, 0), EINVAL), "create size 2^63 (negative loff_t): errno %d", errno);
    CHECK(ERR(create(vm, mib, 1ULL << 0), EINVAL), "create flags MMAP (not offered, D1): errno %d", errno);
    CHECK(ERR(create(vm, mib, 1ULL << 1), EINVAL), "create flags INIT_SHARED: errno %d", errno);
    CHECK(ERR(create(vm, mib, 1ULL << 2), EINVAL), "create flags 1<<2: errno %d", errno);
    CHECK(ERR(create(vm, mib, 1ULL << 63), EINVAL), "create flags 1<<63: errno %d", errno);

    int fd = create(vm, 8 * 4096, 0);
    CHECK(fd >= 0, "create 8 pages: %s", strerror(errno));
    char buffer[64] = { 0 };
    CHECK(ERR(read(fd, buffer, sizeof buffer), EINVAL), "read: errno %d", errno);
    CHECK(ERR(write(fd, buffer, sizeof buffer), EINVAL), "write: errno %d", errno);
    CHECK(ERR(pread(fd, buffer, sizeof buffer, 0), ESPIPE), "pread at 0: errno %d", errno);
    CHECK(ERR(pwrite(fd, buffer, sizeof buffer, 0), ESPIPE), "pwrite at 0: errno %d", errno);
    CHECK(ERR(lseek(fd, 0, SEEK_END), ESPIPE), "lseek SEEK_END: errno %d", errno);
    CHECK(ERR(lseek(fd, 0, SEEK_SET), ESPIPE), "lseek SEEK_SET: errno %d", errno);
    CHECK(ERR(ftruncate(fd, 16 * 4096), EINVAL), "ftruncate to 16 pages: errno %d", errno);
    CHECK(ERR(ftruncate(fd, 8 * 4096), EINVAL), "ftruncate to the same size: errno %d", errno);
    CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV,
          "mmap MAP_SHARED: errno %d", errno);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED, "mmap MAP_PRIVATE fails");
    CHECK(ERR(ioctl(fd, KVM_GET_API_VERSION, 0), ENOTTY), "ioctl on a guest_memfd: errno %d", errno);

    CHECK(ERR(fallocate(fd, 0, 0, 4096), EOPNOTSUPP), "fallocate mode 0: errno %d", errno);
    CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0, "fallocate KEEP_SIZE one page: %s", strerror(errno));
    CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * 4096) == 0, "fallocate KEEP_SIZE whole file: %s", strerror(errno));
    CHECK(ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 4 * 4096, 8 * 4096), EINVAL), "fallocate KEEP_SIZE past the end: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 100, 4096), EINVAL), "fallocate KEEP_SIZE unaligned offset: errno %d", errno);
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0, "punch one page: %s", strerror(errno));
    CHECK(ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 100), EINVAL), "punch 100 bytes: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 4096), EINVAL), "punch unaligned offset: errno %d", errno);
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * 4096, 16 * 4096) == 0,
          "punch reaching past the end: %s", strerror(errno));
    CHECK(ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP), "PUNCH_HOLE without KEEP_SIZE: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096), EOPNOTSUPP), "ZERO_RANGE|KEEP_SIZE: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), EOPNOTSUPP), "ZERO_RANGE: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), EOPNOTSUPP), "COLLAPSE_RANGE: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096), EOPNOTSUPP), "INSERT_RANGE: errno %d", errno);
    // vfs_fallocate's own checks come first.
    CHECK(ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 0), EINVAL), "fallocate length 0: errno %d", errno);
    CHECK(ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, -4096, 4096), EINVAL), "fallocate negative offset: errno %d", errno);
    CHECK(ERR(fallocate(fd, 0x4000, 0, 4096), EOPNOTSUPP), "fallocate unknown mode bit: errno %d", errno);
    CHECK(close(fd) == 0, "close: %s", strerror(errno));

    // A closed guest_memfd is not the model's any more: the real calls answer EBADF.
    CHECK(ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096), EBADF), "fallocate after close: errno %d", errno);
    CHECK(ERR(read(fd, buffer, 1), EBADF), "read after close: errno %d", errno);
}

static int mem_op(int fd, __u32 op, __u64 gaddr, void *buffer, __u32 size) {
    struct kvm_s390_mem_op m = { .gaddr = gaddr, .size = size, .op = op, .buf = (__u64)(uintptr_t)buffer };
    return ioctl(fd, KVM_S390_MEM_OP, &m);
}

static int all(const unsigned char *bytes, size_t count, unsigned char value) {
    for (size_t i = 0; i < count; i++) if (bytes[i] != value) return 0;
    return 1;
}

// Punching a bound range: the guest (MEM_OP on the VM and on a vCPU) reads zeros there afterwards.
static void punch_bound(int vm) {
    int fd = create(vm, 4 * mib, 0);
    CHECK(fd >= 0, "create 4 MiB: %s", strerror(errno));
    // Slot 0 maps file [1 MiB, 3 MiB) at guest 0.
    struct kvm_userspace_memory_region2 region = { .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = 0,
                                                   .memory_size = 2 * mib, .guest_memfd = (__u32)fd,
                                                   .guest_memfd_offset = mib };
    CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region) == 0, "memslot: %s", strerror(errno));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu >= 0, "CREATE_VCPU: %s", strerror(errno));

    static unsigned char pattern[3 * 4096], back[3 * 4096];
    memset(pattern, 0xA5, sizeof pattern);
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x10000, pattern, sizeof pattern) == 0, "write pattern: %s", strerror(errno));
    CHECK(mem_op(vcpu, KVM_S390_MEMOP_LOGICAL_READ, 0x10000, back, sizeof back) == 0 && all(back, sizeof back, 0xA5),
          "vCPU sees the pattern before the punch");

    // Guest 0x11000 is file offset 1 MiB + 0x11000: punch that page only.
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(mib + 0x11000), 4096) == 0, "punch: %s", strerror(errno));
    memset(back, 0xEE, sizeof back);
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_READ, 0x10000, back, sizeof back) == 0, "read back: %s", strerror(errno));
    CHECK(all(back, 4096, 0xA5), "page before the hole keeps the pattern");
    CHECK(all(back + 4096, 4096, 0), "punched page reads zeros");
    CHECK(all(back + 8192, 4096, 0xA5), "page after the hole keeps the pattern");
    memset(back, 0xEE, sizeof back);
    CHECK(mem_op(vcpu, KVM_S390_MEMOP_LOGICAL_READ, 0x11000, back, 4096) == 0 && all(back, 4096, 0),
          "vCPU logical read of the punched page sees zeros");

    // Punching file pages outside the slot changes nothing the guest sees.
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, 0, pattern, 4096) == 0, "write page 0");
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)mib) == 0, "punch the first (unbound) MiB");
    memset(back, 0xEE, 4096);
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_READ, 0, back, 4096) == 0 && all(back, 4096, 0xA5),
          "guest page 0 (file offset 1 MiB) is untouched");

    // The guest can write the punched page again.
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x11000, pattern, 4096) == 0, "rewrite the punched page");
    memset(back, 0, 4096);
    CHECK(mem_op(vcpu, KVM_S390_MEMOP_LOGICAL_READ, 0x11000, back, 4096) == 0 && all(back, 4096, 0xA5), "rewritten page");

    // Punch the whole bound range.
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)mib, (off_t)(2 * mib)) == 0, "punch all");
    memset(back, 0xEE, sizeof back);
    CHECK(mem_op(vm, KVM_S390_MEMOP_ABSOLUTE_READ, 0x10000, back, sizeof back) == 0 && all(back, sizeof back, 0),
          "whole range zero after the punch");

    close(vcpu);
    close(fd);
}

static void restricted(void) {
    CHECK(memfd_restricted != NULL, "memfd_restricted is exported by the preload library");
    if (memfd_restricted == NULL) return;
    CHECK(ERR(memfd_restricted(1), EINVAL), "memfd_restricted(1): errno %d", errno);
    CHECK(ERR(memfd_restricted(0x80000000u), EINVAL), "memfd_restricted(1<<31): errno %d", errno);
    int fd = memfd_restricted(0);
    CHECK(fd >= 0, "memfd_restricted(0): %s", strerror(errno));
    char byte;
    CHECK(ERR(read(fd, &byte, 1), EINVAL), "read: errno %d", errno);
    CHECK(ERR(write(fd, &byte, 1), EINVAL), "write: errno %d", errno);
    CHECK(ERR(lseek(fd, 0, SEEK_SET), ESPIPE), "lseek: errno %d", errno);
    CHECK(ERR(ioctl(fd, KVM_GET_API_VERSION, 0), ENOTTY), "ioctl: errno %d", errno);
    CHECK(ERR(ftruncate(fd, -1), EINVAL), "ftruncate -1: errno %d", errno);
    CHECK(ftruncate(fd, (off_t)mib) == 0, "ftruncate 1 MiB: %s", strerror(errno));
    CHECK(ERR(ftruncate(fd, (off_t)(2 * mib)), EPERM), "second ftruncate: errno %d", errno);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV, "mmap: errno %d", errno);
    CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0, "fallocate KEEP_SIZE: %s", strerror(errno));
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0, "punch: %s", strerror(errno));
    CHECK(ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 100), EINVAL), "punch 100 bytes: errno %d", errno);
    CHECK(close(fd) == 0, "close: %s", strerror(errno));
    CHECK(ERR(close(fd), EBADF), "close twice: errno %d", errno);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) == 1, "KVM_CAP_GUEST_MEMFD");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS) == 0, "KVM_CAP_GUEST_MEMFD_FLAGS is 0");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm >= 0, "CREATE_VM: %s", strerror(errno));
    CHECK(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS) == 0, "KVM_CAP_GUEST_MEMFD_FLAGS on the VM is 0");
    file_operations(vm);
    punch_bound(vm);
    restricted();
    close(vm);
    close(kvm);
    printf("guest_memfd: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
