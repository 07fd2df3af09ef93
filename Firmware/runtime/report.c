/* PASS/FAIL reporting shared by the test guests. */
#include "runtime.h"

static unsigned int failures;

bool report(bool ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", ok ? "PASS" : "FAIL", msg);
	if (!ok)
		failures++;
	return ok;
}

bool check_u64(const char *name, uint64_t got, uint64_t expected)
{
	if (got == expected)
		return report(true, "%s = 0x%lx", name, got);
	return report(false, "%s = 0x%lx, expected 0x%lx", name, got, expected);
}

unsigned int report_failures(void)
{
	return failures;
}
