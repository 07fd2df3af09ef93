/* The command line QEMU (or s390pv) stores at 0x10480 for an entry point of 0x10000. */
#include "runtime.h"

extern const char cmdline_area[];	/* start.S, .parmarea */

const char *cmdline(void)
{
	return cmdline_area;
}

unsigned long cmdline_ulong(const char *key, unsigned long def)
{
	size_t klen = strlen(key);
	const char *p = cmdline_area;
	unsigned long v;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			if (*p < '0' || *p > '9')
				return def;
			for (v = 0; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			return (*p == ' ' || *p == '\0') ? v : def;
		}
		while (*p && *p != ' ')
			p++;
	}
	return def;
}
