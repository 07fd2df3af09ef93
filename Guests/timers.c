/*
 * Timers: the TOD clock and CPU timer advance, and the clock comparator (EXT 0x1004) and
 * CPU timer (EXT 0x1005) interruptions arrive in the order their deadlines say. Two
 * rounds, one with each timer first; the gap between the deadlines is wide (18 ms) so the
 * order does not depend on how fast the machine runs.
 */
#include "runtime.h"

#define EARLY_US	2000
#define LATE_US		20000

static volatile unsigned int nfired;
static volatile uint16_t order[2];
/*
 * TOD when each handler ran. (The CPU timer's own value is not checked there: QEMU 7.2's
 * STPT returns garbage once the timer is negative, because it converts with an unsigned
 * division.)
 */
static volatile uint64_t ckc_fire_tod, cpt_fire_tod;

static void timer_interrupt(uint16_t code, uint32_t param, uint16_t src_cpu)
{
	(void)param;
	(void)src_cpu;
	/* Both conditions stay pending until disarmed: turn the subclass off. */
	if (code == EXT_CLOCK_COMPARATOR) {
		cr0_clear(CR0_CLOCK_COMPARATOR);
		ckc_fire_tod = get_tod();
	} else {
		cr0_clear(CR0_CPU_TIMER);
		cpt_fire_tod = get_tod();
	}
	if (nfired < ARRAY_SIZE(order))
		order[nfired] = code;
	nfired++;
}

static const char *timer_name(uint16_t code)
{
	return code == EXT_CLOCK_COMPARATOR ? "clock-comparator" : "cpu-timer";
}

static void run_round(int round, uint64_t ckc_us, uint64_t cpt_us)
{
	uint16_t first = ckc_us < cpt_us ? EXT_CLOCK_COMPARATOR : EXT_CPU_TIMER;
	uint16_t second = first == EXT_CLOCK_COMPARATOR ? EXT_CPU_TIMER : EXT_CLOCK_COMPARATOR;
	uint64_t start, ckc, elapsed;

	nfired = 0;
	start = get_tod();
	ckc = start + ckc_us * TOD_PER_US;
	set_clock_comparator(ckc);
	set_cpu_timer(cpt_us * TOD_PER_US);
	cr0_set(CR0_CLOCK_COMPARATOR | CR0_CPU_TIMER);
	while (nfired < 2)
		wait_for_interrupt();
	elapsed = get_tod() - start;

	printf("round %d: %s (%lu us), then %s (%lu us)\n", round,
	       timer_name(order[0]), order[0] == EXT_CLOCK_COMPARATOR ? ckc_us : cpt_us,
	       timer_name(order[1]), order[1] == EXT_CLOCK_COMPARATOR ? ckc_us : cpt_us);
	report(nfired == 2 && order[0] == first && order[1] == second,
	       "round %d: codes 0x%04x then 0x%04x", round, order[0], order[1]);
	report(ckc_fire_tod >= ckc, "round %d: clock comparator fired after the TOD passed it", round);
	report(cpt_fire_tod - start >= cpt_us * TOD_PER_US,
	       "round %d: CPU timer fired after it ran down", round);
	report(elapsed >= LATE_US * TOD_PER_US, "round %d: at least %u us elapsed", round, LATE_US);

	set_clock_comparator(~0UL);			/* disarm both */
	set_cpu_timer(0x7fffffffffffffffL);
}

int main(void)
{
	uint64_t t0, t1;
	int64_t cpt;

	register_ext_handler(EXT_CLOCK_COMPARATOR, timer_interrupt);
	register_ext_handler(EXT_CPU_TIMER, timer_interrupt);

	t0 = get_tod();
	set_cpu_timer(1000000 * TOD_PER_US);		/* one second */
	udelay(1000);
	t1 = get_tod();
	cpt = get_cpu_timer();
	report(t1 - t0 >= 1000 * TOD_PER_US, "TOD clock advanced at least 1000 us over udelay(1000)");
	report(cpt <= (int64_t)(999000 * TOD_PER_US), "CPU timer decremented at least 1000 us");

	run_round(1, EARLY_US, LATE_US);
	run_round(2, LATE_US, EARLY_US);
	printf("timers: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
