/*
 * Common start code of stage3a and stage3b: stack, bss, program new PSW, then the C main
 * (address in r3, argument in r2). Both arrive here in 64-bit mode.
 */
#include "loader.h"

	.text
	.globl	loader_start
loader_start:
	llilf	%r15,LOADER_STACK_TOP - 160
	xc	0(8,%r15),0(%r15)		/* back chain 0 */
	/* Clear bss: XC 256 bytes at a time, EXRL the tail. */
	larl	%r4,__bss_start
	larl	%r5,__bss_end
	sgr	%r5,%r4
0:	cghi	%r5,256
	jl	1f
	xc	0(256,%r4),0(%r4)
	la	%r4,256(%r4)
	aghi	%r5,-256
	j	0b
1:	aghi	%r5,-1
	jm	2f
	exrl	%r5,.Lxc
2:	/* Program new PSW: report and stop (common.c). */
	larl	%r4,.Lpgm_new_psw
	mvc	0x1d0(16),0(%r4)
	basr	%r14,%r3
	/* main does not return; if it does, stop here. */
	larl	%r4,.Lwait_psw
	lpswe	0(%r4)
.Lxc:	xc	0(1,%r4),0(%r4)

loader_pgm_entry:
	llilf	%r15,LOADER_STACK_TOP - 160
	brasl	%r14,loader_program_check	/* does not return */

	.section .rodata
	.balign	8
.Lpgm_new_psw:
	.quad	PSW_MASK_64, loader_pgm_entry
.Lwait_psw:
	.quad	PSW_MASK_DISABLED_WAIT, 0xdead

	.section .note.GNU-stack, "", @progbits
