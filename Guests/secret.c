/*
 * secret: the guest of the isolation harness (`s390pv isolation`, issue 7 item 2). It writes a
 * secret the host cannot predict, leaves some of it in its registers, and after a reboot looks
 * for it where it was.
 *
 * Command line (the parmfile sealed into the SE image, or -append): seed=N (decimal), size=SIZE
 * (K/M/G suffix; default 1M), reboots=K (default 1), keepmem=1 (negative control: reboot with
 * DIAG 308 subcode 1, which keeps memory, so the next boot must find the whole secret and fail).
 *
 * The secret is the SplitMix64 sequence of the seed, one big-endian doubleword after another,
 * from the first page after the image (the harness computes the same sequence and searches for
 * it). The seed only ever reaches the guest inside the encrypted parmfile.
 *
 * Boot 1: writes the secret, prints where, and requests a re-IPL (DIAG 308 subcode 3, where the
 * harness attacks before the teardown). Boot 2..K+1: compares every doubleword of that range
 * with the secret, prints "secret found in place: N bytes"; any byte found is a FAIL.
 */
#include "runtime.h"

#define SHORT_PSW_64	0x0008000180000000UL

extern char __bss_end[];

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15UL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
	return z ^ (z >> 31);
}

static void write_secret(uint64_t *words, uint64_t count, uint64_t seed)
{
	uint64_t state = seed;

	for (uint64_t i = 0; i < count; i++)
		words[i] = splitmix64(&state);
}

/* Bytes of the secret still in place (whole matching doublewords). */
static uint64_t find_secret(const uint64_t *words, uint64_t count, uint64_t seed)
{
	uint64_t state = seed, found = 0;

	for (uint64_t i = 0; i < count; i++)
		if (words[i] == splitmix64(&state))
			found += 8;
	return found;
}

/*
 * Reboots with the last four secret words in the callee-saved registers 6-9, so the host's
 * register paths (KVM_GET_REGS, the sync registers) meet them at the DIAG.
 */
static void reboot(bool keepmem, const uint64_t *last)
{
	uint64_t subcode = keepmem ? 1 : 3;

	/* Subcode 1 of a protected guest resumes at the PSW at absolute 0 (see memtouch.c). */
	if (keepmem)
		*(volatile uint64_t *)&lowcore = SHORT_PSW_64 | 0x10000;
	asm volatile("lmg %%r6,%%r9,0(%0)" : : "a"(last) : "r6", "r7", "r8", "r9", "memory");
	diag308_call(subcode, 0);
	printf("secret: DIAG 308 returned: no reboot\n");
	exit(1);
}

int main(void)
{
	uint64_t base = ((uint64_t)(uintptr_t)__bss_end + 4095) & ~4095UL;
	uint64_t seed = cmdline_ulong("seed", 0), size = cmdline_size("size", 1UL << 20) & ~7UL;
	unsigned long reboots = cmdline_ulong("reboots", 1), boot = 0;
	bool keepmem = cmdline_ulong("keepmem", 0) != 0;
	struct sclp_info info;

	if (!cmdline_value("seed") || size < 32) {
		printf("secret: give seed=N and size=SIZE (at least 32 bytes)\n");
		return 1;
	}
	if (sclp_read_info(&info) != 0x0010 || base + size > (info.mem_mb << 20)) {
		printf("secret: size=%lu does not fit above the image at 0x%lx\n", size, base);
		return 1;
	}
	ipl_state_load("SECRET  ", &boot, NULL, 0);
	boot++;
	if (boot > 1) {
		uint64_t found = find_secret((uint64_t *)base, size / 8, seed);

		printf("secret: boot %lu/%lu: secret found in place: %lu bytes\n", boot, reboots + 1, found);
		if (found)
			return 1;
	}
	if (boot <= reboots) {
		write_secret((uint64_t *)base, size / 8, seed);
		printf("secret: boot %lu/%lu: %lu bytes written at 0x%lx, rebooting\n", boot, reboots + 1, size, base);
		if (!ipl_state_store("SECRET  ", boot, NULL, 0))
			return 1;
		reboot(keepmem, (uint64_t *)base + size / 8 - 4);
	}
	return 0;
}
