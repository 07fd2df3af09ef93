/*
 * SIGP checks (spec 7.5): condition codes and status bits for absent CPUs, invalid orders,
 * stopped and running targets; STORE STATUS AT ADDRESS before and after an INITIAL CPU
 * RESET; EMERGENCY SIGNAL and EXTERNAL CALL delivery to a running secondary CPU.
 *
 * Runs with any number of CPUs; the checks that need a second CPU use CPU address 1 and
 * are skipped (with one line saying so) on a uniprocessor. Only the boot CPU prints.
 */
#include "runtime.h"

#define SIGP_STORE_STATUS_AT_ADDRESS	0x0e
#define SIGP_SENSE_RUNNING_STATUS	0x15

#define SIGP_STATUS_INVALID_ORDER	0x002
#define SIGP_STATUS_EXT_CALL_PENDING	0x080
#define SIGP_STATUS_INVALID_PARAMETER	0x100
#define SIGP_STATUS_INCORRECT_STATE	0x200
#define SIGP_STATUS_NOT_RUNNING		0x400

#define TARGET				1
#define TIMEOUT_US			2000000
#define HIGH_MARKER			0xa5a5a5a500000000UL


/* One SIGP, checked: cc and (for cc 1) the status. The parameter goes in R1. */
static bool check_sigp(const char *what, uint16_t addr, uint8_t order, uint64_t param,
		       int exp_cc, uint32_t exp_status)
{
	uint64_t r1 = param;
	int cc;

	do {
		r1 = param;
		cc = sigp_register(addr, order, &r1);
	} while (cc == 2);
	if (exp_cc == 1)
		return report(cc == 1 && (uint32_t)r1 == exp_status,
			      "%s: cc %d, status 0x%x (expected cc 1, status 0x%x)",
			      what, cc, cc == 1 ? (uint32_t)r1 : 0, exp_status);
	return report(cc == exp_cc, "%s: cc %d (expected cc %d)", what, cc, exp_cc);
}

static bool wait_until(volatile bool *flag)
{
	uint64_t deadline = get_tod() + TIMEOUT_US * TOD_PER_US;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (get_tod() > deadline)
			return false;
	}
	return true;
}

static bool wait_stopped(uint16_t addr)
{
	uint64_t deadline = get_tod() + TIMEOUT_US * TOD_PER_US;

	while (!cpu_stopped(addr)) {
		if (get_tod() > deadline)
			return false;
	}
	return true;
}

/* ---- STORE STATUS AT ADDRESS: the 512-byte layout of lowcore 0x1200-0x13ff ---- */

struct save_area {
	uint64_t fprs[16];		/* 0x000 */
	uint64_t grs[16];		/* 0x080 */
	struct psw psw;			/* 0x100 */
	uint8_t pad_0x110[8];
	uint32_t prefix;		/* 0x118 */
	uint32_t fpc;			/* 0x11c */
	uint8_t pad_0x120[4];
	uint32_t todpr;			/* 0x124 */
	uint64_t cputm;			/* 0x128 */
	uint64_t ckc;			/* 0x130 */
	uint8_t pad_0x138[8];
	uint32_t ars[16];		/* 0x140 */
	uint64_t crs[16];		/* 0x180 */
} __attribute__((packed));

_Static_assert(sizeof(struct save_area) == 512, "store-status area is 512 bytes");

static struct save_area status_area __attribute__((aligned(512)));

/*
 * First run of the target: note its prefix, load marker values into r6-r9, then SIGP STOP
 * itself. The stop takes effect after the SIGP, so the stored PSW points at stop_resume.
 */
static struct {
	uint32_t prefix;
	uint16_t addr;
} stopper_info __attribute__((used));
static const uint64_t stopper_markers[4] __attribute__((used)) = {
	0x6666666666666666UL, 0x7777777777777777UL, 0x8888888888888888UL, 0x9999999999999999UL,
};
void stopper_main(void *arg);
extern char stop_resume[];
asm(".text\n"
    "stopper_main:\n"
    "	larl	%r1,stopper_info\n"
    "	stpx	0(%r1)\n"
    "	stap	4(%r1)\n"
    "	llgh	%r3,4(%r1)\n"
    "	larl	%r1,stopper_markers\n"
    "	lmg	%r6,%r9,0(%r1)\n"
    "0:	sigp	%r5,%r3,5\n"
    "stop_resume:\n"
    "	j	0b\n");

/* ---- second run of the target: receives an emergency signal and an external call ---- */

static volatile bool target_ready, target_release;
static volatile unsigned int ext_count;
static volatile uint16_t ext_code_seen[2], ext_src_seen[2];

static void target_ext_handler(uint16_t code, uint32_t param, uint16_t src_cpu)
{
	(void)param;
	if (ext_count < 2) {
		ext_code_seen[ext_count] = code;
		ext_src_seen[ext_count] = src_cpu;
	}
	__atomic_add_fetch(&ext_count, 1, __ATOMIC_RELEASE);
}

static void receiver_main(void *arg)
{
	(void)arg;
	cr0_set(CR0_EMERGENCY_SIGNAL | CR0_EXTERNAL_CALL);
	__atomic_store_n(&target_ready, true, __ATOMIC_RELEASE);
	while (__atomic_load_n(&ext_count, __ATOMIC_ACQUIRE) < 2)
		wait_for_interrupt();
	while (!__atomic_load_n(&target_release, __ATOMIC_ACQUIRE))
		;	/* running, not waiting */
}

static bool wait_ext_count(unsigned int n)
{
	uint64_t deadline = get_tod() + TIMEOUT_US * TOD_PER_US;

	while (__atomic_load_n(&ext_count, __ATOMIC_ACQUIRE) < n) {
		if (get_tod() > deadline)
			return false;
	}
	return true;
}

/* ---- the checks ---- */

static void test_any_cpus(unsigned int ncpus)
{
	uint16_t me = stap();
	uint64_t r1;
	int cc;
	char what[64];

	snprintf(what, sizeof(what), "SIGP SENSE to CPU address %u (absent)", ncpus);
	check_sigp(what, ncpus, SIGP_SENSE, 0, 3, 0);
	check_sigp("SIGP SENSE to CPU address 0xffff (absent)", 0xffff, SIGP_SENSE, 0, 3, 0);
	check_sigp("SIGP order 0xff to CPU address 0xffff: not operational wins", 0xffff, 0xff, 0, 3, 0);

	r1 = HIGH_MARKER;
	cc = sigp_register(me, 0xff, &r1);
	report(cc == 1 && r1 == (HIGH_MARKER | SIGP_STATUS_INVALID_ORDER),
	       "SIGP order 0xff to this CPU: cc %d, R1 0x%lx (expected cc 1, R1 0x%lx)",
	       cc, r1, HIGH_MARKER | SIGP_STATUS_INVALID_ORDER);

	/* Every other CPU is stopped: QEMU (CZAM) rejects with INVALID PARAMETER. */
	check_sigp("SIGP SET ARCHITECTURE (z/Architecture)", me, SIGP_SET_ARCHITECTURE, 1, 1,
		   SIGP_STATUS_INVALID_PARAMETER);
	check_sigp("SIGP SENSE to this CPU", me, SIGP_SENSE, 0, 0, 0);
}

static void test_stopped_target(void)
{
	struct save_area *sa = &status_area;
	unsigned int i;
	bool gprs_ok = true;

	check_sigp("SIGP SENSE, stopped CPU 1", TARGET, SIGP_SENSE, 0, 1, SIGP_STATUS_STOPPED);
	check_sigp("SIGP SENSE RUNNING STATUS, stopped CPU 1", TARGET, SIGP_SENSE_RUNNING_STATUS, 0, 1,
		   SIGP_STATUS_NOT_RUNNING);
	check_sigp("SIGP SET PREFIX 1 GiB (beyond storage), stopped CPU 1", TARGET, SIGP_SET_PREFIX,
		   0x40000000, 1, SIGP_STATUS_INVALID_PARAMETER);
	/*
	 * (Not checked: STORE STATUS AT ADDRESS 1 GiB. QEMU 7.2 answers cc 0 and drops the
	 * stores, where INVALID PARAMETER would be expected.)
	 */

	check_sigp("SIGP EXTERNAL CALL, stopped CPU 1", TARGET, SIGP_EXTERNAL_CALL, 0, 0, 0);
	check_sigp("SIGP EXTERNAL CALL again, stopped CPU 1", TARGET, SIGP_EXTERNAL_CALL, 0, 1,
		   SIGP_STATUS_EXT_CALL_PENDING);
	check_sigp("SIGP SENSE, stopped CPU 1 with an external call pending", TARGET, SIGP_SENSE, 0, 1,
		   SIGP_STATUS_EXT_CALL_PENDING | SIGP_STATUS_STOPPED);
	check_sigp("SIGP INITIAL CPU RESET, CPU 1", TARGET, SIGP_INITIAL_CPU_RESET, 0, 0, 0);
	check_sigp("SIGP SENSE after the reset: external call gone", TARGET, SIGP_SENSE, 0, 1,
		   SIGP_STATUS_STOPPED);

	/* Run it once: it loads marker registers and stops itself. */
	if (!report(smp_start_cpu(TARGET, stopper_main, NULL) == 0 && wait_stopped(TARGET),
		    "CPU 1 started, loaded its markers and stopped itself"))
		return;
	memset(sa, 0xee, sizeof(*sa));
	if (!check_sigp("SIGP STORE STATUS AT ADDRESS, stopped CPU 1", TARGET, SIGP_STORE_STATUS_AT_ADDRESS,
			(uintptr_t)sa, 0, 0))
		return;
	for (i = 0; i < 4; i++)
		gprs_ok &= sa->grs[6 + i] == stopper_markers[i];
	report(gprs_ok, "stored r6-r9: 0x%lx 0x%lx 0x%lx 0x%lx", sa->grs[6], sa->grs[7], sa->grs[8], sa->grs[9]);
	check_u64("stored r3 (its CPU address)", sa->grs[3], TARGET);
	report(sa->prefix == stopper_info.prefix && sa->prefix != 0,
	       "stored prefix 0x%x is the one STPX gave it (0x%x)", sa->prefix, stopper_info.prefix);
	check_u64("stored CR0", sa->crs[0], 0x40000);
	check_u64("stored PSW mask", sa->psw.mask, PSW_MASK_64);
	/*
	 * The stop takes effect after the SIGP, so the PSW should point at stop_resume; QEMU 7.2
	 * stores the address of the SIGP itself. Either is in the loop, and restarting there
	 * just stops again: accept both, and print the address only when it is neither.
	 */
	if (sa->psw.addr == (uintptr_t)stop_resume || sa->psw.addr == (uintptr_t)stop_resume - 4)
		report(true, "stored PSW address is in its SIGP STOP loop");
	else
		report(false, "stored PSW address 0x%lx is not in its SIGP STOP loop (0x%lx or 0x%lx)",
		       sa->psw.addr, (uintptr_t)stop_resume - 4, (uintptr_t)stop_resume);

	/* An initial CPU reset clears PSW, prefix and control registers, but not the GPRs. */
	check_sigp("SIGP INITIAL CPU RESET, CPU 1 again", TARGET, SIGP_INITIAL_CPU_RESET, 0, 0, 0);
	memset(sa, 0xee, sizeof(*sa));
	if (!check_sigp("SIGP STORE STATUS AT ADDRESS after the reset", TARGET, SIGP_STORE_STATUS_AT_ADDRESS,
			(uintptr_t)sa, 0, 0))
		return;
	check_u64("after the reset: stored CR0", sa->crs[0], 0xe0);
	check_u64("after the reset: stored CR14", sa->crs[14], 0xc2000000);
	check_u64("after the reset: stored prefix", sa->prefix, 0);
	report(sa->psw.mask == 0 && sa->psw.addr == 0, "after the reset: stored PSW %016lx %016lx",
	       sa->psw.mask, sa->psw.addr);
	check_u64("after the reset: stored r6 (kept)", sa->grs[6], stopper_markers[0]);
}

static void test_running_target(void)
{
	uint16_t me = stap();

	register_ext_handler(EXT_EMERGENCY_SIGNAL, target_ext_handler);
	register_ext_handler(EXT_EXTERNAL_CALL, target_ext_handler);
	if (!report(smp_start_cpu(TARGET, receiver_main, NULL) == 0 && wait_until(&target_ready),
		    "CPU 1 restarted, subclasses for emergency signal and external call on"))
		return;
	check_sigp("SIGP SENSE, running CPU 1", TARGET, SIGP_SENSE, 0, 0, 0);
	check_sigp("SIGP SET PREFIX, running CPU 1", TARGET, SIGP_SET_PREFIX, 0x20000, 1,
		   SIGP_STATUS_INCORRECT_STATE);
	check_sigp("SIGP STORE STATUS AT ADDRESS, running CPU 1", TARGET, SIGP_STORE_STATUS_AT_ADDRESS,
		   (uintptr_t)&status_area, 1, SIGP_STATUS_INCORRECT_STATE);

	check_sigp("SIGP EMERGENCY SIGNAL, running CPU 1", TARGET, SIGP_EMERGENCY_SIGNAL, 0, 0, 0);
	if (report(wait_ext_count(1), "CPU 1 took an external interruption"))
		report(ext_code_seen[0] == EXT_EMERGENCY_SIGNAL && ext_src_seen[0] == me,
		       "CPU 1: code 0x%04x, source CPU address (0x84) %u (expected 0x%04x, %u)",
		       ext_code_seen[0], ext_src_seen[0], EXT_EMERGENCY_SIGNAL, me);
	check_sigp("SIGP EXTERNAL CALL, running CPU 1", TARGET, SIGP_EXTERNAL_CALL, 0, 0, 0);
	if (report(wait_ext_count(2), "CPU 1 took a second external interruption"))
		report(ext_code_seen[1] == EXT_EXTERNAL_CALL && ext_src_seen[1] == me,
		       "CPU 1: code 0x%04x, source CPU address (0x84) %u (expected 0x%04x, %u)",
		       ext_code_seen[1], ext_src_seen[1], EXT_EXTERNAL_CALL, me);
	check_sigp("SIGP SENSE RUNNING STATUS, busy CPU 1", TARGET, SIGP_SENSE_RUNNING_STATUS, 0, 0, 0);

	__atomic_store_n(&target_release, true, __ATOMIC_RELEASE);
	report(wait_stopped(TARGET), "CPU 1 stopped itself when its function returned");
}

int main(void)
{
	struct sclp_info info;
	unsigned int ncpus;

	if (!report(sclp_read_info(&info) == 0x0010, "READ SCP INFO"))
		return 1;
	ncpus = info.ncpus;
	printf("sigp-checks: %u CPU(s)\n", ncpus);

	test_any_cpus(ncpus);
	if (ncpus < 2) {
		printf("sigp-checks: checks on CPU 1 need 2 CPUs, skipped\n");
	} else {
		test_stopped_target();
		test_running_target();
	}

	printf("sigp-checks: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
