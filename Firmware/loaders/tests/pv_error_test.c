/*
 * Host-side unit test of the DIAG 308 subcode 10 response decoder (../pv_error.c, the same
 * source stage3a is built from). Build and run natively:
 *     gcc -O2 -Wall -Wextra -o /tmp/pv_error_test Firmware/loaders/tests/pv_error_test.c && /tmp/pv_error_test
 */
#define HOST_TEST
#include "../pv_error.c"

#include <string.h>

static int failures;

static void expect(uint64_t resp, const char *want)
{
	char buf[160];

	pv_describe_unpack_error(resp, buf, sizeof(buf));
	if (strcmp(buf, want)) {
		printf("FAIL: 0x%016llx\n  got:  %s\n  want: %s\n", (unsigned long long)resp, buf, want);
		failures++;
	} else {
		printf("PASS: 0x%016llx: %s\n", (unsigned long long)resp, buf);
	}
}

int main(void)
{
	/* spec 7.4 example: wrong host key */
	expect(0x0002000501080a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x108 rrc 0x5: no key slot matches this host's key");
	expect(0x0002000b01080a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x108 rrc 0xb: invalid customer ECDH public key in the header");
	expect(0x0002003401080a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x108 rrc 0x34: backup host key hash does not match this host's key");
	expect(0x0002007701080a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x108 rrc 0x77: image not correctly encrypted for this host");
	expect(0x0002000101040a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x104 rrc 0x1: SE header version not supported");
	expect(0x0002003001060a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x106 rrc 0x30: unsupported plaintext control flag (PCF) set");
	expect(0x0002000001090a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x109 rrc 0x0: unsupported secret control flag (SCF) set");
	expect(0x00020031010a0a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x10a rrc 0x31: SE header length mismatch");
	expect(0x00020039010a0a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x10a rrc 0x39: invalid size of the encrypted area");
	expect(0x00020040010a0a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x10a rrc 0x40: no key slots in the SE header");
	expect(0x0002000001030a02ULL,
	       "Secure Execution: SET_SEC_PARMS failed: rc 0x103 rrc 0x0: SE header not accessible");
	expect(0x0004001a01020a02ULL,
	       "Secure Execution: VERIFY failed: rc 0x102 rrc 0x1a: address list digest (ALD) mismatch");
	expect(0x0004001b01020a02ULL,
	       "Secure Execution: VERIFY failed: rc 0x102 rrc 0x1b: page list digest (PLD) mismatch");
	expect(0x0004001c01020a02ULL,
	       "Secure Execution: VERIFY failed: rc 0x102 rrc 0x1c: tweak list digest (TLD) mismatch");
	expect(0x0004001d01020a02ULL,
	       "Secure Execution: VERIFY failed: rc 0x102 rrc 0x1d: number of encrypted pages does not match the header");
	expect(0x0003000000030a02ULL,
	       "Secure Execution: UNPACK failed: rc 0x3 rrc 0x0: invalid state");
	expect(0x0003000080200a02ULL,
	       "Secure Execution: UNPACK failed: rc 0x8020 rrc 0x0: invalid guest handle");
	expect(0x0009000100990a02ULL,
	       "Secure Execution: PV command 9 failed: rc 0x99 rrc 0x1: unknown Ultravisor error");
	/* older QEMU: no details */
	expect(0x0a02, "Secure Execution: the hypervisor could not enter protected mode (response 0xa02, no details)");
	expect(0x0902, "Secure Execution: no PV IPL block set (response 0x902)");
	expect(0x0402, "Secure Execution: unexpected DIAG 308 subcode 10 response 0x402");
	printf("%d failure(s)\n", failures);
	return failures != 0;
}
