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

const char *cmdline_value(const char *key)
{
	size_t klen = strlen(key);
	const char *p = cmdline_area;

	while (*p) {
		while (separator(*p))
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		while (*p && !separator(*p))
			p++;
	}
	return NULL;
}

/* "key=N" (decimal; with `suffixes`, also K, M or G), or def when absent or malformed. */
static unsigned long cmdline_number(const char *key, unsigned long def, bool suffixes)
{
	const char *p = cmdline_value(key);
	unsigned long v;

	if (!p || *p < '0' || *p > '9')
		return def;
	for (v = 0; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	if (suffixes) {
		switch (*p) {
		case 'K': case 'k': v <<= 10; p++; break;
		case 'M': case 'm': v <<= 20; p++; break;
		case 'G': case 'g': v <<= 30; p++; break;
		}
	}
	return (*p == '\0' || separator(*p)) ? v : def;
}

unsigned long cmdline_ulong(const char *key, unsigned long def) { return cmdline_number(key, def, false); }
unsigned long cmdline_size(const char *key, unsigned long def) { return cmdline_number(key, def, true); }

bool cmdline_is(const char *key, const char *value)
{
	const char *p = cmdline_value(key);
	size_t vlen = strlen(value);

	return p && !strncmp(p, value, vlen) && (p[vlen] == '\0' || separator(p[vlen]));
}
