/*
 * The Ultravisor as a protected guest sees it, in the manner of kvm-unit-tests s390x/uv-guest.c
 * (../shared/spec/se-image-format.md §9.1, §9.2): the UV-call facility, QUI, sharing and
 * unsharing a page, the rc of host-only calls, and memory the image did not unpack.
 * Runs protected (packed as uv-guest-pv.img); one CPU.
 */
#include "runtime.h"

#define UVC_RC_EXECUTED		0x0001
#define UVC_RC_INV_CMD		0x0002
#define UVC_RC_INV_LEN		0x0005
#define UVC_RC_MORE_DATA	0x0100
#define UVC_RC_INV_ADDR		0x0101

#define UVC_CMD_QUI		0x0001
#define UVC_CMD_SET_SHARED	0x1000
#define UVC_CMD_REMOVE_SHARED	0x1001

/* Where the SE header sat in the image before protection (spec §5): not unpacked. */
#define SE_HEADER_ADDRESS	0x14000

struct uv_header {
	uint16_t len;
	uint16_t cmd;
	uint16_t rc;
	uint16_t rrc;
} __attribute__((packed));

struct uv_query {
	struct uv_header h;		/* 0x00 */
	uint64_t reserved08;
	uint64_t inst_calls[4];		/* 0x10 */
	uint64_t reserved30[2];
	uint64_t uv_base_stor_len;	/* 0x40 */
	uint64_t reserved48;
	uint64_t conf_base_phys_stor_len; /* 0x50 */
	uint64_t conf_base_virt_stor_len; /* 0x58 */
	uint64_t conf_virt_var_stor_len; /* 0x60 */
	uint64_t cpu_stor_len;		/* 0x68 */
	uint32_t reserved70[3];
	uint32_t max_num_sec_conf;	/* 0x7c */
	uint64_t max_guest_stor_addr;	/* 0x80 */
	uint8_t  reserved88[0x9e - 0x88];
	uint16_t max_guest_cpu_id;	/* 0x9e */
	uint64_t uv_feature_indications; /* 0xa0 */
	uint8_t  reserveda8[0x120 - 0xa8];
} __attribute__((packed, aligned(8)));

_Static_assert(sizeof(struct uv_query) == 0x120, "QUI control block is 0x120 bytes");

struct uv_share {
	struct uv_header h;
	uint64_t reserved08[3];
	uint64_t paddr;			/* 0x20 */
	uint64_t reserved28;
} __attribute__((packed, aligned(8)));

/* UVC with R2 = the control block; returns the condition code. */
static int uvc(void *cb)
{
	int cc;

	asm volatile(".insn rrf,0xb9a40000,0,%[cb],0,0\n"
		     "ipm %[cc]\n"
		     "srl %[cc],28\n"
		     : [cc] "=d"(cc) : [cb] "a"(cb) : "cc", "memory");
	return cc;
}

static bool facility(unsigned int bit)
{
	uint64_t list[4] = { 0 };
	register uint64_t r0 asm("0") = ARRAY_SIZE(list) - 1;

	asm volatile("stfle %[list]" : [list] "=Q"(list), "+d"(r0) : : "cc", "memory");
	return list[bit / 64] >> (63 - bit % 64) & 1;
}

static bool installed(const struct uv_query *q, unsigned int bit)
{
	return q->inst_calls[bit / 64] >> (63 - bit % 64) & 1;
}

static struct uv_query query;
static uint8_t shared_page[4096] __attribute__((aligned(4096)));

static void test_query(void)
{
	static const unsigned int host_only[] = { 1, 2, 3, 4, 5, 6, 7, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 };
	struct uv_query short_query = { 0 };
	bool none;
	int cc;

	query.h.len = sizeof(query);
	query.h.cmd = UVC_CMD_QUI;
	cc = uvc(&query);
	report(cc == 0 && query.h.rc == UVC_RC_EXECUTED, "QUI: cc %d rc 0x%x", cc, query.h.rc);
	report(installed(&query, 0) && installed(&query, 8) && installed(&query, 9),
	       "QUI lists QUI, SET_SHARED_ACCESS and REMOVE_SHARED_ACCESS");
	none = true;
	for (unsigned int i = 0; i < ARRAY_SIZE(host_only); i++)
		none = none && !installed(&query, host_only[i]);
	report(none, "QUI lists no host-only call");
	printf("UV: max guest address 0x%lx, max CPU id %u, features 0x%lx\n",
	       query.max_guest_stor_addr, query.max_guest_cpu_id, query.uv_feature_indications);

	short_query.h.len = 0xa8;
	short_query.h.cmd = UVC_CMD_QUI;
	cc = uvc(&short_query);
	report(cc == 1 && short_query.h.rc == UVC_RC_MORE_DATA, "QUI with 0xa8 bytes: partial, cc %d rc 0x%x", cc, short_query.h.rc);
	short_query.h.len = 0xa0;
	short_query.h.rc = 0;
	cc = uvc(&short_query);
	report(cc == 1 && short_query.h.rc == UVC_RC_INV_LEN, "QUI with 0xa0 bytes: cc %d rc 0x%x", cc, short_query.h.rc);
}

static void test_host_only_calls(void)
{
	static const uint16_t host_calls[] = { 0x000f, 0x0100, 0x0101, 0x0102, 0x0120, 0x0121, 0x0200, 0x0201,
					       0x0202, 0x0300, 0x0301, 0x0302, 0x0310, 0x0311, 0x0320, 0x0321,
					       0x0330, 0x0340, 0x0341, 0x0342, 0x0400 };
	unsigned int refused = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(host_calls); i++) {
		uint64_t block[0x80 / 8] __attribute__((aligned(8))) = { 0 };
		struct uv_header *h = (struct uv_header *)block;

		h->len = sizeof(block);
		h->cmd = host_calls[i];
		if (uvc(block) == 1 && h->rc == UVC_RC_INV_CMD)
			refused++;
		else
			printf("host call 0x%04x: rc 0x%x\n", host_calls[i], h->rc);
	}
	report(refused == ARRAY_SIZE(host_calls), "%u of %u host-only calls answer rc 2", refused,
	       (unsigned int)ARRAY_SIZE(host_calls));
}

static int share(uint16_t cmd, uint64_t paddr, uint16_t len, uint16_t *rc)
{
	struct uv_share cb = { .h = { .len = len, .cmd = cmd }, .paddr = paddr };
	int cc = uvc(&cb);

	*rc = cb.h.rc;
	return cc;
}

static void test_sharing(void)
{
	uint64_t page = (uint64_t)(uintptr_t)shared_page;
	uint16_t rc;
	int cc;

	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "SET_SHARED_ACCESS 0x%lx: cc %d rc 0x%x", page, cc, rc);
	for (unsigned int i = 0; i < sizeof(shared_page); i++)
		shared_page[i] = (uint8_t)(i * 7);
	cc = share(UVC_CMD_REMOVE_SHARED, page, sizeof(struct uv_share), &rc);
	report(cc == 0 && rc == UVC_RC_EXECUTED, "REMOVE_SHARED_ACCESS: cc %d rc 0x%x", cc, rc);
	report(shared_page[4095] == (uint8_t)(4095 * 7), "the page keeps its contents across unsharing");

	cc = share(UVC_CMD_SET_SHARED, page, sizeof(struct uv_share) - 8, &rc);
	report(cc == 1 && rc == UVC_RC_INV_LEN, "SET_SHARED_ACCESS with a short block: cc %d rc 0x%x", cc, rc);
	cc = share(UVC_CMD_SET_SHARED, query.max_guest_stor_addr + 0x100000000UL, sizeof(struct uv_share), &rc);
	report(cc == 1 && rc == UVC_RC_INV_ADDR, "SET_SHARED_ACCESS beyond guest storage: cc %d rc 0x%x", cc, rc);
}

static void test_unpacked_memory(void)
{
	const uint64_t *header = (const uint64_t *)SE_HEADER_ADDRESS;
	bool zero = true;

	for (unsigned int i = 0; i < 4096 / 8; i++)
		zero = zero && header[i] == 0;
	report(zero, "the SE header page (not unpacked) reads as zero");
}

int main(void)
{
	if (!report(facility(158), "UV-call facility (158) installed"))
		return 1;
	test_query();
	test_host_only_calls();
	test_sharing();
	test_unpacked_memory();
	printf("uv-guest: %u failures\n", report_failures());
	return report_failures() ? 1 : 0;
}
