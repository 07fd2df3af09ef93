/*
 * The Ultravisor as a protected guest sees it, in the manner of kvm-unit-tests s390x/uv-guest.c
 * (../shared/spec/se-image-format.md §9.1, §9.2): the UV-call facility, QUI, sharing and
 * unsharing a page, the rc of host-only calls, and memory the image did not unpack. Then a
 * reset that stays protected (DIAG 308 subcode 1; se-image-format §8 item 6, kvm-pv-ioctl
 * §6.1b) and the DIAG 308 subcodes a protected guest may not use (4, 7, 8, 9, 10).
 * Runs protected (packed as uv-guest-pv.img); one CPU.
 */
#include "runtime.h"

#define UVC_RC_EXECUTED		0x0001
#define UVC_RC_INV_CMD		0x0002
#define UVC_RC_INV_LEN		0x0005
#define UVC_RC_MORE_DATA	0x0100
#define UVC_RC_INV_ADDR		0x0101

#define UVC_CMD_QUI		0x0001
#define UVC_CMD_SET_SHARED	0x1000
#define UVC_CMD_REMOVE_SHARED	0x1001

/* Where the SE header sat in the image before protection (spec §5): not unpacked. */
#define SE_HEADER_ADDRESS	0x14000

#define CR0_RESET		0xe0UL
#define CR14_RESET		0xc2000000UL
#define REG_MARKER		0x0123456789abcdefUL
#define SCLP_CMD_WRITE_EVENT_MASK	0x00780005

struct uv_header {
	uint16_t len;
	uint16_t cmd;
	uint16_t rc;
	uint16_t rrc;
} __attribute__((packed));

struct uv_query {
	struct uv_header h;		/* 0x00 */
	uint64_t reserved08;
	uint64_t inst_calls[4];		/* 0x10 */
	uint64_t reserved30[2];
	uint64_t uv_base_stor_len;	/* 0x40 */
	uint64_t reserved48;
	uint64_t conf_base_phys_stor_len; /* 0x50 */
	uint64_t conf_base_virt_stor_len; /* 0x58 */
	uint64_t conf_virt_var_stor_len; /* 0x60 */
	uint64_t cpu_stor_len;		/* 0x68 */
	uint32_t reserved70[3];
	uint32_t max_num_sec_conf;	/* 0x7c */
	uint64_t max_guest_stor_addr;	/* 0x80 */
	uint8_t  reserved88[0x9e - 0x88];
	uint16_t max_guest_cpu_id;	/* 0x9e */
	uint64_t uv_feature_indications; /* 0xa0 */
	uint8_t  reserveda8[0x120 - 0xa8];
} __attribute__((packed, aligned(8)));

_Static_assert(sizeof(struct uv_query) == 0x120, "QUI control block is 0x120 bytes");

struct uv_share {
	struct uv_header h;
	uint64_t reserved08[3];
	uint64_t paddr;			/* 0x20 */
	uint64_t reserved28;
} __attribute__((packed, aligned(8)));

/* UVC with R2 = the control block; returns the condition code. */
static int uvc(void *cb)
{
	int cc;

	asm volatile(".insn rrf,0xb9a40000,0,%[cb],0,0\n"
		     "ipm %[cc]\n"
		     "srl %[cc],28\n"
		     : [cc] "=d"(cc) : [cb] "a"(cb) : "cc", "memory");
	return cc;
}

static bool facility(unsigned int bit)
{
	uint64_t list[4] = { 0 };
	register uint64_t r0 asm("0") = ARRAY_SIZE(list) - 1;

	asm volatile("stfle %[list]" : [list] "=Q"(list), "+d"(r0) : : "cc", "memory");
	return list[bit / 64] >> (63 - bit % 64) & 1;
}

static bool installed(const struct uv_query *q, unsigned int bit)
{
	return q->inst_calls[bit / 64] >> (63 - bit % 64) & 1;
}

static struct uv_query query;
static uint8_t shared_page[4096] __attribute__((aligned(4096)));

static void test_query(void)
{
	static const unsigned int host_only[] = { 1, 2, 3, 4, 5, 6, 7, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 };
	struct uv_query short_query = { 0 };
	bool none;
	int cc;

	query.h.len = sizeof(query);
	query.h.cmd = UVC_CMD_QUI;
	cc = uvc(&query);
	report(cc == 0 && query.h.rc == UVC_RC_EXECUTED, "QUI: cc %d rc 0x%x", cc, query.h.rc);
	report(installed(&query, 0) && installed(&query, 8) && installed(&query, 9),
	       "QUI lists QUI, SET_SHARED_ACCESS and REMOVE_SHARED_ACCESS");
	none = true;
	for (unsigned int i = 0; i < ARRAY_SIZE(host_only); i++)
		none = none && !installed(&query, host_only[i]);
	report(none, "QUI lists no host-only call");
	printf("UV: max guest address 0x%lx, max CPU id %u, features 0x%lx\n",
	       query.max_guest_stor_addr, query.max_guest_cpu_id, query.uv_feature_indications);

	short_query.h.len = 0xa8;
	short_query.h.cmd = UVC_CMD_QUI;
	cc = uvc(&short_query);
	report(cc == 1 && short_query.h.rc == UVC_RC_MORE_DATA, "QUI with 0xa8 bytes: partial, cc %d rc 0x%x", cc, short_query.h.rc);
	short_query.h.len = 0xa0;
	short_query.h.rc = 0;
	cc = uvc(&short_query);
	report(cc == 1 && short_query.h.rc == UVC_RC_INV_LEN, "QUI with 0xa0 bytes: cc %d rc 0x%x", cc, short_query.h.rc);
}

static void test_host_only_calls(void)
{
	static const uint16_t host_calls[] = { 0x000f, 0x0100, 0x0101, 0x0102, 0x0120, 0x0121, 0x0200, 0x0201,
					       0x0202, 0x0300, 0x0301, 0x0302, 0x0310, 0x0311, 0x0320, 0x0321,
					       0x0330, 0x0340, 0x0341, 0x0342, 0x0400 };
	unsigned int refused = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(host_calls); i++) {
		uint64_t block[0x80 / 8] __attribute__((aligned(8))) = { 0 };
		struct uv_header *h = (struct uv_header *)block;

		h->len = sizeof(block);
		h->cmd = host_calls[i];
		if (uvc(block) == 1 && h->rc == UVC_RC_INV_CMD)
			refused++;
		else
			printf("host call 0x%04x: rc 0x%x\n", host_calls[i], h->rc);
	}
	report(refused == ARRAY_SIZE(host_calls), "%u of %u host-only calls answer rc 2", refused,
	       (unsigned int)ARRAY_SIZE(host_calls));
}

static int share(uint16_t cmd, uint64_t paddr, uint16_t len, uint16_t *rc)
{
	struct uv_share cb = { .h = { .len = len, .cmd = cmd }, .paddr = paddr };
	int cc = uvc(&cb);

	*rc = cb.h.rc;
	return cc;
}

static void test_sharing(void)
{
	uint64_t page = (uint64_t)(uintptr_t)shared_page;
	uint16_t rc;
	int cc;

	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "SET_SHARED_ACCESS 0x%lx: cc %d rc 0x%x", page, cc, rc);
	for (unsigned int i = 0; i < sizeof(shared_page); i++)
		shared_page[i] = (uint8_t)(i * 7);
	cc = share(UVC_CMD_REMOVE_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "REMOVE_SHARED_ACCESS: cc %d rc 0x%x", cc, rc);
	report(shared_page[4095] == (uint8_t)(4095 * 7), "the page keeps its contents across unsharing");

	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share) - 8, &rc);
	report(cc == 1 && rc == UVC_RC_INV_LEN, "SET_SHARED_ACCESS with a short block: cc %d rc 0x%x", cc, rc);
	cc = share(UVC_CMD_SET_SHARED, query.max_guest_stor_addr + 0x100000000UL, sizeof(struct uv_share), &rc);
	report(cc == 1 && rc == UVC_RC_INV_ADDR, "SET_SHARED_ACCESS beyond guest storage: cc %d rc 0x%x", cc, rc);
}

/*
 * Plain parts of the image are not unpacked, so they read as zero once protected (s390-pv-boot.rst:
 * "all non-specified pages will start out as zero pages"). The guest's own image and .bss cover
 * the SE header's old place (0x14000) once this guest is larger than 16 KiB, so there only its
 * magic must be gone; the short IPL PSW the image had at absolute 0 (stage3b drops the kernel's
 * first 64 KiB, and nothing writes bytes 0-7 before this test) must read as zero.
 */
static void test_unpacked_memory(void)
{
	extern char __bss_end[];
	const uint64_t *header = (const uint64_t *)SE_HEADER_ADDRESS;
	const uint64_t se_magic = 0x49424d5365634578UL;	/* "IBMSecEx" */
	bool zero = true;

	if ((uintptr_t)__bss_end <= SE_HEADER_ADDRESS) {
		for (unsigned int i = 0; i < 4096 / 8; i++)
			zero = zero && header[i] == 0;
		report(zero, "the SE header page (not unpacked) reads as zero");
	} else {
		report(header[0] != se_magic, "the SE header (not unpacked) is not visible at 0x%x", SE_HEADER_ADDRESS);
	}
	check_u64("the image's IPL PSW at absolute 0 (not unpacked)", *(volatile uint64_t *)&lowcore, 0);
}

/* ---- DIAG 308 subcode 1 inside the protected guest ---- */

/*
 * The Ultravisor resets the secure CPU (CPU_RESET_INITIAL after PREPARE_RESET) and loads the
 * short ESA/390 PSW at absolute 0 from secure memory, as Guests/diag308.c relies on outside
 * PV. diag308_load_reset() stores that PSW, saves r6-r15, puts REG_MARKER in r3 and records
 * the state the reset left before it re-initialises CR0.
 */
static struct {
	uint64_t cr0;		/* 0 */
	uint64_t cr14;		/* 8 */
	uint64_t r3;		/* 16: REG_MARKER before the reset */
	uint32_t prefix;	/* 24 */
	uint32_t psw_hi;	/* 28: EPSW */
	uint32_t psw_lo;	/* 32 */
} after_reset;
static uint64_t reset_save[10] __attribute__((used));		/* r6-r15 */
static const uint64_t reset_psw __attribute__((used)) = 0x0008000180000000UL;	/* short PSW, 64-bit mode */
static const uint64_t cr0_runtime __attribute__((used)) = 0x40000;		/* AFP, as start.S sets it */
static const uint64_t reg_marker __attribute__((used)) = REG_MARKER;

/* Returns 1 if the CPU came back through the PSW at 0, 0 if the DIAG just fell through. */
int diag308_load_reset(uint64_t subcode);
asm(".text\n"
    "	.globl	diag308_load_reset\n"
    "diag308_load_reset:\n"
    "	larl	%r1,reset_save\n"
    "	stmg	%r6,%r15,0(%r1)\n"
    "	larl	%r1,reset_psw\n"
    "	lg	%r0,0(%r1)\n"
    "	larl	%r1,0f\n"
    "	ogr	%r0,%r1\n"
    "	stg	%r0,0\n"			/* the PSW the reset loads */
    "	larl	%r1,reg_marker\n"
    "	lg	%r3,0(%r1)\n"
    "	diag	%r0,%r2,0x308\n"
    "	lghi	%r2,0\n"			/* still here: the reset did not happen */
    "	br	%r14\n"
    "0:	larl	%r1,after_reset\n"
    "	stctg	%c0,%c0,0(%r1)\n"
    "	stctg	%c14,%c14,8(%r1)\n"
    "	stg	%r3,16(%r1)\n"
    "	stpx	24(%r1)\n"
    "	epsw	%r4,%r5\n"
    "	st	%r4,28(%r1)\n"
    "	st	%r5,32(%r1)\n"
    "	larl	%r1,cr0_runtime\n"
    "	lctlg	%c0,%c0,0(%r1)\n"
    "	larl	%r1,reset_save\n"
    "	lmg	%r6,%r15,0(%r1)\n"
    "	lghi	%r2,1\n"
    "	br	%r14\n");

/* Give the SCLP event facility the console's event mask again, as Guests/diag308.c does. */
static void console_reinit(void)
{
	static uint8_t sccb[4096] __attribute__((aligned(4096)));
	struct {
		uint16_t length;
		uint8_t function_code;
		uint8_t control_mask[3];
		uint16_t response_code;
		uint16_t reserved;
		uint16_t mask_length;
		uint32_t masks[4];	/* cp receive, cp send, sclp receive, sclp send */
	} __attribute__((packed)) *m = (void *)sccb;
	int cc;

	memset(sccb, 0, sizeof(*m));
	m->length = sizeof(*m);
	m->mask_length = 4;
	m->masks[1] = 0x40000040;	/* cp send: line-mode message (2) and VT220 (0x1a) */
	asm volatile("	.insn	rre,0xb2200000,%[cmd],%[sccb]\n"
		     "	ipm	%[cc]\n"
		     "	srl	%[cc],28\n"
		     : [cc] "=d"(cc)
		     : [cmd] "d"(SCLP_CMD_WRITE_EVENT_MASK), [sccb] "d"(sccb)
		     : "cc", "memory");
	if (cc != 0)
		return;
	cr0_set(CR0_SERVICE_SIGNAL);
	do {
		lowcore.ext_code = 0;
		wait_for_interrupt();
	} while (lowcore.ext_code != EXT_SERVICE_SIGNAL);
	cr0_clear(CR0_SERVICE_SIGNAL);
}

/* Memory a load-normal reset must keep: a pattern written before it. */
static uint8_t kept_page[4096] __attribute__((aligned(4096)));

static void test_protected_reset(void)
{
	uint64_t page = (uint64_t)(uintptr_t)shared_page;
	struct uv_query q = { 0 };
	bool same;
	uint16_t rc;
	int cc, resumed;

	for (unsigned int i = 0; i < sizeof(kept_page); i++)
		kept_page[i] = (uint8_t)(i * 13 + 5);
	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "reset: page 0x%lx shared before the reset: cc %d rc 0x%x", page, cc, rc);
	for (unsigned int i = 0; i < sizeof(shared_page); i++)
		shared_page[i] = (uint8_t)(i * 3 + 1);

	memset(&after_reset, 0xff, sizeof(after_reset));
	resumed = diag308_load_reset(1);
	if (resumed)
		console_reinit();
	if (!report(resumed, "subcode 1: resumed at the PSW stored at absolute 0"))
		return;
	report(after_reset.cr0 == CR0_RESET && after_reset.cr14 == CR14_RESET,
	       "subcode 1: CR0 0x%lx, CR14 0x%lx after the reset (expected 0x%lx, 0x%lx)",
	       after_reset.cr0, after_reset.cr14, CR0_RESET, CR14_RESET);
	check_u64("subcode 1: prefix after the reset", after_reset.prefix, 0);
	report(after_reset.psw_hi == 0x00000001 && after_reset.psw_lo == 0x80000000,
	       "subcode 1: PSW mask %08x%08x after loading the short PSW (expected 0000000180000000)",
	       after_reset.psw_hi, after_reset.psw_lo);
	check_u64("subcode 1: r3 kept by the initial CPU reset", after_reset.r3, REG_MARKER);

	/* Still protected: the UV-call facility and the guest calls are there. */
	report(facility(158), "subcode 1: UV-call facility (158) still installed");
	q.h.len = sizeof(q);
	q.h.cmd = UVC_CMD_QUI;
	cc = uvc(&q);
	report(cc == 0 && q.h.rc == UVC_RC_EXECUTED && installed(&q, 8) && installed(&q, 9),
	       "subcode 1: still protected: QUI cc %d rc 0x%x lists SET/REMOVE_SHARED_ACCESS", cc, q.h.rc);

	same = true;
	for (unsigned int i = 0; i < sizeof(kept_page); i++)
		same = same && kept_page[i] == (uint8_t)(i * 13 + 5);
	report(same, "subcode 1: memory contents survive the reset");
	/* UNSHARE_ALL made the page secure again, with its contents. */
	same = true;
	for (unsigned int i = 0; i < sizeof(shared_page); i++)
		same = same && shared_page[i] == (uint8_t)(i * 3 + 1);
	report(same, "subcode 1: the page shared before the reset is unshared with its contents");
	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "subcode 1: SET_SHARED_ACCESS again: cc %d rc 0x%x", cc, rc);
	cc = share(UVC_CMD_REMOVE_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "subcode 1: REMOVE_SHARED_ACCESS again: cc %d rc 0x%x", cc, rc);
	report(shared_page[4095] == (uint8_t)(4095 * 3 + 1), "subcode 1: the page keeps its contents");
}

/* ---- DIAG 308 subcodes refused inside a protected guest (s390-pv-boot.rst) ---- */

static uint8_t iplb[4096] __attribute__((aligned(4096)));

/* DIAG 308 with R1 = 2 (address), R1+1 = 3, R3 = 4 (subcode); the program-interruption code. */
static uint16_t diag308_pgm(uint64_t subcode, void *addr)
{
	expect_pgm_int();
	{
		register uint64_t r2 asm("2") = (uintptr_t)addr;
		register uint64_t r3 asm("3") = 0xdeadbeef;
		register uint64_t r4 asm("4") = subcode;

		asm volatile("diag %[a],%[sc],0x308" : [a] "+d"(r2), "+d"(r3) : [sc] "d"(r4) : "cc", "memory");
	}
	return collect_pgm_int().code;
}

static void test_refused_subcodes(void)
{
	static const unsigned int subcodes[] = { 4, 7, 8, 9, 10 };

	for (unsigned int i = 0; i < ARRAY_SIZE(subcodes); i++) {
		uint16_t code = diag308_pgm(subcodes[i], iplb);

		report(code == PGM_SPECIFICATION, "DIAG 308 subcode %u in PV: program interruption 0x%02x (expected 0x%02x)",
		       subcodes[i], code, PGM_SPECIFICATION);
	}
}

int main(void)
{
	if (!report(facility(158), "UV-call facility (158) installed"))
		return 1;
	test_query();
	test_host_only_calls();
	test_sharing();
	test_unpacked_memory();
	test_protected_reset();
	test_refused_subcodes();
	printf("uv-guest: %u failures\n", report_failures());
	return report_failures() ? 1 : 0;
}
