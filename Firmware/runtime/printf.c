/*
 * A small printf: %d %i %u %x %X %p %s %c %%, the l / ll / z length modifiers,
 * a field width, and the '0' (zero padding) and '-' (left-justify) flags.
 */
#include "runtime.h"

/* Where formatted characters go: a buffer that is either flushed when full or truncated. */
struct sink {
	char *buf;
	size_t size;
	size_t pos;
	size_t total;			/* characters produced, including truncated ones */
	void (*flush)(struct sink *);
};

static void put(struct sink *o, char c)
{
	if (o->pos + 1 >= o->size && o->flush)
		o->flush(o);
	if (o->pos + 1 < o->size)	/* keep room for the terminating NUL */
		o->buf[o->pos++] = c;
	o->total++;
}

static void put_padded(struct sink *o, const char *s, size_t len, int width, bool left, char pad)
{
	int fill = width > (int)len ? width - (int)len : 0;

	if (!left && pad == '0' && (*s == '-')) {	/* the sign goes before the zeros */
		put(o, *s++);
		len--;
	}
	while (!left && fill-- > 0)
		put(o, pad);
	while (len--)
		put(o, *s++);
	while (left && fill-- > 0)
		put(o, ' ');
}

static void put_number(struct sink *o, unsigned long long v, bool negative, unsigned int base,
		       bool upper, int width, bool left, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	if (negative)
		tmp[--i] = '-';
	put_padded(o, tmp + i, sizeof(tmp) - i, width, left, pad);
}

static void format(struct sink *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool left = false, is_signed = false;
		char pad = ' ';
		int width = 0, longs = 0;
		unsigned long long v;
		const char *s;
		char c;

		if (*fmt != '%') {
			put(o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
			if (*fmt == '-')
				left = true;
			else
				pad = '0';
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			longs++;
		if (left)
			pad = ' ';

		switch (*fmt) {
		case 'd':
		case 'i':
			is_signed = true;
			/* fall through */
		case 'u':
		case 'x':
		case 'X':
			if (longs == 0)
				v = is_signed ? (unsigned long long)va_arg(ap, int) : va_arg(ap, unsigned int);
			else if (longs == 1)
				v = is_signed ? (unsigned long long)va_arg(ap, long) : va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned long long);
			if (is_signed && (long long)v < 0)
				put_number(o, -v, true, 10, false, width, left, pad);
			else
				put_number(o, v, false, *fmt == 'x' || *fmt == 'X' ? 16 : 10,
					   *fmt == 'X', width, left, pad);
			break;
		case 'p':
			put(o, '0');
			put(o, 'x');
			put_number(o, (uintptr_t)va_arg(ap, void *), false, 16, false, 0, false, ' ');
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put_padded(o, s, strlen(s), width, left, ' ');
			break;
		case 'c':
			c = (char)va_arg(ap, int);
			put_padded(o, &c, 1, width, left, ' ');
			break;
		case '%':
			put(o, '%');
			break;
		case '\0':
			return;
		default:		/* unknown conversion: print it as is */
			put(o, '%');
			put(o, *fmt);
			break;
		}
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink o = { buf, size, 0, 0, NULL };

	format(&o, fmt, ap);
	if (size)
		buf[o.pos] = '\0';
	return (int)o.total;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void flush_to_console(struct sink *o)
{
	console_write(o->buf, o->pos);
	o->pos = 0;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	struct sink o = { buf, sizeof(buf), 0, 0, flush_to_console };
	va_list ap;

	console_lock();			/* one printf is never interleaved with another CPU's */
	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	flush_to_console(&o);
	console_unlock();
	return (int)o.total;
}

int puts(const char *s)
{
	console_lock();
	console_write(s, strlen(s));
	console_write("\n", 1);
	console_unlock();
	return 0;
}
