/*
 * stage3a entry points and argument block.
 *   0x10000 (.text.init): zipl's entry, possibly in ESA/390 mode: SIGP set architecture
 *           (z/Architecture, cc ignored), SAM64, branch to 0x11000. Must end below 0x10400,
 *           the parameter area a zipl stage3 (or QEMU -append) writes into.
 *   0x11000 (.text.entry): entry of the short IPL PSW (QEMU, s390pv start here in 64-bit
 *           mode; zipl via 0x10000 in 31- or 64-bit mode).
 *   last 24 bytes (.loader_args): struct stage3a_args, patched by the image builder.
 */
#include "loader.h"

	.section .text.init, "ax", @progbits
	.globl	stage3a_init
stage3a_init:
	/* ESA/390 instructions only until the SIGP has taken effect. */
	lhi	%r1,1			/* parameter: 1 = z/Architecture */
	sr	%r0,%r0			/* CPU address: ignored by set architecture */
	sigp	%r1,%r0,0x12		/* SIGP SET ARCHITECTURE */
	sam64
	llilf	%r1,STAGE3A_ENTRY
	br	%r1

	.section .text.entry, "ax", @progbits
	.globl	stage3a_entry
stage3a_entry:
	sam64				/* valid in 31- and 64-bit z/Architecture mode */
	larl	%r3,stage3a_main
	jg	loader_start

	.section .loader_args, "aw", @progbits
	.balign	8
	.globl	stage3a_args
stage3a_args:
	.quad	0, 0, 0			/* hdr_offs, hdr_size, ipib_offs */

	.section .note.GNU-stack, "", @progbits
