// An ordinary s390 KVM userspace program: /dev/kvm, a VM, a guest_memfd, a memslot and a vCPU;
// it loads a tiny guest with KVM_S390_MEM_OP, runs it to an intercept and checks the exit.
// Run it under the s390pv preload shim (LD_PRELOAD=libs390pvpreload.so).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

static int passed, failed;
#define CHECK(condition, ...) do { if (condition) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
    CHECK(ioctl(kvm, KVM_GET_API_VERSION, 0) == 12, "API version");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) == 1, "guest_memfd capability");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));

    struct kvm_create_guest_memfd gmem = { .size = 1 << 20 };
    int memfd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
    CHECK(memfd >= 0, "KVM_CREATE_GUEST_MEMFD: %s", strerror(errno));
    struct kvm_userspace_memory_region2 region = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = 0, .memory_size = 1 << 20,
        .guest_memfd = (__u32)memfd, .guest_memfd_offset = 0 };
    CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region) == 0, "memslot: %s", strerror(errno));

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu >= 0, "KVM_CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    CHECK(run != MAP_FAILED, "mmap kvm_run: %s", strerror(errno));

    // The guest: LGHI 1,42; SERVC 1,2 (an instruction the VMM must handle).
    unsigned char guest[] = { 0xA7, 0x19, 0x00, 0x2A, 0xB2, 0x20, 0x00, 0x12 };
    struct kvm_s390_mem_op write = { .gaddr = 0x10000, .size = sizeof guest, .op = KVM_S390_MEMOP_ABSOLUTE_WRITE,
                                     .buf = (__u64)(unsigned long)guest };
    CHECK(ioctl(vm, KVM_S390_MEM_OP, &write) == 0, "MEM_OP write: %s", strerror(errno));
    struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
    CHECK(ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw) == 0, "SET_INITIAL_PSW: %s", strerror(errno));

    CHECK(ioctl(vcpu, KVM_RUN, 0) == 0, "KVM_RUN: %s", strerror(errno));
    CHECK(run->exit_reason == KVM_EXIT_S390_SIEIC, "exit reason %u", run->exit_reason);
    CHECK(run->s390_sieic.icptcode == 4, "icptcode %u", run->s390_sieic.icptcode);
    CHECK(run->s390_sieic.ipa == 0xB220, "ipa 0x%x", run->s390_sieic.ipa);
    CHECK(run->s390_sieic.ipb >> 16 == 0x0012, "ipb 0x%x", run->s390_sieic.ipb);
    CHECK(run->psw_addr == 0x10008, "psw address 0x%llx", (unsigned long long)run->psw_addr);
    CHECK(run->s.regs.gprs[1] == 42, "r1 %llu", (unsigned long long)run->s.regs.gprs[1]);

    // Garbage arguments: errno as Linux.
    CHECK(ioctl(vm, KVM_S390_MEM_OP, (void *)8) == -1 && errno == EFAULT, "bad pointer: errno %d", errno);
    CHECK(ioctl(vcpu, KVM_CREATE_VCPU, 1) == -1 && errno == ENOTTY, "VM ioctl on a vCPU fd: errno %d", errno);
    CHECK(ioctl(vm, KVM_RUN, 0) == -1 && errno == ENOTTY, "KVM_RUN on a VM fd: errno %d", errno);
    CHECK(ioctl(vcpu, KVM_RUN, 1) == -1 && errno == EINVAL, "KVM_RUN with an argument: errno %d", errno);
    char byte;
    CHECK(read(memfd, &byte, 1) == -1 && errno == EINVAL, "read guest_memfd: errno %d", errno);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, memfd, 0) == MAP_FAILED && errno == ENODEV, "mmap guest_memfd: errno %d", errno);

    munmap(run, (size_t)size);
    close(vcpu);
    close(memfd);
    close(vm);
    close(kvm);
    printf("kvm_boot: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
