/*
 * clock: the guest TOD clock keeps the VM's clock namespace across reboots and never goes
 * backwards (issue 6).
 *
 * Command line (from -append, or the parmfile sealed into a Secure Execution image):
 *   after=U    the TOD (as Unix seconds) must be at least U at every boot (the offset is applied
 *              and kept); before=U: below U at every boot; reboots=K (default 2);
 *   backwards=1  negative control: store a TOD one hour ahead before each reboot, so the next boot
 *              must see the clock "go backwards" and fail.
 * Each boot reads the TOD (STCK), checks the expected window, and compares with the TOD the
 * previous boot stored right before its re-IPL (DIAG 308 subcode 3): never earlier. The boot
 * number and that TOD survive the cleared (or, protected, destroyed) memory in a CCW-type IPL
 * parameter block the machine keeps across a re-IPL (DIAG 308 subcode 5 to set, 6 to store), as
 * memtouch does: the boot number in the loadparm, the TOD in the first 8 bytes of vm_parm.
 * The lines printed are deterministic; after the last boot: a summary and EXIT: STATUS=1.
 */
#include "runtime.h"

#define DIAG308_REIPL		3

#define TOD_PER_SECOND		4096000000UL
#define UNIX_EPOCH_SECONDS	2208988800L	/* 1900-01-01 to 1970-01-01 */

/* The boot number and last TOD kept across reboots in the machine's IPL block. */
static bool stored_state(unsigned long *boot, uint64_t *tod) { return ipl_state_load("CLOCKTOD", boot, tod, sizeof(*tod)); }
static bool store_state(unsigned long boot, uint64_t tod) { return ipl_state_store("CLOCKTOD", boot, &tod, sizeof(tod)); }

/* A TOD value as Unix seconds (negative before 1970). */
static long unix_seconds(uint64_t tod)
{
	return (long)(tod / TOD_PER_SECOND) - UNIX_EPOCH_SECONDS;
}

int main(void)
{
	unsigned long reboots = cmdline_ulong("reboots", 2), boots = reboots + 1, prev = 0, boot;
	uint64_t after = cmdline_ulong("after", 0), before = cmdline_ulong("before", 0);
	bool backwards = cmdline_ulong("backwards", 0) != 0;
	uint64_t last = 0, now, again;
	long seconds;

	if (!stored_state(&prev, &last))
		prev = 0;
	boot = prev + 1;
	if (boot > boots) {
		printf("clock: stored boot number %lu beyond %lu boots\n", prev, boots);
		return 1;
	}
	now = get_tod();
	again = get_tod();
	if (again <= now) {
		printf("clock: boot %lu/%lu: STCK not increasing (0x%lx then 0x%lx): FAIL\n", boot, boots, now, again);
		return 1;
	}
	seconds = unix_seconds(now);
	if (after || before) {
		bool ok = (!after || seconds >= (long)after) && (!before || seconds < (long)before);

		printf("clock: boot %lu/%lu: TOD offset %s: %s\n", boot, boots, boot == 1 ? "applied" : "kept", ok ? "yes" : "no");
		if (!ok) {
			printf("clock: TOD is Unix time %ld, expected [%lu, %lu): FAIL\n", seconds, after, before);
			return 1;
		}
	}
	if (boot > 1) {
		if (now < last) {
			printf("clock: boot %lu/%lu: TOD went backwards by %lu us across the reboot: FAIL\n",
			       boot, boots, (last - now) >> 12);
			return 1;
		}
		printf("clock: boot %lu/%lu: never backwards across the reboot: yes\n", boot, boots);
	}
	if (boot < boots) {
		last = get_tod();
		if (backwards)
			last += 3600 * TOD_PER_SECOND;
		printf("clock: boot %lu/%lu: rebooting\n", boot, boots);
		if (!store_state(boot, last))
			return 1;
		diag308_call(DIAG308_REIPL, 0);
		printf("clock: DIAG 308 subcode 3 returned: no reboot\n");
		return 1;
	}
	printf("clock: %lu boot(s), the TOD never went backwards\n", boots);
	return 0;
}
