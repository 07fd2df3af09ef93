/*
 * Minimal polling SCLP console for the loaders: no interrupt handler, no heap.
 *
 * The SCCB is the fixed page at 0x2000 (loader heap). Each SERVC is completed by an enabled
 * wait for the service-signal external interruption: the external new PSW points right behind
 * the LPSWE of the wait PSW, so the interruption simply resumes execution, disabled again.
 *
 * Text goes out as a VT220 (ASCII) event and as a line-mode message event (EBCDIC, one message
 * per line), each only if the SCLP said in its WRITE EVENT MASK answer that it receives that
 * event type (both when it reported nothing). Works non-protected (stage3a) and protected
 * (stage3b: the SCCB goes through the SIDA, spec section 9.4/9.5).
 */
#include "loader.h"

#define SCLP_CMD_WRITE_EVENT_DATA	0x00760005
#define SCLP_CMD_WRITE_EVENT_MASK	0x00780005

#define EVTYP_MSG			0x02
#define EVTYP_VT220			0x1a
#define EVMASK(type)			(1U << (32 - (type)))

#define EXT_SERVICE_SIGNAL		0x2401
#define CR0_SERVICE_SIGNAL		0x200UL

struct sccb_hdr {
	uint16_t length;
	uint8_t function_code;
	uint8_t control_mask[3];
	uint16_t response_code;
} __attribute__((packed));

struct evbuf_hdr {
	uint16_t length;
	uint8_t type;
	uint8_t flags;
	uint16_t reserved;
} __attribute__((packed));

struct event_mask_sccb {
	struct sccb_hdr h;
	uint16_t reserved;
	uint16_t mask_length;		/* 4 */
	uint32_t cp_receive_mask;
	uint32_t cp_send_mask;
	uint32_t sclp_receive_mask;	/* what the SCLP accepts from us */
	uint32_t sclp_send_mask;
} __attribute__((packed));

/* Line-mode message: event header, MDB header, GO object, one MTO carrying the text. */
struct lm_message {
	struct sccb_hdr h;
	struct evbuf_hdr ev;
	struct {
		uint16_t length;
		uint16_t type;		/* 1 */
		uint32_t tag;		/* "MDB " in EBCDIC */
		uint32_t revision;	/* 1 */
	} __attribute__((packed)) mdb;
	struct {
		uint16_t length;	/* 56 */
		uint16_t type;		/* 1 */
		uint8_t zero[52];
	} __attribute__((packed)) go;
	struct {
		uint16_t length;	/* 10 + text */
		uint16_t type;		/* 4 */
		uint16_t line_type_flags;	/* 0x1000: end of text */
		uint8_t alarm;
		uint8_t reserved[3];
	} __attribute__((packed)) mto;
	uint8_t text[];
} __attribute__((packed));

_Static_assert(sizeof(struct lm_message) == 92, "line-mode message layout");

#define SCCB		((volatile uint8_t *)LOADER_SCCB)
#define VT220_CHUNK	1024
#define LM_LINE_MAX	128

static bool console_ready;
static uint32_t sclp_receive_mask;
static char lm_line[LM_LINE_MAX];
static unsigned int lm_len;

/* Code page 037 for ASCII 0x20-0x7e. */
static const uint8_t ebcdic_037[95] = {
	0x40, 0x5a, 0x7f, 0x7b, 0x5b, 0x6c, 0x50, 0x7d,
	0x4d, 0x5d, 0x5c, 0x4e, 0x6b, 0x60, 0x4b, 0x61,
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
	0xf8, 0xf9, 0x7a, 0x5e, 0x4c, 0x7e, 0x6e, 0x6f,
	0x7c, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
	0xc8, 0xc9, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
	0xd7, 0xd8, 0xd9, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6,
	0xe7, 0xe8, 0xe9, 0xba, 0xe0, 0xbb, 0xb0, 0x6d,
	0x79, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
	0x97, 0x98, 0x99, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
	0xa7, 0xa8, 0xa9, 0xc0, 0x4f, 0xd0, 0xa1,
};

static uint64_t cr0_get(void)
{
	uint64_t v;

	asm volatile("stctg %%c0,%%c0,%0" : "=Q"(v));
	return v;
}

static void cr0_put(uint64_t v)
{
	asm volatile("lctlg %%c0,%%c0,%0" : : "Q"(v) : "memory");
}

/*
 * Enabled wait for one external interruption; returns its code. The external new PSW
 * (64-bit, disabled) is (re)written every time, so a reset in between does not matter.
 */
static uint16_t wait_ext_interrupt(void)
{
	static const uint64_t new_mask = PSW_MASK_64;
	struct loader_psw wait_psw __attribute__((aligned(8)));
	uint64_t code;

	wait_psw.mask = PSW_MASK_EXT_WAIT;
	asm volatile(
		"	larl	%%r1,0f\n"
		"	stg	%%r1,8(%[psw])\n"	/* wait PSW address: the resume point */
		"	lg	%%r0,%[nmask]\n"
		"	stg	%%r0,0x1b0\n"		/* external new PSW */
		"	stg	%%r1,0x1b8\n"
		"	lpswe	0(%[psw])\n"
		"0:	llgh	%[code],0x86\n"		/* external-interruption code */
		: [code] "=&d"(code)
		: [psw] "a"(&wait_psw), [nmask] "Q"(new_mask)
		: "r0", "r1", "cc", "memory");
	return (uint16_t)code;
}

static void wait_service_signal(void)
{
	while (wait_ext_interrupt() != EXT_SERVICE_SIGNAL)
		;
}

/* One SCLP command on the SCCB at 0x2000; returns the response code (0 if not executed). */
static uint16_t sclp_call(uint32_t command)
{
	uint64_t cr0 = cr0_get();
	int cc, tries;

	cr0_put(cr0 | CR0_SERVICE_SIGNAL);
	for (tries = 0; tries < 100; tries++) {
		/* SERVC (B220): binutils has no mnemonic for it. */
		asm volatile("	.insn	rre,0xb2200000,%[cmd],%[sccb]\n"
			     "	ipm	%[cc]\n"
			     "	srl	%[cc],28\n"
			     : [cc] "=d"(cc)
			     : [cmd] "d"((uint64_t)command), [sccb] "d"((uint64_t)LOADER_SCCB)
			     : "cc", "memory");
		if (cc != 2)
			break;
		wait_service_signal();	/* busy: an earlier completion is still pending */
	}
	if (cc == 0)
		wait_service_signal();
	cr0_put(cr0);
	return cc == 0 ? ((volatile struct sccb_hdr *)SCCB)->response_code : 0;
}

static void sccb_clear(size_t len)
{
	memset((void *)SCCB, 0, len);
}

void console_init(void)
{
	volatile struct event_mask_sccb *m = (volatile void *)SCCB;

	sccb_clear(sizeof(*m));
	m->h.length = sizeof(*m);
	m->mask_length = 4;
	m->cp_send_mask = EVMASK(EVTYP_MSG) | EVMASK(EVTYP_VT220);
	if (sclp_call(SCLP_CMD_WRITE_EVENT_MASK) == 0x0020)
		sclp_receive_mask = m->sclp_receive_mask;
	else
		sclp_receive_mask = 0;
	if (!(sclp_receive_mask & (EVMASK(EVTYP_MSG) | EVMASK(EVTYP_VT220))))
		sclp_receive_mask = EVMASK(EVTYP_MSG) | EVMASK(EVTYP_VT220);
	console_ready = true;
	lm_len = 0;
}

static void vt220_write(const char *s, size_t len)
{
	volatile struct sccb_hdr *h = (volatile void *)SCCB;
	volatile struct evbuf_hdr *ev = (volatile void *)(SCCB + sizeof(*h));

	sccb_clear(sizeof(*h) + sizeof(*ev));
	h->length = sizeof(*h) + sizeof(*ev) + len;
	ev->length = sizeof(*ev) + len;
	ev->type = EVTYP_VT220;
	memcpy((void *)(ev + 1), s, len);
	sclp_call(SCLP_CMD_WRITE_EVENT_DATA);
}

static void line_mode_flush(void)
{
	volatile struct lm_message *m = (volatile void *)SCCB;
	unsigned int i;
	char c;

	sccb_clear(sizeof(*m));
	m->mto.length = sizeof(m->mto) + lm_len;
	m->mto.type = 4;
	m->mto.line_type_flags = 0x1000;
	m->go.length = sizeof(m->go);
	m->go.type = 1;
	m->mdb.length = sizeof(m->mdb) + sizeof(m->go) + m->mto.length;
	m->mdb.type = 1;
	m->mdb.tag = 0xd4c4c240;
	m->mdb.revision = 1;
	m->ev.length = sizeof(m->ev) + m->mdb.length;
	m->ev.type = EVTYP_MSG;
	m->h.length = sizeof(m->h) + m->ev.length;
	for (i = 0; i < lm_len; i++) {
		c = lm_line[i];
		m->text[i] = (c >= 0x20 && c <= 0x7e) ? ebcdic_037[c - 0x20] : 0x40;
	}
	sclp_call(SCLP_CMD_WRITE_EVENT_DATA);
	lm_len = 0;
}

void console_write(const char *s, size_t len)
{
	size_t done, n;

	if (!console_ready)
		console_init();
	if (sclp_receive_mask & EVMASK(EVTYP_VT220)) {
		for (done = 0; done < len; done += n) {
			n = len - done < VT220_CHUNK ? len - done : VT220_CHUNK;
			vt220_write(s + done, n);
		}
	}
	if (sclp_receive_mask & EVMASK(EVTYP_MSG)) {
		for (done = 0; done < len; done++) {
			if (s[done] != '\n')
				lm_line[lm_len++] = s[done];
			if (s[done] == '\n' || lm_len == sizeof(lm_line))
				line_mode_flush();
		}
	}
}

/* The loaders run on one CPU: printf.c's lock is a no-op here. */
void console_lock(void)
{
}

void console_unlock(void)
{
}
