/*
 * stage3a: runs non-protected from the image (spec se-image-format.md sections 5, 6, 7).
 * Patch the SE header address/size into the IPIB, check for the unpack facility, hand the IPIB
 * to the hypervisor (DIAG 308 subcode 8) and ask it to enter protected mode (subcode 10).
 * On success subcode 10 does not return: the CPU restarts protected at the SE header PSW.
 */
#include "loader.h"

#define UNPACK_FACILITY		161
#define DIAG308_SET_PV		8
#define DIAG308_UNPACK_PV	10
#define DIAG308_RC_OK		1

extern volatile struct stage3a_args stage3a_args;	/* stage3a_init.S, last 24 bytes */

const char loader_name[] = "stage3a";
const uint64_t loader_pgm_stop = STOP_3A_PGM;

static uint64_t facility_list[4] __attribute__((aligned(8)));	/* facilities 0-255 */

static bool test_facility(unsigned int nr)
{
	register uint64_t r0 asm("0") = ARRAY_LEN(facility_list) - 1;

	asm volatile("stfle %[list]" : [list] "=Q"(facility_list), "+d"(r0) : : "cc", "memory");
	if (nr / 64 >= ARRAY_LEN(facility_list))
		return false;
	return (facility_list[nr / 64] >> (63 - nr % 64)) & 1;
}

/* DIAG 308: R1 (even) = address, R3 = subcode; returns R1+1 (the response code). */
static uint64_t diag308(uint64_t subcode, uint64_t addr)
{
	register uint64_t r2 asm("2") = addr;
	register uint64_t r3 asm("3") = 0;

	asm volatile("diag %[r1],%[sub],0x308"
		     : [r1] "+d"(r2), "+d"(r3)
		     : [sub] "d"(subcode)
		     : "cc", "memory");
	return r3;
}

void stage3a_main(void) __attribute__((noreturn));
void stage3a_main(void)
{
	uint64_t base = (uint64_t)&stage3a_args;
	uint64_t hdr = base + stage3a_args.hdr_offs;
	uint64_t ipib = base + stage3a_args.ipib_offs;
	uint64_t resp;
	char msg[160];

	/* The header may sit anywhere: tell the hypervisor where it is, via the IPIB. */
	*(volatile uint64_t *)(ipib + IPIB_PV_HDR_ADDR) = hdr;
	*(volatile uint64_t *)(ipib + IPIB_PV_HDR_SIZE) = stage3a_args.hdr_size;

	console_init();

	if (!test_facility(UNPACK_FACILITY))
		loader_panic(STOP_3A_NO_UNPACK, "Secure Execution: the unpack facility (161) is "
			     "not installed: this machine cannot run protected guests\n");
	if (ipib & 0xfff)
		loader_panic(STOP_3A_IPIB_ALIGN, "Secure Execution: the IPL block at 0x%lx is not "
			     "4K aligned\n", (unsigned long)ipib);

	resp = diag308(DIAG308_SET_PV, ipib);
	if (resp != DIAG308_RC_OK)
		loader_panic(STOP_3A_SET_PV_IPIB, "Secure Execution: setting the PV IPL block failed: "
			     "DIAG 308 subcode 8 response 0x%lx\n", (unsigned long)resp);

	resp = diag308(DIAG308_UNPACK_PV, 0);

	/* Still here: the hypervisor could not protect us. The subsystem reset lost the console. */
	console_init();
	pv_describe_unpack_error(resp, msg, sizeof(msg));
	loader_panic(STOP_3A_UNPACK, "%s\nSecure Execution: cannot boot the protected image "
		     "(DIAG 308 subcode 10 response 0x%016lx)\n", msg, (unsigned long)resp);
}
