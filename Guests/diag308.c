/*
 * DIAGNOSE 0x308 (IPL functions) and DIAGNOSE privilege/specification checks (spec 7.9),
 * in the manner of kvm-unit-tests s390x/diag308.c. One CPU.
 *
 * Subcodes 5/6 set and store an IPL parameter block: R1 (even) holds its 4 KiB-aligned
 * address, the return code comes back in R1+1. Subcodes 0 and 1 reset the machine and then
 * load the short PSW at absolute 0: diag308_load_reset() stores a return PSW there, saves
 * its registers in memory (a clear reset zeroes them), and on the way back records the
 * CPU state the reset left before it re-initialises CR0.
 */
#include "runtime.h"

#define PSW_MASK_PSTATE		0x0001000000000000UL


#define CR0_RESET		0xe0UL
#define CR14_RESET		0xc2000000UL
#define REG_MARKER		0x0123456789abcdefUL

#define SCLP_CMD_WRITE_EVENT_MASK	0x00780005

static uint8_t iplb_set[4096] __attribute__((aligned(4096)));
static uint8_t iplb_store[4096] __attribute__((aligned(4096)));

/* ---- DIAG 0x308 with R1 = 2 (address), R1+1 = 3 (return code), R3 = 4 (subcode) ---- */

struct diag_result {
	uint16_t pgm;		/* program-interruption code, 0 if none */
	uint64_t rc;		/* R1+1 afterwards */
};

/* (expect_pgm_int() comes first: a call would clobber the register variables.) */
static struct diag_result diag308(uint64_t subcode, void *addr)
{
	struct diag_result r;

	expect_pgm_int();
	{
		register uint64_t r2 asm("2") = (uintptr_t)addr;
		register uint64_t r3 asm("3") = 0xdeadbeef;
		register uint64_t r4 asm("4") = subcode;

		asm volatile("diag %[a],%[sc],0x308" : [a] "+d"(r2), "+d"(r3) : [sc] "d"(r4) : "cc", "memory");
		r.rc = r3;
	}
	r.pgm = collect_pgm_int().code;
	return r;
}

/* The same with an odd R1 (R1 = 3, R3 = 4). */
static uint16_t diag308_odd_r1(uint64_t subcode, void *addr)
{
	expect_pgm_int();
	{
		register uint64_t r3 asm("3") = (uintptr_t)addr;
		register uint64_t r4 asm("4") = subcode;

		asm volatile("diag %[a],%[sc],0x308" : [a] "+d"(r3), [sc] "+d"(r4) : : "cc", "memory");
	}
	return collect_pgm_int().code;
}

static void check_pgm(const char *what, uint16_t got, uint16_t expected)
{
	report(got == expected, "%s: program interruption 0x%02x (expected 0x%02x)", what, got, expected);
}

static void check_rc(const char *what, struct diag_result r, uint64_t expected)
{
	if (r.pgm)
		report(false, "%s: program interruption 0x%02x (expected rc 0x%04lx)", what, r.pgm, expected);
	else
		report(r.rc == expected, "%s: rc 0x%04lx (expected 0x%04lx)", what, r.rc, expected);
}

/* ---- problem state: enter with LPSWE, leave through an SVC that clears the P bit ---- */

void pstate_svc_entry(void);
asm(".text\n"
    "pstate_svc_entry:\n"
    "	ni	0x141,0xfe\n"		/* SVC old PSW: clear bit 15 (problem state) */
    "	lpswe	0x140\n");

/* DIAG code (0x308 or 0x10) in problem state; returns the program-interruption code. */
static uint16_t diag_in_problem_state(bool diag10)
{
	struct psw saved = lowcore.svc_new_psw, p = { PSW_MASK_64 | PSW_MASK_PSTATE, 0 };
	uint16_t code;
	uint64_t tmp;

	lowcore.svc_new_psw.mask = PSW_MASK_64;
	lowcore.svc_new_psw.addr = (uintptr_t)pstate_svc_entry;
	expect_pgm_int();
	register uint64_t r2 asm("2") = (uintptr_t)iplb_store;
	register uint64_t r4 asm("4") = 6;
	if (diag10)
		asm volatile("	larl	%[tmp],0f\n"
			     "	stg	%[tmp],8(%[p])\n"
			     "	lpswe	0(%[p])\n"
			     "0:	diag	%[a],%[sc],0x10\n"
			     "	svc	0\n"
			     : [tmp] "=&a"(tmp), [a] "+d"(r2), [sc] "+d"(r4)
			     : [p] "a"(&p) : "r3", "cc", "memory");
	else
		asm volatile("	larl	%[tmp],0f\n"
			     "	stg	%[tmp],8(%[p])\n"
			     "	lpswe	0(%[p])\n"
			     "0:	diag	%[a],%[sc],0x308\n"
			     "	svc	0\n"
			     : [tmp] "=&a"(tmp), [a] "+d"(r2), [sc] "+d"(r4)
			     : [p] "a"(&p) : "r3", "cc", "memory");
	code = collect_pgm_int().code;
	lowcore.svc_new_psw = saved;
	return code;
}

/* ---- subcodes 0 and 1: reset, then resume through the short PSW at absolute 0 ---- */

/* State right after the reset, before anything is re-initialised. */
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

/*
 * A reset may have reset the SCLP event facility: give it the console's event mask again
 * (the runtime set it once, at its first output). SERVC, then wait for the service signal.
 */
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

static void test_reset(unsigned int subcode)
{
	int resumed;

	memset(&after_reset, 0xff, sizeof(after_reset));
	resumed = diag308_load_reset(subcode);
	if (resumed)
		console_reinit();
	if (!report(resumed, "subcode %u: resumed at the PSW stored at absolute 0", subcode))
		return;
	report(after_reset.cr0 == CR0_RESET && after_reset.cr14 == CR14_RESET,
	       "subcode %u: CR0 0x%lx, CR14 0x%lx after the reset (expected 0x%lx, 0x%lx)",
	       subcode, after_reset.cr0, after_reset.cr14, CR0_RESET, CR14_RESET);
	check_u64(subcode ? "subcode 1: prefix after the reset" : "subcode 0: prefix after the reset",
		  after_reset.prefix, 0);
	report(after_reset.psw_hi == 0x00000001 && after_reset.psw_lo == 0x80000000,
	       "subcode %u: PSW mask %08x%08x after loading the short PSW (expected 0000000180000000)",
	       subcode, after_reset.psw_hi, after_reset.psw_lo);
	/* Load normal resets this CPU with an initial reset (GPRs kept), modified clear with a clear reset. */
	check_u64(subcode ? "subcode 1: r3 kept by the initial CPU reset" : "subcode 0: r3 zeroed by the clear reset",
		  after_reset.r3, subcode ? REG_MARKER : 0);
}

int main(void)
{
	struct ccw_iplb *b = (void *)iplb_set;
	static const int unsupported[] = { 2, 0x101, 0xffff, 0x10001, -1 };
	struct diag_result r;
	unsigned int i;
	char what[48];

	printf("diag308: DIAGNOSE 0x308 IPL functions\n");

	check_pgm("DIAG 0x308 in problem state", diag_in_problem_state(false), PGM_PRIVILEGED);
	check_pgm("DIAG 0x10 in problem state", diag_in_problem_state(true), PGM_PRIVILEGED);
	expect_pgm_int();
	{
		register uint64_t r2 asm("2") = 0x2000, r4 asm("4") = 0x2000;

		asm volatile("diag %[a],%[b],0x10" : : [a] "d"(r2), [b] "d"(r4) : "cc", "memory");
		check_pgm("DIAG 0x10", collect_pgm_int().code, PGM_SPECIFICATION);
	}

	/* Operand checks of subcodes 5 and 6. */
	check_pgm("subcode 5, odd R1", diag308_odd_r1(5, iplb_set), PGM_SPECIFICATION);
	check_pgm("subcode 6, odd R1", diag308_odd_r1(6, iplb_store), PGM_SPECIFICATION);
	check_pgm("subcode 5, unaligned address", diag308(5, iplb_set + 8).pgm, PGM_SPECIFICATION);
	check_pgm("subcode 6, unaligned address", diag308(6, iplb_store + 0x800).pgm, PGM_SPECIFICATION);
	for (i = 0; i < ARRAY_SIZE(unsupported); i++) {
		snprintf(what, sizeof(what), "unsupported subcode 0x%lx", (uint64_t)(int64_t)unsupported[i]);
		check_pgm(what, diag308((uint64_t)(int64_t)unsupported[i], iplb_store).pgm, PGM_SPECIFICATION);
	}

	/* QEMU booted with -kernel and no boot device has no IPL parameter block yet. */
	check_rc("subcode 6 before any subcode 5", diag308(6, iplb_store), DIAG308_RC_NOCONFIG);

	/* Invalid blocks: unknown type, and longer than 4 KiB. */
	memset(iplb_set, 0, sizeof(iplb_set));
	b->len = sizeof(*b);
	b->blk0_len = sizeof(*b) - 8;
	b->pbt = 0x7f;
	check_rc("subcode 5, block type 0x7f", diag308(5, iplb_set), DIAG308_RC_INVALID);
	b->pbt = 2;
	b->len = 4097;
	check_rc("subcode 5, length 4097", diag308(5, iplb_set), DIAG308_RC_INVALID);
	check_rc("subcode 6 after rejected blocks", diag308(6, iplb_store), DIAG308_RC_NOCONFIG);

	/* A valid CCW-type block. */
	b->len = sizeof(*b);
	b->version = 1;
	b->devno = 0x1234;
	for (i = 0; i < sizeof(b->vm_parm); i++)
		b->vm_parm[i] = 0x40 + i;
	check_rc("subcode 5, CCW block of 200 bytes", diag308(5, iplb_set), DIAG308_RC_OK);
	memset(iplb_store, 0xaa, sizeof(iplb_store));
	check_rc("subcode 6", diag308(6, iplb_store), DIAG308_RC_OK);
	report(memcmp(iplb_store, iplb_set, sizeof(*b)) == 0, "subcode 6: the stored block is the one set");
	report(iplb_store[sizeof(*b)] == 0xaa && iplb_store[sizeof(iplb_store) - 1] == 0xaa,
	       "subcode 6: nothing stored beyond its length");

	test_reset(1);
	test_reset(0);

	/* QEMU keeps the block across these resets (only a re-IPL or external reset drops it). */
	memset(iplb_store, 0xaa, sizeof(iplb_store));
	r = diag308(6, iplb_store);
	check_rc("subcode 6 after the resets", r, DIAG308_RC_OK);
	report(r.rc == DIAG308_RC_OK && memcmp(iplb_store, iplb_set, sizeof(*b)) == 0,
	       "subcode 6 after the resets: the block is unchanged");

	printf("diag308: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
