/*
 * SCLP: console output and READ SCP INFO (spec 4.2, 7.6).
 *
 * Every SERVC is followed by an enabled wait for the service-signal external
 * interruption (0x2401) that completes it. Console text goes out twice, like
 * kvm-unit-tests does: as a VT220 event (ASCII, what QEMU's sclpconsole prints) and as a
 * line-mode message event (EBCDIC, one message per line, which QEMU answers with 0x40F0).
 */
#include "runtime.h"
#include "sclp.h"

#define VT220_CHUNK			2048	/* bytes of text per WRITE EVENT DATA */

/* Line-mode message: event header, MDB header, GO object, then one MTO with the text. */
struct mdb_header {
	uint16_t length;
	uint16_t type;			/* 1 */
	uint32_t tag;			/* "MDB " in EBCDIC */
	uint32_t revision;		/* 1 */
} __attribute__((packed));

struct go_object {
	uint16_t length;		/* 56 */
	uint16_t type;			/* 1 */
	uint8_t unused[52];		/* domain id, time and date stamps, names: all zero */
} __attribute__((packed));

struct mto_object {
	uint16_t length;		/* header plus text */
	uint16_t type;			/* 4 */
	uint16_t line_type_flags;
	uint8_t alarm;
	uint8_t reserved[3];
} __attribute__((packed));

#define LNTPFLGS_ENDTEXT		0x1000

struct line_mode_message {
	struct sccb_header h;
	struct event_header ev;
	struct mdb_header mdb;
	struct go_object go;
	struct mto_object mto;
	uint8_t text[];
} __attribute__((packed));

_Static_assert(sizeof(struct line_mode_message) == 8 + 6 + 12 + 56 + 10, "line-mode layout");

/* READ SCP INFO response fields that we use. */

struct cpu_entry {
	uint8_t address;
	uint8_t pad[15];
} __attribute__((packed));

/* The one SCCB: page-aligned so it never crosses a 4 KiB boundary, and above 8 KiB. */
static uint8_t sccb[4096] __attribute__((aligned(4096)));
static volatile bool sclp_busy;
static bool ext_handler_registered;

static void sclp_service_signal(uint16_t code, uint32_t param, uint16_t src_cpu)
{
	(void)code;
	(void)src_cpu;
	/* The parameter is the SCCB address, ORed with 1 when event data is pending. */
	if ((param & ~7U) == (uint32_t)(uintptr_t)sccb)
		sclp_busy = false;
}

/* Issue one SCLP command on sccb and wait for its completion; returns the response code. */
static uint16_t sclp_call(uint32_t command)
{
	int cc;

	if (!ext_handler_registered) {
		register_ext_handler(EXT_SERVICE_SIGNAL, sclp_service_signal);
		ext_handler_registered = true;
	}
	sclp_busy = true;
	cr0_set(CR0_SERVICE_SIGNAL);
	for (;;) {
		/* SERVC (B220, RRE) has no mnemonic in binutils. */
		asm volatile("	.insn	rre,0xb2200000,%[cmd],%[sccb]\n"
			     "	ipm	%[cc]\n"
			     "	srl	%[cc],28\n"
			     : [cc] "=d"(cc)
			     : [cmd] "d"(command), [sccb] "d"(sccb)
			     : "cc", "memory");
		if (cc != 2)
			break;
		wait_for_interrupt();	/* busy: an earlier service signal is still pending */
	}
	while (cc == 0 && sclp_busy)
		wait_for_interrupt();
	cr0_clear(CR0_SERVICE_SIGNAL);
	sclp_busy = false;
	return cc == 0 ? ((struct sccb_header *)sccb)->response_code : 0;
}

/* ---- lock ---- */

static uint32_t lock_owner;		/* CPU address + 1, 0 when free */
static unsigned int lock_depth;

void console_lock(void)
{
	uint32_t me = stap() + 1U, expected;

	if (__atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE) == me) {
		lock_depth++;
		return;
	}
	do {
		expected = 0;
	} while (!__atomic_compare_exchange_n(&lock_owner, &expected, me, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	lock_depth = 1;
}

void console_unlock(void)
{
	if (--lock_depth == 0)
		__atomic_store_n(&lock_owner, 0, __ATOMIC_RELEASE);
}

/* ---- console ---- */

/* ASCII 0x20-0x7e to EBCDIC code page 037. */
static const uint8_t ascii_to_ebcdic[95] = {
	0x40, 0x5a, 0x7f, 0x7b, 0x5b, 0x6c, 0x50, 0x7d, /*  !"#$%&' */
	0x4d, 0x5d, 0x5c, 0x4e, 0x6b, 0x60, 0x4b, 0x61, /* ()*+,-./ */
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, /* 01234567 */
	0xf8, 0xf9, 0x7a, 0x5e, 0x4c, 0x7e, 0x6e, 0x6f, /* 89:;<=>? */
	0x7c, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, /* @ABCDEFG */
	0xc8, 0xc9, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, /* HIJKLMNO */
	0xd7, 0xd8, 0xd9, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, /* PQRSTUVW */
	0xe7, 0xe8, 0xe9, 0xba, 0xe0, 0xbb, 0xb0, 0x6d, /* XYZ[\]^_ */
	0x79, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, /* `abcdefg */
	0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, /* hijklmno */
	0x97, 0x98, 0x99, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, /* pqrstuvw */
	0xa7, 0xa8, 0xa9, 0xc0, 0x4f, 0xd0, 0xa1,       /* xyz{|}~  */
};

static uint8_t to_ebcdic(char c)
{
	if (c >= 0x20 && c <= 0x7e)
		return ascii_to_ebcdic[c - 0x20];
	return c == '\t' ? 0x05 : 0x3f;	/* HT, else SUB */
}

static bool console_ready;
static char lm_line[128];		/* line-mode text is sent one line at a time */
static unsigned int lm_len;

static void set_event_mask(void)
{
	struct write_event_mask *m = (void *)sccb;

	memset(sccb, 0, sizeof(*m));
	m->h.length = sizeof(*m);
	m->mask_length = sizeof(m->cp_send_mask);
	m->cp_send_mask = EVMASK(EVTYP_MSG) | EVMASK(EVTYP_VT220);
	sclp_call(SCLP_CMD_WRITE_EVENT_MASK);
}

static void vt220_write(const char *s, size_t len)
{
	struct sccb_header *h = (void *)sccb;
	struct event_header *ev = (void *)(h + 1);

	memset(sccb, 0, sizeof(*h) + sizeof(*ev));
	h->length = sizeof(*h) + sizeof(*ev) + len;
	ev->length = sizeof(*ev) + len;
	ev->type = EVTYP_VT220;
	memcpy(ev + 1, s, len);
	sclp_call(SCLP_CMD_WRITE_EVENT_DATA);
}

static void line_mode_flush(void)
{
	struct line_mode_message *m = (void *)sccb;
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->mto.length = sizeof(m->mto) + lm_len;
	m->mto.type = 4;
	m->mto.line_type_flags = LNTPFLGS_ENDTEXT;
	m->go.length = sizeof(m->go);
	m->go.type = 1;
	m->mdb.length = sizeof(m->mdb) + sizeof(m->go) + m->mto.length;
	m->mdb.type = 1;
	m->mdb.tag = 0xd4c4c240;
	m->mdb.revision = 1;
	m->ev.length = sizeof(m->ev) + m->mdb.length;
	m->ev.type = EVTYP_MSG;
	m->h.length = sizeof(m->h) + m->ev.length;
	for (i = 0; i < lm_len; i++)
		m->text[i] = to_ebcdic(lm_line[i]);
	sclp_call(SCLP_CMD_WRITE_EVENT_DATA);
	lm_len = 0;
}

void console_write(const char *s, size_t len)
{
	size_t done, n;

	console_lock();
	if (!console_ready) {
		set_event_mask();
		console_ready = true;
	}
	for (done = 0; done < len; done += n) {
		n = len - done < VT220_CHUNK ? len - done : VT220_CHUNK;
		vt220_write(s + done, n);
	}
	for (done = 0; done < len; done++) {
		if (s[done] != '\n')
			lm_line[lm_len++] = s[done];
		if (s[done] == '\n' || lm_len == sizeof(lm_line))
			line_mode_flush();
	}
	console_unlock();
}

/* ---- READ SCP INFO ---- */

uint16_t sclp_read_info(struct sclp_info *info)
{
	struct read_info *ri = (void *)sccb;
	uint64_t rnmax, rnsize;
	uint16_t rc;
	unsigned int i;

	console_lock();
	memset(sccb, 0, sizeof(sccb));
	ri->h.length = sizeof(sccb);
	ri->h.control_mask[2] = 0x80;		/* variable-length response */
	rc = sclp_call(SCLP_CMD_READ_SCP_INFO);
	memset(info, 0, sizeof(*info));
	if (rc == SCLP_RC_NORMAL_READ) {
		rnmax = ri->rnmax ? ri->rnmax : ri->rnmax2;
		rnsize = ri->rnsize ? ri->rnsize : ri->rnsize2;
		info->mem_mb = rnmax * rnsize;
		info->ncpus = ri->cpu_entries;
		if (info->ncpus > ARRAY_SIZE(info->cpu_addr))
			info->ncpus = ARRAY_SIZE(info->cpu_addr);
		for (i = 0; i < info->ncpus; i++) {
			const struct cpu_entry *e = (const struct cpu_entry *)(sccb + ri->cpu_offset) + i;

			info->cpu_addr[i] = e->address;
		}
	}
	console_unlock();
	return rc;
}
