/* Stopping: messages, disabled waits, program interruptions. Shared by stage3a and stage3b. */
#include "loader.h"

void loader_stop(uint64_t code)
{
	struct loader_psw psw __attribute__((aligned(8))) = { PSW_MASK_DISABLED_WAIT, code };

	for (;;)
		asm volatile("lpswe %0" : : "Q"(psw) : "cc", "memory");
}

void loader_panic(uint64_t code, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	console_write(buf, n);
	loader_stop(code);
}

static bool in_program_check;

void loader_program_check(void)
{
	uint64_t code, addr;

	if (in_program_check)		/* the console itself faulted */
		loader_stop(loader_pgm_stop);
	in_program_check = true;
	asm volatile("llgh %0,0x8e" : "=d"(code));	/* program-interruption code */
	asm volatile("lg %0,0x158" : "=d"(addr));	/* program old PSW address */
	loader_panic(loader_pgm_stop, "%s: program interruption 0x%lx at 0x%lx\n",
		     loader_name, (unsigned long)code, (unsigned long)addr);
}
