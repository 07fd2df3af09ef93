/*
 * Entry code, lowcore image and interruption entry stubs of the s390pv guest runtime.
 * Layout (guest.lds): .lowcore at 0, .text.start at 0x10000, .parmarea at 0x10400-0x10fff,
 * everything else from 0x11000 on.
 */

#define PSW_64		0x0000000180000000	/* EA = BA = 1: 64-bit addressing, all masks off */
#define CR0_INIT	0x40000			/* AFP on, all external subclasses off (like kut) */

/* Interruption stack frame: ABI register save area, r0-r14, f0-f7 (gcc spills to FPRs). */
#define FRAME_GPRS	160
#define FRAME_FPRS	(FRAME_GPRS + 15 * 8)
#define FRAME_SIZE	(FRAME_FPRS + 8 * 8)

	.section .lowcore, "aw", @progbits
	/* ESA/390 IPL PSW: only used when the image is booted flat from absolute 0 (spec 3.4). */
	.quad	0x0008000080010000
	.org	0x1a0
	/* Restart new PSW of the boot CPU. */
	.quad	PSW_64, start

/*
 * QEMU jumps here in z/Architecture mode with PSW_64; a flat-image boot arrives in 31-bit
 * mode. This code must end below 0x10400 (guest.lds checks).
 */
	.section .text.start, "ax", @progbits
	.globl	start
start:
	sam64
	/* Clear .bss (the boot stack is part of it): XC 256 bytes at a time, EXRL the rest. */
	larl	%r2,__bss_start
	larl	%r3,__bss_end
	sgr	%r3,%r2
0:	cghi	%r3,256
	jl	1f
	xc	0(256,%r2),0(%r2)
	la	%r2,256(%r2)
	aghi	%r3,-256
	j	0b
1:	aghi	%r3,-1			/* XC encodes length - 1 */
	jm	2f			/* nothing left */
	exrl	%r3,.Lxc_tail
2:	/* New PSWs for external, SVC, program, machine-check and I/O interruptions. */
	larl	%r1,new_psws
	mvc	0x1b0(5 * 16),0(%r1)
	larl	%r1,cr0_init
	lctlg	%c0,%c0,0(%r1)
	larl	%r15,stack_top - 160	/* back chain word is 0: bss is clear */
	brasl	%r14,main
	brasl	%r14,exit		/* r2 still holds main's return value */
.Lxc_tail:
	xc	0(1,%r2),0(%r2)

/*
 * 0x10400: Linux-style parameter area that QEMU fills for an entry point of 0x10000
 * (spec 3.3): initrd start/size at +0x08/+0x10, command-line size limit at +0x30
 * (0 = legacy 896 bytes), the NUL-terminated command line from +0x80 (0x10480) to 0x10fff.
 * Not executable, so objdump -d skips it.
 */
	.section .parmarea, "a", @progbits
	.fill	0x80, 1, 0
	.globl	cmdline_area
cmdline_area:
	.fill	0xb80, 1, 0

/*
 * Interruption entry: build a frame below the interrupted r15, save the volatile state,
 * call the C handler, restore, and return with LPSWE of the old PSW. Clearing the wait
 * bit in the old PSW makes an enabled wait (wait_for_interrupt) resume after the LPSWE
 * that entered it instead of waiting again.
 */
	.macro	INT_ENTRY name, handler, old_psw
	.globl	\name
\name:
	aghi	%r15,-FRAME_SIZE
	stmg	%r0,%r14,FRAME_GPRS(%r15)
	std	%f0,FRAME_FPRS+0(%r15)
	std	%f1,FRAME_FPRS+8(%r15)
	std	%f2,FRAME_FPRS+16(%r15)
	std	%f3,FRAME_FPRS+24(%r15)
	std	%f4,FRAME_FPRS+32(%r15)
	std	%f5,FRAME_FPRS+40(%r15)
	std	%f6,FRAME_FPRS+48(%r15)
	std	%f7,FRAME_FPRS+56(%r15)
	la	%r1,FRAME_SIZE(%r15)
	stg	%r1,0(%r15)		/* back chain */
	ni	\old_psw + 1,0xfd	/* clear PSW bit 14 (wait) */
	brasl	%r14,\handler
	ld	%f0,FRAME_FPRS+0(%r15)
	ld	%f1,FRAME_FPRS+8(%r15)
	ld	%f2,FRAME_FPRS+16(%r15)
	ld	%f3,FRAME_FPRS+24(%r15)
	ld	%f4,FRAME_FPRS+32(%r15)
	ld	%f5,FRAME_FPRS+40(%r15)
	ld	%f6,FRAME_FPRS+48(%r15)
	ld	%f7,FRAME_FPRS+56(%r15)
	lmg	%r0,%r14,FRAME_GPRS(%r15)
	aghi	%r15,FRAME_SIZE		/* the cc it sets is replaced by the old PSW's */
	lpswe	\old_psw
	.endm

	.text
	INT_ENTRY ext_entry,  handle_ext_int,  0x130
	INT_ENTRY svc_entry,  handle_svc_int,  0x140
	INT_ENTRY pgm_entry,  handle_pgm_int,  0x150
	INT_ENTRY mcck_entry, handle_mcck_int, 0x160
	INT_ENTRY io_entry,   handle_io_int,   0x170

/*
 * Restart new PSW of a secondary CPU (smp.c): its own lowcore holds the stack, the
 * function and its argument at 0x300/0x308/0x310.
 */
	.globl	secondary_entry
secondary_entry:
	lg	%r15,0x300
	larl	%r1,cr0_init
	lctlg	%c0,%c0,0(%r1)
	lg	%r1,0x308
	lg	%r2,0x310
	basr	%r14,%r1
	brasl	%r14,smp_cpu_finished	/* does not return */

	.section .rodata
	.balign	8
new_psws:
	.quad	PSW_64, ext_entry
	.quad	PSW_64, svc_entry
	.quad	PSW_64, pgm_entry
	.quad	PSW_64, mcck_entry
	.quad	PSW_64, io_entry
cr0_init:
	.quad	CR0_INIT

	.section .bss
	.balign	4096
	.skip	65536
stack_top:

	.section .note.GNU-stack, "", @progbits	/* no executable stack needed */
