// KVM_S390_PV_COMMAND and the vCPU side of protected virtualization at the ioctl boundary:
// every error path of ../shared/spec/kvm-pv-ioctl.md §2.1-§2.6 in Linux's order of checks, the
// generic rules of §1.5 and the vCPU rules of §2.10, plus a boot of a real SE image
// ($S390PV_PV_IMAGE, sealed for the UV key $S390PV_HOST_KEY) up to its first SCLP intercept.
// Run it under the s390pv preload shim. rc/rrc values that are the Ultravisor's choice are the
// ones documented in Sources/Ultravisor (UVResponse.swift, Ultravisor.swift).
//
// rc/rrc rule: every command starts with the sentinels rc 0xA5A5, rrc 0x5A5A. "untouched" means
// the ioctl either did not copy the struct back or copied it back with the caller's rc/rrc
// (no UVC was issued). Where the difference matters the struct sits on a read-only page: a
// copy-back then fails with EFAULT, so "not copied back" is observable.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "s390pv_pv_test.h"

static const __u64 guest_size = 16 << 20;
static int run_size;

// ---------------------------------------------------------------------------------------------
// KVM_S390_PV_COMMAND with sentinel rc/rrc

static struct kvm_pv_cmd last;   // the struct as the caller sees it after the last command
static int last_result, last_errno;

static int pv(int vm, __u32 cmd, const void *data) {
    last = (struct kvm_pv_cmd){ .cmd = cmd, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .data = (__u64)(uintptr_t)data };
    errno = 0;
    last_result = ioctl(vm, KVM_S390_PV_COMMAND, &last);
    last_errno = errno;
    return last_result;
}

static int rc_matches(int rc, int rrc) {
    if (rc == UNTOUCHED) return last.rc == SENTINEL_RC && last.rrc == SENTINEL_RRC;
    if (rc == UV_ERROR) return last.rc != SENTINEL_RC && last.rc != 1 && last.rc != 0;
    return last.rc == rc && (rrc == ANY || last.rrc == rrc);
}

// One check: the command's result (errno `err`, 0 for success) and its rc/rrc.
#define EXPECT_PV(vm_, cmd_, data_, err_, rc_, rrc_, what_) do { \
    pv((vm_), (cmd_), (data_)); \
    int ok_ = ((err_) == 0 ? last_result == 0 : (last_result == -1 && last_errno == (err_))) && rc_matches((rc_), (rrc_)); \
    CHECK(ok_, "%s: want errno %d (0: success), %s; got %d errno %d (%s), rc 0x%x rrc 0x%x", (what_), (err_), \
          want_rc((rc_), (rrc_)), last_result, last_errno, strerror(last_errno), last.rc, last.rrc); \
} while (0)

// ---------------------------------------------------------------------------------------------
// VMs

struct guest { int vm, memfd, vcpu; struct kvm_run *run; };

// A VM with `size` bytes of guest memory at 0 (none if 0) and vCPU 0 (if `with_vcpu`).
static struct guest make_guest(int kvm, __u64 size, int with_vcpu) {
    struct guest g = { .vm = ioctl(kvm, KVM_CREATE_VM, 0), .memfd = -1, .vcpu = -1, .run = MAP_FAILED };
    CHECK(g.vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));
    if (size) {
        g.memfd = make_memfd(g.vm, size);
        CHECK(g.memfd >= 0 && set_region(g.vm, 0, 0, size, g.memfd, 0) == 0, "guest memory: %s", strerror(errno));
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
    if (g->memfd >= 0) close(g->memfd);
    close(g->vm);
    *g = (struct guest){ .vm = -1, .memfd = -1, .vcpu = -1, .run = MAP_FAILED };
}

static struct kvm_s390_mem_op memop(__u32 op, __u64 gaddr, __u32 size, void *buf) {
    struct kvm_s390_mem_op m = { .gaddr = gaddr, .size = size, .op = op, .buf = (__u64)(uintptr_t)buf };
    return m;
}

static int sida(int vcpu, __u32 op, __u32 offset, __u32 size, void *buf) {
    struct kvm_s390_mem_op m = memop(op, 0, size, buf);
    m.sida_offset = offset;
    errno = 0;
    return ioctl(vcpu, KVM_S390_MEM_OP, &m);
}

// A page of its own, read-only after `fill` is copied in: copy_to_user into it fails.
static void *read_only_page(const void *fill, size_t size) {
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    memcpy(p, fill, size);
    mprotect(p, page, PROT_READ);
    return p;
}

// ---------------------------------------------------------------------------------------------
// The SE image (se-image-format §5, §6): file == guest memory from 0

// What this test checks of the image beyond load_image, and the line naming it; 1 to go on.
static int image_details(const struct image *image) {
    const unsigned char *meta = image->bytes + 0xC000;
    CHECK(be32(meta + 16) == 1, "image metadata version %u", be32(meta + 16));
    CHECK(image->bytes[image->ipib_offset + 0x0C] == 5, "IPIB pbt %u, want 5", image->bytes[image->ipib_offset + 0x0C]);
    printf("kvm_pv: image %s: header 0x%llx (%llu bytes), %u components\n", image->path, (unsigned long long)image->header_addr,
           (unsigned long long)image->header_size, image->count);
    return 1;
}

enum unpack_variant { UNPACK_ALL, UNPACK_WRONG_TWEAK, UNPACK_SKIP_ONE };

// UNPACK every component (size rounded up to 4 KiB, tweak = tweak_pref); 1 if all succeeded.
static int unpack_all(int vm, const struct image *image, enum unpack_variant variant) {
    int ok = 1;
    for (__u32 i = 0; i < image->count; i++) {
        if (variant == UNPACK_SKIP_ONE && i == image->count - 1) continue;
        struct kvm_s390_pv_unp unp = { .addr = image->component[i].addr, .size = image->component[i].size,
                                       .tweak = image->component[i].tweak };
        if (variant == UNPACK_WRONG_TWEAK && i == 0) unp.tweak ^= 1ULL << 40;
        pv(vm, KVM_PV_UNPACK, &unp);
        if (last_result != 0 || last.rc != 1) {
            CHECK(0, "UNPACK component %u (0x%llx+0x%llx): %d errno %d rc 0x%x rrc 0x%x", i, (unsigned long long)unp.addr,
                  (unsigned long long)unp.size, last_result, last_errno, last.rc, last.rrc);
            ok = 0;
        }
    }
    return ok;
}

// ---------------------------------------------------------------------------------------------
// §1.2: capabilities

static void capabilities(int kvm) {
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED) == 1, "CAP_S390_PROTECTED (180) is 1");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED_DUMP) == 0, "CAP_S390_PROTECTED_DUMP (217) is 0 (no dump UVCs)");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED_ASYNC_DISABLE) == 1, "CAP_S390_PROTECTED_ASYNC_DISABLE (224) is 1 (async_destroy on)");
    CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_VCPU_RESETS) == 1, "CAP_S390_VCPU_RESETS (179) is 1");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED) == 1, "CAP_S390_PROTECTED on a VM fd is 1");
    close(vm);
}

// ---------------------------------------------------------------------------------------------
// §1.5: generic processing

// The guest "SERVC 1,2" at 0x10000: something KVM_RUN can run to an intercept.
static void load_servc(struct guest *g) {
    unsigned char code[] = { 0xB2, 0x20, 0x00, 0x12 };
    CHECK(absolute(g->vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, 0x10000, sizeof code, code) == 0, "load SERVC: %s", strerror(errno));
    struct kvm_s390_psw psw = { .mask = 0x0000000180000000ULL, .addr = 0x10000 };
    CHECK(ioctl(g->vcpu, KVM_S390_SET_INITIAL_PSW, &psw) == 0, "SET_INITIAL_PSW: %s", strerror(errno));
}

static void generic_rules(int kvm) {
    // Control: without any PV command (or SET_MP_STATE) KVM_RUN starts the stopped vCPU itself.
    struct guest g = make_guest(kvm, mib, 1);
    load_servc(&g);
    CHECK(ioctl(g.vcpu, KVM_RUN, 0) == 0 && g.run->exit_reason == KVM_EXIT_S390_SIEIC,
          "control: KVM_RUN without user CPU-state control runs: %s", strerror(errno));
    close_guest(&g);

    // Step 1 comes before everything, so even a command that then fails switches it on.
    g = make_guest(kvm, mib, 1);
    load_servc(&g);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, NULL), EFAULT), "PV_COMMAND NULL: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(g.vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN on a stopped vCPU after a failed (EFAULT) PV command: errno %d", ERRNO_NOW);
    CHECK(set_mp_state(g.vcpu, KVM_MP_STATE_OPERATING) == 0, "SET_MP_STATE OPERATING: %s", strerror(errno));
    CHECK(ioctl(g.vcpu, KVM_RUN, 0) == 0 && g.run->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN once operating: %s", strerror(errno));
    close_guest(&g);

    g = make_guest(kvm, mib, 1);
    struct kvm_pv_cmd flagged = { .cmd = KVM_PV_INFO, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .flags = 1 };
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, &flagged), EINVAL), "flags 1: errno %d", ERRNO_NOW);
    CHECK(ERR(ioctl(g.vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN on a stopped vCPU after a failed (flags) PV command: errno %d", ERRNO_NOW);
    close_guest(&g);

    g = make_guest(kvm, mib, 1);
    EXPECT_PV(g.vm, 11, NULL, ENOTTY, UNTOUCHED, 0, "unknown cmd 11");
    CHECK(ERR(ioctl(g.vcpu, KVM_RUN, 0), EINVAL), "KVM_RUN on a stopped vCPU after an unknown PV command: errno %d", ERRNO_NOW);
    close_guest(&g);

    g = make_guest(kvm, mib, 0);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, (void *)8), EFAULT), "PV_COMMAND (void*)8: errno %d", ERRNO_NOW);
    // A struct whose last byte is unmapped: the 32-byte copy fails.
    unsigned char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + page, page);
    struct kvm_pv_cmd *straddling = (struct kvm_pv_cmd *)(two + page - 31);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, straddling), EFAULT), "PV_COMMAND struct crossing into an unmapped page: errno %d", ERRNO_NOW);
    munmap(two, page);

    // flags != 0: EINVAL before the handler, the struct is not copied back: sentinels unchanged,
    // and on a read-only page still EINVAL (a copy-back would be EFAULT).
    flagged = (struct kvm_pv_cmd){ .cmd = KVM_PV_ENABLE, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .flags = 1 };
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, &flagged), EINVAL), "flags 1 on ENABLE: errno %d", ERRNO_NOW);
    CHECK(flagged.rc == SENTINEL_RC && flagged.rrc == SENTINEL_RRC && flagged.cmd == KVM_PV_ENABLE,
          "flags 1: struct not copied back, got rc 0x%x rrc 0x%x", flagged.rc, flagged.rrc);
    flagged.flags = 0x80000000u;
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, &flagged), EINVAL), "flags 0x80000000: errno %d", ERRNO_NOW);
    flagged.flags = 1;
    struct kvm_pv_cmd *read_only = read_only_page(&flagged, sizeof flagged);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, read_only), EINVAL), "flags 1, struct read-only: EINVAL (no copy-back), errno %d", ERRNO_NOW);
    munmap(read_only, page);
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "flags-1 ENABLE did nothing: DISABLE still EINVAL");

    // reserved[] is not checked.
    struct kvm_s390_pv_info info = { .header = { .id = KVM_PV_INFO_VM, .len_max = sizeof info } };
    struct kvm_pv_cmd reserved = { .cmd = KVM_PV_INFO, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .data = (__u64)(uintptr_t)&info,
                                   .reserved = { 1, 0xffffffffu, 7 } };
    errno = 0;
    int r = ioctl(g.vm, KVM_S390_PV_COMMAND, &reserved);
    CHECK(r == 0 && info.header.len_written == 80, "reserved[] set: INFO works: %d errno %d", r, errno);
    CHECK(reserved.reserved[0] == 1 && reserved.reserved[1] == 0xffffffffu && reserved.reserved[2] == 7,
          "reserved[] copied back as passed");

    // Unknown cmd: ENOTTY, struct copied back with the caller's rc/rrc; a copy-back that fails is EFAULT.
    EXPECT_PV(g.vm, 11, NULL, ENOTTY, UNTOUCHED, 0, "unknown cmd 11");
    EXPECT_PV(g.vm, 0xffffffffu, NULL, ENOTTY, UNTOUCHED, 0, "unknown cmd 0xffffffff");
    CHECK(last.cmd == 0xffffffffu && last.data == 0, "unknown cmd: struct echoed, cmd 0x%x", last.cmd);
    struct kvm_pv_cmd unknown = { .cmd = 11, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC };
    read_only = read_only_page(&unknown, sizeof unknown);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, read_only), EFAULT), "unknown cmd, struct read-only: the copy-back fails: EFAULT, errno %d", ERRNO_NOW);
    munmap(read_only, page);
    // ASYNC_CLEANUP_PREPARE on a VM that is not protected, PERFORM with nothing set aside: EINVAL,
    // nothing written (kvm_pv_async.c covers the rest of the state table).
    EXPECT_PV(g.vm, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, EINVAL, UNTOUCHED, 0, "ASYNC_CLEANUP_PREPARE, not protected");
    EXPECT_PV(g.vm, KVM_PV_ASYNC_CLEANUP_PERFORM, NULL, EINVAL, UNTOUCHED, 0, "ASYNC_CLEANUP_PERFORM, nothing set aside");
    // The struct goes back even on a handler error: a read-only struct turns DISABLE's EINVAL into EFAULT.
    struct kvm_pv_cmd disable = { .cmd = KVM_PV_DISABLE, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC };
    read_only = read_only_page(&disable, sizeof disable);
    CHECK(ERR(ioctl(g.vm, KVM_S390_PV_COMMAND, read_only), EFAULT), "DISABLE (EINVAL), struct read-only: copy-back EFAULT, errno %d", ERRNO_NOW);
    munmap(read_only, page);
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// §2.6: KVM_PV_INFO

static void info_command(int kvm, __u64 *max_guests) {
    struct guest g = make_guest(kvm, 0, 0);   // not protected, not even memory
    struct kvm_s390_pv_info info;
    memset(&info, 0xEE, sizeof info);
    info.header = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_VM, .len_max = sizeof info, .len_written = 0xdead };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, 0, UNTOUCHED, 0, "INFO VM, not protected");
    CHECK(info.header.len_written == 80, "INFO VM: len_written %u, want 80", info.header.len_written);
    CHECK(info.header.id == KVM_PV_INFO_VM && info.header.len_max == sizeof info, "INFO VM: header id/len_max kept");
    CHECK(info.vm.max_cpus >= 1 && info.vm.max_cpus != 0xEEEEEEEEEEEEEEEEULL, "INFO VM: max_cpus %llu", (unsigned long long)info.vm.max_cpus);
    CHECK(info.vm.max_guests >= 1 && info.vm.max_guests != 0xEEEEEEEEEEEEEEEEULL, "INFO VM: max_guests %llu", (unsigned long long)info.vm.max_guests);
    CHECK(info.vm.max_guest_addr >= guest_size, "INFO VM: max_guest_addr 0x%llx", (unsigned long long)info.vm.max_guest_addr);
    // Installed calls (bit n IBM = 1 << (63 - n) of word 0): CREATE_SEC_CONF (2), SSC (11), UNPACK (13), VERIFY (14).
    __u64 word0 = info.vm.inst_calls_list[0];
    CHECK((word0 >> (63 - 2) & 1) && (word0 >> (63 - 11) & 1) && (word0 >> (63 - 13) & 1) && (word0 >> (63 - 14) & 1),
          "INFO VM: inst_calls_list[0] 0x%016llx lacks CREATE_SEC_CONF/SSC/UNPACK/VERIFY", (unsigned long long)word0);
    CHECK(!(word0 >> (63 - 24) & 1), "INFO VM: dump calls not installed (CAP 217 is 0), word0 0x%016llx", (unsigned long long)word0);
    *max_guests = info.vm.max_guests;

    // DUMP: len_written 40, exactly 40 bytes written (the rest of the caller's buffer untouched).
    memset(&info, 0xEE, sizeof info);
    info.header = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_DUMP, .len_max = sizeof info };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, 0, UNTOUCHED, 0, "INFO DUMP");
    CHECK(info.header.len_written == 40, "INFO DUMP: len_written %u, want 40", info.header.len_written);
    const unsigned char *bytes = (const unsigned char *)&info;
    int tail = 1;
    for (size_t i = 40; i < sizeof info; i++) tail &= bytes[i] == 0xEE;
    CHECK(tail, "INFO DUMP: bytes 40..79 of the caller's buffer untouched");
    CHECK(info.dump.dump_cpu_buffer_len != 0xEEEEEEEEEEEEEEEEULL, "INFO DUMP: dump_cpu_buffer_len written");
    // Exactly len_max 80 / 40 is enough.
    struct { struct kvm_s390_pv_info_header header; __u64 dump[3]; } small = { .header = { .id = KVM_PV_INFO_DUMP, .len_max = 40 } };
    EXPECT_PV(g.vm, KVM_PV_INFO, &small, 0, UNTOUCHED, 0, "INFO DUMP len_max 40");

    // Errors, in order: copy of the header, len_max < 16, per-id size, unknown id.
    EXPECT_PV(g.vm, KVM_PV_INFO, NULL, EFAULT, UNTOUCHED, 0, "INFO NULL");
    EXPECT_PV(g.vm, KVM_PV_INFO, (void *)8, EFAULT, UNTOUCHED, 0, "INFO (void*)8");
    info.header = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_VM, .len_max = 15, .len_written = 0xdead };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO len_max 15");
    CHECK(info.header.len_written == 0xdead, "INFO len_max 15: nothing written");
    info.header.len_max = 0;
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO len_max 0");
    info.header = (struct kvm_s390_pv_info_header){ .id = 7, .len_max = 15 };   // len_max before the id
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO unknown id and len_max 15");
    info.header = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_VM, .len_max = 79, .len_written = 0xdead };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO VM len_max 79");
    CHECK(info.header.len_written == 0xdead, "INFO VM len_max 79: nothing written");
    info.header = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_DUMP, .len_max = 39 };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO DUMP len_max 39");
    info.header = (struct kvm_s390_pv_info_header){ .id = 2, .len_max = sizeof info };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO unknown id 2");
    info.header = (struct kvm_s390_pv_info_header){ .id = 0xffffffffu, .len_max = sizeof info };
    EXPECT_PV(g.vm, KVM_PV_INFO, &info, EINVAL, UNTOUCHED, 0, "INFO unknown id 0xffffffff");
    // Only the 16-byte header is read first: a buffer of 16 readable bytes with len_max 15 is EINVAL, not EFAULT.
    unsigned char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + page, page);
    struct kvm_s390_pv_info_header *edge = (struct kvm_s390_pv_info_header *)(two + page - 16);
    *edge = (struct kvm_s390_pv_info_header){ .id = KVM_PV_INFO_VM, .len_max = 15 };
    EXPECT_PV(g.vm, KVM_PV_INFO, edge, EINVAL, UNTOUCHED, 0, "INFO header at the end of a page, len_max 15");
    // ... and with len_max 80 the 80-byte copy-out fails: EFAULT.
    edge->len_max = 80;
    EXPECT_PV(g.vm, KVM_PV_INFO, edge, EFAULT, UNTOUCHED, 0, "INFO with room for the header only: copy-out EFAULT");
    munmap(two, page);
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// Commands on a VM that is not protected (§2.2-§2.5 preconditions), and ENABLE (§2.1)

static void not_protected(int kvm) {
    struct guest g = make_guest(kvm, guest_size, 1);
    struct kvm_s390_pv_sec_parm parm = { .origin = 8, .length = 640 };
    struct kvm_s390_pv_unp unp = { .addr = 0x10000, .size = page };
    // The "protected" check comes before the copy of the payload: NULL data is still EINVAL.
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "DISABLE, not protected");
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, UNTOUCHED, 0, "SET_SEC_PARMS, not protected");
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, NULL, EINVAL, UNTOUCHED, 0, "SET_SEC_PARMS NULL, not protected: EINVAL before the copy");
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, UNTOUCHED, 0, "UNPACK, not protected");
    EXPECT_PV(g.vm, KVM_PV_UNPACK, NULL, EINVAL, UNTOUCHED, 0, "UNPACK NULL, not protected: EINVAL before the copy");
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, UNTOUCHED, 0, "VERIFY, not protected");
    EXPECT_PV(g.vm, KVM_PV_PREP_RESET, NULL, EINVAL, UNTOUCHED, 0, "PREP_RESET, not protected");
    EXPECT_PV(g.vm, KVM_PV_UNSHARE_ALL, NULL, EINVAL, UNTOUCHED, 0, "UNSHARE_ALL, not protected");
    EXPECT_PV(g.vm, KVM_PV_DUMP, NULL, EINVAL, UNTOUCHED, 0, "DUMP NULL, not protected: EINVAL before the copy");

    // §2.10 on a vCPU that is not protected.
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "MP_STATE LOAD on a non-protected vCPU: errno %d", ERRNO_NOW);
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_CHECK_STOP), ENXIO), "MP_STATE CHECK_STOP: errno %d", ERRNO_NOW);
    CHECK(ERR(set_mp_state(g.vcpu, 42), ENXIO), "MP_STATE 42: errno %d", ERRNO_NOW);
    unsigned char buffer[16];
    memset(buffer, 0xCC, sizeof buffer);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer), EINVAL), "SIDA_READ on a non-protected vCPU: errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_WRITE, 0, 8, buffer), EINVAL), "SIDA_WRITE on a non-protected vCPU: errno %d", ERRNO_NOW);
    CHECK(buffer[0] == 0xCC, "SIDA_READ on a non-protected vCPU wrote nothing");
    // Linux (kvm_s390_vcpu_sida_op): flags/size → offset+size wraps (EINVAL) → beyond sida_size (E2BIG,
    // 4096 also for a vCPU without a SIDA: sidad is 0) → not protected (EINVAL).
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 4090, 8, buffer), E2BIG),
          "SIDA_READ offset 4090 size 8 on a non-protected vCPU: Linux checks the size first (E2BIG), errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 0, 0, buffer), EINVAL), "SIDA_READ size 0: errno %d", ERRNO_NOW);
    // PV_CPU_COMMAND (§1.5): flags, then cmd != DUMP, EINVAL; DUMP runs the handler (not dumping:
    // EINVAL) and then writes {rc, rrc} over offset 0 (the cmd field).
    struct kvm_pv_cmd cpu = { .cmd = KVM_PV_INFO, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC };
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, &cpu), EINVAL), "PV_CPU_COMMAND cmd INFO: errno %d", ERRNO_NOW);
    CHECK(cpu.cmd == KVM_PV_INFO && cpu.rc == SENTINEL_RC && cpu.rrc == SENTINEL_RRC, "PV_CPU_COMMAND cmd INFO: nothing written");
    close_guest(&g);

    // ENABLE: a VM without memory cannot get a configuration (guest_len 0): EIO with CREATE_SEC_CONF's rc.
    g = make_guest(kvm, 0, 0);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, EIO, UV_ERROR, ANY, "ENABLE without memory: CREATE_SEC_CONF fails");
    printf("kvm_pv: ENABLE without memslots: errno %d rc 0x%x rrc 0x%x\n", last_errno, last.rc, last.rrc);
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "after a failed ENABLE the VM is not protected");
    g.memfd = make_memfd(g.vm, mib);
    CHECK(set_region(g.vm, 0, 0, mib, g.memfd, 0) == 0, "memslot after a failed ENABLE: %s", strerror(errno));
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE once there is memory");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// A protected VM without an image: ENABLE, the checks before the UV, the vCPU rules

static void protected_vm(int kvm) {
    struct guest g = make_guest(kvm, guest_size, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, EINVAL, UNTOUCHED, 0, "ENABLE twice");

    // Memslot changes are refused while protected; the memory stays as it was.
    int extra = make_memfd(g.vm, mib);
    CHECK(ERR(set_region(g.vm, 1, 32 * mib, mib, extra, 0), EINVAL), "new memslot while protected: errno %d", ERRNO_NOW);
    CHECK(ERR(set_region(g.vm, 0, 0, 0, g.memfd, 0), EINVAL), "delete memslot 0 while protected: errno %d", ERRNO_NOW);

    // A vCPU created after ENABLE is protected at once: its SIDA exists.
    int late = ioctl(g.vm, KVM_CREATE_VCPU, 1);
    CHECK(late >= 0, "KVM_CREATE_VCPU after ENABLE: %s", strerror(errno));
    unsigned char buffer[4096 + 16];
    memset(buffer, 0xCC, sizeof buffer);
    CHECK(sida(late, KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer) == 0, "SIDA_READ on a vCPU created after ENABLE: %s", strerror(errno));
    CHECK(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 0, 4096, buffer) == 0, "SIDA_READ of the whole SIDA: %s", strerror(errno));
    int zero = 1;
    for (int i = 0; i < 4096; i++) zero &= buffer[i] == 0;
    CHECK(zero && buffer[4096] == 0xCC, "a new SIDA is a zeroed page, exactly 4096 bytes copied");
    unsigned char pattern[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    CHECK(sida(g.vcpu, KVM_S390_MEMOP_SIDA_WRITE, 4088, 8, pattern) == 0, "SIDA_WRITE at the end: %s", strerror(errno));
    CHECK(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 4088, 8, buffer) == 0 && memcmp(buffer, pattern, 8) == 0, "SIDA_READ back");
    // §2.10: past the SIDA E2BIG; Linux checks a wrapping offset+size first (EINVAL).
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 4090, 8, buffer), E2BIG), "SIDA offset 4090 size 8: errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 0, 4097, buffer), E2BIG), "SIDA size 4097: errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 4096, 1, buffer), E2BIG), "SIDA offset 4096 size 1: errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_WRITE, 4095, 2, buffer), E2BIG), "SIDA_WRITE offset 4095 size 2: errno %d", ERRNO_NOW);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 1, 0xffffffffu, buffer), EINVAL),
          "SIDA offset 1 size 0xffffffff (u32 sum wraps): Linux EINVAL, errno %d", ERRNO_NOW);
    {
        struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer);
        m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EINVAL), "SIDA_READ with a flag: errno %d", ERRNO_NOW);
        m = memop(KVM_S390_MEMOP_SIDA_READ, 0, 8, NULL);
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EFAULT), "SIDA_READ to NULL: errno %d", ERRNO_NOW);
    }
    // Logical MEM_OP on a protected vCPU: EINVAL (also CHECK_ONLY), nothing copied.
    memset(buffer, 0xCC, 16);
    {
        struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_LOGICAL_READ, 0x10000, 8, buffer);
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EINVAL), "logical MEM_OP read on a protected vCPU: errno %d", ERRNO_NOW);
        CHECK(buffer[0] == 0xCC, "logical read on a protected vCPU copied nothing");
        m = memop(KVM_S390_MEMOP_LOGICAL_WRITE, 0x10000, 8, buffer);
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EINVAL), "logical MEM_OP write on a protected vCPU: errno %d", ERRNO_NOW);
        m = memop(KVM_S390_MEMOP_LOGICAL_READ, 0x10000, 8, NULL);
        m.flags = KVM_S390_MEMOP_F_CHECK_ONLY;
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EINVAL), "logical MEM_OP CHECK_ONLY on a protected vCPU: errno %d", ERRNO_NOW);
    }
    // Resets of a protected vCPU (KVM reset, then the CPU_RESET* UVC): succeed.
    CHECK(ioctl(g.vcpu, KVM_S390_INITIAL_RESET, 0) == 0, "INITIAL_RESET on a protected vCPU: %s", strerror(errno));
    CHECK(ioctl(g.vcpu, KVM_S390_NORMAL_RESET, 0) == 0, "NORMAL_RESET on a protected vCPU: %s", strerror(errno));
    CHECK(ioctl(g.vcpu, KVM_S390_CLEAR_RESET, 0) == 0, "CLEAR_RESET on a protected vCPU: %s", strerror(errno));
    // MP_STATE: STOPPED and OPERATING go through CPU_SET_STATE; LOAD before VERIFY is refused by
    // the UV (EINVAL); CHECK_STOP stays ENXIO.
    CHECK(set_mp_state(g.vcpu, KVM_MP_STATE_STOPPED) == 0, "MP_STATE STOPPED, protected: %s", strerror(errno));
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), EINVAL), "MP_STATE LOAD before VERIFY (UV: invalid state): errno %d", ERRNO_NOW);
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_CHECK_STOP), ENXIO), "MP_STATE CHECK_STOP, protected: errno %d", ERRNO_NOW);

    // PV_CPU_COMMAND (§1.5, §2.10), in order.
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, NULL), EFAULT), "PV_CPU_COMMAND NULL: errno %d", ERRNO_NOW);
    struct kvm_pv_cmd cpu = { .cmd = KVM_PV_DUMP, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .flags = 1 };
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, &cpu), EINVAL), "PV_CPU_COMMAND flags 1: errno %d", ERRNO_NOW);
    CHECK(cpu.cmd == KVM_PV_DUMP && cpu.rc == SENTINEL_RC, "PV_CPU_COMMAND flags 1: nothing written");
    cpu = (struct kvm_pv_cmd){ .cmd = KVM_PV_ENABLE, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC };
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, &cpu), EINVAL), "PV_CPU_COMMAND cmd ENABLE: EINVAL (not ENOTTY), errno %d", ERRNO_NOW);
    cpu.cmd = 11;
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, &cpu), EINVAL), "PV_CPU_COMMAND cmd 11: errno %d", ERRNO_NOW);
    CHECK(cpu.cmd == 11 && cpu.rc == SENTINEL_RC && cpu.rrc == SENTINEL_RRC, "PV_CPU_COMMAND cmd 11: nothing written");
    struct kvm_s390_pv_dmp dmp = { .subcmd = KVM_PV_DUMP_CPU, .buff_addr = (__u64)(uintptr_t)buffer, .buff_len = sizeof buffer };
    cpu = (struct kvm_pv_cmd){ .cmd = KVM_PV_DUMP, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .data = (__u64)(uintptr_t)&dmp };
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, &cpu), EINVAL), "PV_CPU_COMMAND DUMP, VM not dumping: errno %d", ERRNO_NOW);
    // The quirk: {rc, rrc} (here the caller's own, no UVC ran) are written to offset 0, over cmd.
    CHECK(cpu.cmd == ((__u32)SENTINEL_RRC << 16 | SENTINEL_RC) && cpu.rc == SENTINEL_RC && cpu.rrc == SENTINEL_RRC,
          "PV_CPU_COMMAND DUMP: Linux writes {rc, rrc} over cmd at offset 0 after the handler; cmd 0x%08x, want 0x%08x",
          cpu.cmd, (__u32)SENTINEL_RRC << 16 | SENTINEL_RC);
    cpu = (struct kvm_pv_cmd){ .cmd = KVM_PV_DUMP, .rc = SENTINEL_RC, .rrc = SENTINEL_RRC, .data = (__u64)(uintptr_t)&dmp };
    struct kvm_pv_cmd *read_only = read_only_page(&cpu, sizeof cpu);
    CHECK(ERR(ioctl(g.vcpu, KVM_S390_PV_CPU_COMMAND, read_only), EFAULT),
          "PV_CPU_COMMAND DUMP, struct read-only: the rc/rrc write-back fails: EFAULT, errno %d", ERRNO_NOW);
    munmap(read_only, page);
    // VM-level DUMP (§2.7): subcommands other than INIT need a dump in progress; unknown ones ENOTTY.
    struct kvm_s390_pv_dmp vm_dump = { .subcmd = KVM_PV_DUMP_COMPLETE };
    EXPECT_PV(g.vm, KVM_PV_DUMP, &vm_dump, EINVAL, UNTOUCHED, 0, "DUMP COMPLETE, not dumping");
    vm_dump.subcmd = 99;
    EXPECT_PV(g.vm, KVM_PV_DUMP, &vm_dump, ENOTTY, UNTOUCHED, 0, "DUMP subcmd 99");
    EXPECT_PV(g.vm, KVM_PV_DUMP, NULL, EFAULT, UNTOUCHED, 0, "DUMP NULL, protected");

    // SET_SEC_PARMS (§2.3) checks before the UV, in order.
    unsigned char header[640];
    memset(header, 0, sizeof header);
    struct kvm_s390_pv_sec_parm parm = { .origin = (__u64)(uintptr_t)header, .length = sizeof header };
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, NULL, EFAULT, UNTOUCHED, 0, "SET_SEC_PARMS NULL");
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, (void *)8, EFAULT, UNTOUCHED, 0, "SET_SEC_PARMS (void*)8");
    parm = (struct kvm_s390_pv_sec_parm){ .origin = 8, .length = 8193 };
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, UNTOUCHED, 0, "SET_SEC_PARMS length 8193 (bad origin: length first)");
    parm.length = ~0ULL;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, UNTOUCHED, 0, "SET_SEC_PARMS length 2^64-1");
    parm.length = 0;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, ENOMEM, UNTOUCHED, 0, "SET_SEC_PARMS length 0 (vmalloc(0) is NULL)");
    parm.length = 640;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EFAULT, UNTOUCHED, 0, "SET_SEC_PARMS origin 8");
    parm.origin = 0;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EFAULT, UNTOUCHED, 0, "SET_SEC_PARMS origin 0");
    {
        unsigned char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(two + page, page);
        parm = (struct kvm_s390_pv_sec_parm){ .origin = (__u64)(uintptr_t)(two + page - 639), .length = 640 };
        EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EFAULT, UNTOUCHED, 0, "SET_SEC_PARMS header crossing into an unmapped page");
        munmap(two, page);
    }
    parm = (struct kvm_s390_pv_sec_parm){ .origin = (__u64)(uintptr_t)header, .length = 8192 };
    unsigned char *big = calloc(1, 8192);
    parm.origin = (__u64)(uintptr_t)big;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, UV_ERROR, ANY, "SET_SEC_PARMS length 8192 of zeros reaches the UV");
    free(big);

    // UNPACK (§2.4) checks before the UV, in order; then the UV refuses UNPACK before SET_SEC_PARMS.
    struct kvm_s390_pv_unp unp = { .addr = 0x10000, .size = page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, NULL, EFAULT, UNTOUCHED, 0, "UNPACK NULL");
    EXPECT_PV(g.vm, KVM_PV_UNPACK, (void *)8, EFAULT, UNTOUCHED, 0, "UNPACK (void*)8");
    unp = (struct kvm_s390_pv_unp){ .addr = 0x10001, .size = page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, UNTOUCHED, 0, "UNPACK addr not 4K aligned");
    unp = (struct kvm_s390_pv_unp){ .addr = 0x10000, .size = page + 1 };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, UNTOUCHED, 0, "UNPACK size not 4K aligned");
    unp = (struct kvm_s390_pv_unp){ .addr = 0x10000, .size = 0 };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, UNTOUCHED, 0, "UNPACK size 0");
    unp = (struct kvm_s390_pv_unp){ .addr = 64 * mib + 1, .size = 0 };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, UNTOUCHED, 0, "UNPACK unaligned, size 0, beyond memory: EINVAL");
    unp = (struct kvm_s390_pv_unp){ .addr = 32 * mib, .size = page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EFAULT, UNTOUCHED, 0, "UNPACK beyond the memslots (no UVC issued)");
    unp = (struct kvm_s390_pv_unp){ .addr = 0x10000, .size = page, .tweak = 0x1234 };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EINVAL, 3, ANY, "UNPACK before SET_SEC_PARMS (UV: invalid state)");
    printf("kvm_pv: UNPACK before SET_SEC_PARMS: rc 0x%x rrc 0x%x\n", last.rc, last.rrc);
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, 3, ANY, "VERIFY before SET_SEC_PARMS (UV: invalid state)");

    // PREP_RESET and UNSHARE_ALL need only the configuration.
    EXPECT_PV(g.vm, KVM_PV_UNSHARE_ALL, NULL, 0, 1, 0, "UNSHARE_ALL");
    EXPECT_PV(g.vm, KVM_PV_PREP_RESET, NULL, 0, 1, 0, "PREP_RESET");

    // DISABLE: both vCPUs leave protection.
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE with two vCPUs");
    CHECK(ERR(sida(late, KVM_S390_MEMOP_SIDA_READ, 0, 8, buffer), EINVAL), "SIDA_READ after DISABLE: errno %d", ERRNO_NOW);
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), ENXIO), "MP_STATE LOAD after DISABLE: errno %d", ERRNO_NOW);
    {
        struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_LOGICAL_READ, 0x10000, 8, buffer);
        CHECK(ioctl(g.vcpu, KVM_S390_MEM_OP, &m) == 0, "logical MEM_OP after DISABLE: %s", strerror(errno));
    }
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, EINVAL, UNTOUCHED, 0, "DISABLE twice");
    CHECK(set_region(g.vm, 1, 32 * mib, mib, extra, 0) == 0, "new memslot after DISABLE: %s", strerror(errno));
    // Protect again (with the memslot added above): a second ENABLE of the same VM works.
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE again after DISABLE");
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE again");
    close(late);
    close(extra);
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// With the SE image: SET_SEC_PARMS against the UV, UNPACK/VERIFY failures, the boot

static struct guest image_guest(int kvm, const struct image *image) {
    struct guest g = make_guest(kvm, guest_size, 1);
    write_image(g.vm, image);
    return g;
}

static void sec_parms(int kvm, const struct image *image) {
    struct guest g = image_guest(kvm, image);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    size_t size = (size_t)image->header_size;
    unsigned char *header = malloc(size + 1);
    memcpy(header, image->bytes + image->header_addr, size);
    struct kvm_s390_pv_sec_parm parm = { .origin = (__u64)(uintptr_t)header, .length = size };

    // Garbage of the right length.
    unsigned char *garbage = malloc(size);
    for (size_t i = 0; i < size; i++) garbage[i] = (unsigned char)(i * 37 + 11);
    struct kvm_s390_pv_sec_parm garbage_parm = { .origin = (__u64)(uintptr_t)garbage, .length = size };
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &garbage_parm, EINVAL, UV_ERROR, ANY, "SET_SEC_PARMS garbage header");
    printf("kvm_pv: SET_SEC_PARMS garbage header: rc 0x%x rrc 0x%x\n", last.rc, last.rrc);
    // Garbage with the magic, version and sehs of a real header.
    memcpy(garbage, header, 0x10);
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &garbage_parm, EINVAL, UV_ERROR, ANY, "SET_SEC_PARMS garbage after a valid magic/version/sehs");
    printf("kvm_pv: SET_SEC_PARMS garbage after a valid prefix: rc 0x%x rrc 0x%x\n", last.rc, last.rrc);
    free(garbage);

    // One bit flipped in the authenticated part (PLD at 0xE0), in the encrypted area, in the tag: 0x108.
    const size_t flips[] = { 0xE0 + 5, 0x1A0 + 80 + 3, size - 1 };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        header[flips[i]] ^= 0x10;
        EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, 0x108, ANY, "SET_SEC_PARMS one bit flipped");
        if (last.rc != 0x108 || i == 0) printf("kvm_pv: SET_SEC_PARMS bit flipped at 0x%zx: rc 0x%x rrc 0x%x\n", flips[i], last.rc, last.rrc);
        header[flips[i]] ^= 0x10;
    }
    // Length ≠ sehs.
    parm.length = size - 1;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, 0x10a, 0x31, "SET_SEC_PARMS length sehs-1");
    header[size] = 0;
    parm.length = size + 1;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, 0x10a, 0x31, "SET_SEC_PARMS length sehs+1");
    parm.length = 16;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, 0x10a, 0x31, "SET_SEC_PARMS length 16");

    // Failures left the configuration as it was: the real header is accepted, once.
    parm.length = size;
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, 0, 1, 0, "SET_SEC_PARMS with the image's header");
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, EINVAL, 3, ANY, "SET_SEC_PARMS a second time (UV: invalid state)");
    printf("kvm_pv: second SET_SEC_PARMS: rc 0x%x rrc 0x%x\n", last.rc, last.rrc);
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, 0x102, 0x1d, "VERIFY with nothing unpacked (page count)");

    // UNPACK across the end of memory: the first page is unpacked (rc 1), the second has no
    // memslot: EFAULT with the rc/rrc of the last UVC issued.
    struct kvm_s390_pv_unp unp = { .addr = guest_size - page, .size = 2 * page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &unp, EFAULT, 1, 0, "UNPACK across the end of the memslot: rc of the last UVC");
    free(header);
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    close_guest(&g);
}

// VERIFY of an image whose components went wrong: rc 0x102, rrc per mismatch.
static void verify_failure(int kvm, const struct image *image, enum unpack_variant variant, int tamper, __u16 rrc, const char *what) {
    struct guest g = image_guest(kvm, image);
    if (tamper) {
        __u64 address = image->component[0].addr + 100;
        unsigned char byte = image->bytes[address] ^ 0x01;
        CHECK(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, address, 1, &byte) == 0, "tamper: %s", strerror(errno));
    }
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    struct kvm_s390_pv_sec_parm parm = { .origin = (__u64)(uintptr_t)(image->bytes + image->header_addr), .length = image->header_size };
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, 0, 1, 0, "SET_SEC_PARMS");
    CHECK(unpack_all(g.vm, image, variant), "%s: every UNPACK succeeds", what);
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, 0x102, rrc, what);
    CHECK(ERR(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD), EINVAL), "%s: MP_STATE LOAD after a failed VERIFY: errno %d", what, ERRNO_NOW);
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");
    close_guest(&g);
}

static void boot(int kvm, const struct image *image) {
    struct guest g = image_guest(kvm, image);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    struct kvm_s390_pv_sec_parm parm = { .origin = (__u64)(uintptr_t)(image->bytes + image->header_addr), .length = image->header_size };
    EXPECT_PV(g.vm, KVM_PV_SET_SEC_PARMS, &parm, 0, 1, 0, "SET_SEC_PARMS");
    CHECK(unpack_all(g.vm, image, UNPACK_ALL), "UNPACK every component");
    struct kvm_s390_pv_unp beyond = { .addr = 32 * mib, .size = page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &beyond, EFAULT, UNTOUCHED, 0, "UNPACK beyond the memslots after SET_SEC_PARMS");

    // A secure (unpacked) page: the absolute MEM_OP fails with EINVAL and copies nothing.
    unsigned char buffer[4096];
    __u64 secure = image->component[0].addr;
    memset(buffer, 0xCC, sizeof buffer);
    CHECK(ERR(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, secure, 64, buffer), EINVAL), "absolute read of an unpacked page: errno %d", ERRNO_NOW);
    CHECK(buffer[0] == 0xCC && buffer[63] == 0xCC, "absolute read of an unpacked page left the buffer untouched");
    CHECK(ERR(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, secure - 8, 16, buffer), EINVAL),
          "absolute read straddling into an unpacked page: errno %d", ERRNO_NOW);
    CHECK(ERR(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, secure, 8, buffer), EINVAL), "absolute write of an unpacked page: errno %d", ERRNO_NOW);

    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, 0, 1, 0, "VERIFY");
    EXPECT_PV(g.vm, KVM_PV_VERIFY, NULL, EINVAL, 3, ANY, "VERIFY a second time (UV: invalid state)");
    struct kvm_s390_pv_unp again = { .addr = secure, .size = page };
    EXPECT_PV(g.vm, KVM_PV_UNPACK, &again, EINVAL, 3, ANY, "UNPACK after VERIFY");
    memset(buffer, 0xCC, sizeof buffer);
    CHECK(ERR(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, secure, 64, buffer), EINVAL), "absolute read of a secure page after VERIFY: errno %d", ERRNO_NOW);
    CHECK(buffer[0] == 0xCC, "absolute read of a secure page after VERIFY left the buffer untouched");

    CHECK(set_mp_state(g.vcpu, KVM_MP_STATE_LOAD) == 0, "MP_STATE LOAD: %s", strerror(errno));
    CHECK(set_mp_state(g.vcpu, KVM_MP_STATE_OPERATING) == 0, "MP_STATE OPERATING: %s", strerror(errno));
    errno = 0;
    int r = ioctl(g.vcpu, KVM_RUN, 0);
    CHECK(r == 0 && g.run->exit_reason == KVM_EXIT_S390_SIEIC, "KVM_RUN: %d %s, exit reason %u", r, strerror(errno), g.run->exit_reason);
    CHECK(g.run->s390_sieic.icptcode == 0x68 && g.run->s390_sieic.ipa == 0xB220,
          "first exit: icptcode 0x%x ipa 0x%x, want PV_INSTR (0x68) SERVC (0xB220)", g.run->s390_sieic.icptcode, g.run->s390_sieic.ipa);
    unsigned char sccb[8];
    memset(sccb, 0, sizeof sccb);
    CHECK(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 0, sizeof sccb, sccb) == 0, "SIDA_READ of the SCCB: %s", strerror(errno));
    unsigned length = (unsigned)sccb[0] << 8 | sccb[1];
    CHECK(length >= 8 && length <= 4096, "SCCB header in the SIDA: length %u", length);
    CHECK(ERR(sida(g.vcpu, KVM_S390_MEMOP_SIDA_READ, 4092, 8, sccb), E2BIG), "SIDA_READ past the end after an intercept: errno %d", ERRNO_NOW);
    {
        struct kvm_s390_mem_op m = memop(KVM_S390_MEMOP_LOGICAL_READ, 0, 8, sccb);
        CHECK(ERR(ioctl(g.vcpu, KVM_S390_MEM_OP, &m), EINVAL), "logical MEM_OP on the running protected vCPU: errno %d", ERRNO_NOW);
    }

    EXPECT_PV(g.vm, KVM_PV_UNSHARE_ALL, NULL, 0, 1, 0, "UNSHARE_ALL");
    EXPECT_PV(g.vm, KVM_PV_PREP_RESET, NULL, 0, 1, 0, "PREP_RESET");
    CHECK(ioctl(g.vcpu, KVM_S390_CLEAR_RESET, 0) == 0, "CLEAR_RESET on a protected vCPU after a boot: %s", strerror(errno));
    EXPECT_PV(g.vm, KVM_PV_DISABLE, NULL, 0, 1, 0, "DISABLE");

    // After DISABLE the absolute MEM_OP works again, and the secure pages read as zeros.
    int all_zero = 1;
    for (__u32 i = 0; i < image->count; i++) {
        for (__u64 a = image->component[i].addr; a < image->component[i].addr + image->component[i].size; a += sizeof buffer) {
            memset(buffer, 0xCC, sizeof buffer);
            if (absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, a, sizeof buffer, buffer) != 0) {
                CHECK(0, "absolute read of 0x%llx after DISABLE: %s", (unsigned long long)a, strerror(errno));
                all_zero = 0;
                break;
            }
            for (size_t j = 0; j < sizeof buffer; j++) all_zero &= buffer[j] == 0;
        }
    }
    CHECK(all_zero, "after DISABLE the former secure pages read as zeros");
    // (Pages that were never unpacked are not checked: VERIFY makes every page the image did not
    // specify a zero page, se-image-format §8 item 5, and the UV model clears them at VERIFY.)
    unsigned char pattern[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
    CHECK(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, secure, 8, pattern) == 0, "absolute write after DISABLE: %s", strerror(errno));
    memset(buffer, 0, 8);
    CHECK(absolute(g.vm, KVM_S390_MEMOP_ABSOLUTE_READ, secure, 8, buffer) == 0 && memcmp(buffer, pattern, 8) == 0,
          "absolute read back after DISABLE");
    close_guest(&g);
}

// ---------------------------------------------------------------------------------------------
// Closing a protected VM releases its configuration.

static void close_while_protected(int kvm, __u64 max_guests) {
    struct guest g = make_guest(kvm, mib, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE");
    close_guest(&g);
    g = make_guest(kvm, mib, 1);
    EXPECT_PV(g.vm, KVM_PV_ENABLE, NULL, 0, 1, 0, "ENABLE of a fresh VM after closing a protected one");
    close_guest(&g);

    // More closed protected VMs than the UV has configurations (max_guests): none may leak.
    __u64 rounds = max_guests + 4;
    if (rounds > 1100) rounds = 1100;
    __u64 failed_at = 0;
    for (__u64 i = 1; i <= rounds && !failed_at; i++) {
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        int memfd = make_memfd(vm, mib);
        int vcpu = -1;
        if (vm < 0 || memfd < 0 || set_region(vm, 0, 0, mib, memfd, 0) != 0 || (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0) {
            failed_at = i;
            printf("kvm_pv: round %llu: VM setup failed: %s\n", (unsigned long long)i, strerror(errno));
        } else if (pv(vm, KVM_PV_ENABLE, NULL) != 0 || last.rc != 1) {
            failed_at = i;
            printf("kvm_pv: round %llu: ENABLE %d errno %d rc 0x%x rrc 0x%x\n", (unsigned long long)i, last_result, last_errno, last.rc, last.rrc);
        }
        if (vcpu >= 0) close(vcpu);
        if (memfd >= 0) close(memfd);
        if (vm >= 0) close(vm);
    }
    CHECK(!failed_at, "%llu protected VMs created and closed (max_guests %llu): failed at round %llu",
          (unsigned long long)rounds, (unsigned long long)max_guests, (unsigned long long)failed_at);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
    run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_S390_PROTECTED) != 1) {
        CHECK(0, "KVM_CAP_S390_PROTECTED is not 1: the host offers no protected virtualization");
        printf("kvm_pv: %d passed, %d failed\n", passed, failed);
        return 1;
    }
    __u64 max_guests = 0;
    capabilities(kvm);
    generic_rules(kvm);
    info_command(kvm, &max_guests);
    not_protected(kvm);
    protected_vm(kvm);
    struct image image;
    if (load_image(&image, guest_size, "positive-path cases") && image_details(&image)) {
        sec_parms(kvm, &image);
        verify_failure(kvm, &image, UNPACK_ALL, 1, 0x1b, "VERIFY after a tampered component page (page list digest)");
        verify_failure(kvm, &image, UNPACK_WRONG_TWEAK, 0, 0x1c, "VERIFY after a wrong tweak (tweak list digest)");
        verify_failure(kvm, &image, UNPACK_SKIP_ONE, 0, 0x1d, "VERIFY with a component missing (page count)");
        boot(kvm, &image);
        free(image.bytes);
    }
    close_while_protected(kvm, max_guests);
    close(kvm);
    printf("kvm_pv: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed != 0;
}
