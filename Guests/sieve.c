/*
 * Sieve of Eratosthenes up to 1e6, repeated iterations=N times (command line, default 10).
 * Prints the prime count, their sum and a checksum over all iterations; only the
 * "elapsed:" line may differ between runs.
 */
#include "runtime.h"

#define LIMIT 1000000

static uint8_t composite[LIMIT + 1];

/* One sieve pass; returns the number of primes <= LIMIT and their sum in *sum. */
static unsigned int sieve(uint64_t *sum)
{
	unsigned int i, j, count = 0;

	memset(composite, 0, sizeof(composite));
	*sum = 0;
	for (i = 2; i <= LIMIT; i++) {
		if (composite[i])
			continue;
		count++;
		*sum += i;
		for (j = 2 * i; j <= LIMIT; j += i)	/* from 2i, not i*i: stays within 32 bits */
			composite[j] = 1;
	}
	return count;
}

int main(void)
{
	unsigned long iterations = cmdline_ulong("iterations", 10), n;
	uint64_t start, ticks, sum = 0, checksum = 0;
	unsigned int count = 0;

	printf("sieve: primes up to %u, %lu iteration(s)\n", LIMIT, iterations);
	start = get_tod();
	for (n = 0; n < iterations; n++) {
		count = sieve(&sum);
		/* Mix every pass in, so a pass that goes wrong changes the checksum. */
		checksum = (checksum ^ (sum + count + n)) * 0x100000001b3UL;
	}
	ticks = get_tod() - start;
	printf("primes: %u\n", count);
	printf("sum: %lu\n", sum);
	printf("checksum: 0x%016lx\n", checksum);
	printf("elapsed: %lu us\n", ticks / TOD_PER_US);
	return count == 78498 && sum == 37550402023UL ? 0 : 1;
}
