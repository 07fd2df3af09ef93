/* The command line QEMU (or s390pv) stores at 0x10480 for an entry point of 0x10000. */
#include "runtime.h"

extern const char cmdline_area[];	/* start.S, .parmarea */

/* Arguments are separated by white space, as Linux's parse_args: a parmfile sealed into a
 * Secure Execution image usually ends with a newline. */
static bool separator(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The command line without trailing white space (0x10480 up to 0x10fff). */
const char *cmdline(void)
{
	static char line[0x1000 - 0x480];
	size_t length = strlen(cmdline_area);

	if (length >= sizeof(line))
		length = sizeof(line) - 1;
	while (length && separator(cmdline_area[length - 1]))
		length--;
	memcpy(line, cmdline_area, length);
	line[length] = '\0';
	return line;
}

unsigned long cmdline_ulong(const char *key, unsigned long def)
{
	size_t klen = strlen(key);
	const char *p = cmdline_area;
	unsigned long v;

	while (*p) {
		while (separator(*p))
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			if (*p < '0' || *p > '9')
				return def;
			for (v = 0; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			return (separator(*p) || *p == '\0') ? v : def;
		}
		while (*p && !separator(*p))
			p++;
	}
	return def;
}
