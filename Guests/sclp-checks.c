/*
 * SCLP checks: how SERVC validates its operands and how the SCLP answers malformed or
 * unusual requests (spec 7.6). Each check prints one PASS or FAIL line with the observed
 * value. Where QEMU 7.2 answers differently from the spec table, the expected value is
 * QEMU's (commented at the check), because the console must match QEMU's byte for byte.
 *
 * Every accepted SERVC is completed by waiting for its service-signal interruption; the
 * wait has a clock-comparator backstop so that a missing interruption is a FAIL, not a hang.
 * The runtime's own service-signal handler ignores our SCCBs (it only matches its own).
 */
#include "runtime.h"
#include "sclp.h"

#define PGM_ADDRESSING			0x05
#define PSW_MASK_PSTATE			0x0001000000000000UL

#define SCLP_CMD_READ_EVENT_DATA	0x00770005
#define SCLP_CMD_UNKNOWN		0x00990001


#define WAIT_TIMEOUT_US			2000000





/* Three pages: SCCBs at the start of the first, or straddling the first boundary. */
static uint8_t area[3 * 4096] __attribute__((aligned(4096)));

/* ---- SERVC with a bounded wait for the service signal ---- */

struct servc_result {
	uint16_t pgm;		/* program-interruption code, 0 if none */
	int cc;			/* -1 after a program interruption */
	bool signalled;		/* the service signal arrived */
	uint32_t param;		/* its parameter (0x80) */
};

static volatile bool timed_out;

static void ckc_timeout(uint16_t code, uint32_t param, uint16_t src_cpu)
{
	(void)code;
	(void)param;
	(void)src_cpu;
	cr0_clear(CR0_CLOCK_COMPARATOR);
	timed_out = true;
}

/* Wait (bounded) for the service signal; returns false on timeout. */
static bool wait_service_signal(uint32_t *param)
{
	bool ok;

	timed_out = false;
	set_clock_comparator(get_tod() + WAIT_TIMEOUT_US * TOD_PER_US);
	cr0_set(CR0_SERVICE_SIGNAL | CR0_CLOCK_COMPARATOR);
	lowcore.ext_code = 0;
	for (;;) {
		wait_for_interrupt();
		if (lowcore.ext_code == EXT_SERVICE_SIGNAL) {
			*param = lowcore.ext_param;
			ok = true;
			break;
		}
		if (timed_out) {
			ok = false;
			break;
		}
	}
	cr0_clear(CR0_SERVICE_SIGNAL | CR0_CLOCK_COMPARATOR);
	set_clock_comparator(~0UL);
	return ok;
}

static struct servc_result servc(uint32_t command, uint64_t sccb)
{
	struct servc_result r = { 0, -1, false, 0 };
	struct pgm_info pi;
	int cc;

	expect_pgm_int();
	asm volatile("	lhi	%[cc],-1\n"
		     "	.insn	rre,0xb2200000,%[cmd],%[sccb]\n"
		     "	ipm	%[cc]\n"
		     "	srl	%[cc],28\n"
		     : [cc] "=&d"(cc)
		     : [cmd] "d"(command), [sccb] "d"(sccb)
		     : "cc", "memory");
	pi = collect_pgm_int();
	r.pgm = pi.code;
	if (r.pgm)
		return r;
	r.cc = cc;
	if (cc == 0)
		r.signalled = wait_service_signal(&r.param);
	return r;
}

/* A SERVC that must raise program interruption `code`. */
static void check_servc_pgm(const char *what, uint32_t command, uint64_t sccb, uint16_t code)
{
	struct servc_result r = servc(command, sccb);

	if (r.pgm)
		report(r.pgm == code, "SERVC, %s: program interruption 0x%02x (expected 0x%02x)",
		       what, r.pgm, code);
	else
		report(false, "SERVC, %s: no program interruption, cc %d, service signal %s (expected PGM 0x%02x)",
		       what, r.cc, r.signalled ? "yes" : "no", code);
}

/* A SERVC that must be accepted and answer `response`; returns true if it did. */
static bool check_servc_rc(const char *what, uint32_t command, void *sccb, uint16_t response)
{
	struct servc_result r = servc(command, (uintptr_t)sccb);
	uint16_t rc = ((struct sccb_header *)sccb)->response_code;

	if (r.pgm)
		return report(false, "SERVC, %s: program interruption 0x%02x (expected response 0x%04x)",
			      what, r.pgm, response);
	if (r.cc != 0)
		return report(false, "SERVC, %s: cc %d (expected 0)", what, r.cc);
	if (!r.signalled)
		return report(false, "SERVC, %s: no service signal", what);
	if (r.param != (uint32_t)(uintptr_t)sccb)
		return report(false, "SERVC, %s: service-signal parameter 0x%x, expected 0x%lx",
			      what, r.param, (uintptr_t)sccb);
	return report(rc == response, "SERVC, %s: response 0x%04x (expected 0x%04x)", what, rc, response);
}

/* ---- problem state: enter with LPSWE, leave through an SVC that clears the P bit ---- */

void pstate_svc_entry(void);
asm(".text\n"
    "pstate_svc_entry:\n"
    "	ni	0x141,0xfe\n"		/* SVC old PSW: clear bit 15 (problem state) */
    "	lpswe	0x140\n");

static uint16_t servc_in_problem_state(uint32_t command, uint64_t sccb)
{
	struct psw saved = lowcore.svc_new_psw, p = { PSW_MASK_64 | PSW_MASK_PSTATE, 0 };
	struct pgm_info pi;
	uint32_t param;
	uint64_t tmp;

	lowcore.svc_new_psw.mask = PSW_MASK_64;
	lowcore.svc_new_psw.addr = (uintptr_t)pstate_svc_entry;
	expect_pgm_int();
	asm volatile("	larl	%[tmp],0f\n"
		     "	stg	%[tmp],8(%[p])\n"
		     "	lpswe	0(%[p])\n"
		     "0:	.insn	rre,0xb2200000,%[cmd],%[sccb]\n"
		     "	svc	0\n"
		     : [tmp] "=&a"(tmp)
		     : [p] "a"(&p), [cmd] "d"(command), [sccb] "d"(sccb)
		     : "cc", "memory");
	pi = collect_pgm_int();
	lowcore.svc_new_psw = saved;
	if (!pi.code)
		wait_service_signal(&param);	/* accepted after all: collect its signal */
	return pi.code;
}

/* ---- helpers ---- */

static void *sccb_at(size_t offset, uint16_t length)
{
	struct sccb_header *h = (void *)(area + offset);

	memset(area, 0, sizeof(area));
	h->length = length;
	return h;
}

static void set_console_mask(void *sccb)
{
	struct write_event_mask *m = sccb;

	m->mask_length = 4;
	m->cp_send_mask = EVMASK(EVTYP_MSG) | EVMASK(EVTYP_VT220);
}

/* Restore the event mask the runtime console set (some checks change it). */
static void restore_console_mask(void)
{
	struct write_event_mask *m = sccb_at(0, sizeof(*m));

	set_console_mask(m);
	servc(SCLP_CMD_WRITE_EVENT_MASK, (uintptr_t)m);
}

/* Load a doubleword at addr; returns the program-interruption code (0 if none). */
static uint16_t probe(uint64_t addr)
{
	uint64_t v;

	expect_pgm_int();
	asm volatile("lg %[v],0(%[a])" : [v] "=d"(v) : [a] "a"(addr) : "memory");
	return collect_pgm_int().code;
}

static unsigned int count_cpus_by_sigp(void)
{
	unsigned int n = 0;
	uint16_t addr;

	for (addr = 0; addr < 64; addr++) {
		if (sigp(addr, SIGP_SENSE, 0, NULL) != 3)
			n++;
	}
	return n;
}

/* ---- the checks ---- */

static void test_program_checks(void)
{
	struct sccb_header *low = (void *)0x1000;
	void *sccb;

	/* An otherwise good READ SCP INFO header, so acceptance would be visible. */
	sccb = sccb_at(0, 8);
	*low = *(struct sccb_header *)sccb;
	check_servc_pgm("SCCB at 0x1000 (first 8 KiB)", SCLP_CMD_READ_SCP_INFO, 0x1000, PGM_SPECIFICATION);

	sccb = sccb_at(4, 8);
	check_servc_pgm("SCCB not 8-byte aligned", SCLP_CMD_READ_SCP_INFO, (uintptr_t)sccb,
			PGM_SPECIFICATION);

	/* QEMU: an address with no RAM behind it is "I/O space": addressing, checked first. */
	check_servc_pgm("SCCB at 1 GiB (beyond storage)", SCLP_CMD_READ_SCP_INFO, 0x40000000UL,
			PGM_ADDRESSING);

	sccb = sccb_at(0, 4);
	check_servc_pgm("SCCB header length 4", SCLP_CMD_READ_SCP_INFO, (uintptr_t)sccb,
			PGM_SPECIFICATION);

	sccb = sccb_at(0, 4096);
	check_u64("SERVC in problem state: program interruption",
		  servc_in_problem_state(SCLP_CMD_READ_SCP_INFO, (uintptr_t)sccb), PGM_PRIVILEGED);
}

static void test_responses(void)
{
	struct write_event_mask *m;
	struct sccb_header *h;

	h = sccb_at(0, 8);
	check_servc_rc("unknown command 0x00990001", SCLP_CMD_UNKNOWN, h, 0x01f0);

	/* A harmless WRITE EVENT MASK (the console's own masks) straddling 4 KiB. */
	m = sccb_at(4096 - 16, sizeof(*m));
	set_console_mask(m);
	check_servc_rc("WRITE EVENT MASK crossing a 4 KiB boundary", SCLP_CMD_WRITE_EVENT_MASK, m, 0x0100);

	h = sccb_at(0, 16);
	check_servc_rc("READ SCP INFO, 16-byte SCCB", SCLP_CMD_READ_SCP_INFO, h, 0x0300);
	check_u64("READ SCP INFO, 16-byte SCCB: length left", h->length, 16);

	h = sccb_at(0, 16);
	h->control_mask[2] = 0x80;		/* variable-length response */
	check_servc_rc("READ SCP INFO, 16-byte SCCB, variable length", SCLP_CMD_READ_SCP_INFO, h, 0x0300);
	check_u64("READ SCP INFO, 16-byte SCCB, variable length: length", h->length, 16);
}

static void test_read_info(void)
{
	struct read_info *ri = sccb_at(0, 4096);
	const uint8_t *entries;
	unsigned int ncpus, sigp_cpus, i;
	uint64_t mb;
	bool in_order = true;

	if (!check_servc_rc("READ SCP INFO", SCLP_CMD_READ_SCP_INFO, ri, 0x0010))
		return;
	mb = (uint64_t)(ri->rnmax ? ri->rnmax : ri->rnmax2) * (ri->rnsize ? ri->rnsize : ri->rnsize2);
	ncpus = ri->cpu_entries;
	entries = area + ri->cpu_offset;
	for (i = 0; i < ncpus; i++)
		in_order &= entries[i * 16] == i;
	printf("sclp-checks: %lu MiB, %u CPU(s), CPU entries at %u\n", mb, ncpus, ri->cpu_offset);

	report(mb > 0 && probe((mb << 20) - 8) == 0 && probe(mb << 20) == PGM_ADDRESSING,
	       "READ SCP INFO: storage ends at %lu MiB (last doubleword readable, next addressing)", mb);
	sigp_cpus = count_cpus_by_sigp();
	report(ncpus == sigp_cpus, "READ SCP INFO: %u CPU entries, SIGP SENSE finds %u CPUs",
	       ncpus, sigp_cpus);
	report(in_order, "READ SCP INFO: CPU entries hold addresses 0..%u", ncpus - 1);
}

static void test_event_mask(void)
{
	struct write_event_mask *m;
	uint8_t *masks;

	m = sccb_at(0, sizeof(*m));
	m->mask_length = 0;
	check_servc_rc("WRITE EVENT MASK, mask length 0", SCLP_CMD_WRITE_EVENT_MASK, m, 0x74f0);

	/* QEMU 7.2 only refuses lengths above 1021 (SCLP_EVENT_MASK_LEN_MAX). */
	m = sccb_at(0, sizeof(*m));
	m->mask_length = 1022;
	check_servc_rc("WRITE EVENT MASK, mask length 1022", SCLP_CMD_WRITE_EVENT_MASK, m, 0x74f0);

	/*
	 * QEMU 7.2 (allow_all_mask_sizes) accepts any other mask length, though it keeps only
	 * 8 bytes of each mask. All-zero 9-byte masks: the console mask is restored below.
	 */
	m = sccb_at(0, 8 + 4 + 4 * 9);
	m->mask_length = 9;
	check_servc_rc("WRITE EVENT MASK, mask length 9", SCLP_CMD_WRITE_EVENT_MASK, m, 0x0020);
	restore_console_mask();

	/* Five-byte masks whose first four bytes are the console's usual ones. */
	m = sccb_at(0, 8 + 4 + 4 * 5);
	m->mask_length = 5;
	masks = (uint8_t *)&m->cp_receive_mask;
	masks[5 + 0] = EVMASK(EVTYP_MSG) >> 24;
	masks[5 + 3] = EVMASK(EVTYP_VT220);
	check_servc_rc("WRITE EVENT MASK, mask length 5", SCLP_CMD_WRITE_EVENT_MASK, m, 0x0020);
	restore_console_mask();

	m = sccb_at(0, sizeof(*m));
	set_console_mask(m);
	if (check_servc_rc("WRITE EVENT MASK, mask length 4", SCLP_CMD_WRITE_EVENT_MASK, m, 0x0020))
		report(m->sclp_receive_mask & EVMASK(EVTYP_VT220),
		       "WRITE EVENT MASK: the SCLP receive mask includes VT220");
}

static void test_event_data(void)
{
	struct sccb_header *h;
	struct event_header *ev;

	/* An event buffer of 40 bytes in an SCCB that has room for 16. */
	h = sccb_at(0, 8 + 16);
	ev = (void *)(h + 1);
	ev->length = 40;
	ev->type = EVTYP_VT220;
	check_servc_rc("WRITE EVENT DATA, event buffer runs past the SCCB", SCLP_CMD_WRITE_EVENT_DATA, h,
		       0x73f0);

	/* An event buffer shorter than its own header. */
	h = sccb_at(0, 8 + 16);
	ev = (void *)(h + 1);
	ev->length = 2;
	ev->type = EVTYP_VT220;
	check_servc_rc("WRITE EVENT DATA, event length 2", SCLP_CMD_WRITE_EVENT_DATA, h, 0x73f0);

	/* An empty VT220 buffer with function code 1 (only 0, normal write, exists). */
	h = sccb_at(0, 8 + 6);
	h->function_code = 1;
	ev = (void *)(h + 1);
	ev->length = 6;
	ev->type = EVTYP_VT220;
	check_servc_rc("WRITE EVENT DATA, function code 1", SCLP_CMD_WRITE_EVENT_DATA, h, 0x40f0);

	h = sccb_at(0, 4096);
	check_servc_rc("READ EVENT DATA, nothing pending", SCLP_CMD_READ_EVENT_DATA, h, 0x60f0);

	h = sccb_at(0, 2048);
	check_servc_rc("READ EVENT DATA, 2048-byte SCCB", SCLP_CMD_READ_EVENT_DATA, h, 0x0300);
}

int main(void)
{
	/* The first line also makes the runtime register its service-signal handler. */
	printf("sclp-checks: SERVC operand checks and SCLP responses\n");
	register_ext_handler(EXT_CLOCK_COMPARATOR, ckc_timeout);

	test_program_checks();
	test_responses();
	test_read_info();
	test_event_mask();
	test_event_data();

	printf("sclp-checks: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
