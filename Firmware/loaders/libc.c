/*
 * memset/memcpy/memmove/strlen for the loaders. Forward copies use MVC (256 bytes per
 * instruction, defined to move byte by byte left to right, so a forward overlapping copy with
 * dst < src is correct): stage3b moves a kernel of many MiB with it.
 * Built with -fno-tree-loop-distribute-patterns so gcc does not turn the loops into calls.
 */
#include "loader.h"

static void mvc_forward(uint8_t *d, const uint8_t *s, size_t n)
{
	while (n >= 256) {
		asm volatile("mvc 0(256,%[d]),0(%[s])"
			     : : [d] "a"(d), [s] "a"(s) : "memory");
		d += 256;
		s += 256;
		n -= 256;
	}
	if (n)
		asm volatile("	exrl	%[len],0f\n"
			     "	j	1f\n"
			     "0:	mvc	0(1,%[d]),0(%[s])\n"
			     "1:\n"
			     : : [len] "a"(n - 1), [d] "a"(d), [s] "a"(s) : "memory");
}

void *memset(void *s, int c, size_t n)
{
	uint8_t *p = s;

	while (n--)
		*p++ = (uint8_t)c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	mvc_forward(dst, src, n);
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d <= s || d >= s + n) {
		mvc_forward(d, s, n);
		return dst;
	}
	while (n--)		/* dst above an overlapping src: backwards */
		d[n] = s[n];
	return dst;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
