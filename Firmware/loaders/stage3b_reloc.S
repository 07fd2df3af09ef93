/*
 * stage3b_reloc: the fourth secured component, started protected by the SE header PSW
 * (64-bit mode) at its own, arbitrary 4K-aligned address. Position independent: copies the
 * embedded stage3b to 0xA000 and branches there with r2 = address of the stage3b_args block,
 * which is the last 64 bytes of this component (patched by the image builder).
 */
#include "loader.h"

	.section .text.start, "ax", @progbits
	.globl	stage3b_reloc
stage3b_reloc:
	sam64
	llilf	%r1,STAGE3B_ADDRESS		/* destination */
	larl	%r2,.Lpayload			/* source */
	lgfi	%r3,.Lpayload_end - .Lpayload	/* length */
0:	cghi	%r3,256
	jl	1f
	mvc	0(256,%r1),0(%r2)
	la	%r1,256(%r1)
	la	%r2,256(%r2)
	aghi	%r3,-256
	j	0b
1:	aghi	%r3,-1
	jm	2f
	exrl	%r3,.Lmvc
2:	larl	%r2,stage3b_args
	llilf	%r1,STAGE3B_ADDRESS
	br	%r1
.Lmvc:	mvc	0(1,%r1),0(%r2)

.Lpayload:
	.incbin	"stage3b.bin"
.Lpayload_end:

	.balign	8
	.globl	stage3b_args
stage3b_args:	/* kernel{src,size}, cmdline{src,size}, initrd{src,size}, psw{mask,addr} */
	.quad	0, 0, 0, 0, 0, 0, 0, 0

	.section .note.GNU-stack, "", @progbits
