/*
 * stage3b entry at 0xA000, reached from stage3b_reloc in 64-bit mode with r2 = address of
 * struct stage3b_args (the last 64 bytes of the stage3b_reloc component).
 */
#include "loader.h"

	.section .text.start, "ax", @progbits
	.globl	stage3b_entry
stage3b_entry:
	sam64
	larl	%r3,stage3b_main	/* r2 (args) is passed through */
	jg	loader_start

	.section .note.GNU-stack, "", @progbits
