// What the C tests of protected virtualization (kvm_pv.c, kvm_pv_async.c) share: the check
// counters and macros, the rc/rrc sentinels and their description, guest memory and vCPU
// helpers, and the SE boot image ($S390PV_PV_IMAGE) parsed from its metadata and IPIB.
// Header-only (static functions): each test is one translation unit.
#ifndef S390PV_PV_TEST_H
#define S390PV_PV_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

static int passed, failed, skipped;
#define CHECK(condition, ...) do { if (condition) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define SKIP(...) do { skipped++; printf("SKIP: "); printf(__VA_ARGS__); printf("\n"); } while (0)

// ioctl that must fail with `expected`: -1 and errno.
#define ERR(call, expected) ({ errno = 0; long r_ = (long)(call); r_ == -1 && errno == (expected); })
#define ERRNO_NOW errno

static const __u64 mib = 1 << 20;
static const __u64 page = 4096;

// Every PV command starts with these in rc/rrc.
#define SENTINEL_RC 0xA5A5
#define SENTINEL_RRC 0x5A5A
#define UNTOUCHED -1   // rc/rrc: the caller's sentinels are what the caller sees afterwards
#define UV_ERROR -2    // rc: some UV error code (neither the sentinel nor 1, not 0); rrc: any
#define ANY -3         // rrc: any value

// The expected rc/rrc in words, for failure messages.
static const char *want_rc(int rc, int rrc) {
    static char text[64];
    if (rc == UNTOUCHED) return "rc/rrc untouched (0xa5a5/0x5a5a)";
    if (rc == UV_ERROR) return "a UV error rc";
    if (rrc == ANY) snprintf(text, sizeof text, "rc 0x%x", rc);
    else snprintf(text, sizeof text, "rc 0x%x rrc 0x%x", rc, rrc);
    return text;
}

static int set_region(int vm, __u32 slot, __u64 gpa, __u64 size, int memfd, __u64 offset) {
    struct kvm_userspace_memory_region2 region = {
        .slot = slot, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = gpa, .memory_size = size,
        .guest_memfd = (__u32)memfd, .guest_memfd_offset = offset };
    return ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region);
}

static int make_memfd(int vm, __u64 size) {
    struct kvm_create_guest_memfd gmem = { .size = size };
    return ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
}

// KVM_S390_MEM_OP absolute read or write on the VM fd; errno is 0 unless it failed.
static int absolute(int vm, __u32 op, __u64 gaddr, __u32 size, void *buf) {
    struct kvm_s390_mem_op m = { .gaddr = gaddr, .size = size, .op = op, .buf = (__u64)(uintptr_t)buf };
    errno = 0;
    return ioctl(vm, KVM_S390_MEM_OP, &m);
}

static int set_mp_state(int vcpu, __u32 state) {
    struct kvm_mp_state s = { .mp_state = state };
    errno = 0;
    return ioctl(vcpu, KVM_SET_MP_STATE, &s);
}

// ---- The SE boot image (spec se-image-format §5-§6) ----

struct component { __u64 tweak, addr, size; };
struct image {
    const char *path;
    unsigned char *bytes;
    size_t size;
    __u64 ipib_offset;   // in the file, from the metadata at 0xC000
    __u64 header_addr, header_size;
    __u32 count;
    struct component component[16];
};

static __u64 be64(const unsigned char *p) { __u64 v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }
static __u32 be32(const unsigned char *p) { return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3]; }

// Reads and parses $S390PV_PV_IMAGE (at most `limit` bytes); 0 with the reason printed (a SKIP
// naming `skipped`, the cases that cannot run, or a failed check) if there is none to use.
static int load_image(struct image *image, __u64 limit, const char *skipped) {
    const char *path = getenv("S390PV_PV_IMAGE");
    if (!path) { SKIP("S390PV_PV_IMAGE is not set: %s skipped", skipped); return 0; }
    if (!getenv("S390PV_HOST_KEY")) { SKIP("S390PV_HOST_KEY is not set (the UV has a random key): %s skipped", skipped); return 0; }
    FILE *file = fopen(path, "rb");
    if (!file) { SKIP("%s: %s: %s skipped (make pv-guests)", path, strerror(errno), skipped); return 0; }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    image->path = path;
    image->bytes = malloc((size_t)length);
    image->size = (size_t)length;
    size_t got = fread(image->bytes, 1, image->size, file);
    fclose(file);
    const unsigned char *meta = image->bytes + 0xC000;
    if (got != image->size || image->size < 0xC01C || image->size > limit || memcmp(meta, "SeImgLnx", 8) != 0) {
        CHECK(0, "%s: not an SE boot image (no SeImgLnx metadata at 0xC000)", path);
        return 0;
    }
    __u64 header_offset = be64(meta + 8);
    image->ipib_offset = be64(meta + 20);
    if (image->ipib_offset + 0x88 > image->size || header_offset + 16 > image->size) { CHECK(0, "image offsets out of the file"); return 0; }
    const unsigned char *ipib = image->bytes + image->ipib_offset;
    image->count = be32(ipib + 0x74);
    image->header_addr = be64(ipib + 0x78);
    image->header_size = be64(ipib + 0x80);
    if (image->header_addr == 0) {   // not patched in the file: stage3a does it at run time
        image->header_addr = header_offset;
        image->header_size = be32(image->bytes + header_offset + 0x0C);
    }
    if (image->count == 0 || image->count > 16 || image->ipib_offset + 0x88 + 24 * image->count > image->size
        || image->header_addr + image->header_size > image->size) {
        CHECK(0, "IPIB: %u components, header 0x%llx+0x%llx", image->count, (unsigned long long)image->header_addr,
              (unsigned long long)image->header_size);
        return 0;
    }
    for (__u32 i = 0; i < image->count; i++) {
        const unsigned char *c = ipib + 0x88 + 24 * i;
        image->component[i] = (struct component){ be64(c), be64(c + 8), (be64(c + 16) + page - 1) & ~(page - 1) };
    }
    return 1;
}

// Writes the image into guest memory with absolute MEM_OPs (at most 64 KiB each).
static int write_image(int vm, const struct image *image) {
    for (size_t offset = 0; offset < image->size; offset += 65536) {
        size_t n = image->size - offset < 65536 ? image->size - offset : 65536;
        if (absolute(vm, KVM_S390_MEMOP_ABSOLUTE_WRITE, offset, (__u32)n, image->bytes + offset) != 0) {
            CHECK(0, "load the image at 0x%zx: %s", offset, strerror(errno));
            return 0;
        }
    }
    return 1;
}

#endif
