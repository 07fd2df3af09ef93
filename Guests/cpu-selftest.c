/*
 * CPU self-test: checks instruction results against known values, and the delivery of
 * program and SVC interruptions. Every check prints one PASS or FAIL line.
 *
 * Instructions that matter are written as inline assembly so that the optimiser cannot
 * fold them away; everything else is compiled C. Built twice: -march=z10, and -march=zEC12
 * (which adds the z196/zEC12 section at the end and lets gcc use those instructions too).
 */
#include "runtime.h"

/* Hide a value from the optimiser so the operation on it happens at run time. */
static inline uint64_t opaque(uint64_t v)
{
	asm volatile("" : "+d"(v));
	return v;
}

/*
 * An even/odd register pair, as MLGR, DLGR, DSGR and MVCL use: gcc keeps a 128-bit value
 * in such a pair, high half in the even register, and %[x] names the even one.
 */
typedef unsigned __int128 pair_t;
#define PAIR(hi, lo)	(((pair_t)(hi) << 64) | (uint64_t)(lo))
#define HI(p)		((uint64_t)((p) >> 64))
#define LO(p)		((uint64_t)(p))

/* The condition code as IPM leaves it in bits 34-35. */
#define CC_FROM_IPM(v) (((v) >> 28) & 3)

static void test_arithmetic(void)
{
	uint64_t a = opaque(0x0123456789abcdefUL), b = opaque(0xfedcba);
	int64_t sa = opaque(-1000000000000L), sb = opaque(7);
	uint64_t ua = opaque(0xfedcba9876543210UL), ub = opaque(0x12345);
	int32_t wa = opaque(-123456), wb = opaque(1000);
	uint64_t v, w, ipm;
	pair_t p;

	check_u64("64-bit multiply", a * b, 0xfffffffffeef03a6UL);
	check_u64("64-bit signed divide", sa / sb, (uint64_t)-142857142857L);
	check_u64("64-bit signed remainder", sa % sb, (uint64_t)-1L);
	check_u64("64-bit unsigned divide", ua / ub, 0xe0004fa01c4dUL);
	check_u64("64-bit unsigned remainder", ua % ub, 0x10a4f);
	check_u64("32-bit multiply", (uint32_t)(wa * wb), (uint32_t)-123456000);
	check_u64("32-bit divide", (uint32_t)(wa / (wb / 8)), (uint32_t)-987);

	/* MLGR: 128-bit product of two 64-bit unsigned values in an even/odd pair. */
	p = PAIR(0, opaque(~0UL));
	asm("mlgr %[p],%[m]" : [p] "+d"(p) : [m] "d"(~0UL));
	check_u64("MLGR high", HI(p), 0xfffffffffffffffeUL);
	check_u64("MLGR low", LO(p), 1);

	/* DLGR: 2^64 / 3; the remainder goes to the even, the quotient to the odd register. */
	p = PAIR(opaque(1), 0);
	asm("dlgr %[p],%[d]" : [p] "+d"(p) : [d] "d"(3UL));
	check_u64("DLGR quotient", LO(p), 0x5555555555555555UL);
	check_u64("DLGR remainder", HI(p), 1);

	/* AGR overflow sets cc 3 and, with the program mask clear, raises nothing. */
	v = opaque(0x7fffffffffffffffUL);
	asm("agr %[v],%[one]\n ipm %[ipm]" : [v] "+d"(v), [ipm] "=d"(ipm) : [one] "d"(1UL) : "cc");
	check_u64("AGR overflow result", v, 0x8000000000000000UL);
	check_u64("AGR overflow cc", CC_FROM_IPM(ipm), 3);

	/* ALGR/ALCGR: a 128-bit add carries from the low into the high half. */
	v = opaque(0x12);
	w = opaque(0xffffffffffffffffUL);
	asm("algr %[lo],%[one]\n alcgr %[hi],%[zero]"
	    : [lo] "+d"(w), [hi] "+d"(v) : [one] "d"(1UL), [zero] "d"(0UL) : "cc");
	check_u64("ALGR/ALCGR carry", v, 0x13);
}

/* IPM keeps bits 0-31 and 40-63, and puts 00, the cc and the program mask in 32-39. */
static void test_ipm(void)
{
	static const struct { uint64_t in; uint64_t expected; } cases[] = {
		{ 0, 0x1122334400667788UL },		/* LTGR: zero, cc 0 */
		{ (uint64_t)-5, 0x1122334410667788UL },	/* negative, cc 1 */
		{ 42, 0x1122334420667788UL },		/* positive, cc 2 */
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t r = opaque(cases[i].in), out = opaque(0x1122334455667788UL);
		char name[32];

		asm("ltgr %[r],%[r]\n ipm %[out]" : [r] "+d"(r), [out] "+d"(out) : : "cc");
		snprintf(name, sizeof(name), "IPM after LTGR %ld", (long)cases[i].in);
		check_u64(name, out, cases[i].expected);
	}
}

static void test_logical(void)
{
	uint64_t v, w, ipm;

	v = opaque(0xff00ff00ff00ff00UL);
	asm("ngr %[v],%[m]" : [v] "+d"(v) : [m] "d"(0x0ff00ff00ff00ff0UL) : "cc");
	check_u64("NGR", v, 0x0f000f000f000f00UL);
	asm("ogr %[v],%[m]" : [v] "+d"(v) : [m] "d"(0x00000000000000ffUL) : "cc");
	check_u64("OGR", v, 0x0f000f000f000fffUL);
	asm("xgr %[v],%[m]" : [v] "+d"(v) : [m] "d"(0xffffffffffffffffUL) : "cc");
	check_u64("XGR", v, 0xf0fff0fff0fff000UL);
	asm("nihf %[v],0x00ffffff\n oilf %[v],0x0000000f\n xilf %[v],0xffff0000"
	    : [v] "+d"(v) : : "cc");
	check_u64("NIHF/OILF/XILF", v, 0x00fff0ff0f00f00fUL);

	/* NGR with a zero result sets cc 0, a nonzero one cc 1. */
	w = opaque(0xf0);
	asm("ngr %[w],%[m]\n ipm %[ipm]" : [w] "+d"(w), [ipm] "=d"(ipm) : [m] "d"(0x0fUL) : "cc");
	check_u64("NGR zero cc", CC_FROM_IPM(ipm), 0);
}

static void test_shifts(void)
{
	uint64_t x = opaque(0x0123456789abcdefUL), v, ipm;
	uint32_t w;

	asm("sllg %[v],%[x],8" : [v] "=d"(v) : [x] "d"(x));
	check_u64("SLLG 8", v, 0x23456789abcdef00UL);
	asm("srlg %[v],%[x],12" : [v] "=d"(v) : [x] "d"(x));
	check_u64("SRLG 12", v, 0x0000123456789abcUL);
	v = opaque((uint64_t)-256);
	asm("srag %[v],%[v],4" : [v] "+d"(v) : : "cc");
	check_u64("SRAG -256 by 4", v, (uint64_t)-16);
	asm("rllg %[v],%[x],12" : [v] "=d"(v) : [x] "d"(x));
	check_u64("RLLG 12", v, 0x3456789abcdef012UL);
	w = opaque(0x80000001);
	asm("rll %[w],%[w],1" : [w] "+d"(w));
	check_u64("RLL 1", w, 3);
	v = opaque(0x4000000000000000UL);
	asm("slag %[v],%[v],1\n ipm %[ipm]" : [v] "+d"(v), [ipm] "=d"(ipm) : : "cc");
	check_u64("SLAG overflow cc", CC_FROM_IPM(ipm), 3);

	/* RISBG: rotate left 8, insert bits 40-55 into a register of 0xaa bytes. */
	v = opaque(0xaaaaaaaaaaaaaaaaUL);
	asm("risbg %[v],%[x],40,55,8" : [v] "+d"(v) : [x] "d"(x) : "cc");
	check_u64("RISBG insert", v, 0xaaaaaaaaaacdefaaUL);
	/* RISBG with the zero-remaining-bits flag (0x80 in I4): a 16-bit field extract. */
	asm("risbg %[v],%[x],48,128+63,16" : [v] "=d"(v) : [x] "d"(x) : "cc");
	check_u64("RISBG extract", v, 0x0123);
	v = opaque(0xaaaaaaaaaaaaaaaaUL);
	asm("rxsbg %[v],%[x],32,63,4" : [v] "+d"(v) : [x] "d"(x) : "cc");
	check_u64("RXSBG", v, 0xaaaaaaaa3016745aUL);
}

/* Each returns 1 when the compare-and-branch is taken. */
static int cgrj_low(int64_t a, int64_t b)
{
	int taken;

	asm("lhi %[t],1\n cgrj %[a],%[b],4,0f\n lhi %[t],0\n0:" : [t] "=&d"(taken) : [a] "d"(a), [b] "d"(b));
	return taken;
}

static int clgrj_low(int64_t a, int64_t b)
{
	int taken;

	asm("lhi %[t],1\n clgrj %[a],%[b],4,0f\n lhi %[t],0\n0:" : [t] "=&d"(taken) : [a] "d"(a), [b] "d"(b));
	return taken;
}

static int cij_equal_7(int32_t a)
{
	int taken;

	asm("lhi %[t],1\n cij %[a],7,8,0f\n lhi %[t],0\n0:" : [t] "=&d"(taken) : [a] "d"(a));
	return taken;
}

static void test_branches(void)
{
	uint64_t count, sum = 0;

	check_u64("CGRJ -5 < 3 taken", cgrj_low(opaque(-5), opaque(3)), 1);
	check_u64("CLGRJ 0xff..fb < 3 not taken", clgrj_low(opaque(-5), opaque(3)), 0);
	check_u64("CIJ 7 == 7 taken", cij_equal_7(opaque(7)), 1);
	check_u64("CIJ 8 == 7 not taken", cij_equal_7(opaque(8)), 0);
	count = opaque(10);
	asm("0: aghi %[s],3\n brctg %[c],0b" : [s] "+d"(sum), [c] "+d"(count) : : "cc");
	check_u64("BRCTG loop", sum, 30);
}

static void test_storage(void)
{
	static const char src[] = "0123456789abcdefGHIJ";
	char dst[32];
	uint64_t ipm;
	unsigned int i;
	bool ok;

	memset(dst, '.', sizeof(dst));
	asm("mvc 0(16,%[d]),0(%[s])" : : [d] "a"(dst), [s] "a"(src) : "memory");
	report(!memcmp(dst, src, 16) && dst[16] == '.', "MVC 16 bytes");

	asm("clc 0(4,%[a]),0(%[b])\n ipm %[ipm]" : [ipm] "=d"(ipm)
	    : [a] "a"("ABCD"), [b] "a"("ABCE") : "cc", "memory");
	check_u64("CLC low cc", CC_FROM_IPM(ipm), 1);
	asm("clc 0(4,%[a]),0(%[b])\n ipm %[ipm]" : [ipm] "=d"(ipm)
	    : [a] "a"("ABCF"), [b] "a"("ABCE") : "cc", "memory");
	check_u64("CLC high cc", CC_FROM_IPM(ipm), 2);

	asm("xc 0(16,%[d]),0(%[d])\n ipm %[ipm]" : [ipm] "=d"(ipm) : [d] "a"(dst) : "cc", "memory");
	for (ok = true, i = 0; i < 16; i++)
		ok &= dst[i] == 0;
	report(ok && dst[16] == '.' && CC_FROM_IPM(ipm) == 0, "XC clears 16 bytes, cc 0");

	/* MVCL: 300 source bytes into a 400-byte destination, the rest padded with 0x5a. */
	{
		static char from[300], to[400];
		/* Address in the even register, length (and the pad byte in bits 32-39) in the odd. */
		pair_t d = PAIR((uintptr_t)to, sizeof(to));
		pair_t s = PAIR((uintptr_t)from, sizeof(from) | (0x5aUL << 24));

		for (i = 0; i < sizeof(from); i++)
			from[i] = (char)i;
		asm volatile("mvcl %[d],%[s]\n ipm %[ipm]"
			     : [d] "+d"(d), [s] "+d"(s), [ipm] "=d"(ipm) : : "cc", "memory");
		for (ok = true, i = 0; i < sizeof(to); i++)
			ok &= to[i] == (i < sizeof(from) ? (char)i : 0x5a);
		report(ok, "MVCL copy and padding");
		check_u64("MVCL cc (first operand longer)", CC_FROM_IPM(ipm), 2);
		check_u64("MVCL first operand advanced", HI(d) - (uintptr_t)to, sizeof(to));
		check_u64("MVCL lengths left", LO(d) | (LO(s) & 0xffffff), 0);
	}
}

static void test_execute(void)
{
	static const char src[] = "EXECUTE!";
	char dst[10];
	uint64_t target, got;

	/* EX ORs bits 56-63 of R1 into the length byte of the MVC it executes. */
	memset(dst, '-', sizeof(dst));
	asm volatile("	larl	%%r1,0f\n"
		     "	ex	%[len],0(%%r1)\n"
		     "	j	1f\n"
		     "0:	mvc	0(1,%[d]),0(%[s])\n"
		     "1:\n"
		     : : [len] "a"(opaque(4)), [d] "a"(dst), [s] "a"(src) : "r1", "memory");
	report(!memcmp(dst, "EXECU-", 6), "EX of MVC copies R1+1 = 5 bytes");

	memset(dst, '-', sizeof(dst));
	asm volatile("	exrl	%[len],0f\n"
		     "	j	1f\n"
		     "0:	mvc	0(1,%[d]),0(%[s])\n"
		     "1:\n"
		     : : [len] "a"(opaque(7)), [d] "a"(dst), [s] "a"(src) : "memory");
	report(!memcmp(dst, "EXECUTE!-", 9), "EXRL of MVC copies R1+1 = 8 bytes");

	/* A relative operand of the executed instruction is relative to the target itself. */
	asm volatile("	exrl	%%r0,0f\n"
		     "	larl	%[target],0f\n"
		     "	j	1f\n"
		     "0:	larl	%[got],0b\n"
		     "1:\n"
		     : [target] "=&d"(target), [got] "=&d"(got));
	check_u64("EXRL of LARL is target-relative", got - target, 0);
}

/* Run one instruction that must raise a program interruption and check what was stored. */
static void check_pgm(const char *name, struct pgm_info pi, uint16_t code, uint16_t ilc,
		      uint64_t next)
{
	report(pi.code == code && pi.ilc == ilc && pi.old_addr == next,
	       "%s: code 0x%02x (expected 0x%02x), ILC %u (expected %u), old PSW %s",
	       name, pi.code, code, pi.ilc, ilc, pi.old_addr == next ? "at next instruction" : "WRONG");
}

static void test_program_interruptions(void)
{
	static uint64_t quad[3] __attribute__((aligned(16)));
	uint64_t next, fpc;
	struct pgm_info pi;
	pair_t p;

	/* Opcode 0x00 is not assigned: operation exception, suppressed. */
	expect_pgm_int();
	asm volatile("larl %[n],0f\n .short 0x0000\n0:" : [n] "=&d"(next) : : "memory");
	check_pgm("operation (opcode 0x00)", collect_pgm_int(), PGM_OPERATION, 2, next);

	/* LPQ needs an even R1 and a quadword-aligned operand (not QEMU-deviating checks). */
	expect_pgm_int();
	asm volatile("larl %[n],0f\n .insn rxy,0xe3000000008f,5,0(%[q])\n0:"
		     : [n] "=&d"(next) : [q] "a"(quad) : "r5", "r6", "memory");
	check_pgm("specification (LPQ odd R1)", collect_pgm_int(), PGM_SPECIFICATION, 6, next);
	expect_pgm_int();
	asm volatile("larl %[n],0f\n lpq %%r4,0(%[q])\n0:"
		     : [n] "=&d"(next) : [q] "a"(&quad[1]) : "r4", "r5", "memory");
	check_pgm("specification (LPQ unaligned)", collect_pgm_int(), PGM_SPECIFICATION, 6, next);

	/* DSGR by zero, and the one quotient that does not fit: fixed-point divide. */
	p = PAIR(0, opaque(1234));
	expect_pgm_int();
	asm volatile("larl %[n],0f\n dsgr %[p],%[d]\n0:"
		     : [n] "=&d"(next), [p] "+d"(p) : [d] "d"(opaque(0)) : "memory");
	check_pgm("fixed-point divide (DSGR by 0)", collect_pgm_int(), PGM_FIXED_POINT_DIVIDE, 4, next);
	p = PAIR(0, opaque(0x8000000000000000UL));
	expect_pgm_int();
	asm volatile("larl %[n],0f\n dsgr %[p],%[d]\n0:"
		     : [n] "=&d"(next), [p] "+d"(p) : [d] "d"(opaque(-1)) : "memory");
	check_pgm("fixed-point divide (DSGR MIN/-1)", collect_pgm_int(), PGM_FIXED_POINT_DIVIDE, 4, next);

	/* Compare and trap: a data exception with DXC 0xff, also in FPC byte 2 (AFP is on). */
	expect_pgm_int();
	asm volatile("larl %[n],0f\n cgit %[v],5,8\n0:" : [n] "=&d"(next) : [v] "d"(opaque(5)) : "memory");
	pi = collect_pgm_int();
	check_pgm("data (CGIT trap)", pi, PGM_DATA, 6, next);
	check_u64("data exception code at 0x90", pi.dxc, 0xff);
	asm volatile("efpc %[f]\n sfpc %[z]" : [f] "=d"(fpc) : [z] "d"(0));
	check_u64("DXC in FPC byte 2", (fpc >> 8) & 0xff, 0xff);
	expect_pgm_int();
	asm volatile("cgit %[v],5,8" : : [v] "d"(opaque(6)) : "memory");
	check_u64("CGIT no trap when unequal", collect_pgm_int().code, 0);

	/* SVC: an SVC interruption with the I field as code and ILC 2. */
	asm volatile("svc 42" : : : "memory");
	report(svc_count == 1 && svc_last_code == 42 && svc_last_ilc == 2,
	       "SVC 42: count %u, code %u, ILC %u", svc_count, svc_last_code, svc_last_ilc);
}

#if __ARCH__ >= 10	/* zEC12: z196 and zEC12 additions to the general instructions */
static void test_zec12(void)
{
	static uint64_t counter = 40;
	uint64_t v, old;

	asm("popcnt %[v],%[x]" : [v] "=d"(v) : [x] "d"(opaque(0xff0f030100000080UL)) : "cc");
	check_u64("POPCNT (per byte)", v, 0x0804020100000001UL);
	asm("agrk %[v],%[a],%[b]" : [v] "=d"(v) : [a] "d"(opaque(40)), [b] "d"(opaque(2)) : "cc");
	check_u64("AGRK", v, 42);
	asm("sllk %[v],%[a],4" : [v] "=d"(v) : [a] "d"(opaque(0x12345678)));
	check_u64("SLLK low word", (uint32_t)v, 0x23456780);
	v = opaque(1);
	asm("cgr %[a],%[b]\n locgr %[v],%[c],8"
	    : [v] "+d"(v) : [a] "d"(opaque(3)), [b] "d"(opaque(3)), [c] "d"(opaque(99)) : "cc");
	check_u64("LOCGR on equal", v, 99);
	asm volatile("laag %[old],%[inc],%[m]" : [old] "=d"(old), [m] "+Q"(counter) : [inc] "d"(opaque(2)) : "cc");
	check_u64("LAAG old value", old, 40);
	check_u64("LAAG new value", counter, 42);
	v = opaque(0xaaaaaaaaaaaaaaaaUL);
	asm("risbgn %[v],%[x],40,55,8" : [v] "+d"(v) : [x] "d"(opaque(0x0123456789abcdefUL)));
	check_u64("RISBGN insert", v, 0xaaaaaaaaaacdefaaUL);
}
#endif

int main(void)
{
	printf("cpu-selftest (built for arch level %d)\n", __ARCH__);
	test_arithmetic();
	test_ipm();
	test_logical();
	test_shifts();
	test_branches();
	test_storage();
	test_execute();
	test_program_interruptions();
#if __ARCH__ >= 10
	test_zec12();
#endif
	printf("cpu-selftest: %u failure(s)\n", report_failures());
	return report_failures() ? 1 : 0;
}
