/*
 * SMP: find the CPUs through SCLP READ SCP INFO, start each secondary CPU in turn with
 * SIGP RESTART, wait for it to report in through shared memory, check SIGP SENSE before
 * and after, then stop them all with SIGP STOP. With one CPU only the boot CPU reports.
 */
#include "runtime.h"

#define ONLINE_TIMEOUT_US	2000000

/* Written by each secondary CPU once it runs. */
static struct checkin {
	uint16_t addr;		/* its STAP */
	uint32_t prefix;	/* its STPX */
	bool online;
} checkins[MAX_CPUS];

static void secondary_main(void *arg)
{
	struct checkin *c = arg;
	uint32_t prefix;

	asm volatile("stpx %0" : "=Q"(prefix));
	c->addr = stap();
	c->prefix = prefix;
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	for (;;)
		wait_for_interrupt();	/* idle (no subclass enabled) until SIGP STOP */
}

static bool wait_online(struct checkin *c)
{
	uint64_t deadline = get_tod() + ONLINE_TIMEOUT_US * TOD_PER_US;

	while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
		if (get_tod() > deadline)
			return false;
	}
	return true;
}

int main(void)
{
	uint16_t me = stap(), addr;
	bool started[MAX_CPUS] = { false };
	struct sclp_info info;
	uint32_t status = 0;
	unsigned int i;

	if (!report(sclp_read_info(&info) == 0x0010, "READ SCP INFO"))
		return 1;
	printf("smp: SCLP reports %u CPU(s)\n", info.ncpus);
	printf("cpu %u online (boot CPU)\n", me);

	for (i = 0; i < info.ncpus; i++) {
		addr = info.cpu_addr[i];
		if (addr == me)
			continue;
		if (addr >= MAX_CPUS) {
			report(false, "cpu %u: address beyond the %u the runtime supports", addr, MAX_CPUS);
			continue;
		}
		report(cpu_stopped(addr), "cpu %u: SIGP SENSE says stopped before start", addr);
		if (!report(smp_start_cpu(addr, secondary_main, &checkins[addr]) == 0,
			    "cpu %u: SIGP SET PREFIX and RESTART accepted", addr))
			continue;
		started[addr] = true;
		if (!report(wait_online(&checkins[addr]), "cpu %u: reported in", addr))
			continue;
		printf("cpu %u online\n", addr);
		report(checkins[addr].addr == addr, "cpu %u: STAP on it gives its own address", addr);
		report(checkins[addr].prefix != 0, "cpu %u: runs with its own prefix area", addr);
		report(!cpu_stopped(addr), "cpu %u: SIGP SENSE says not stopped while running", addr);
	}

	for (addr = 0; addr < MAX_CPUS; addr++) {
		if (started[addr])
			report(smp_stop_cpu(addr) == 0, "cpu %u: stopped by SIGP STOP, SENSE agrees", addr);
	}

	report(sigp(0xffff, SIGP_SENSE, 0, &status) == 3, "SIGP SENSE to CPU address 0xffff: cc 3");
	printf("smp: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
