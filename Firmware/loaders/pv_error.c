/*
 * Decoder for a failed DIAG 308 subcode 10 (spec se-image-format.md sections 7.1, 7.4).
 *
 * R1+1 after the DIAG, from the most significant halfword down:
 *   pv_cmd:u16 | uv_rrc:u16 | uv_rc:u16 | 0x0A02
 * pv_cmd is the KVM PV command that failed (2 SET_SEC_PARMS, 3 UNPACK, 4 VERIFY). Older
 * hypervisors put only 0x0A02 there; other responses (0x0902: no PV IPIB) have no details.
 *
 * Freestanding, but also compiled natively by tests/pv_error_test.c (HOST_TEST).
 */
#ifdef HOST_TEST
#include <stdint.h>
#include <stdio.h>
const char *pv_cmd_name(uint16_t pv_cmd);
const char *pv_uv_error_text(uint16_t rc, uint16_t rrc);
int pv_describe_unpack_error(uint64_t resp, char *buf, size_t size);
#else
#include "loader.h"
#endif

#define DIAG308_RC_NO_PV_CONF	0x0902
#define DIAG308_RC_PV_FAILED	0x0a02

const char *pv_cmd_name(uint16_t pv_cmd)
{
	switch (pv_cmd) {
	case 2:
		return "SET_SEC_PARMS";
	case 3:
		return "UNPACK";
	case 4:
		return "VERIFY";
	default:
		return NULL;
	}
}

const char *pv_uv_error_text(uint16_t rc, uint16_t rrc)
{
	switch (rc & 0x7fff) {		/* 0x8000: "destroy needed" flag */
	case 0x0102:
		switch (rrc) {
		case 0x1a:
			return "address list digest (ALD) mismatch";
		case 0x1b:
			return "page list digest (PLD) mismatch";
		case 0x1c:
			return "tweak list digest (TLD) mismatch";
		case 0x1d:
			return "number of encrypted pages does not match the header";
		}
		break;
	case 0x0104:
		if (rrc == 0x01)
			return "SE header version not supported";
		break;
	case 0x0106:
		if (rrc == 0x30)
			return "unsupported plaintext control flag (PCF) set";
		break;
	case 0x0108:
		switch (rrc) {
		case 0x05:
			return "no key slot matches this host's key";
		case 0x0b:
			return "invalid customer ECDH public key in the header";
		case 0x34:
			return "backup host key hash does not match this host's key";
		default:
			return "image not correctly encrypted for this host";
		}
	case 0x0109:
		if (rrc == 0x00)
			return "unsupported secret control flag (SCF) set";
		break;
	case 0x010a:
		switch (rrc) {
		case 0x31:
			return "SE header length mismatch";
		case 0x39:
			return "invalid size of the encrypted area";
		case 0x40:
			return "no key slots in the SE header";
		}
		break;
	case 0x0001:
		return "executed";
	case 0x0002:
		return "invalid command or not installed";
	case 0x0003:
		return "invalid state";
	case 0x0005:
		return "invalid UVCB length";
	case 0x0007:
		return "no resume";
	case 0x0020:
		return "invalid guest handle";
	case 0x0021:
		return "invalid CPU handle";
	case 0x0103:
		return "SE header not accessible";
	}
	return "unknown Ultravisor error";
}

int pv_describe_unpack_error(uint64_t resp, char *buf, size_t size)
{
	uint16_t diag_rc = resp & 0xffff;
	uint16_t uv_rc = (resp >> 16) & 0xffff;
	uint16_t uv_rrc = (resp >> 32) & 0xffff;
	uint16_t pv_cmd = resp >> 48;
	const char *cmd = pv_cmd_name(pv_cmd);

	if (diag_rc == DIAG308_RC_PV_FAILED && (resp >> 16) != 0) {
		if (cmd)
			return snprintf(buf, size, "Secure Execution: %s failed: rc 0x%x rrc 0x%x: %s",
					cmd, uv_rc, uv_rrc, pv_uv_error_text(uv_rc, uv_rrc));
		return snprintf(buf, size, "Secure Execution: PV command %u failed: rc 0x%x rrc 0x%x: %s",
				pv_cmd, uv_rc, uv_rrc, pv_uv_error_text(uv_rc, uv_rrc));
	}
	if (resp == DIAG308_RC_PV_FAILED)
		return snprintf(buf, size, "Secure Execution: the hypervisor could not enter protected "
				"mode (response 0xa02, no details)");
	if (resp == DIAG308_RC_NO_PV_CONF)
		return snprintf(buf, size, "Secure Execution: no PV IPL block set (response 0x902)");
	return snprintf(buf, size, "Secure Execution: unexpected DIAG 308 subcode 10 response 0x%lx",
			(unsigned long)resp);
}
