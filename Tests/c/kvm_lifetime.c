// Lifetime of the kernel model's objects: closing the descriptors in any order (and unmapping the
// kvm_run pages) releases everything, as in Linux where each fd holds a reference on what it needs
// (a vCPU fd and a guest_memfd fd keep the VM alive; the VM keeps neither). Checked by counting
// /proc/self/fd entries, /proc/self/maps lines and /proc/self/task entries against a baseline.
// Also: a VM whose fd was closed lives on while a vCPU fd is open (KVM_RUN still works).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

static int passed, failed;
#define CHECK(condition, ...) do { if (condition) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static const __u64 mib = 1 << 20;

struct counts { int fds, maps, tasks; };

static int count_entries(const char *path) {
    DIR *directory = opendir(path);
    if (!directory) return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) if (entry->d_name[0] != '.') count++;
    closedir(directory);
    return count;
}

static int count_lines(const char *path) {
    static char buffer[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int lines = 0;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) for (ssize_t i = 0; i < n; i++) lines += buffer[i] == '\n';
    close(fd);
    return lines;
}

static struct counts measure(void) {
    struct counts c = { count_entries("/proc/self/fd"), count_lines("/proc/self/maps"), count_entries("/proc/self/task") };
    return c;
}

// Everything one VM needs: /dev/kvm, the VM, a 64 MiB guest_memfd bound as slot 0, two vCPUs with
// their kvm_run pages mapped.
struct machine {
    int kvm, vm, memfd, vcpu[2];
    struct kvm_run *run[2];
    size_t run_size;
};

struct run_request { int vcpu; struct kvm_run *run; int result, error; pid_t tid; };

static void *run_vcpu(void *argument) {
    struct run_request *request = argument;
    request->tid = gettid();
    request->result = ioctl(request->vcpu, KVM_RUN, 0);
    request->error = errno;
    return NULL;
}

// The guest at 0x10000: LGHI 1,7; SERVC 1,2 (an intercept).
static const unsigned char guest[] = { 0xA7, 0x19, 0x00, 0x07, 0xB2, 0x20, 0x00, 0x12 };

static int build(struct machine *m) {
    int ok = 1;
    m->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    m->vm = ioctl(m->kvm, KVM_CREATE_VM, 0);
    struct kvm_create_guest_memfd gmem = { .size = 64 * mib };
    m->memfd = ioctl(m->vm, KVM_CREATE_GUEST_MEMFD, &gmem);
    ok &= m->kvm >= 0 && m->vm >= 0 && m->memfd >= 0;
    struct kvm_userspace_memory_region2 region = { .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = 64 * mib,
                                                   .guest_memfd = (__u32)m->memfd };
    ok &= ioctl(m->vm, KVM_SET_USER_MEMORY_REGION2, &region) == 0;
    struct kvm_s390_mem_op write = { .gaddr = 0x10000, .size = sizeof guest, .op = KVM_S390_MEMOP_ABSOLUTE_WRITE,
                                     .buf = (__u64)(uintptr_t)guest };
    ok &= ioctl(m->vm, KVM_S390_MEM_OP, &write) == 0;
    // Touch pages all over the guest so the memory is really populated.
    static unsigned char page[4096];
    memset(page, 0x3C, sizeof page);
    for (__u64 address = mib; address < 64 * mib; address += 4 * mib) {
        struct kvm_s390_mem_op fill = { .gaddr = address, .size = sizeof page, .op = KVM_S390_MEMOP_ABSOLUTE_WRITE,
                                        .buf = (__u64)(uintptr_t)page };
        ok &= ioctl(m->vm, KVM_S390_MEM_OP, &fill) == 0;
    }
    m->run_size = (size_t)ioctl(m->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    for (int i = 0; i < 2; i++) {
        m->vcpu[i] = ioctl(m->vm, KVM_CREATE_VCPU, i);
        m->run[i] = m->vcpu[i] >= 0 ? mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->vcpu[i], 0) : MAP_FAILED;
        ok &= m->vcpu[i] >= 0 && m->run[i] != MAP_FAILED;
        struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
        ok &= ioctl(m->vcpu[i], KVM_S390_SET_INITIAL_PSW, &psw) == 0;
    }
    if (!ok) return 0;
    // vCPU 0 runs to its intercept on a thread of its own.
    struct run_request request = { .vcpu = m->vcpu[0], .run = m->run[0] };
    pthread_t thread;
    if (pthread_create(&thread, NULL, run_vcpu, &request) != 0) return 0;
    pthread_join(thread, NULL);
    // pthread_join returns at the kernel's tid-clear wake-up, before the task is reaped and leaves
    // /proc/self/task: wait for that (bounded), so task counts compare like with like.
    char task[64];
    snprintf(task, sizeof task, "/proc/self/task/%d", request.tid);
    for (int i = 0; i < 400 && access(task, F_OK) == 0; i++) usleep(5000);
    ok &= request.result == 0 && m->run[0]->exit_reason == KVM_EXIT_S390_SIEIC && m->run[0]->s390_sieic.ipa == 0xB220
          && m->run[0]->s.regs.gprs[1] == 7;
    return ok;
}

enum step { CLOSE_KVM, CLOSE_VM, CLOSE_MEMFD, CLOSE_VCPU0, CLOSE_VCPU1, UNMAP0, UNMAP1 };

static void tear_down(struct machine *m, const enum step *steps, int count) {
    for (int i = 0; i < count; i++) {
        int r = 0;
        switch (steps[i]) {
        case CLOSE_KVM: r = close(m->kvm); break;
        case CLOSE_VM: r = close(m->vm); break;
        case CLOSE_MEMFD: r = close(m->memfd); break;
        case CLOSE_VCPU0: r = close(m->vcpu[0]); break;
        case CLOSE_VCPU1: r = close(m->vcpu[1]); break;
        case UNMAP0: r = munmap(m->run[0], m->run_size); break;
        case UNMAP1: r = munmap(m->run[1], m->run_size); break;
        }
        CHECK(r == 0, "tear-down step %d (%d): %s", i, steps[i], strerror(errno));
    }
}

static void cycle(const char *name, struct counts baseline, const enum step *steps, int count) {
    struct machine m;
    CHECK(build(&m), "%s: build the machine: %s", name, strerror(errno));
    struct counts during = measure();
    CHECK(during.fds > baseline.fds && during.maps > baseline.maps, "%s: the machine is visible (fds %d, maps %d)",
          name, during.fds, during.maps);
    tear_down(&m, steps, count);
    struct counts after = measure();
    CHECK(after.fds == baseline.fds, "%s: fds %d, baseline %d", name, after.fds, baseline.fds);
    CHECK(after.maps == baseline.maps, "%s: maps lines %d, baseline %d", name, after.maps, baseline.maps);
    CHECK(after.tasks == baseline.tasks, "%s: tasks %d, baseline %d", name, after.tasks, baseline.tasks);
}

// Linux: the vCPU file holds a reference on the VM, so the VM outlives its fd.
static void vm_outlives_its_fd(struct counts baseline) {
    struct machine m;
    CHECK(build(&m), "build: %s", strerror(errno));
    CHECK(close(m.vm) == 0 && close(m.memfd) == 0 && close(m.kvm) == 0, "close VM, guest_memfd and /dev/kvm");
    CHECK(ioctl(m.vm, KVM_CHECK_EXTENSION, 0) == -1 && errno == EBADF, "the VM fd is closed: errno %d", errno);
    // vCPU 1 has not run yet: it runs to the same intercept now.
    CHECK(ioctl(m.vcpu[1], KVM_RUN, 0) == 0, "KVM_RUN after the VM fd was closed: %s", strerror(errno));
    CHECK(m.run[1]->exit_reason == KVM_EXIT_S390_SIEIC && m.run[1]->s390_sieic.ipa == 0xB220, "intercept: exit %u ipa 0x%x",
          m.run[1]->exit_reason, m.run[1]->s390_sieic.ipa);
    CHECK(m.run[1]->s.regs.gprs[1] == 7, "r1 %llu", (unsigned long long)m.run[1]->s.regs.gprs[1]);
    // Guest memory is still there, through the vCPU.
    unsigned char bytes[sizeof guest] = { 0 };
    struct kvm_s390_mem_op read = { .gaddr = 0x10000, .size = sizeof bytes, .op = KVM_S390_MEMOP_LOGICAL_READ,
                                    .buf = (__u64)(uintptr_t)bytes };
    CHECK(ioctl(m.vcpu[1], KVM_S390_MEM_OP, &read) == 0 && memcmp(bytes, guest, sizeof guest) == 0,
          "vCPU MEM_OP reads the guest after the VM fd was closed");
    // vCPU 0 too, on the main thread this time: PSW back to the start (it is operating: stop it first).
    struct kvm_mp_state stopped = { .mp_state = KVM_MP_STATE_STOPPED }, operating = { .mp_state = KVM_MP_STATE_OPERATING };
    struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
    CHECK(ioctl(m.vcpu[0], KVM_SET_MP_STATE, &stopped) == 0 && ioctl(m.vcpu[0], KVM_S390_SET_INITIAL_PSW, &psw) == 0
          && ioctl(m.vcpu[0], KVM_SET_MP_STATE, &operating) == 0, "restart vCPU 0: %s", strerror(errno));
    CHECK(ioctl(m.vcpu[0], KVM_RUN, 0) == 0 && m.run[0]->exit_reason == KVM_EXIT_S390_SIEIC, "vCPU 0 runs: %s", strerror(errno));
    enum step rest[] = { CLOSE_VCPU1, UNMAP1, UNMAP0, CLOSE_VCPU0 };
    tear_down(&m, rest, 4);
    struct counts after = measure();
    CHECK(after.fds == baseline.fds && after.maps == baseline.maps && after.tasks == baseline.tasks,
          "after the last vCPU: fds %d/%d maps %d/%d tasks %d/%d", after.fds, baseline.fds, after.maps, baseline.maps,
          after.tasks, baseline.tasks);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    // Warm-up: the first machine initialises things that live for the whole process (the Swift
    // runtime's caches, a malloc arena for the vCPU thread); the baseline is taken after it.
    enum step simple[] = { UNMAP0, UNMAP1, CLOSE_VCPU0, CLOSE_VCPU1, CLOSE_MEMFD, CLOSE_VM, CLOSE_KVM };
    struct machine warm;
    CHECK(build(&warm), "warm-up machine: %s", strerror(errno));
    tear_down(&warm, simple, 7);
    struct counts baseline = measure();
    CHECK(baseline.fds > 0 && baseline.maps > 0 && baseline.tasks == 1, "baseline: fds %d maps %d tasks %d",
          baseline.fds, baseline.maps, baseline.tasks);

    cycle("vCPUs first", baseline, simple, 7);
    enum step vm_first[] = { CLOSE_VM, CLOSE_MEMFD, CLOSE_VCPU0, CLOSE_VCPU1, UNMAP0, UNMAP1, CLOSE_KVM };
    cycle("VM first", baseline, vm_first, 7);
    enum step memfd_first[] = { CLOSE_MEMFD, CLOSE_VCPU1, CLOSE_VM, UNMAP1, UNMAP0, CLOSE_KVM, CLOSE_VCPU0 };
    cycle("guest_memfd first", baseline, memfd_first, 7);
    enum step kvm_first[] = { CLOSE_KVM, CLOSE_VCPU0, UNMAP1, CLOSE_VM, CLOSE_VCPU1, CLOSE_MEMFD, UNMAP0 };
    cycle("/dev/kvm first, unmap last", baseline, kvm_first, 7);
    enum step vcpu_last[] = { CLOSE_VM, UNMAP0, UNMAP1, CLOSE_KVM, CLOSE_VCPU0, CLOSE_MEMFD, CLOSE_VCPU1 };
    cycle("a vCPU last", baseline, vcpu_last, 7);
    enum step memfd_last[] = { UNMAP1, CLOSE_VCPU1, CLOSE_KVM, CLOSE_VCPU0, CLOSE_VM, UNMAP0, CLOSE_MEMFD };
    cycle("guest_memfd last", baseline, memfd_last, 7);

    vm_outlives_its_fd(baseline);

    // Many machines, in sequence: nothing accumulates.
    for (int i = 0; i < 5; i++) cycle("repeat", baseline, (i & 1) ? vm_first : memfd_first, 7);

    printf("kvm_lifetime: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
