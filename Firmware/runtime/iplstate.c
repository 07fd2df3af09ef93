/* State a guest keeps across a re-IPL in the machine's IPL parameter block (runtime.h). */
#include "runtime.h"

#define DIAG308_SET		5
#define DIAG308_STORE		6

static uint8_t iplb_page[4096] __attribute__((aligned(4096)));

uint64_t diag308_call(uint64_t subcode, void *addr)
{
	register uint64_t r2 asm("2") = (uintptr_t)addr;
	register uint64_t r3 asm("3") = 0;
	register uint64_t r4 asm("4") = subcode;

	asm volatile("diag %[a],%[sc],0x308" : [a] "+d"(r2), "+d"(r3) : [sc] "d"(r4) : "cc", "memory");
	return r3;
}

bool ipl_state_load(const char marker[8], unsigned long *counter, void *data, unsigned int length)
{
	struct ccw_iplb *b = (void *)iplb_page;
	unsigned long n = 0;
	uint64_t rc;

	memset(iplb_page, 0, sizeof(iplb_page));
	rc = diag308_call(DIAG308_STORE, iplb_page);
	if (rc == DIAG308_RC_NOCONFIG)
		return false;
	if (rc != DIAG308_RC_OK) {
		printf("ipl state: DIAG 308 subcode 6 answered 0x%lx\n", rc);
		return false;
	}
	if (b->pbt != IPL_TYPE_CCW || memcmp(b->nss_name, marker, sizeof(b->nss_name)) || b->vm_parm_len != length)
		return false;
	for (unsigned int i = 0; i < sizeof(b->loadparm); i++) {
		if (b->loadparm[i] < 0xf0 || b->loadparm[i] > 0xf9)
			return false;
		n = n * 10 + (b->loadparm[i] - 0xf0);
	}
	memcpy(data, b->vm_parm, length);
	*counter = n;
	return true;
}

bool ipl_state_store(const char marker[8], unsigned long counter, const void *data, unsigned int length)
{
	struct ccw_iplb *b = (void *)iplb_page;
	uint64_t rc;

	if (length > sizeof(b->vm_parm))
		return false;
	memset(iplb_page, 0, sizeof(iplb_page));
	b->len = sizeof(*b);
	b->version = 1;
	b->blk0_len = sizeof(*b) - 8;
	b->pbt = IPL_TYPE_CCW;
	for (int i = sizeof(b->loadparm) - 1; i >= 0; i--, counter /= 10)
		b->loadparm[i] = 0xf0 + counter % 10;
	memcpy(b->nss_name, marker, sizeof(b->nss_name));
	b->vm_parm_len = length;
	memcpy(b->vm_parm, data, length);
	rc = diag308_call(DIAG308_SET, iplb_page);
	if (rc != DIAG308_RC_OK)
		printf("ipl state: DIAG 308 subcode 5 answered 0x%lx\n", rc);
	return rc == DIAG308_RC_OK;
}
