/*
 * memtouch: proves that no content of a (protected) guest survives a reboot.
 *
 * Command line (from -append, or the parmfile sealed into a Secure Execution image): mem=SIZE (K/M/G suffix; default: all storage above the image), reboots=K
 * (default 3), at=ADDR (where the touched range starts; default: the first page after the image),
 * scan=touched (scan only the touched range, for storage too large to scan in the emulator),
 * scan=none (no scan after a reboot: the teardown benchmark's guest, whose old memory is cleared
 * while it runs),
 * selfcheck=1 (write the pattern, then scan for it without a reboot: the scan must find every
 * byte; the negative control that shows the scan can see the pattern), keepmem=1 (reboot with
 * DIAG 308 subcode 1, which keeps memory: the scan must find the pattern and the guest fail).
 *
 * Boot 1..K: write 32-byte records through the touched range, each
 *   PVSECRET magic | boot number | its own address | ~address   (big-endian doublewords),
 * then request a re-IPL (DIAG 308 subcode 3). Boot 2..K+1: scan all storage from the end of the
 * image (after .data, .bss and the stack) to the end of storage for any doubleword-aligned
 * magic, and count the bytes of records found (8 for the magic, 8 for each further field that
 * matches). Every scan must find 0 bytes. After the last boot: a summary and EXIT: STATUS=1.
 *
 * The boot number has to survive although memory (secure memory, for a protected guest) is
 * cleared: it rides in the loadparm of a CCW-type IPL parameter block that the machine keeps
 * across a re-IPL (DIAG 308 subcode 5 to set, 6 to store; in a protected guest the VMM moves the
 * block through the SIDA). Subcode 6 answers 0x102 on the first boot: nothing stored yet.
 */
#include "runtime.h"

#define DIAG308_LOAD_NORMAL	1
#define DIAG308_REIPL		3

#define SHORT_PSW_64	0x0008000180000000UL
#define MAGIC		0x5056534543524554UL	/* "PVSECRET" */
#define RECORD		32UL
#define CHUNK		256UL			/* the scan compares this much at a time with zeros */

static const uint8_t zeros[CHUNK] __attribute__((aligned(256)));

extern char __bss_end[];

/* The boot number kept across reboots in the machine's IPL block; 0 when there is none of ours. */
static unsigned long stored_boot(void)
{
	unsigned long n;

	return ipl_state_load("MEMTOUCH", &n, NULL, 0) ? n : 0;
}

static bool store_boot(unsigned long n) { return ipl_state_store("MEMTOUCH", n, NULL, 0); }

/*
 * Fills [start, end) with records of this boot: one STMG of eight registers stores two records,
 * six instructions per 64 bytes (an odd record at the end is stored on its own).
 */
static void write_pattern(uint64_t start, uint64_t end, uint64_t boot)
{
	uint64_t pairs = (end - start) / (2 * RECORD);

	if (pairs) {
		register uint64_t r0 asm("0") = MAGIC;
		register uint64_t r1 asm("1") = boot;
		register uint64_t r2 asm("2") = start;
		register uint64_t r3 asm("3") = ~start;
		register uint64_t r4 asm("4") = MAGIC;
		register uint64_t r5 asm("5") = boot;
		register uint64_t r6 asm("6") = start + RECORD;
		register uint64_t r7 asm("7") = ~(start + RECORD);
		register uint64_t r8 asm("8") = pairs;

		asm volatile("0:	stmg	%%r0,%%r7,0(%%r2)\n"
			     "	la	%%r2,64(%%r2)\n"
			     "	la	%%r6,64(%%r6)\n"
			     "	aghi	%%r3,-64\n"
			     "	aghi	%%r7,-64\n"
			     "	brctg	%%r8,0b\n"
			     : "+d"(r2), "+d"(r3), "+d"(r6), "+d"(r7), "+d"(r8)
			     : "d"(r0), "d"(r1), "d"(r4), "d"(r5)
			     : "cc", "memory");
	}
	if ((end - start) / RECORD % 2) {
		volatile uint64_t *w = (volatile uint64_t *)(end - RECORD);

		w[0] = MAGIC;
		w[1] = boot;
		w[2] = end - RECORD;
		w[3] = ~(end - RECORD);
	}
}

/*
 * The first 256-byte chunk in [p, end) that is not all zero, or end: one CLC per chunk against
 * zeros (the emulator compares a doubleword at a time), four instructions per chunk in all.
 */
static uint64_t next_nonzero(uint64_t p, uint64_t end)
{
	register uint64_t r2 asm("2") = p;
	register uint64_t r4 asm("4") = (end - p) / CHUNK;

	if (r4 == 0)
		return end;
	asm volatile("0:	clc	0(256,%[p]),0(%[z])\n"
		     "	jne	1f\n"
		     "	la	%[p],256(%[p])\n"
		     "	brctg	%[n],0b\n"
		     "1:\n"
		     : [p] "+a"(r2), [n] "+d"(r4) : [z] "a"(zeros) : "cc", "memory");
	return r2 < end ? r2 : end;
}

struct scan {
	uint64_t bytes;		/* bytes of records found: magic plus the fields that match */
	uint64_t records;	/* magic occurrences */
	uint64_t of_boot;	/* of them, records of the boot asked about */
};

/* Counts the records in [start, end); boot says whose records of_boot counts. */
static struct scan scan_memory(uint64_t start, uint64_t end, uint64_t boot)
{
	struct scan s = { 0, 0, 0 };

	for (uint64_t chunk = next_nonzero(start, end); chunk < end; chunk = next_nonzero(chunk + CHUNK, end)) {
		for (uint64_t a = chunk; a < chunk + CHUNK; a += 8) {
			const volatile uint64_t *w = (const volatile uint64_t *)a;

			if (w[0] != MAGIC)
				continue;
			s.records++;
			s.bytes += 8;
			if (a + RECORD > end)
				continue;
			if (w[1] == boot)
				s.of_boot++;
			if (w[1] != 0 && w[1] < 100000000UL)
				s.bytes += 8;
			if (w[2] == a)
				s.bytes += 8;
			if (w[3] == ~a)
				s.bytes += 8;
		}
	}
	return s;
}

/*
 * Re-IPL: DIAG 308 subcode 3 (load clear). With keepmem=1 instead subcode 1 (load normal), a
 * reset that keeps memory and resumes at the short PSW at absolute 0: the second negative
 * control, whose scan must find the pattern.
 */
static void reboot(bool keepmem)
{
	uint64_t subcode = keepmem ? DIAG308_LOAD_NORMAL : DIAG308_REIPL;

	/*
	 * Subcode 1 resumes at the short PSW at absolute 0, which a protected image lacks (stage3b
	 * drops its first 64 KiB): 64-bit mode at start (0x10000), which clears .bss again.
	 */
	if (keepmem)
		*(volatile uint64_t *)&lowcore = SHORT_PSW_64 | 0x10000;
	diag308_call(subcode, 0);
	printf("memtouch: DIAG 308 subcode %lu returned: no reboot\n", subcode);
	exit(1);
}

/* "16 MiB", or "32 KiB" when it is not a whole number of MiB. */
static const char *size_text(uint64_t bytes)
{
	static char buf[4][24];
	static unsigned int next;
	char *b = buf[next++ % 4];

	if (bytes % (1UL << 20) == 0)
		snprintf(b, sizeof(buf[0]), "%lu MiB", bytes >> 20);
	else
		snprintf(b, sizeof(buf[0]), "%lu KiB", bytes >> 10);
	return b;
}

int main(void)
{
	struct sclp_info info;
	uint64_t storage, image_end, base, mem, scan_start, scan_end;
	unsigned long reboots, boots, boot, prev;
	bool selfcheck, keepmem;
	struct scan s;

	reboots = cmdline_ulong("reboots", 3);
	selfcheck = cmdline_ulong("selfcheck", 0) != 0;
	keepmem = cmdline_ulong("keepmem", 0) != 0;
	boots = reboots + 1;
	image_end = ((uint64_t)(uintptr_t)__bss_end + 4095) & ~4095UL;
	base = cmdline_size("at", image_end);
	if (sclp_read_info(&info) != 0x0010 || info.mem_mb == 0) {
		/* No storage size: trust mem= (and at=), and scan only what we touch. */
		storage = cmdline_size("mem", 0);
		if (!storage) {
			printf("memtouch: SCLP READ SCP INFO failed; give mem=SIZE\n");
			return 1;
		}
		printf("memtouch: no storage size from SCLP, assuming mem= fits\n");
		storage += base;
	} else {
		storage = info.mem_mb << 20;
	}
	if (base < image_end || base % 4096 || base >= storage) {
		printf("memtouch: at=0x%lx is not a page between the image end 0x%lx and the end of storage 0x%lx\n",
		       base, image_end, storage);
		return 1;
	}
	mem = cmdline_size("mem", storage - base) & ~(RECORD - 1);
	if (mem > storage - base) {
		printf("memtouch: mem=%s does not fit in 0x%lx-0x%lx\n", size_text(mem), base, storage);
		return 1;
	}
	/* Everything above the image, or (scan=touched, for large storage) the touched range only. */
	scan_start = image_end;
	scan_end = storage;
	if (cmdline_is("scan", "touched")) {
		scan_start = base;
		scan_end = base + mem;
	}

	prev = stored_boot();
	boot = prev + 1;
	if (boot > boots) {
		printf("memtouch: stored boot number %lu beyond %lu boots\n", prev, boots);
		return 1;
	}
	if (boot == 1)
		printf("memtouch: storage %s, touching %s at 0x%lx, %lu reboot(s)%s\n",
		       size_text(storage), size_text(mem), base, reboots,
		       keepmem ? ", keeping memory (DIAG 308 subcode 1)" : selfcheck ? ", self-check" : "");

	if (boot > 1 && cmdline_is("scan", "none")) {
		/* For teardown benchmarks: the rebooted guest leaves the CPUs to the teardown workers. */
		printf("boot %lu/%lu: not scanned (scan=none)\n", boot, boots);
	} else if (boot > 1) {
		s = scan_memory(scan_start, scan_end, prev);
		printf("boot %lu/%lu: previous boot's pattern found: %lu bytes (scanned %s)\n",
		       boot, boots, s.bytes, size_text(scan_end - scan_start));
		if (s.bytes || s.records) {
			printf("memtouch: %lu record(s) survived, %lu of boot %lu: FAIL\n", s.records, s.of_boot, prev);
			return 1;
		}
	}

	if (selfcheck) {
		/* Negative control: the scan must find every byte of a pattern just written. */
		write_pattern(base, base + mem, boot);
		s = scan_memory(scan_start, scan_end, boot);
		printf("self-check: pattern found: %lu of %lu bytes (scanned %s)\n",
		       s.bytes, mem, size_text(scan_end - scan_start));
		if (s.bytes != mem || s.of_boot != mem / RECORD) {
			printf("memtouch: self-check FAILED\n");
			return 1;
		}
	}

	if (boot < boots) {
		if (!selfcheck)
			write_pattern(base, base + mem, boot);
		printf("boot %lu/%lu: wrote %s of pattern, rebooting\n", boot, boots, size_text(mem));
		if (!store_boot(boot))
			return 1;
		reboot(keepmem);
	}

	printf("memtouch: %lu boot(s), %lu scan(s) after a reboot, 0 bytes of an earlier boot's pattern found\n",
	       boots, reboots);
	return 0;
}
