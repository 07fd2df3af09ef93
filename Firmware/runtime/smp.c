/*
 * SIGP helpers and secondary-CPU start-up (spec 7.5).
 *
 * A secondary CPU gets its own prefix area (a copy of the boot CPU's lowcore, so it
 * shares the interruption handlers) and its own stack, then a SIGP RESTART sends it
 * through its restart new PSW to secondary_entry in start.S.
 */
#include "runtime.h"

#define SECONDARY_STACK_SIZE	16384
#define STOP_TIMEOUT_US		1000000

static struct lowcore cpu_lowcores[MAX_CPUS];	/* 8 KiB aligned by type */
static uint8_t cpu_stacks[MAX_CPUS][SECONDARY_STACK_SIZE] __attribute__((aligned(8)));

extern char secondary_entry[];

int sigp_register(uint16_t addr, uint8_t order, uint64_t *r1io)
{
	/* With an odd R1 both the parameter and the status are in R1. */
	register uint64_t r1 asm("1") = *r1io;
	int cc;

	asm volatile("	sigp	%[r1],%[addr],0(%[order])\n"
		     "	ipm	%[cc]\n"
		     "	srl	%[cc],28\n"
		     : [cc] "=d"(cc), [r1] "+d"(r1)
		     : [addr] "d"((unsigned long)addr), [order] "a"((unsigned long)order)
		     : "cc", "memory");
	*r1io = r1;
	return cc;
}

int sigp(uint16_t addr, uint8_t order, uint64_t param, uint32_t *status)
{
	uint64_t r1 = param;
	int cc = sigp_register(addr, order, &r1);

	if (status && cc == 1)
		*status = (uint32_t)r1;
	return cc;
}

int sigp_retry(uint16_t addr, uint8_t order, uint64_t param, uint32_t *status)
{
	int cc;

	do {
		cc = sigp(addr, order, param, status);
	} while (cc == 2);
	return cc;
}

bool cpu_stopped(uint16_t addr)
{
	uint32_t status = 0;

	return sigp_retry(addr, SIGP_SENSE, 0, &status) == 1 && (status & SIGP_STATUS_STOPPED);
}

int smp_start_cpu(uint16_t addr, void (*fn)(void *), void *arg)
{
	struct lowcore *lc;

	if (addr >= MAX_CPUS || addr == stap())
		return -1;
	lc = &cpu_lowcores[addr];
	memcpy(lc, &lowcore, sizeof(*lc));
	lc->restart_new_psw.mask = PSW_MASK_64;
	lc->restart_new_psw.addr = (uintptr_t)secondary_entry;
	lc->sw_stack = (uintptr_t)(cpu_stacks[addr] + SECONDARY_STACK_SIZE - 160);
	lc->sw_entry = (uintptr_t)fn;
	lc->sw_arg = (uintptr_t)arg;
	if (sigp_retry(addr, SIGP_SET_PREFIX, (uintptr_t)lc, NULL) != 0)
		return -1;
	return sigp_retry(addr, SIGP_RESTART, 0, NULL) == 0 ? 0 : -1;
}

int smp_stop_cpu(uint16_t addr)
{
	uint64_t deadline = get_tod() + STOP_TIMEOUT_US * TOD_PER_US;

	/* The stop takes effect at the target's next instruction boundary: poll SENSE. */
	if (sigp_retry(addr, SIGP_STOP, 0, NULL) != 0)
		return -1;
	while (!cpu_stopped(addr)) {
		if (get_tod() > deadline)
			return -1;
	}
	return 0;
}

void smp_stop_others(void)
{
	uint16_t addr, me = stap();

	/* Absent CPUs answer cc 3 and stopped ones take STOP as a no-op, so just try them all. */
	for (addr = 0; addr < MAX_CPUS; addr++) {
		if (addr != me)
			smp_stop_cpu(addr);
	}
}

/* A secondary CPU's function returned (called from start.S). */
void smp_cpu_finished(void) __attribute__((noreturn));
void smp_cpu_finished(void)
{
	for (;;)
		sigp(stap(), SIGP_STOP, 0, NULL);
}
