/*
 * C side of interruption handling. The entry stubs in start.S save the volatile
 * registers, call handle_*_int(), and return through LPSWE of the old PSW.
 */
#include "runtime.h"

/* ---- External interruptions: dispatch on the code at 0x86 ---- */

static struct {
	uint16_t code;
	ext_handler_t fn;
} ext_handlers[8];

void register_ext_handler(uint16_t code, ext_handler_t fn)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ext_handlers); i++) {
		if (!ext_handlers[i].fn || ext_handlers[i].code == code) {
			ext_handlers[i].code = code;
			ext_handlers[i].fn = fn;
			return;
		}
	}
	printf("register_ext_handler: table full\n");
	abort();
}

void handle_ext_int(void)
{
	uint16_t code = lowcore.ext_code;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ext_handlers) && ext_handlers[i].fn; i++) {
		if (ext_handlers[i].code == code) {
			ext_handlers[i].fn(code, lowcore.ext_param, lowcore.ext_cpu_addr);
			return;
		}
	}
	printf("\nunexpected external interruption 0x%04x, old PSW %016lx %016lx\n",
	       code, lowcore.ext_old_psw.mask, lowcore.ext_old_psw.addr);
	abort();
}

void wait_for_interrupt(void)
{
	/* The entry stub clears the wait bit, so the CPU resumes at label 0 with EXT on. */
	struct psw wait = { PSW_MASK_EXT | PSW_MASK_WAIT | PSW_MASK_64, 0 };
	uint64_t tmp;
	uint8_t old_mask;

	asm volatile("	larl	%[tmp],0f\n"
		     "	stg	%[tmp],8(%[psw])\n"
		     "	lpswe	0(%[psw])\n"
		     "0:	stnsm	%[old],0xfe\n"		/* external mask off again */
		     : [tmp] "=&d"(tmp), [old] "=Q"(old_mask)
		     : [psw] "a"(&wait)
		     : "cc", "memory");
}

/* ---- Program interruptions ---- */

static volatile bool pgm_expected;
static volatile struct pgm_info pgm_last;

void expect_pgm_int(void)
{
	pgm_last.code = 0;
	pgm_expected = true;
	asm volatile("" : : : "memory");
}

struct pgm_info collect_pgm_int(void)
{
	struct pgm_info info;

	asm volatile("" : : : "memory");
	info.code = pgm_last.code;
	info.ilc = pgm_last.ilc;
	info.old_addr = pgm_last.old_addr;
	info.dxc = pgm_last.dxc;
	pgm_expected = false;
	pgm_last.code = 0;
	return info;
}

/*
 * Nullifying exceptions leave the old PSW at the faulting instruction (spec 7.3, "same");
 * all others already point past it.
 */
static bool pgm_nullifies(uint16_t code)
{
	switch (code) {
	case 0x10: case 0x11: case 0x16: case 0x1c:
	case 0x38: case 0x39: case 0x3a: case 0x3b:
	case 0x3d: case 0x3e: case 0x3f: case 0x119:
		return true;
	default:
		return (code >= 0x20 && code <= 0x34 && code != 0x28);
	}
}

void handle_pgm_int(void)
{
	uint16_t code = lowcore.pgm_code & ~0x280;	/* without the PER (0x80) and TX (0x200) flags */

	if (!pgm_expected) {
			printf("\nunexpected program interruption 0x%02x (ILC %u), old PSW %016lx %016lx\n",
		       lowcore.pgm_code, lowcore.pgm_ilc,
		       lowcore.pgm_old_psw.mask, lowcore.pgm_old_psw.addr);
		abort();
	}
	pgm_last.code = code;
	pgm_last.ilc = lowcore.pgm_ilc;
	pgm_last.old_addr = lowcore.pgm_old_psw.addr;
	pgm_last.dxc = lowcore.dxc;
	pgm_expected = false;
	if (pgm_nullifies(code))
		lowcore.pgm_old_psw.addr += lowcore.pgm_ilc;
}

/* ---- SVC, machine check, I/O ---- */

volatile unsigned int svc_count;
volatile uint16_t svc_last_code, svc_last_ilc;

void handle_svc_int(void)
{
	svc_last_code = lowcore.svc_code;
	svc_last_ilc = lowcore.svc_ilc;
	svc_count++;
}

void handle_mcck_int(void)
{
	printf("\nunexpected machine check, old PSW %016lx %016lx\n",
	       lowcore.mcck_old_psw.mask, lowcore.mcck_old_psw.addr);
	abort();
}

void handle_io_int(void)
{
	printf("\nunexpected I/O interruption, old PSW %016lx %016lx\n",
	       lowcore.io_old_psw.mask, lowcore.io_old_psw.addr);
	abort();
}
