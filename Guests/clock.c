/*
 * clock: the guest TOD clock keeps the VM's clock namespace across reboots and never goes
 * backwards (issue 6).
 *
 * Command line (from -append, or the parmfile sealed into a Secure Execution image):
 *   after=U    the TOD (as Unix seconds) must be at least U at every boot (the offset is applied
 *              and kept); before=U: below U at every boot; reboots=K (default 2);
 *   backwards=1  negative control: store a TOD one hour ahead before each reboot, so the next boot
 *              must see the clock "go backwards" and fail.
 * Each boot reads the TOD (STCK), checks the expected window, and compares with the TOD the
 * previous boot stored right before its re-IPL (DIAG 308 subcode 3): never earlier. The boot
 * number and that TOD survive the cleared (or, protected, destroyed) memory in a CCW-type IPL
 * parameter block the machine keeps across a re-IPL (DIAG 308 subcode 5 to set, 6 to store), as
 * memtouch does: the boot number in the loadparm, the TOD in the first 8 bytes of vm_parm.
 * The lines printed are deterministic; after the last boot: a summary and EXIT: STATUS=1.
 */
#include "runtime.h"

#define DIAG308_REIPL		3
#define DIAG308_SET		5
#define DIAG308_STORE		6
#define DIAG308_RC_OK		0x0001
#define DIAG308_RC_NOCONFIG	0x0102

#define TOD_PER_SECOND		4096000000UL
#define UNIX_EPOCH_SECONDS	2208988800L	/* 1900-01-01 to 1970-01-01 */

/* CCW-type IPL parameter block, as in diag308.c and memtouch.c. */
struct iplb {
	uint32_t len;			/* 0 */
	uint8_t reserved0[3];
	uint8_t version;		/* 7 */
	uint32_t blk0_len;		/* 8 */
	uint8_t pbt;			/* 12: 2 = CCW */
	uint8_t flags;
	uint16_t reserved1;
	uint8_t loadparm[8];		/* 16: the boot number, EBCDIC digits */
	uint8_t reserved2[85];		/* 24: start of the CCW block */
	uint8_t ssid;			/* 109 */
	uint16_t devno;			/* 110 */
	uint8_t vm_flags;		/* 112 */
	uint8_t reserved3[3];
	uint32_t vm_parm_len;		/* 116 */
	uint8_t nss_name[8];		/* 120: "CLOCKTOD" in EBCDIC marks our block */
	uint8_t vm_parm[64];		/* 128: the last TOD of the previous boot */
	uint8_t reserved4[8];		/* 192 */
} __attribute__((packed));

_Static_assert(sizeof(struct iplb) == 200, "CCW IPLB is 200 bytes");

static const uint8_t ebcdic_marker[8] = { 0xc3, 0xd3, 0xd6, 0xc3, 0xd2, 0xe3, 0xd6, 0xc4 };	/* CLOCKTOD */

static uint8_t iplb_page[4096] __attribute__((aligned(4096)));

/* DIAG 308 with R1 = 2 (address), R1+1 = 3 (response), R3 = 4 (subcode); returns R1+1. */
static uint64_t diag308(uint64_t subcode, void *addr)
{
	register uint64_t r2 asm("2") = (uintptr_t)addr;
	register uint64_t r3 asm("3") = 0;
	register uint64_t r4 asm("4") = subcode;

	asm volatile("diag %[a],%[sc],0x308" : [a] "+d"(r2), "+d"(r3) : [sc] "d"(r4) : "cc", "memory");
	return r3;
}

/* The boot number and last TOD of the stored block; false when there is none of ours. */
static bool stored_state(unsigned long *boot, uint64_t *tod)
{
	struct iplb *b = (void *)iplb_page;
	unsigned long n = 0;
	uint64_t rc;

	memset(iplb_page, 0, sizeof(iplb_page));
	rc = diag308(DIAG308_STORE, iplb_page);
	if (rc == DIAG308_RC_NOCONFIG)
		return false;
	if (rc != DIAG308_RC_OK) {
		printf("clock: DIAG 308 subcode 6 answered 0x%lx\n", rc);
		return false;
	}
	if (b->pbt != 2 || memcmp(b->nss_name, ebcdic_marker, sizeof(ebcdic_marker)) || b->vm_parm_len != 8)
		return false;
	for (unsigned int i = 0; i < sizeof(b->loadparm); i++) {
		if (b->loadparm[i] < 0xf0 || b->loadparm[i] > 0xf9)
			return false;
		n = n * 10 + (b->loadparm[i] - 0xf0);
	}
	memcpy(tod, b->vm_parm, 8);
	*boot = n;
	return true;
}

static bool store_state(unsigned long n, uint64_t tod)
{
	struct iplb *b = (void *)iplb_page;
	uint64_t rc;

	memset(iplb_page, 0, sizeof(iplb_page));
	b->len = sizeof(*b);
	b->version = 1;
	b->blk0_len = sizeof(*b) - 8;
	b->pbt = 2;
	for (int i = sizeof(b->loadparm) - 1; i >= 0; i--, n /= 10)
		b->loadparm[i] = 0xf0 + n % 10;
	memcpy(b->nss_name, ebcdic_marker, sizeof(ebcdic_marker));
	b->vm_parm_len = 8;
	memcpy(b->vm_parm, &tod, 8);
	rc = diag308(DIAG308_SET, iplb_page);
	if (rc != DIAG308_RC_OK)
		printf("clock: DIAG 308 subcode 5 answered 0x%lx\n", rc);
	return rc == DIAG308_RC_OK;
}

static bool separator(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* "key=N" (decimal) on the command line, or def when absent or malformed. */
static uint64_t cmdline_number(const char *key, uint64_t def)
{
	const char *p = cmdline();
	size_t klen = strlen(key);
	uint64_t v;

	while (*p) {
		while (separator(*p))
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			if (*p < '0' || *p > '9')
				return def;
			for (v = 0; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			return (*p == '\0' || separator(*p)) ? v : def;
		}
		while (*p && !separator(*p))
			p++;
	}
	return def;
}

/* A TOD value as Unix seconds (negative before 1970). */
static long unix_seconds(uint64_t tod)
{
	return (long)(tod / TOD_PER_SECOND) - UNIX_EPOCH_SECONDS;
}

int main(void)
{
	unsigned long reboots = cmdline_number("reboots", 2), boots = reboots + 1, prev = 0, boot;
	uint64_t after = cmdline_number("after", 0), before = cmdline_number("before", 0);
	bool backwards = cmdline_number("backwards", 0) != 0;
	uint64_t last = 0, now, again;
	long seconds;

	if (!stored_state(&prev, &last))
		prev = 0;
	boot = prev + 1;
	if (boot > boots) {
		printf("clock: stored boot number %lu beyond %lu boots\n", prev, boots);
		return 1;
	}
	now = get_tod();
	again = get_tod();
	if (again <= now) {
		printf("clock: boot %lu/%lu: STCK not increasing (0x%lx then 0x%lx): FAIL\n", boot, boots, now, again);
		return 1;
	}
	seconds = unix_seconds(now);
	if (after || before) {
		bool ok = (!after || seconds >= (long)after) && (!before || seconds < (long)before);

		printf("clock: boot %lu/%lu: TOD offset %s: %s\n", boot, boots, boot == 1 ? "applied" : "kept", ok ? "yes" : "no");
		if (!ok) {
			printf("clock: TOD is Unix time %ld, expected [%lu, %lu): FAIL\n", seconds, after, before);
			return 1;
		}
	}
	if (boot > 1) {
		if (now < last) {
			printf("clock: boot %lu/%lu: TOD went backwards by %lu us across the reboot: FAIL\n",
			       boot, boots, (last - now) >> 12);
			return 1;
		}
		printf("clock: boot %lu/%lu: never backwards across the reboot: yes\n", boot, boots);
	}
	if (boot < boots) {
		last = get_tod();
		if (backwards)
			last += 3600 * TOD_PER_SECOND;
		printf("clock: boot %lu/%lu: rebooting\n", boot, boots);
		if (!store_state(boot, last))
			return 1;
		diag308(DIAG308_REIPL, 0);
		printf("clock: DIAG 308 subcode 3 returned: no reboot\n");
		return 1;
	}
	printf("clock: %lu boot(s), the TOD never went backwards\n", boots);
	return 0;
}
