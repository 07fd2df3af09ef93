/*
 * s390pv bare-metal guest runtime.
 *
 * Every guest links start.S + this runtime (see guest.lds and the top-level Makefile).
 * The contract with the machine is ../../../shared/spec/s390x-cpu.md sections 3, 4 and 7:
 * entry at 0x10000, command line at 0x10480, console through SCLP, exit through
 * "EXIT: STATUS=" followed by SIGP STOP to ourselves.
 */
#ifndef S390PV_RUNTIME_H
#define S390PV_RUNTIME_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Lowcore (spec 7.2). Real address 0; prefixing makes it per-CPU. ---- */

struct psw {
	uint64_t mask;
	uint64_t addr;
};

struct lowcore {
	uint8_t  pad_0x000[0x080];
	uint32_t ext_param;		/* 0x080 */
	uint16_t ext_cpu_addr;		/* 0x084 */
	uint16_t ext_code;		/* 0x086 */
	uint16_t svc_ilc;		/* 0x088 */
	uint16_t svc_code;		/* 0x08a */
	uint16_t pgm_ilc;		/* 0x08c: instruction length in bytes */
	uint16_t pgm_code;		/* 0x08e */
	uint32_t dxc;			/* 0x090: data-exception code */
	uint8_t  pad_0x094[0x120 - 0x094];
	struct psw restart_old_psw;	/* 0x120 */
	struct psw ext_old_psw;		/* 0x130 */
	struct psw svc_old_psw;		/* 0x140 */
	struct psw pgm_old_psw;		/* 0x150 */
	struct psw mcck_old_psw;	/* 0x160 */
	struct psw io_old_psw;		/* 0x170 */
	uint8_t  pad_0x180[0x1a0 - 0x180];
	struct psw restart_new_psw;	/* 0x1a0 */
	struct psw ext_new_psw;		/* 0x1b0 */
	struct psw svc_new_psw;		/* 0x1c0 */
	struct psw pgm_new_psw;		/* 0x1d0 */
	struct psw mcck_new_psw;	/* 0x1e0 */
	struct psw io_new_psw;		/* 0x1f0 */
	/* 0x200-0x3ff is for software; the runtime uses these for secondary CPU start-up. */
	uint8_t  pad_0x200[0x300 - 0x200];
	uint64_t sw_stack;		/* 0x300: initial r15 of a secondary CPU */
	uint64_t sw_entry;		/* 0x308: C function it calls */
	uint64_t sw_arg;		/* 0x310: argument of that function */
	uint8_t  pad_0x318[0x2000 - 0x318];
} __attribute__((aligned(8192)));

_Static_assert(sizeof(struct lowcore) == 0x2000, "lowcore is 8 KiB");

/* Defined as 0 by guest.lds, so gcc cannot treat accesses as NULL dereferences. */
extern struct lowcore lowcore;

/* PSW mask bits (spec 7.1). */
#define PSW_MASK_IO	0x0200000000000000UL
#define PSW_MASK_EXT	0x0100000000000000UL
#define PSW_MASK_WAIT	0x0002000000000000UL
#define PSW_MASK_EA	0x0000000100000000UL
#define PSW_MASK_BA	0x0000000080000000UL
#define PSW_MASK_64	(PSW_MASK_EA | PSW_MASK_BA)

/* CR0 external-interruption subclass masks and AFP (spec 7.3). */
#define CR0_EMERGENCY_SIGNAL	0x4000UL
#define CR0_EXTERNAL_CALL	0x2000UL
#define CR0_CLOCK_COMPARATOR	0x0800UL
#define CR0_CPU_TIMER		0x0400UL
#define CR0_SERVICE_SIGNAL	0x0200UL
#define CR0_AFP			0x40000UL

/* External-interruption codes. */
#define EXT_CLOCK_COMPARATOR	0x1004
#define EXT_CPU_TIMER		0x1005
#define EXT_EMERGENCY_SIGNAL	0x1201
#define EXT_EXTERNAL_CALL	0x1202
#define EXT_SERVICE_SIGNAL	0x2401

/* Program-interruption codes used by the guests. */
#define PGM_OPERATION		0x01
#define PGM_PRIVILEGED		0x02
#define PGM_SPECIFICATION	0x06
#define PGM_DATA		0x07
#define PGM_FIXED_POINT_DIVIDE	0x09

/* ---- start.S / guest.lds ---- */

int main(void);
/* The -append string QEMU (and s390pv) wrote at 0x10480; "" when there is none. */
const char *cmdline(void);
/* Value of "key=N" on the command line, or def when absent or malformed. */
unsigned long cmdline_ulong(const char *key, unsigned long def);
/* "key=SIZE" with an optional K, M or G suffix, or def. */
unsigned long cmdline_size(const char *key, unsigned long def);
/* The text after "key=" (up to the next white space), or NULL. */
const char *cmdline_value(const char *key);
/* True when the command line has exactly "key=value". */
bool cmdline_is(const char *key, const char *value);

/* ---- DIAG 308 (IPL functions): response codes and the CCW-type IPL parameter block ---- */
#define DIAG308_RC_OK		0x0001
#define DIAG308_RC_NOCONFIG	0x0102
#define DIAG308_RC_INVALID	0x0402
#define IPL_TYPE_CCW		2

/* CCW-type IPL parameter block (Linux's struct ipl_parameter_block, QEMU's IplParameterBlock). */
struct ccw_iplb {
	uint32_t len;			/* 0 */
	uint8_t reserved0[3];
	uint8_t version;		/* 7 */
	uint32_t blk0_len;		/* 8 */
	uint8_t pbt;			/* 12: 2 = CCW */
	uint8_t flags;
	uint16_t reserved1;
	uint8_t loadparm[8];		/* 16 (iplstate.c: the counter, EBCDIC digits) */
	uint8_t reserved2[85];		/* 24: start of the CCW block */
	uint8_t ssid;			/* 109 */
	uint16_t devno;			/* 110 */
	uint8_t vm_flags;		/* 112 */
	uint8_t reserved3[3];
	uint32_t vm_parm_len;		/* 116 */
	uint8_t nss_name[8];		/* 120 (iplstate.c: the marker) */
	uint8_t vm_parm[64];		/* 128 (iplstate.c: the data) */
	uint8_t reserved4[8];		/* 192 */
} __attribute__((packed));

_Static_assert(sizeof(struct ccw_iplb) == 200, "CCW IPLB is 200 bytes");

/* ---- iplstate.c: a few bytes a guest keeps across a re-IPL (DIAG 308 subcode 3) ----
 * Protected memory is cleared at a reboot, but the machine keeps the IPL parameter block set
 * with DIAG 308 subcode 5: the state goes into a CCW-type block, marked by `marker` (8 ASCII
 * characters, in the NSS name field), a counter in the loadparm (8 EBCDIC digits)
 * and up to 64 bytes in the VM parameter field. */
/* DIAG 308 with R1 = 2 (address), R1+1 = 3 (response), R3 = 4 (subcode); returns R1+1. */
uint64_t diag308_call(uint64_t subcode, void *addr);
bool ipl_state_load(const char marker[8], unsigned long *counter, void *data, unsigned int length);
bool ipl_state_store(const char marker[8], unsigned long counter, const void *data, unsigned int length);

/* ---- Control registers, PSW, CPU address ---- */

static inline uint64_t cr0_read(void)
{
	uint64_t v;

	asm volatile("stctg %%c0,%%c0,%0" : "=Q"(v));
	return v;
}

static inline void cr0_write(uint64_t v)
{
	asm volatile("lctlg %%c0,%%c0,%0" : : "Q"(v) : "memory");
}

static inline void cr0_set(uint64_t bits)   { cr0_write(cr0_read() | bits); }
static inline void cr0_clear(uint64_t bits) { cr0_write(cr0_read() & ~bits); }

static inline uint16_t stap(void)
{
	uint16_t addr;

	asm volatile("stap %0" : "=Q"(addr));
	return addr;
}

/* ---- interrupts.c ---- */

typedef void (*ext_handler_t)(uint16_t code, uint32_t param, uint16_t src_cpu);

/* Call fn for external interruptions with this code (0x86). */
void register_ext_handler(uint16_t code, ext_handler_t fn);
/* Load an enabled-wait PSW (external mask on) and return, disabled again, after one interruption. */
void wait_for_interrupt(void);

/* Program interruptions: arm, run the faulting instruction, then collect. */
struct pgm_info {
	uint16_t code;		/* 0 if no program interruption happened */
	uint16_t ilc;		/* instruction length in bytes */
	uint64_t old_addr;	/* program-old PSW address as stored by the CPU */
	uint32_t dxc;		/* data-exception code (0x90) */
};
void expect_pgm_int(void);
struct pgm_info collect_pgm_int(void);

/* SVC interruptions are counted; the last code and ILC are kept. */
extern volatile unsigned int svc_count;
extern volatile uint16_t svc_last_code, svc_last_ilc;

/* ---- sclp.c ---- */

struct sclp_info {
	uint64_t mem_mb;		/* rnmax * rnsize */
	unsigned int ncpus;		/* CPU entries reported */
	uint16_t cpu_addr[64];		/* their CPU addresses, in SCLP order */
};
/* READ SCP INFO; returns the SCLP response code (0x0010 on success). */
uint16_t sclp_read_info(struct sclp_info *info);
/* Write raw text to the console (VT220 event plus line-mode event). */
void console_write(const char *s, size_t len);
/*
 * The console lock serialises use of the single SCCB between CPUs. It is recursive per
 * CPU, so an abort() from an interruption handler can still print.
 */
void console_lock(void);
void console_unlock(void);

/* ---- printf.c ---- */

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);	/* writes s and a newline */

/* ---- string.c ---- */

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strcpy(char *dst, const char *src);

/* ---- smp.c ---- */

#define SIGP_SENSE		0x01
#define SIGP_EXTERNAL_CALL	0x02
#define SIGP_EMERGENCY_SIGNAL	0x03
#define SIGP_START		0x04
#define SIGP_STOP		0x05
#define SIGP_RESTART		0x06
#define SIGP_INITIAL_CPU_RESET	0x0b
#define SIGP_SET_PREFIX		0x0d
#define SIGP_SET_ARCHITECTURE	0x12

#define SIGP_STATUS_STOPPED	0x40

#define MAX_CPUS		8	/* CPU addresses 0..7 can be started */

/* One SIGP; returns the cc. With cc 1 *status (if not NULL) gets the status word. */
int sigp(uint16_t addr, uint8_t order, uint64_t param, uint32_t *status);
/* SIGP with the whole R1 (odd: parameter in, status out) in *r1; returns the cc. */
int sigp_register(uint16_t addr, uint8_t order, uint64_t *r1);
/* The same, retried while the target is busy (cc 2). */
int sigp_retry(uint16_t addr, uint8_t order, uint64_t param, uint32_t *status);
/* True when SIGP SENSE reports the CPU stopped. */
bool cpu_stopped(uint16_t addr);
/*
 * Start the stopped CPU addr: give it its own 8 KiB lowcore (a copy of ours) through
 * SIGP SET PREFIX, and a 16 KiB stack, then SIGP RESTART it into fn(arg).
 * If fn returns, the CPU stops itself. Returns 0, or -1 when addr is unusable or a SIGP fails.
 */
int smp_start_cpu(uint16_t addr, void (*fn)(void *), void *arg);
/* SIGP STOP cpu addr and wait until SENSE reports it stopped; returns 0 or -1 (timeout). */
int smp_stop_cpu(uint16_t addr);
/* Stop every other CPU with an address below MAX_CPUS (used by exit). */
void smp_stop_others(void);

/* ---- time.c ---- */

#define TOD_PER_US	4096UL	/* TOD bit 51 ticks once per microsecond */

uint64_t get_tod(void);				/* STCK */
void set_clock_comparator(uint64_t tod);	/* SCKC */
void set_cpu_timer(int64_t value);		/* SPT */
int64_t get_cpu_timer(void);			/* STPT */
void udelay(uint64_t us);			/* busy-wait on the TOD clock */

/* ---- exit.c ---- */

void exit(int code) __attribute__((noreturn));
void abort(void) __attribute__((noreturn));	/* exit(63): "aborted", STATUS=127 */

/* ---- report.c: PASS/FAIL lines shared by the test guests ---- */

/* Prints "PASS: <msg>" or "FAIL: <msg>" and counts failures. Returns ok. */
bool report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* report() for a value: "PASS: name = 0x..." or "FAIL: name = 0x..., expected 0x...". */
bool check_u64(const char *name, uint64_t got, uint64_t expected);
unsigned int report_failures(void);

#endif
