// Error paths of every ioctl the s390pv kernel model implements, with Linux's errno values and
// order of checks (virt/kvm/kvm_main.c, arch/s390/kvm/kvm-s390.c, virt/kvm/guest_memfd.c) or
// s390pv's documented deviations. Run it under the s390pv preload shim.
//
// A check marked KNOWN is a result that differs from Linux (and from the documented
// deviations): it prints "KNOWN:" instead of failing, and counts as passed once the model is fixed.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

static int passed, failed;
#define CHECK(condition, ...) do { if (condition) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

// ioctl that must fail with `expected`: -1 and errno.
#define ERR(call, expected) ({ errno = 0; long r_ = (long)(call); r_ == -1 && errno == (expected); })
#define ERRNO_NOW errno

static const __u64 mib = 1 << 20;

static int make_vm(int kvm) { return ioctl(kvm, KVM_CREATE_VM, 0); }

static int make_memfd(int vm, __u64 size) {
    struct kvm_create_guest_memfd gmem = { .size = size };
    return ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
}

static int set_region(int vm, __u32 slot, __u32 flags, __u64 gpa, __u64 size, int memfd, __u64 offset) {
    struct kvm_userspace_memory_region2 region = {
        .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
        .guest_memfd = (__u32)memfd, .guest_memfd_offset = offset };
    return ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region);
}

static struct kvm_s390_mem_op memop(__u32 op, __u64 gaddr, __u32 size, void *buf) {
    struct kvm_s390_mem_op m = { .gaddr = gaddr, .size = size, .op = op, .buf = (__u64)(uintptr_t)buf };
    return m;
}

static void system_ioctls(int kvm) {
    // Closed descriptor: not the model's, so the real ioctl answers EBADF.
    int closed = open("/dev/kvm", O_RDWR);
    CHECK(closed >= 0, "open /dev/kvm");
    CHECK(close(closed) == 0, "close");
    CHECK(ERR(ioctl(closed, KVM_GET_API_VERSION, 0), EBADF), "ioctl on a closed fd: errno %d", ERRNO_NOW);
    CHECK(ERR(close(closed), EBADF), "close twice: errno %d", ERRNO_NOW);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, closed, 0) == MAP_FAILED && errno == EBADF, "mmap closed fd: errno %d", errno);

    CHECK(ioctl(kvm, KVM_GET_API_VERSION, 0) == 12, "API version");
    CHECK(ERR(ioctl(kvm, KVM_GET_API_VERSION, 1), EINVAL), "GET_API_VERSION arg 1: errno %d", ERRNO_NOW);
    CHECK(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0) > 0, "GET_VCPU_MMAP_SIZE");
    CHECK(ERR(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 1), EINVAL), "GET_VCPU_MMAP_SIZE arg 1: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(kvm, KVM_CREATE_VM, KVM_VM_S390_UCONTROL), EINVAL), "CREATE_VM type 1: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(kvm, KVM_CREATE_VM, 2), EINVAL), "CREATE_VM type 2: errno %d", ERRNO_NOW);
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) == 1, "CAP_GUEST_MEMFD");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS) == 0, "CAP_GUEST_MEMFD_FLAGS is 0 (D1)");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES) == 0, "CAP_MEMORY_ATTRIBUTES is 0 (D1)");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, 0x7fffffff) == 0, "unknown capability is 0");
    // kvm_dev_ioctl -> s390 kvm_arch_dev_ioctl: EINVAL for anything unknown.
    CHECK(ERR(ioctl(kvm, _IO(KVMIO, 0x7f), 0), EINVAL), "unknown system ioctl: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(kvm, KVM_CREATE_VCPU, 0), EINVAL), "VM ioctl on /dev/kvm: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(kvm, KVM_RUN, 0), EINVAL), "vCPU ioctl on /dev/kvm: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(kvm, TCGETS, NULL), EINVAL), "TCGETS on /dev/kvm: errno %d", ERRNO_NOW);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, kvm, 0) == MAP_FAILED && errno == ENODEV, "mmap /dev/kvm: errno %d", errno);
    // Linux: kvm_arch_dev_ioctl handles KVM_S390_ENABLE_SIE (s390_enable_sie) and returns 0.
    errno = 0;
    int enable = ioctl(kvm, KVM_S390_ENABLE_SIE, 0);
    CHECK(enable == 0, "KVM_S390_ENABLE_SIE on /dev/kvm: Linux 0 (kvm_arch_dev_ioctl), got %d errno %d", enable, errno);
    // FIOCLEX/FIONBIO are handled by the VFS (fs/ioctl.c do_vfs_ioctl) before the KVM handler.
    errno = 0;
    int cloexec = ioctl(kvm, FIOCLEX, NULL);
    CHECK(cloexec == 0, "FIOCLEX on /dev/kvm: Linux 0 (do_vfs_ioctl), got %d errno %d", cloexec, errno);
}

static void vm_ioctls(int kvm) {
    int vm = make_vm(kvm);
    CHECK(vm >= 0, "CREATE_VM: %s", strerror(errno));

    // Wrong fd kind: a system or vCPU ioctl on a VM fd is not a VM ioctl (ENOTTY).
    CHECK(ERR(ioctl(vm, KVM_GET_API_VERSION, 0), ENOTTY), "GET_API_VERSION on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_CREATE_VM, 0), ENOTTY), "CREATE_VM on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_GET_VCPU_MMAP_SIZE, 0), ENOTTY), "GET_VCPU_MMAP_SIZE on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_RUN, 0), ENOTTY), "KVM_RUN on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_GET_REGS, NULL), ENOTTY), "GET_REGS on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, _IO(KVMIO, 0xef), 0), ENOTTY), "unknown VM ioctl: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, TCGETS, NULL), ENOTTY), "TCGETS on a VM fd: errno %d", ERRNO_NOW);
    CHECK(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) == 1, "CHECK_EXTENSION on a VM fd");
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, vm, 0) == MAP_FAILED && errno == ENODEV, "mmap VM fd: errno %d", errno);
    errno = 0;
    int cloexec = ioctl(vm, FIOCLEX, NULL);
    CHECK(cloexec == 0, "FIOCLEX on a VM fd: Linux 0 (do_vfs_ioctl), got %d errno %d", cloexec, errno);

    // KVM_CREATE_GUEST_MEMFD: copy first (EFAULT), then flags, then size.
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, NULL), EFAULT), "CREATE_GUEST_MEMFD NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, (void *)8), EFAULT), "CREATE_GUEST_MEMFD (void*)8: errno %d", ERRNO_NOW);
    struct kvm_create_guest_memfd gmem = { .size = 0 };
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem), EINVAL), "guest_memfd size 0: errno %d", ERRNO_NOW);
    gmem.size = 4097;
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem), EINVAL), "guest_memfd size 4097: errno %d", ERRNO_NOW);
    gmem.size = mib; gmem.flags = 1;
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem), EINVAL), "guest_memfd flag MMAP (FLAGS cap 0): errno %d", ERRNO_NOW);
    gmem.flags = 1ULL << 63;
    CHECK(ERR(ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem), EINVAL), "guest_memfd flag 1<<63: errno %d", ERRNO_NOW);

    int memfd = make_memfd(vm, 4 * mib);
    CHECK(memfd >= 0, "CREATE_GUEST_MEMFD 4 MiB: %s", strerror(errno));
    CHECK(ERR(ioctl(memfd, KVM_CHECK_EXTENSION, 0), ENOTTY), "ioctl on a guest_memfd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(memfd, KVM_RUN, 0), ENOTTY), "KVM_RUN on a guest_memfd: errno %d", ERRNO_NOW);

    // KVM_SET_USER_MEMORY_REGION2 in __kvm_set_memory_region's order.
    const __u32 gm = KVM_MEM_GUEST_MEMFD;
    CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION2, NULL), EFAULT), "REGION2 NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION2, (void *)8), EFAULT), "REGION2 (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm | KVM_MEM_READONLY, 0, mib, memfd, 0), EINVAL), "READONLY flag on s390: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm | (1u << 9), 0, mib, memfd, 0), EINVAL), "unknown memslot flag: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, mib + 100, memfd, 0), EINVAL), "unaligned size: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 100, mib, memfd, 0), EINVAL), "unaligned gpa: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, memfd, 100), EINVAL), "unaligned guest_memfd offset: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 32, gm, 0, mib, memfd, 0), EINVAL), "slot 32: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 1u << 16, gm, 0, mib, memfd, 0), EINVAL), "address space 1: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, ~0ULL - 4095, 2 * mib, memfd, 0), EINVAL), "gpa + size wraps: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 3, gm, 0, 0, memfd, 0), EINVAL), "delete a slot that does not exist: errno %d", ERRNO_NOW);
    // The checks above come before the guest_memfd is looked at: a closed fd does not matter yet.
    CHECK(ERR(set_region(vm, 32, gm, 0, mib, 1000, 0), EINVAL), "slot 32 with a closed guest_memfd: errno %d", ERRNO_NOW);
    // kvm_gmem_bind: fd not open EBADF; not a guest_memfd EINVAL; another VM's EINVAL; range beyond the file EINVAL.
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, 1000, 0), EBADF), "guest_memfd fd not open: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, kvm, 0), EINVAL), "guest_memfd is /dev/kvm: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, vm, 0), EINVAL), "guest_memfd is the VM fd: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, 1, 0), EINVAL), "guest_memfd is stdout: errno %d", ERRNO_NOW);
    int other = make_vm(kvm);
    int other_memfd = make_memfd(other, 4 * mib);
    CHECK(other >= 0 && other_memfd >= 0, "second VM and guest_memfd");
    CHECK(ERR(set_region(vm, 0, gm, 0, mib, other_memfd, 0), EINVAL), "another VM's guest_memfd: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, 5 * mib, memfd, 0), EINVAL), "size beyond the file: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 0, 2 * mib, memfd, 3 * mib), EINVAL), "offset + size beyond the file: errno %d", ERRNO_NOW);
    // Linux binds the guest_memfd (kvm_gmem_bind) before s390's kvm_arch_prepare_memory_region checks
    // 1 MiB granularity, so a closed guest_memfd with a 4 KiB slot is EBADF.
    errno = 0;
    int order = set_region(vm, 0, gm, 0, 4096, 1000, 0);
    CHECK(order == -1 && errno == EBADF, "4 KiB slot, guest_memfd not open: Linux EBADF (kvm_gmem_bind before "
          "kvm_arch_prepare_memory_region), got %d errno %d", order, errno);
    // s390: 1 MiB segments (kvm_arch_prepare_memory_region).
    CHECK(ERR(set_region(vm, 0, gm, 0, 4096, memfd, 0), EINVAL), "size 4 KiB (segment granularity): errno %d", ERRNO_NOW);
    // ... but not the guest address: kvm_arch_prepare_memory_region checks userspace_addr, size and the limit.
    CHECK(set_region(vm, 5, gm, 8 * mib + 4096, mib, memfd, 0) == 0, "gpa 4 KiB aligned only: %s", strerror(errno));
    CHECK(set_region(vm, 5, gm, 0, 0, memfd, 0) == 0, "delete slot 5: %s", strerror(errno));
    CHECK(ERR(set_region(vm, 6, gm, (64ULL << 30) - mib / 2, mib, memfd, 0), EINVAL), "slot beyond mem_limit: errno %d", ERRNO_NOW);
    {
        struct kvm_userspace_memory_region2 r = { .slot = 0, .flags = gm, .memory_size = mib, .userspace_addr = 4096,
                                                  .guest_memfd = (__u32)memfd };
        CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &r), EINVAL), "userspace_addr not 1 MiB aligned: errno %d", ERRNO_NOW);
    }
    // s390pv: all guest RAM is restricted memory, a slot without a guest_memfd is EINVAL.
    CHECK(ERR(set_region(vm, 0, 0, 0, mib, -1, 0), EINVAL), "slot without guest_memfd: errno %d", ERRNO_NOW);
    {
        struct kvm_userspace_memory_region v1 = { .slot = 0, .flags = 0, .guest_phys_addr = 0, .memory_size = mib };
        CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &v1), EINVAL), "v1 ioctl without guest_memfd: errno %d", ERRNO_NOW);
        v1.flags = KVM_MEM_GUEST_MEMFD;
        CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &v1), EINVAL), "v1 ioctl with the GUEST_MEMFD flag: errno %d", ERRNO_NOW);
        CHECK(ERR(ioctl(vm, KVM_SET_USER_MEMORY_REGION, NULL), EFAULT), "v1 NULL: errno %d", ERRNO_NOW);
    }
    CHECK(set_region(vm, 0, gm, 0, mib, memfd, 0) == 0, "memslot 0: %s", strerror(errno));
    CHECK(ERR(set_region(vm, 1, gm, 0, mib, memfd, mib), EEXIST), "overlapping slot: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(vm, 0, gm, 2 * mib, mib, memfd, mib), EINVAL), "modify a guest_memfd slot: errno %d", ERRNO_NOW);
    CHECK(set_region(vm, 2, gm, 4 * mib, mib, memfd, 2 * mib) == 0, "memslot 2: %s", strerror(errno));
    CHECK(set_region(vm, 2, gm, 0, 0, memfd, 0) == 0, "delete slot 2: %s", strerror(errno));
    CHECK(ERR(set_region(vm, 2, gm, 0, 0, memfd, 0), EINVAL), "delete slot 2 again: errno %d", ERRNO_NOW);

    // KVM_S390_MEM_OP on the VM (kvm_s390_vm_mem_op, mem_op_validate_common).
    unsigned char buffer[256] = { 1, 2, 3 };
    struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, sizeof buffer, buffer);
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "MEM_OP write: %s", strerror(errno));
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, NULL), EFAULT), "MEM_OP NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, (void *)8), EFAULT), "MEM_OP (void*)8: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, 0, buffer);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP size 0: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, 65537, buffer);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), E2BIG), "MEM_OP size 65537: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_READ, 0x1000, 65536, NULL);
    m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "MEM_OP size 65536 CHECK_ONLY: %s", strerror(errno));
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, 8, buffer);
    m.flags = 1ULL << 5;
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP unknown flag: errno %d", ERRNO_NOW);
    m.flags = KVM_S390_MEMOP_F_INJECT_EXCEPTION;   // a vCPU-only flag
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP INJECT_EXCEPTION on a VM: errno %d", ERRNO_NOW);
    m.flags = 1ULL << 5; m.size = 65537;           // flags are checked before the size
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP unknown flag and size 65537: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, 8, buffer);
    m.flags = KVM_S390_MEMOP_F_SKEY_PROTECTION; m.key = 16;
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP key 16 with SKEY: errno %d", ERRNO_NOW);
    m.size = 65537;                                  // size before key
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), E2BIG), "MEM_OP key 16 and size 65537: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x1000, 8, buffer);
    m.key = 16;                                      // ignored without the SKEY flag
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "MEM_OP key 16 without SKEY: %s", strerror(errno));
    m = memop(KVM_S390_MEMOP_LOGICAL_READ, 0x1000, 8, buffer);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP LOGICAL on a VM: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP SIDA on a VM: errno %d", ERRNO_NOW);
    m = memop(99, 0x1000, 8, buffer);
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EINVAL), "MEM_OP op 99: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_READ, 2 * mib, 8, buffer);
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 5, "MEM_OP read beyond memory: PGM addressing");
    m.op = KVM_S390_MEMOP_ABSOLUTE_WRITE;
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 5, "MEM_OP write beyond memory: PGM addressing");
    m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 5, "MEM_OP CHECK_ONLY beyond memory: PGM addressing");
    m = memop(KVM_S390_MEMOP_ABSOLUTE_READ, 0x1000, 8, (void *)8);
    m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "MEM_OP CHECK_ONLY ignores the buffer: %s", strerror(errno));
    m.flags = 0;
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EFAULT), "MEM_OP read into (void*)8: errno %d", ERRNO_NOW);
    m.op = KVM_S390_MEMOP_ABSOLUTE_WRITE;
    CHECK(ERR(ioctl(vm, KVM_S390_MEM_OP, &m), EFAULT), "MEM_OP write from (void*)8: errno %d", ERRNO_NOW);
    unsigned char readback[256] = { 0 };
    m = memop(KVM_S390_MEMOP_ABSOLUTE_READ, 0x1000, sizeof readback, readback);
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0 && memcmp(readback, buffer, sizeof buffer) == 0,
          "the failed and CHECK_ONLY operations changed nothing");

    // KVM_S390_INTERRUPT on a VM: s390pv accepts the service signal only (documented).
    struct kvm_s390_interrupt interrupt = { .type = KVM_S390_INT_SERVICE, .parm = 0x1000 };
    CHECK(ioctl(vm, KVM_S390_INTERRUPT, &interrupt) == 0, "VM INTERRUPT service: %s", strerror(errno));
    CHECK(ERR(ioctl(vm, KVM_S390_INTERRUPT, NULL), EFAULT), "VM INTERRUPT NULL: errno %d", ERRNO_NOW);
    interrupt.type = KVM_S390_PROGRAM_INT;
    CHECK(ERR(ioctl(vm, KVM_S390_INTERRUPT, &interrupt), EINVAL), "VM INTERRUPT program (a vCPU type): errno %d", ERRNO_NOW);
    interrupt.type = KVM_S390_INT_VIRTIO;
    CHECK(ERR(ioctl(vm, KVM_S390_INTERRUPT, &interrupt), EINVAL), "VM INTERRUPT virtio (not modelled): errno %d", ERRNO_NOW);

    // Device attributes: the TOD group.
    __u64 tod = 0x1234567800000000ULL, read1 = 0, read2 = 0;
    struct kvm_device_attr attr = { .group = KVM_S390_VM_TOD, .attr = KVM_S390_VM_TOD_LOW, .addr = (__u64)(uintptr_t)&tod };
    CHECK(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr) == 0, "SET TOD LOW: %s", strerror(errno));
    attr.addr = (__u64)(uintptr_t)&read1;
    CHECK(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr) == 0, "GET TOD LOW: %s", strerror(errno));
    usleep(2000);
    attr.addr = (__u64)(uintptr_t)&read2;
    CHECK(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr) == 0, "GET TOD LOW again: %s", strerror(errno));
    CHECK(read1 >= tod && read1 - tod < (60ULL << 12) * 1000000, "TOD round trip: set 0x%llx read 0x%llx",
          (unsigned long long)tod, (unsigned long long)read1);
    CHECK(read2 > read1, "TOD advances: 0x%llx then 0x%llx", (unsigned long long)read1, (unsigned long long)read2);
    __u8 high = 0;
    attr.attr = KVM_S390_VM_TOD_HIGH; attr.addr = (__u64)(uintptr_t)&high;
    CHECK(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr) == 0, "SET TOD HIGH 0: %s", strerror(errno));
    high = 1;
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr), EINVAL), "SET TOD HIGH 1: errno %d", ERRNO_NOW);
    high = 0xff;
    CHECK(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr) == 0 && high == 0, "GET TOD HIGH is 0: %u", high);
    attr.addr = 8;
    CHECK(ERR(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr), EFAULT), "GET TOD HIGH to (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr), EFAULT), "SET TOD HIGH from (void*)8: errno %d", ERRNO_NOW);
    attr.attr = KVM_S390_VM_TOD_LOW;
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr), EFAULT), "SET TOD LOW from (void*)8: errno %d", ERRNO_NOW);
    CHECK(ioctl(vm, KVM_HAS_DEVICE_ATTR, &attr) == 0, "HAS TOD LOW: %s", strerror(errno));
    attr.attr = 99;
    CHECK(ERR(ioctl(vm, KVM_HAS_DEVICE_ATTR, &attr), ENXIO), "HAS TOD attr 99: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr), ENXIO), "GET TOD attr 99: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr), ENXIO), "SET TOD attr 99: errno %d", ERRNO_NOW);
    attr.group = 77; attr.attr = 0;
    CHECK(ERR(ioctl(vm, KVM_HAS_DEVICE_ATTR, &attr), ENXIO), "HAS group 77: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_GET_DEVICE_ATTR, &attr), ENXIO), "GET group 77: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, &attr), ENXIO), "SET group 77: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_SET_DEVICE_ATTR, NULL), EFAULT), "SET_DEVICE_ATTR NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_GET_DEVICE_ATTR, (void *)8), EFAULT), "GET_DEVICE_ATTR (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_HAS_DEVICE_ATTR, NULL), EFAULT), "HAS_DEVICE_ATTR NULL: errno %d", ERRNO_NOW);
    // kvm_s390_set_tod / kvm_s390_get_tod: attr->flags != 0 -> EINVAL.
    tod = 0;
    struct kvm_device_attr flagged = { .flags = 1, .group = KVM_S390_VM_TOD, .attr = KVM_S390_VM_TOD_LOW,
                                       .addr = (__u64)(uintptr_t)&tod };
    errno = 0;
    int r = ioctl(vm, KVM_SET_DEVICE_ATTR, &flagged);
    CHECK(r == -1 && errno == EINVAL, "SET TOD LOW with attr.flags 1: Linux EINVAL (kvm_s390_set_tod), got %d errno %d", r, errno);
    errno = 0;
    r = ioctl(vm, KVM_GET_DEVICE_ATTR, &flagged);
    CHECK(r == -1 && errno == EINVAL, "GET TOD LOW with attr.flags 1: Linux EINVAL (kvm_s390_get_tod), got %d errno %d", r, errno);

    // Memory attributes: KVM_CAP_MEMORY_ATTRIBUTES is 0 -> ENOTTY (spec D1).
    struct kvm_memory_attributes attributes = { .address = 0, .size = mib, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE };
    CHECK(ERR(ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attributes), ENOTTY), "SET_MEMORY_ATTRIBUTES: errno %d", ERRNO_NOW);
    attributes.attributes = 0;
    CHECK(ERR(ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attributes), ENOTTY), "SET_MEMORY_ATTRIBUTES shared: errno %d", ERRNO_NOW);

    // KVM_ENABLE_CAP on the VM: copy first, then unknown capability EINVAL.
    struct kvm_enable_cap cap = { .cap = 0 };
    CHECK(ERR(ioctl(vm, KVM_ENABLE_CAP, NULL), EFAULT), "VM ENABLE_CAP NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_ENABLE_CAP, &cap), EINVAL), "VM ENABLE_CAP 0: errno %d", ERRNO_NOW);

    // KVM_CREATE_VCPU.
    CHECK(ERR(ioctl(vm, KVM_CREATE_VCPU, 248), EINVAL), "CREATE_VCPU 248: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_CREATE_VCPU, 1000), EINVAL), "CREATE_VCPU 1000: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_CREATE_VCPU, 1UL << 32), EINVAL), "CREATE_VCPU 1<<32: errno %d", ERRNO_NOW);
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 247);
    CHECK(vcpu >= 0, "CREATE_VCPU 247: %s", strerror(errno));
    CHECK(ERR(ioctl(vm, KVM_CREATE_VCPU, 247), EEXIST), "CREATE_VCPU 247 twice: errno %d", ERRNO_NOW);
    close(vcpu);
    // The vCPU object stays with the VM after its fd is closed (Linux never destroys single vCPUs).
    CHECK(ERR(ioctl(vm, KVM_CREATE_VCPU, 247), EEXIST), "CREATE_VCPU 247 after close: errno %d", ERRNO_NOW);

    close(other_memfd);
    close(other);
    close(memfd);
    close(vm);
}

static void vcpu_ioctls(int kvm) {
    int vm = make_vm(kvm);
    int memfd = make_memfd(vm, mib);
    CHECK(set_region(vm, 0, KVM_MEM_GUEST_MEMFD, 0, mib, memfd, 0) == 0, "memslot: %s", strerror(errno));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu >= 0, "CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    CHECK(run != MAP_FAILED, "mmap kvm_run: %s", strerror(errno));

    // Wrong kinds: a VM or system ioctl on a vCPU fd is ENOTTY; a non-KVM type byte is EINVAL.
    CHECK(ERR(ioctl(vcpu, KVM_CREATE_VCPU, 1), ENOTTY), "CREATE_VCPU on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_CREATE_GUEST_MEMFD, NULL), ENOTTY), "CREATE_GUEST_MEMFD on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_GET_API_VERSION, 0), ENOTTY), "GET_API_VERSION on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_DEVICE_ATTR, NULL), ENOTTY), "SET_DEVICE_ATTR on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_PV_COMMAND, NULL), ENOTTY), "PV_COMMAND on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, _IO(KVMIO, 0xef), 0), ENOTTY), "unknown vCPU ioctl: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, TCGETS, NULL), EINVAL), "TCGETS (type 'T') on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, _IOW('X', 0x80, int), NULL), EINVAL), "type 'X' ioctl on a vCPU fd: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vm, KVM_S390_PV_CPU_COMMAND, NULL), ENOTTY), "PV_CPU_COMMAND on a VM fd: errno %d", ERRNO_NOW);
    // KVM_CHECK_EXTENSION is a system and VM ioctl; kvm_vcpu_ioctl has no case for it (ENOTTY).
    errno = 0;
    int r = ioctl(vcpu, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD);
    CHECK(r == -1 && errno == ENOTTY, "CHECK_EXTENSION on a vCPU fd: Linux ENOTTY (kvm_arch_vcpu_ioctl default), got %d errno %d", r, errno);

    // vCPU mmap: only the run page.
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, vcpu, 0) != MAP_FAILED, "second mmap of kvm_run");

    // Bad pointers.
    CHECK(ERR(ioctl(vcpu, KVM_GET_REGS, NULL), EFAULT), "GET_REGS NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_GET_REGS, (void *)8), EFAULT), "GET_REGS (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_REGS, NULL), EFAULT), "SET_REGS NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_GET_SREGS, (void *)8), EFAULT), "GET_SREGS (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_SREGS, NULL), EFAULT), "SET_SREGS NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_GET_FPU, NULL), EFAULT), "GET_FPU NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_FPU, (void *)8), EFAULT), "SET_FPU (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_MP_STATE, NULL), EFAULT), "SET_MP_STATE NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, NULL), EFAULT), "SET_INITIAL_PSW NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, NULL), EFAULT), "vCPU MEM_OP NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, (void *)8), EFAULT), "vCPU MEM_OP (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_IRQ, NULL), EFAULT), "S390_IRQ NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_S390_INTERRUPT, (void *)8), EFAULT), "vCPU INTERRUPT (void*)8: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_SET_GUEST_DEBUG, NULL), EFAULT), "SET_GUEST_DEBUG NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(vcpu, KVM_ENABLE_CAP, NULL), EFAULT), "vCPU ENABLE_CAP NULL: errno %d", ERRNO_NOW);
    struct kvm_enable_cap cap = { .cap = 0 };
    CHECK(ERR(ioctl(vcpu, KVM_ENABLE_CAP, &cap), EINVAL), "vCPU ENABLE_CAP 0: errno %d", ERRNO_NOW);
    // KVM_S390_STORE_STATUS outside guest storage: write_guest_abs fails -> EFAULT.
    CHECK(ERR(ioctl(vcpu, KVM_S390_STORE_STATUS, 16 * mib), EFAULT), "STORE_STATUS beyond memory: errno %d", ERRNO_NOW);

    // SET_FPU: reserved FPC bits (test_fp_ctl) -> EINVAL.
    struct kvm_fpu fpu = { .fpc = 0xffffffff };
    CHECK(ERR(ioctl(vcpu, KVM_SET_FPU, &fpu), EINVAL), "SET_FPU reserved FPC bits: errno %d", ERRNO_NOW);
    fpu.fpc = 0;
    CHECK(ioctl(vcpu, KVM_SET_FPU, &fpu) == 0, "SET_FPU fpc 0: %s", strerror(errno));

    // vCPU interruptions: an unknown type is EINVAL. Accepted ones would stay pending, so they
    // go to a vCPU that never runs.
    int idle = ioctl(vm, KVM_CREATE_VCPU, 1);
    CHECK(idle >= 0, "CREATE_VCPU 1: %s", strerror(errno));
    struct kvm_s390_irq irq = { .type = 0x12345678 };
    CHECK(ERR(ioctl(vcpu, KVM_S390_IRQ, &irq), EINVAL), "S390_IRQ unknown type: errno %d", ERRNO_NOW);
    irq.type = KVM_S390_INT_SERVICE;   // floating, not a vCPU type
    CHECK(ERR(ioctl(vcpu, KVM_S390_IRQ, &irq), EINVAL), "S390_IRQ service on a vCPU: errno %d", ERRNO_NOW);
    // s390int_to_s390irq: a program-interruption code above 0xffff is EINVAL.
    struct kvm_s390_interrupt interrupt = { .type = KVM_S390_PROGRAM_INT, .parm = 0x10001 };
    errno = 0;
    r = ioctl(idle, KVM_S390_INTERRUPT, &interrupt);
    CHECK(r == -1 && errno == EINVAL, "vCPU INTERRUPT program parm 0x10001: Linux EINVAL (s390int_to_s390irq), got %d errno %d", r, errno);
    // __inject_sigp_emergency: the sending CPU must exist.
    irq = (struct kvm_s390_irq){ .type = KVM_S390_INT_EMERGENCY };
    irq.u.emerg.code = 200;
    errno = 0;
    r = ioctl(idle, KVM_S390_IRQ, &irq);
    CHECK(r == -1 && errno == EINVAL, "S390_IRQ emergency from CPU 200 (none): Linux EINVAL (__inject_sigp_emergency), got %d errno %d", r, errno);

    // vCPU MEM_OP (kvm_s390_vcpu_memsida_op, kvm_s390_vcpu_mem_op).
    unsigned char buffer[64] = { 0x5a };
    struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_LOGICAL_WRITE, 0x2000, 8, buffer);
    CHECK(ioctl(vcpu, KVM_S390_MEM_OP, &m) == 0, "vCPU MEM_OP write: %s", strerror(errno));
    m.size = 0;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "vCPU MEM_OP size 0: errno %d", ERRNO_NOW);
    m.size = 65537;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), E2BIG), "vCPU MEM_OP size 65537: errno %d", ERRNO_NOW);
    m.size = 8; m.flags = 1ULL << 6;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "vCPU MEM_OP unknown flag: errno %d", ERRNO_NOW);
    m.flags = KVM_S390_MEMOP_F_SKEY_PROTECTION; m.key = 16;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "vCPU MEM_OP key 16 with SKEY: errno %d", ERRNO_NOW);
    m.flags = 0; m.key = 0; m.ar = 16;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "vCPU MEM_OP ar 16: errno %d", ERRNO_NOW);
    m.size = 65537;                                  // the common checks come before ar
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), E2BIG), "vCPU MEM_OP ar 16 and size 65537: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_LOGICAL_WRITE, 0x2000, 8, buffer);
    m.ar = 15;
    CHECK(ioctl(vcpu, KVM_S390_MEM_OP, &m) == 0, "vCPU MEM_OP ar 15: %s", strerror(errno));
    m = memop(KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer);
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "SIDA_READ on a non-protected vCPU: errno %d", ERRNO_NOW);
    m.op = KVM_S390_MEMOP_SIDA_WRITE;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "SIDA_WRITE on a non-protected vCPU: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_ABSOLUTE_READ, 0x2000, 8, buffer);
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EINVAL), "ABSOLUTE op on a vCPU: errno %d", ERRNO_NOW);
    m = memop(KVM_S390_MEMOP_LOGICAL_READ, 4 * mib, 8, buffer);
    CHECK(ioctl(vcpu, KVM_S390_MEM_OP, &m) == 5, "vCPU MEM_OP beyond memory: PGM addressing");
    m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
    CHECK(ioctl(vcpu, KVM_S390_MEM_OP, &m) == 5, "vCPU MEM_OP CHECK_ONLY beyond memory: PGM addressing");
    m = memop(KVM_S390_MEMOP_LOGICAL_WRITE, 0x2000, 8, (void *)8);
    m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
    CHECK(ioctl(vcpu, KVM_S390_MEM_OP, &m) == 0, "vCPU MEM_OP CHECK_ONLY write: %s", strerror(errno));
    m.flags = 0;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EFAULT), "vCPU MEM_OP write from (void*)8: errno %d", ERRNO_NOW);
    m.op = KVM_S390_MEMOP_LOGICAL_READ;
    CHECK(ERR(ioctl(vcpu, KVM_S390_MEM_OP, &m), EFAULT), "vCPU MEM_OP read into (void*)8: errno %d", ERRNO_NOW);

    // PV commands: a PV host reads the struct first (kvm_pv.c covers the rest).
    CHECK(ERR(ioctl(vcpu, KVM_S390_PV_CPU_COMMAND, NULL), EFAULT), "PV_CPU_COMMAND NULL: errno %d", ERRNO_NOW);

    // KVM_RUN: argument, immediate_exit, then sync-register fields.
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 1), EINVAL), "KVM_RUN arg 1: errno %d", ERRNO_NOW);
    run->immediate_exit = 1;
    run->exit_reason = 0x1234;
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINTR), "KVM_RUN immediate_exit: errno %d", ERRNO_NOW);
    // s390's kvm_arch_vcpu_ioctl_run returns -EINTR before touching kvm_run (x86 sets KVM_EXIT_INTR).
    CHECK(run->exit_reason == 0x1234, "immediate_exit: Linux s390 leaves exit_reason unchanged, got %u (KVM_EXIT_INTR is %d)",
          run->exit_reason, KVM_EXIT_INTR);
    run->kvm_dirty_regs = 1ULL << 40;
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINTR), "immediate_exit comes before the sync-register check: errno %d", ERRNO_NOW);
    run->immediate_exit = 0;
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN unknown dirty sync register: errno %d", ERRNO_NOW);
    run->kvm_dirty_regs = 0;
    __u64 valid = run->kvm_valid_regs;
    run->kvm_valid_regs = 1ULL << 40;
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN unknown valid sync register: errno %d", ERRNO_NOW);
    run->kvm_valid_regs = valid;

    // A guest that runs to an intercept (LGHI 1,1; SERVC 1,2): the vCPU is then operating.
    unsigned char guest[] = { 0xA7, 0x19, 0x00, 0x01, 0xB2, 0x20, 0x00, 0x12 };
    m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x10000, sizeof guest, guest);
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "load guest: %s", strerror(errno));
    struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
    CHECK(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw) == 0, "SET_INITIAL_PSW on a stopped vCPU: %s", strerror(errno));
    CHECK(ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN to the intercept: %s", strerror(errno));
    CHECK(ERR(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw), EBUSY), "SET_INITIAL_PSW on an operating vCPU: errno %d", ERRNO_NOW);

    // SET_MP_STATE: LOAD needs a protected vCPU, CHECK_STOP is unsupported -> ENXIO; either way
    // userspace now controls CPU states.
    struct kvm_mp_state state = { .mp_state = KVM_MP_STATE_LOAD };
    CHECK(ERR(ioctl(vcpu, KVM_SET_MP_STATE, &state), ENXIO), "SET_MP_STATE LOAD: errno %d", ERRNO_NOW);
    state.mp_state = KVM_MP_STATE_CHECK_STOP;
    CHECK(ERR(ioctl(vcpu, KVM_SET_MP_STATE, &state), ENXIO), "SET_MP_STATE CHECK_STOP: errno %d", ERRNO_NOW);
    state.mp_state = 99;
    CHECK(ERR(ioctl(vcpu, KVM_SET_MP_STATE, &state), ENXIO), "SET_MP_STATE 99: errno %d", ERRNO_NOW);
    state.mp_state = KVM_MP_STATE_STOPPED;
    CHECK(ioctl(vcpu, KVM_SET_MP_STATE, &state) == 0, "SET_MP_STATE STOPPED: %s", strerror(errno));
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN on a stopped vCPU (user CPU-state control): errno %d", ERRNO_NOW);
    state.mp_state = KVM_MP_STATE_OPERATING;
    CHECK(ioctl(vcpu, KVM_SET_MP_STATE, &state) == 0, "SET_MP_STATE OPERATING: %s", strerror(errno));
    CHECK(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw) == -1, "SET_INITIAL_PSW while operating fails");
    state.mp_state = KVM_MP_STATE_STOPPED;
    CHECK(ioctl(vcpu, KVM_SET_MP_STATE, &state) == 0, "SET_MP_STATE STOPPED: %s", strerror(errno));
    CHECK(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw) == 0, "SET_INITIAL_PSW after stop: %s", strerror(errno));
    state.mp_state = KVM_MP_STATE_OPERATING;
    CHECK(ioctl(vcpu, KVM_SET_MP_STATE, &state) == 0, "SET_MP_STATE OPERATING: %s", strerror(errno));
    CHECK(ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN after start: %s", strerror(errno));

    munmap(run, (size_t)size);
    close(idle);
    close(vcpu);
    close(memfd);
    close(vm);
}

// KVM_S390_PV_COMMAND: user CPU-state control is switched on first, for every command, even one
// that fails before its struct is read (spec kvm-pv-ioctl.md 1.5).
static void pv_command(int kvm) {
    int vm = make_vm(kvm);
    int memfd = make_memfd(vm, mib);
    CHECK(set_region(vm, 0, KVM_MEM_GUEST_MEMFD, 0, mib, memfd, 0) == 0, "memslot: %s", strerror(errno));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    CHECK(vcpu >= 0 && run != MAP_FAILED, "vCPU");
    CHECK(ERR(ioctl(vm, KVM_S390_PV_COMMAND, NULL), EFAULT), "PV_COMMAND NULL: errno %d", ERRNO_NOW);
    struct kvm_pv_cmd command = { .cmd = KVM_PV_ENABLE, .rc = 0x1111, .rrc = 0x2222, .flags = 1 };
    CHECK(ERR(ioctl(vm, KVM_S390_PV_COMMAND, &command), EINVAL), "PV_COMMAND ENABLE with flags: errno %d", ERRNO_NOW);
    CHECK(command.rc == 0x1111 && command.rrc == 0x2222 && command.cmd == KVM_PV_ENABLE, "struct not copied back");
    // The side effect: the new (stopped) vCPU is not started by KVM_RUN any more.
    CHECK(ERR(ioctl(vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN after PV_COMMAND on a stopped vCPU: errno %d", ERRNO_NOW);
    struct kvm_mp_state state = { .mp_state = KVM_MP_STATE_OPERATING };
    CHECK(ioctl(vcpu, KVM_SET_MP_STATE, &state) == 0, "SET_MP_STATE OPERATING: %s", strerror(errno));
    unsigned char guest[] = { 0xB2, 0x20, 0x00, 0x12 };
    struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x10000, sizeof guest, guest);
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &m) == 0, "load guest");
    run->psw_mask = 0x0000000180000000ULL;
    run->psw_addr = 0x10000;
    CHECK(ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN once started: %s", strerror(errno));

    // A VM without PV_COMMAND or SET_MP_STATE: KVM_RUN starts the stopped vCPU itself.
    int vm2 = make_vm(kvm);
    int memfd2 = make_memfd(vm2, mib);
    CHECK(set_region(vm2, 0, KVM_MEM_GUEST_MEMFD, 0, mib, memfd2, 0) == 0, "memslot 2");
    int vcpu2 = ioctl(vm2, KVM_CREATE_VCPU, 0);
    struct kvm_run *run2 = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu2, 0);
    m.buf = (__u64)(uintptr_t)guest;
    CHECK(ioctl(vm2, KVM_S390_MEM_OP, &m) == 0, "load guest 2");
    struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
    CHECK(ioctl(vcpu2, KVM_S390_SET_INITIAL_PSW, &psw) == 0, "PSW 2");
    CHECK(ioctl(vcpu2, KVM_RUN, 0) == 0 && run2->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN without user control: %s", strerror(errno));

    munmap(run2, (size_t)size);
    close(vcpu2);
    close(memfd2);
    close(vm2);
    munmap(run, (size_t)size);
    close(vcpu);
    close(memfd);
    close(vm);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
    system_ioctls(kvm);
    vm_ioctls(kvm);
    vcpu_ioctls(kvm);
    pv_command(kvm);
    close(kvm);
    printf("kvm_errors: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
