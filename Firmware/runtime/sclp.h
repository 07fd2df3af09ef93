/*
 * SCLP control blocks and codes shared by the console driver and the tests that probe the
 * SCLP directly (Linux drivers/s390/char/sclp.h; spec s390x-cpu.md 7.6).
 */
#ifndef SCLP_H
#define SCLP_H

#include <stdint.h>

#define SCLP_CMD_READ_SCP_INFO		0x00020001
#define SCLP_CMD_WRITE_EVENT_DATA	0x00760005
#define SCLP_CMD_WRITE_EVENT_MASK	0x00780005

#define SCLP_RC_NORMAL_READ		0x0010

#define EVTYP_MSG			0x02
#define EVTYP_VT220			0x1a
#define EVMASK(type)			(1U << (32 - (type)))

struct sccb_header {
	uint16_t length;
	uint8_t function_code;
	uint8_t control_mask[3];
	uint16_t response_code;
} __attribute__((packed));

struct event_header {
	uint16_t length;		/* including this header */
	uint8_t type;
	uint8_t flags;
	uint16_t reserved;
} __attribute__((packed));

struct write_event_mask {
	struct sccb_header h;
	uint16_t reserved;
	uint16_t mask_length;
	uint32_t cp_receive_mask;
	uint32_t cp_send_mask;
	uint32_t sclp_receive_mask;	/* events the SCLP accepts from us (Linux init_sccb order) */
	uint32_t sclp_send_mask;	/* events the SCLP can send us */
} __attribute__((packed));

struct read_info {
	struct sccb_header h;
	uint16_t rnmax;			/* +8: storage increments */
	uint8_t rnsize;			/* +10: increment size in MB, 0 = see rnsize2 */
	uint8_t pad_11[5];
	uint16_t cpu_entries;		/* +16 */
	uint16_t cpu_offset;		/* +18 */
	uint8_t pad_20[100 - 20];
	uint32_t rnsize2;		/* +100 */
	uint64_t rnmax2;		/* +104 */
} __attribute__((packed));

#endif
