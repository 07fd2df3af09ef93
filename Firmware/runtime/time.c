/* TOD clock, clock comparator and CPU timer (spec 7.7). One TOD unit is 1/4096 us. */
#include "runtime.h"

uint64_t get_tod(void)
{
	uint64_t tod;

	asm volatile("stck %0" : "=Q"(tod) : : "cc");
	return tod;
}

void set_clock_comparator(uint64_t tod)
{
	asm volatile("sckc %0" : : "Q"(tod));
}

void set_cpu_timer(int64_t value)
{
	asm volatile("spt %0" : : "Q"(value));
}

int64_t get_cpu_timer(void)
{
	int64_t value;

	asm volatile("stpt %0" : "=Q"(value));
	return value;
}

void udelay(uint64_t us)
{
	uint64_t end = get_tod() + us * TOD_PER_US;

	while (get_tod() < end)
		;
}
