// KVM_PV_ASYNC_CLEANUP_PREPARE (9) and KVM_PV_ASYNC_CLEANUP_PERFORM (10) at the ioctl boundary:
// every row of the state table in ../shared/spec/kvm-pv-ioctl.md §3.2 that involves them (§2.8,
// §2.9, §2.2 for DISABLE with leftovers, §3.4 for VM destruction), capability 224 (§1.2), the
// documented interleavings (PREPARE while a PERFORM runs, concurrent PERFORMs), a protected boot
// of a real SE image ($S390PV_PV_IMAGE, sealed for $S390PV_HOST_KEY) before and after PREPARE, and
// PERFORMs interrupted by a real SIGTERM at random points (each in a child process of its own,
// since a fatal signal is remembered for the life of the process). Run it under the preload shim.
//
// rc/rrc rule as in kvm_pv.c: every command starts with the sentinels rc 0xA5A5, rrc 0x5A5A;
// "untouched" means the caller sees them afterwards. A successful PREPARE and an interrupted
// PERFORM report rc 1 / rrc 42; a PERFORM of a fast-destroyed configuration (DESTROY_SEC_CONF_FAST
// is installed by default) leaves the caller's rc/rrc.
//
// "Nothing leaks" is measured on the process: open descriptors (/proc/self/fd) and the mapped
// address space (VmSize): each set-aside configuration owns backing files and a mapping of them.
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "s390pv_pv_test.h"

// Exported by the preload library (Sources/CSyscalls): SIGTERM/SIGINT/SIGHUP handlers that set the
// flag the kernel model reads as fatal_signal_pending(). Weak: absent without the shim.
extern void s390pv_install_fatal_signal_handlers(void) __attribute__((weak));
extern int s390pv_fatal_signal_pending(void) __attribute__((weak));

static const __u64 gib = 1ULL << 30;
static const __u64 image_limit = 16 << 20;
static int run_size;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// ---------------------------------------------------------------------------------------------
// KVM_S390_PV_COMMAND with sentinel rc/rrc

struct pv_result { struct kvm_pv_cmd cmd; int result, error; };

// Thread-safe form: the result in a struct of the caller's.
static struct pv_result pv_call(int vm, __u32 cmd, const void *data) {
    struct pv_result r = { .cmd = { .cmd = cmd, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .data = (__u64)(uintptr_t)data } };
    errno = 0;
    r.result = ioctl(vm, KVM_S390_PV_COMMAND, &r.cmd);
    r.error = errno;
    return r;
}

static int result_matches(const struct pv_result *r, int err, int rc, int rrc) {
    int status = err == 0 ? r->result == 0 : (r->result == -1 && r->error == err);
    if (!status) return 0;
    if (rc == UNTOUCHED) return r->cmd.rc == SENTINEL_RC && r->cmd.rrc == SENTINEL_RRC;
    if (rc == UV_ERROR) return r->cmd.rc != SENTINEL_RC && r->cmd.rc != 1 && r->cmd.rc != 0;
    return r->cmd.rc == rc && (rrc == ANY || r->cmd.rrc == rrc);
}

static struct pv_result last;

#define EXPECT_PV(vm_, cmd_, data_, err_, rc_, rrc_, ...) do { \
    last = pv_call((vm_), (cmd_), (data_)); \
    int ok_ = result_matches(&last, (err_), (rc_), (rrc_)); \
    if (ok_) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
        printf(": want errno %d (0: success), %s; got %d errno %d (%s), rc 0x%x rrc 0x%x\n", (err_), want_rc((rc_), (rrc_)), \
               last.result, last.error, strerror(last.error), last.cmd.rc, last.cmd.rrc); } \
} while (0)

#define PREPARE KVM_PV_ASYNC_CLEANUP_PREPARE
#define PERFORM KVM_PV_ASYNC_CLEANUP_PERFORM

// ---------------------------------------------------------------------------------------------
// Process resources

static int fd_count(void) {
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;
    if (!dir) return -1;
    while (readdir(dir)) n++;
    closedir(dir);
    return n - 3;   // ".", ".." and the directory's own descriptor
}

static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') { value = atol(line + n + 1); break; }
    fclose(f);
    return value;
}

struct resources { int fds; long vm_kb, threads; };

static struct resources resources_now(void) {
    return (struct resources){ fd_count(), status_kb("VmSize"), status_kb("Threads") };
}

// Descriptors back to the baseline, and less than 1 GiB more address space (a leaked set-aside
// configuration keeps its backing files open and mapped: ≥ 1 GiB of VmSize per leak).
#define CHECK_NO_LEAK(before_, ...) do { \
    struct resources after_ = resources_now(); \
    if (getenv("KVM_PV_ASYNC_DEBUG_FDS") && after_.fds != (before_).fds) system("ls -l /proc/$PPID/fd; grep -c . /proc/$PPID/maps");  \
    CHECK(after_.fds == (before_).fds && after_.vm_kb - (before_).vm_kb < (long)(gib >> 10), \
          "%s: leak: descriptors %d -> %d, VmSize %ld -> %ld KiB (threads %ld -> %ld)", (__VA_ARGS__), (before_).fds, after_.fds, \
          (before_).vm_kb, after_.vm_kb, (before_).threads, after_.threads); \
} while (0)

// ---------------------------------------------------------------------------------------------
// VMs: guest memory as 1 GiB guest_memfds (as the VMM does), sparse until written

#define MAX_MEMFDS 8
struct guest { int vm, vcpu, memfds; int memfd[MAX_MEMFDS]; struct kvm_run *run; __u64 size; };

// A VM with `size` bytes at 0 (1 GiB memfds, the last one shorter) and vCPU 0 if `with_vcpu`.
static struct guest make_guest(int kvm, __u64 size, int with_vcpu) {
    struct guest g = { .vm = ioctl(kvm, KVM_CREATE_VM, 0), .vcpu = -1, .run = MAP_FAILED, .size = size };
    CHECK(g.vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));
    for (__u64 at = 0; at < size && g.memfds < MAX_MEMFDS; at += gib) {
        __u64 n = size - at < gib ? size - at : gib;
        int fd = make_memfd(g.vm, n);
        CHECK(fd >= 0 && set_region(g.vm, (__u32)g.memfds, at, n, fd, 0) == 0, "guest memory at 0x%llx: %s",
              (unsigned long long)at, strerror(errno));
        g.memfd[g.memfds++] = fd;
    }
    if (with_vcpu) {
        g.vcpu = ioctl(g.vm, KVM_CREATE_VCPU, 0);
        CHECK(g.vcpu >= 0, "KVM_CREATE_VCPU: %s", strerror(errno));
        g.run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g.vcpu, 0);
        CHECK(g.run != MAP_FAILED, "mmap kvm_run: %s", strerror(errno));
    }
    return g;
}

static void close_guest(struct guest *g) {
    if (g->run != MAP_FAILED) munmap(g->run, (size_t)run_size);
    if (g->vcpu >= 0) close(g->vcpu);
    for (int i = 0; i < g->memfds; i++) if (g->memfd[i] >= 0) close(g->memfd[i]);
    close(g->vm);
    *g = (struct guest){ .vm = -1, .vcpu = -1, .run = MAP_FAILED };
}

// Fills [start, start+size) with a recognisable pattern (64 KiB MEM_OPs); 1 on success.
static int write_pattern(int vm, __u64 start, __u64 size, unsigned char seed) {
    static unsigned char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (unsigned char)(seed + i * 7 + 1) | 1;
    for (__u64 a = start; a < start + size; a += sizeof chunk) {
        __u32 n = start + size - a < sizeof chunk ? (__u32)(start + size - a) : (__u32)sizeof chunk;
        if (absolute(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, a, n, chunk) != 0) {
            CHECK(0, "write pattern at 0x%llx: %s", (unsigned long long)a, strerror(errno));
            return 0;
        }
    }
    return 1;
}

// Absolute reads over [start, start+size): 1 if all succeed and read zeros; *bad = first non-zero/failed address.
static int reads_zero(int vm, __u64 start, __u64 size, __u64 *bad) {
    static unsigned char chunk[65536];
    for (__u64 a = start; a < start + size; a += sizeof chunk) {
        __u32 n = start + size - a < sizeof chunk ? (__u32)(start + size - a) : (__u32)sizeof chunk;
        memset(chunk, 0xCC, n);
        if (absolute(vm, KVM_S390_MEMOP_ABSOLUTE_READ, a, n, chunk) != 0) { *bad = a; return 0; }
        for (__u32 i = 0; i < n; i++) if (chunk[i]) { *bad = a + i; return 0; }
    }
    return 1;
}

// ---------------------------------------------------------------------------------------------
// The SE image (as kvm_pv.c)

// load, ENABLE, SET_SEC_PARMS, UNPACK, VERIFY, LOAD/OPERATING, KVM_RUN to the first SERVC intercept.
static void protected_boot(struct guest *g, const struct image *image, const char *what) {
    write_image(g->vm, image);
    EXPECT_PV(g->vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "%s: ENABLE", what);
    struct kvm_s390_pv_sec_parm parm = { .origin = (__u64)(uintptr_t)(image->bytes + image->header_addr), .length = image->header_size };
    EXPECT_PV(g->vm, KVM_PV_SET_SEC_PARMS, &parm, 0, 1, 0, "%s: SET_SEC_PARMS", what);
    int ok = 1;
    for (__u32 i = 0; i < image->count; i++) {
        struct kvm_s390_pv_unp unp = { .addr = image->component[i].addr, .size = image->component[i].size, .tweak = image->component[i].tweak };
        struct pv_result r = pv_call(g->vm, KVM_PV_UNPACK, &unp);
        if (r.result != 0 || r.cmd.rc != 1) {
            ok = 0;
            printf("kvm_pv_async: %s: UNPACK %u: %d errno %d rc 0x%x rrc 0x%x\n", what, i, r.result, r.error, r.cmd.rc, r.cmd.rrc);
        }
    }
    CHECK(ok, "%s: UNPACK every component", what);
    EXPECT_PV(g->vm, KVM_PV_VERIFY, NULL, 0, 1, 0, "%s: VERIFY", what);
    CHECK(set_mp_state(g->vcpu, KVM_MP_STATE_LOAD) == 0, "%s: MP_STATE LOAD: %s", what, strerror(errno));
    CHECK(set_mp_state(g->vcpu, KVM_MP_STATE_OPERATING) == 0, "%s: MP_STATE OPERATING: %s", what, strerror(errno));
    errno = 0;
    int r = ioctl(g->vcpu, KVM_RUN, 0);
    CHECK(r == 0 && g->run->exit_reason == KVM_EXIT_S390_SIEIC && g->run->s390_sieic.icptcode == 0x68 && g->run->s390_sieic.ipa == 0xB220,
          "%s: KVM_RUN to the first SERVC: %d %s, exit %u icptcode 0x%x ipa 0x%x", what, r, strerror(errno), g->run->exit_reason,
          g->run->s390_sieic.icptcode, g->run->s390_sieic.ipa);
}

// ---------------------------------------------------------------------------------------------
// §1.2 capability 224; §3.2 PREPARE in N, PERFORM with nothing set aside (N and P)

static void capability_and_empty(int kvm) {
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED_ASYNC_DISABLE) == 1, "CAP_S390_PROTECTED_ASYNC_DISABLE (224) is 1");
    struct guest g = make_guest(kvm, 3 * gib, 1);
    CHECK(ioctl(g.vm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED_ASYNC_DISABLE) == 1, "CAP 224 on a VM fd is 1");

    EXPECT_PV(g.vm, PREPARE, NULL, EINVAL, UNTOUCHED, 0, "PREPARE on a non-protected VM");
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM with nothing set aside, VM not protected (N)");
    // Nothing changed: still N (DISABLE EINVAL, no secure vCPU), and ENABLE works.
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "N after a refused PREPARE: DISABLE");
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "N after a refused PREPARE: MP_STATE LOAD ENXIO, errno %d", ERRNO_NOW);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE after a refused PREPARE");

    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM with nothing set aside, VM protected (P)");
    // Still P with its secure CPU: ENABLE EINVAL; MP_STATE LOAD goes to the UV (refused before VERIFY: EINVAL, not ENXIO).
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, EINVAL, UNTOUCHED, 0, "P after PERFORM with nothing set aside: ENABLE");
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), EINVAL), "P after an empty PERFORM: the vCPU is still secure (LOAD EINVAL from the UV), errno %d", ERRNO_NOW);
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM after DISABLE");
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// §3.2 PREPARE from P: → N, rc 1/42, memory below 2 GiB non-secure; PERFORM → 0; PERFORM again → EINVAL

static void prepare_perform(int kvm) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    const __u64 spots[] = { 0, 0x10000, gib - page, gib + 12 * page, 2 * gib - page, 2 * gib, 3 * gib - page };
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) write_pattern(g.vm, spots[i], page, (unsigned char)i);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE (3 GiB)");
    unsigned char buffer[64];

    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE of a protected 3 GiB VM");
    // The VM is no longer protected.
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, UNTOUCHED, 0, "VERIFY after PREPARE (N)");
    EXPECT_PV(g.vm, KVM_PV_UNSHARE_ALL, NULL, EINVAL, UNTOUCHED, 0, "UNSHARE_ALL after PREPARE (N)");
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "after PREPARE the vCPU is not secure (LOAD ENXIO), errno %d", ERRNO_NOW);
    // §2.2: DISABLE of a non-protected VM with a set-aside configuration.
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "DISABLE of a non-protected VM with a set-aside configuration");
    // PREPARE again in N: EINVAL, nothing changes.
    EXPECT_PV(g.vm, PREPARE, NULL, EINVAL, UNTOUCHED, 0, "PREPARE in N with a configuration set aside");
    // Pages below 2 GiB are non-secure when PREPARE returns: readable, zeros.
    int zeros = 1;
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        __u64 bad = 0;
        if (spots[i] >= 2 * gib) continue;
        if (!reads_zero(g.vm, spots[i], page, &bad)) {
            zeros = 0;
            printf("kvm_pv_async: after PREPARE 0x%llx: %s\n", (unsigned long long)bad, errno ? strerror(errno) : "old content");
        }
    }
    CHECK(zeros, "after PREPARE the written pages below 2 GiB are readable and zero");
    // Above 2 GiB Linux may still have pages of the set-aside configuration (§3.5): whatever the
    // host sees there, never the old plaintext.
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        if (spots[i] < 2 * gib) continue;
        unsigned char old[64];
        for (size_t j = 0; j < sizeof old; j++) old[j] = (unsigned char)(i + j * 7 + 1) | 1;
        memset(buffer, 0xCC, sizeof buffer);
        int r = absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, spots[i], sizeof buffer, buffer);
        CHECK(r != 0 || memcmp(buffer, old, sizeof old) != 0, "after PREPARE 0x%llx (above 2 GiB) shows the old content", (unsigned long long)spots[i]);
    }

    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM after PREPARE (fast-destroyed: rc/rrc as passed)");
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "a second PERFORM");
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE again after PREPARE/PERFORM");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    close_guest(&g);
    CHECK_NO_LEAK(before, "PREPARE/PERFORM");
}

// ---------------------------------------------------------------------------------------------
// §3.2 PREPARE with the slot full (PREPARE twice without PERFORM) → P0; DISABLE cleans all

static void prepare_twice(int kvm) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    write_pattern(g.vm, 0x10000, 64 * page, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "first PREPARE");
    write_pattern(g.vm, 0x10000, 64 * page, 2);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE with a configuration set aside");
    EXPECT_PV(g.vm, PREPARE, NULL, EINVAL, UNTOUCHED, 0, "second PREPARE without PERFORM (slot full)");
    // P0: protected, no secure CPUs.
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, EINVAL, UNTOUCHED, 0, "P0: ENABLE");
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "P0: the vCPU is not secure (LOAD ENXIO), errno %d", ERRNO_NOW);
    EXPECT_PV(g.vm, KVM_PV_UNSHARE_ALL, NULL, 0, 1, 0, "P0: UNSHARE_ALL reaches the configuration");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, ANY, "DISABLE from P0 (CPU step a no-op)");
    printf("kvm_pv_async: DISABLE from P0: rc 0x%x rrc 0x%x\n", last.cmd.rc, last.cmd.rrc);
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM after DISABLE: the set-aside record went with DISABLE");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "DISABLE again (N)");
    // The slot is free again.
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE after DISABLE from P0");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE after DISABLE from P0");
    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM");
    close_guest(&g);
    CHECK_NO_LEAK(before, "PREPARE twice, DISABLE from P0, close");
}

// ---------------------------------------------------------------------------------------------
// §3.2 PREPARE with a segment-table ASCE (memory ≤ 2 GiB) → P0, EINVAL; DISABLE works

static void small_memory(int kvm) {
    const __u64 sizes[] = { mib, 2 * gib };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct resources before = resources_now();
        struct guest g = make_guest(kvm, sizes[i], 1);
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE (%llu MiB)", (unsigned long long)(sizes[i] >> 20));
        EXPECT_PV(g.vm, PREPARE, NULL, EINVAL, UNTOUCHED, 0, "PREPARE with %llu MiB (≤ 2 GiB)", (unsigned long long)(sizes[i] >> 20));
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, EINVAL, UNTOUCHED, 0, "P0 after a ≤ 2 GiB PREPARE: ENABLE");
        CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "P0 after a ≤ 2 GiB PREPARE: vCPU not secure, errno %d", ERRNO_NOW);
        EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM after a refused PREPARE");
        EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, ANY, "DISABLE after a ≤ 2 GiB PREPARE");
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE after that DISABLE");
        close_guest(&g);
        CHECK_NO_LEAK(before, "≤ 2 GiB PREPARE");
    }
    // The boundary: 2 GiB + 1 MiB has a region-table ASCE.
    struct guest g = make_guest(kvm, 2 * gib + mib, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE (2 GiB + 1 MiB)");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE with 2 GiB + 1 MiB");
    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM (2 GiB + 1 MiB)");
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// Reboot as QEMU does it: boot, PREPARE, boot again on the same VM while the old configuration is
// still set aside, then PERFORM.

static void reboot(int kvm, const struct image *image) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    protected_boot(&g, image, "first boot");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE of the booted guest");
    double t0 = now();
    __u64 bad = 0;
    int zero = reads_zero(g.vm, 0, 2 * gib, &bad);
    CHECK(zero, "after PREPARE all of the lower 2 GiB reads as zeros (absolute MEM_OP), first bad 0x%llx: %s",
          (unsigned long long)bad, errno ? strerror(errno) : "non-zero byte");
    printf("kvm_pv_async: read the lower 2 GiB in %.2f s\n", now() - t0);
    // The pages that held the unpacked (secure) image in particular.
    int image_zero = 1;
    for (__u32 i = 0; i < image->count; i++) image_zero &= reads_zero(g.vm, image->component[i].addr, image->component[i].size, &bad);
    CHECK(image_zero, "after PREPARE the former secure image pages read as zeros");

    protected_boot(&g, image, "second boot with the old configuration set aside");
    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM of the first boot's configuration after the second boot");
    // The second boot's configuration is untouched by that PERFORM: the guest still runs.
    CHECK(set_mp_state(g.vcpu, KVM_MP_STATE_OPERATING) == 0, "second boot after PERFORM: OPERATING: %s", strerror(errno));
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE of the second boot");
    protected_boot(&g, image, "third boot");
    // Close with a set-aside configuration and a protected current one.
    close_guest(&g);
    CHECK_NO_LEAK(before, "three boots, close with set-aside + protected");
    g = make_guest(kvm, 3 * gib, 1);
    protected_boot(&g, image, "boot of a fresh VM after that close");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

struct perform_job {
    int vm;
    pthread_barrier_t *start;
    struct pv_result result;
    double started, finished;
    atomic_int done;
};

static void *perform_thread(void *argument) {
    struct perform_job *job = argument;
    if (job->start) pthread_barrier_wait(job->start);
    job->started = now();
    job->result = pv_call(job->vm, PERFORM, NULL);
    job->finished = now();
    atomic_store(&job->done, 1);
    return NULL;
}

// §3.2 note: ENABLE → PREPARE → (a thread runs PERFORM) → ENABLE → PREPARE is legal.
static void perform_with_new_prepare(int kvm, __u64 populated, double *perform_seconds) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    // Populated pages in each 1 GiB file, so that the PERFORM has work to do.
    for (__u64 at = 0; at < 3 * gib; at += gib) write_pattern(g.vm, at, populated / 3, 3);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE");
    struct perform_job job = { .vm = g.vm };
    pthread_t thread;
    pthread_create(&thread, NULL, perform_thread, &job);
    // Once PERFORM has taken the record, ENABLE and PREPARE work while it still runs. A PREPARE
    // that comes too early (slot still full) leaves P0, from which PREPARE may simply be retried.
    struct pv_result enable = pv_call(g.vm, KVM_PV_ENABLE, NULL), prepare = { .result = -1 };
    int early = 0;
    while (enable.result == 0 && early < 100000) {
        prepare = pv_call(g.vm, PREPARE, NULL);
        if (prepare.result == 0 || prepare.error != EINVAL) break;
        early++;
    }
    if (early) printf("kvm_pv_async: %d PREPAREs (EINVAL, P0) before PERFORM took the record\n", early);
    int still_running = !atomic_load(&job.done);
    CHECK(enable.result == 0 && enable.cmd.rc == 1, "ENABLE while PERFORM runs: %d errno %d rc 0x%x", enable.result, enable.error, enable.cmd.rc);
    CHECK(prepare.result == 0 && prepare.cmd.rc == 1 && prepare.cmd.rrc == 42, "PREPARE while PERFORM runs: %d errno %d rc 0x%x rrc 0x%x",
          prepare.result, prepare.error, prepare.cmd.rc, prepare.cmd.rrc);
    pthread_join(thread, NULL);
    *perform_seconds = job.finished - job.started;
    printf("kvm_pv_async: PERFORM of %llu MiB populated took %.1f ms; the new ENABLE+PREPARE %s before it ended\n",
           (unsigned long long)(populated >> 20), *perform_seconds * 1e3, still_running ? "returned" : "did NOT return");
    CHECK(still_running, "ENABLE+PREPARE returned while PERFORM (%.1f ms) was still running (PREPARE must not wait for it)", *perform_seconds * 1e3);
    CHECK(result_matches(&job.result, 0, UNTOUCHED, 0), "the concurrent PERFORM: %d errno %d rc 0x%x rrc 0x%x", job.result.result,
          job.result.error, job.result.cmd.rc, job.result.cmd.rrc);
    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM of the second set-aside configuration");
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "PERFORM with nothing left");
    close_guest(&g);
    CHECK_NO_LEAK(before, "PERFORM concurrent with ENABLE/PREPARE");
}

// Two PERFORMs started together with one record: exactly one gets it.
static void concurrent_performs(int kvm, int rounds) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    int bad_rounds = 0;
    for (int round = 0; round < rounds; round++) {
        write_pattern(g.vm, (__u64)(round % 3) * gib, 4 * mib, (unsigned char)round);
        struct pv_result enable = pv_call(g.vm, KVM_PV_ENABLE, NULL), prepare = pv_call(g.vm, PREPARE, NULL);
        if (enable.result != 0 || prepare.result != 0) {
            CHECK(0, "round %d: ENABLE %d errno %d, PREPARE %d errno %d", round, enable.result, enable.error, prepare.result, prepare.error);
            break;
        }
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct perform_job jobs[2] = { { .vm = g.vm, .start = &start }, { .vm = g.vm, .start = &start } };
        pthread_t threads[2];
        for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, perform_thread, &jobs[i]);
        for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
        pthread_barrier_destroy(&start);
        int winners = 0, losers = 0;
        for (int i = 0; i < 2; i++) {
            winners += result_matches(&jobs[i].result, 0, UNTOUCHED, 0);
            losers += result_matches(&jobs[i].result, EINVAL, UNTOUCHED, 0);
        }
        if (winners != 1 || losers != 1) {
            if (bad_rounds++ < 3)
                printf("kvm_pv_async: round %d: PERFORMs %d/%d errno %d/%d rc 0x%x/0x%x\n", round, jobs[0].result.result, jobs[1].result.result,
                       jobs[0].result.error, jobs[1].result.error, jobs[0].result.cmd.rc, jobs[1].result.cmd.rc);
        }
    }
    CHECK(bad_rounds == 0, "two concurrent PERFORMs, %d rounds: exactly one 0 and one EINVAL (untouched rc/rrc) each time; %d rounds wrong",
          rounds, bad_rounds);
    close_guest(&g);
    CHECK_NO_LEAK(before, "concurrent PERFORMs");
}

// ---------------------------------------------------------------------------------------------
// VM destruction with a set-aside configuration (and a protected current one): cleanup-all.

static void close_with_set_aside(int kvm, __u64 max_guests) {
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    write_pattern(g.vm, 0, mib, 4);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE");
    close_guest(&g);
    CHECK_NO_LEAK(before, "close with a set-aside configuration");

    g = make_guest(kvm, 3 * gib, 1);
    write_pattern(g.vm, 0, mib, 5);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE");
    write_pattern(g.vm, 0, mib, 6);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE with a configuration set aside");
    close_guest(&g);
    CHECK_NO_LEAK(before, "close with a set-aside configuration and a protected current one");

    g = make_guest(kvm, 3 * gib, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE of a fresh VM after those closes");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "PREPARE of a fresh VM");
    EXPECT_PV(g.vm, PERFORM, NULL, 0, UNTOUCHED, 0, "PERFORM of a fresh VM");
    close_guest(&g);

    // More rounds than the UV has configurations: a leaked one would make ENABLE fail; odd
    // rounds close with the set-aside one only, even rounds with a protected current one too.
    __u64 rounds = max_guests + 44 > 300 ? max_guests + 44 : 300;
    if (rounds > 1100) rounds = 1100;
    __u64 failed_at = 0;
    int first_leak = 0;
    struct resources start = resources_now();
    double t0 = now();
    for (__u64 i = 1; i <= rounds && !failed_at; i++) {
        struct resources round_start = resources_now();
        int vm = ioctl(kvm, KVM_CREATE_VM, 0), memfd[3] = { -1, -1, -1 }, vcpu = -1, ok = vm >= 0;
        for (int j = 0; j < 3 && ok; j++) ok = (memfd[j] = make_memfd(vm, gib)) >= 0 && set_region(vm, (__u32)j, (__u64)j * gib, gib, memfd[j], 0) == 0;
        if (ok) ok = (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0;
        unsigned char byte = (unsigned char)i | 1;
        if (ok) ok = absolute(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, (i % 3) * gib + 0x10000, 1, &byte) == 0;
        if (!ok) { failed_at = i; printf("kvm_pv_async: round %llu: VM setup failed: %s\n", (unsigned long long)i, strerror(errno)); }
        struct pv_result r;
        if (ok && ((r = pv_call(vm, KVM_PV_ENABLE, NULL)).result != 0 || (r = pv_call(vm, PREPARE, NULL)).result != 0
                   || (i % 2 == 0 && (r = pv_call(vm, KVM_PV_ENABLE, NULL)).result != 0))) {
            failed_at = i;
            printf("kvm_pv_async: round %llu: cmd %u: %d errno %d rc 0x%x rrc 0x%x\n", (unsigned long long)i, r.cmd.cmd, r.result, r.error,
                   r.cmd.rc, r.cmd.rrc);
        }
        if (vcpu >= 0) close(vcpu);
        for (int j = 0; j < 3; j++) if (memfd[j] >= 0) close(memfd[j]);
        if (vm >= 0) close(vm);
        struct resources round_end = resources_now();
        if (!first_leak && round_end.fds != round_start.fds) {
            first_leak = 1;
            printf("kvm_pv_async: round %llu (%s): descriptors %d -> %d, VmSize %ld -> %ld KiB\n", (unsigned long long)i,
                   i % 2 ? "set-aside only" : "set-aside + protected", round_start.fds, round_end.fds, round_start.vm_kb, round_end.vm_kb);
        }
    }
    CHECK(!failed_at, "%llu VMs protected, PREPAREd and closed (max_guests %llu): failed at round %llu", (unsigned long long)rounds,
          (unsigned long long)max_guests, (unsigned long long)failed_at);
    printf("kvm_pv_async: %llu create/protect/PREPARE/close rounds in %.2f s\n", (unsigned long long)rounds, now() - t0);
    CHECK_NO_LEAK(start, "create/protect/PREPARE/close rounds");
}

// ---------------------------------------------------------------------------------------------
// An interrupted PERFORM: child processes (argv[1] = "--interrupt", argv[2] = delay in µs,
// argv[3] = populated MiB, argv[4] = variant), each killed with SIGTERM during its PERFORM.

struct child_report { int passed, failed, interrupted; };

static void *signal_thread(void *argument) {
    long delay = *(long *)argument;
    if (delay > 0) usleep((useconds_t)delay);
    kill(getpid(), SIGTERM);
    return NULL;
}

static int interrupt_child(long delay, __u64 populated, int variant, int report_fd) {
    setvbuf(stdout, NULL, _IONBF, 0);
    s390pv_install_fatal_signal_handlers();
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct guest warm = make_guest(kvm, 3 * gib, 1);   // the model's one-time allocations (worker threads), outside the baseline
    for (__u64 at = 0; at < 3 * gib; at += gib) write_pattern(warm.vm, at, 8 * mib, 9);
    pv_call(warm.vm, KVM_PV_ENABLE, NULL);
    pv_call(warm.vm, PREPARE, NULL);
    pv_call(warm.vm, PERFORM, NULL);
    close_guest(&warm);
    usleep(20000);   // let the runtime's lazily started threads settle
    struct resources before = resources_now();
    struct guest g = make_guest(kvm, 3 * gib, 1);
    for (__u64 at = 0; at < 3 * gib; at += gib) write_pattern(g.vm, at, populated / 3, 7);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "child: ENABLE");
    EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "child: PREPARE");
    pthread_t thread;
    pthread_create(&thread, NULL, signal_thread, &delay);
    struct pv_result perform = pv_call(g.vm, PERFORM, NULL);
    pthread_join(thread, NULL);
    CHECK(s390pv_fatal_signal_pending() == SIGTERM, "child: the SIGTERM was noted as a fatal signal (%d)", s390pv_fatal_signal_pending());
    int interrupted = result_matches(&perform, 0, 1, 42);
    CHECK(interrupted || result_matches(&perform, 0, UNTOUCHED, 0),
          "child (delay %ld µs): PERFORM: want 0 with rc 1/rrc 42 (interrupted) or the caller's rc/rrc (completed); got %d errno %d rc 0x%x rrc 0x%x",
          delay, perform.result, perform.error, perform.cmd.rc, perform.cmd.rrc);
    EXPECT_PV(g.vm, PERFORM, NULL, EINVAL, UNTOUCHED, 0, "child: PERFORM after the interrupted one (record on need_cleanup, slot empty)");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "child: DISABLE of a non-protected VM with leftovers");
    if (variant == 0) {
        // A later protected configuration's DISABLE destroys the leftovers too.
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "child: ENABLE with leftovers");
        EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "child: DISABLE (current + leftovers)");
        unsigned char byte = 0xCC;
        CHECK(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, 0x10000, 1, &byte) == 0 && byte == 0, "child: memory after DISABLE: %s, byte 0x%x",
              strerror(errno), byte);
    } else if (variant == 1) {
        // Close with leftovers and a protected current configuration.
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "child: ENABLE with leftovers");
        EXPECT_PV(g.vm, PREPARE, NULL, 0, 1, 42, "child: PREPARE with leftovers");
        EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "child: ENABLE with leftovers and a set-aside configuration");
    }   // variant 2: close with the leftovers only
    close_guest(&g);
    CHECK_NO_LEAK(before, "child: interrupted PERFORM, then close");
    g = make_guest(kvm, 3 * gib, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "child: ENABLE of a fresh VM");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "child: DISABLE of a fresh VM");
    close_guest(&g);
    close(kvm);
    struct child_report report = { passed, failed, interrupted };
    if (write(report_fd, &report, sizeof report) != sizeof report) return 2;
    return failed != 0;
}

static void interrupted_performs(double perform_seconds, __u64 populated, int runs) {
    if (!s390pv_install_fatal_signal_handlers || !s390pv_fatal_signal_pending) {
        SKIP("s390pv_install_fatal_signal_handlers is not exported by the preload library: interrupted PERFORM skipped");
        return;
    }
    int interrupted = 0, completed = 0, broken = 0;
    long span = (long)(perform_seconds * 1.3e6) + 200;
    srand((unsigned)time(NULL));
    double t0 = now();
    for (int run = 0; run < runs; run++) {
        long delay = run == 0 ? 0 : rand() % span;
        int variant = run % 3;
        int pipe_fd[2];
        if (pipe(pipe_fd) != 0) { perror("pipe"); exit(2); }
        char delay_text[32], populated_text[32], variant_text[8], fd_text[8];
        snprintf(delay_text, sizeof delay_text, "%ld", delay);
        snprintf(populated_text, sizeof populated_text, "%llu", (unsigned long long)(populated >> 20));
        snprintf(variant_text, sizeof variant_text, "%d", variant);
        snprintf(fd_text, sizeof fd_text, "%d", pipe_fd[1]);
        pid_t pid = fork();
        if (pid == 0) {
            close(pipe_fd[0]);
            execl("/proc/self/exe", "kvm_pv_async", "--interrupt", delay_text, populated_text, variant_text, fd_text, (char *)NULL);
            _exit(127);
        }
        close(pipe_fd[1]);
        struct child_report report = { 0, 0, 0 };
        ssize_t got = read(pipe_fd[0], &report, sizeof report);
        close(pipe_fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (got != sizeof report || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
            broken++;
            printf("kvm_pv_async: child %d (delay %ld µs, variant %d) died: status 0x%x\n", run, delay, variant, status);
            continue;
        }
        passed += report.passed;
        failed += report.failed;
        if (report.interrupted) interrupted++; else completed++;
    }
    CHECK(broken == 0, "interrupted PERFORM: %d of %d children crashed or gave no report", broken, runs);
    CHECK(interrupted > 0, "interrupted PERFORM: at least one of %d PERFORMs was interrupted (%d were, %d completed)", runs, interrupted, completed);
    printf("kvm_pv_async: %d PERFORMs signalled at random points (0..%ld µs): %d interrupted, %d completed, in %.1f s\n", runs, span,
           interrupted, completed, now() - t0);
}

static __u64 get_max_guests(int kvm) {
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    struct kvm_s390_pv_info info = { .header = { .id = KVM_PV_INFO_VM, .len_max = sizeof info } };
    struct pv_result r = pv_call(vm, KVM_PV_INFO, &info);
    close(vm);
    CHECK(r.result == 0, "INFO VM: %s", strerror(r.error));
    return r.result == 0 ? info.vm.max_guests : 256;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "--interrupt") == 0)
        return interrupt_child(atol(argv[2]), (__u64)atol(argv[3]) << 20, atoi(argv[4]), atoi(argv[5]));
    setvbuf(stdout, NULL, _IONBF, 0);
    double t0 = now();
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
    run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED) != 1) {
        CHECK(0, "KVM_CAP_S390_PROTECTED is not 1");
        printf("kvm_pv_async: %d passed, %d failed\n", passed, failed);
        return 1;
    }
    __u64 max_guests = get_max_guests(kvm);
    // Warm up: the model's one-time allocations (threads, tables) do not count as leaks.
    struct guest warm = make_guest(kvm, 3 * gib, 1);
    for (__u64 at = 0; at < 3 * gib; at += gib) write_pattern(warm.vm, at, 8 * mib, 9);
    pv_call(warm.vm, KVM_PV_ENABLE, NULL);
    pv_call(warm.vm, PREPARE, NULL);
    pv_call(warm.vm, PERFORM, NULL);
    close_guest(&warm);
    usleep(20000);

    capability_and_empty(kvm);
    prepare_perform(kvm);
    prepare_twice(kvm);
    small_memory(kvm);
    struct image image;
    if (load_image(&image, image_limit, "boot cases")) {
        reboot(kvm, &image);
        free(image.bytes);
    }
    const __u64 populated = 384 * mib;
    double perform_seconds = 0;
    perform_with_new_prepare(kvm, populated, &perform_seconds);
    concurrent_performs(kvm, 50);
    close_with_set_aside(kvm, max_guests);
    close(kvm);
    interrupted_performs(perform_seconds, populated, 30);
    printf("kvm_pv_async: %d passed, %d failed, %d skipped (%.1f s)\n", passed, failed, skipped, now() - t0);
    return failed != 0;
}
