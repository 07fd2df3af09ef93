/*
 * s390pv Secure Execution boot loaders (stage3a, stage3b): shared definitions.
 *
 * ABI-compatible with pvimg's loaders (spec se-image-format.md sections 5, 6, 7):
 *   stage3a: image bytes at 0x10000; entry 0x10000 (zipl) or 0x11000 (QEMU, s390pv);
 *            its last 24 bytes are struct stage3a_args.
 *   stage3b_reloc: any 4K-aligned address, started by the SE header PSW in 64-bit mode;
 *            its last 64 bytes are struct stage3b_args. It copies stage3b to 0xA000.
 *
 * Memory used by both loaders (spec section 5):
 *   0x00000-0x01fff lowcore (external and program new PSWs are set)
 *   0x02000-0x05fff heap: the SCCB lives at 0x2000
 *   0x0a000-0x0efff stage3b code, data and bss
 *   0x0c000-0x0efff stage3a bss (the image metadata at 0xC000 is cleared, as with pvimg)
 *   0x0f000-0x0ffff stack (r15 starts at 0x10000 - 160)
 *   0x10000-0x12fff stage3a code and data
 */
#ifndef S390PV_LOADER_H
#define S390PV_LOADER_H

#define LOADER_SCCB		0x2000
#define LOADER_STACK_TOP	0x10000
#define STAGE3A_ENTRY		0x11000
#define STAGE3B_ADDRESS		0xa000

/* Linux parameter area (s390-tools include/boot/linux_layout.h). */
#define IMAGE_ENTRY		0x10000
#define PARM_INITRD_START	0x10408
#define PARM_INITRD_SIZE	0x10410
#define PARM_MAX_CMDLINE_SIZE	0x10430
#define PARM_COMMAND_LINE	0x10480
#define LEGACY_CMDLINE_SIZE	896

#define PSW_MASK_64		0x0000000180000000
#define PSW_MASK_DISABLED_WAIT	0x0002000180000000
#define PSW_MASK_EXT_WAIT	0x0102000180000000

/*
 * Disabled-wait PSW addresses: the reason a loader stopped, readable from the PSW even when
 * no console is attached. 0x3a.... = stage3a, 0x3b.... = stage3b.
 */
#define STOP_3A_NO_UNPACK	0x3a0010	/* facility 161 not installed */
#define STOP_3A_IPIB_ALIGN	0x3a0020	/* IPIB not 4K aligned */
#define STOP_3A_SET_PV_IPIB	0x3a0030	/* DIAG 308 subcode 8 response != 1 */
#define STOP_3A_UNPACK	0x3a0040	/* DIAG 308 subcode 10 returned */
#define STOP_3A_PGM		0x3a00ee	/* program interruption */
#define STOP_3B_KERNEL		0x3b0010	/* kernel smaller than 64 KiB */
#define STOP_3B_CMDLINE_SIZE	0x3b0020	/* command line longer than the kernel allows */
#define STOP_3B_CMDLINE_NUL	0x3b0030	/* command line not NUL-terminated */
#define STOP_3B_PGM		0x3b00ee	/* program interruption */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Offsets are relative to the address of the args block itself. No padding. */
struct stage3a_args {
	uint64_t hdr_offs;
	uint64_t hdr_size;
	uint64_t ipib_offs;
};
_Static_assert(sizeof(struct stage3a_args) == 24, "stage3a_args is 24 bytes");

struct memblob {
	uint64_t src;
	uint64_t size;
};

struct loader_psw {
	uint64_t mask;
	uint64_t addr;
};

struct stage3b_args {
	struct memblob kernel;
	struct memblob cmdline;
	struct memblob initrd;
	struct loader_psw psw;
};
_Static_assert(sizeof(struct stage3b_args) == 64, "stage3b_args is 64 bytes");

/* IPIB (pbt 5) fields that stage3a patches (spec section 6). */
#define IPIB_PV_HDR_ADDR	0x78
#define IPIB_PV_HDR_SIZE	0x80

/* sclp.c: SCLP console, VT220 (ASCII) and line-mode (EBCDIC) message events. */
void console_init(void);		/* (re)issue WRITE EVENT MASK */
void console_write(const char *s, size_t len);
void console_lock(void);
void console_unlock(void);

/* Firmware/runtime/printf.c, compiled again for the loaders. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* libc.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
size_t strlen(const char *s);

/* common.c */
void loader_stop(uint64_t code) __attribute__((noreturn));	/* disabled wait, PSW address = code */
/* Print (if the console works) and stop with a disabled wait at code. */
void loader_panic(uint64_t code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* Called by the program-interruption entry (start code) on a fresh stack. */
void loader_program_check(void) __attribute__((noreturn));
extern const char loader_name[];	/* "stage3a" or "stage3b" */
extern const uint64_t loader_pgm_stop;	/* STOP_3x_PGM */

/* pv_error.c: DIAG 308 subcode 10 response decoder (spec section 7.4). Host-testable. */
const char *pv_cmd_name(uint16_t pv_cmd);
const char *pv_uv_error_text(uint16_t rc, uint16_t rrc);
/* One line, without newline, describing a failed subcode 10 response. */
int pv_describe_unpack_error(uint64_t resp, char *buf, size_t size);

#endif /* __ASSEMBLER__ */
#endif
