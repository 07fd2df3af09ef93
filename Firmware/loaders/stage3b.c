/*
 * stage3b: runs protected at 0xA000 (spec se-image-format.md section 5, step 4). Put the
 * decrypted kernel, command line and initrd where Linux expects them and start the kernel.
 * The console is only used for errors, so a good boot leaves the SCLP untouched.
 */
#include "loader.h"

const char loader_name[] = "stage3b";
const uint64_t loader_pgm_stop = STOP_3B_PGM;

static void load_psw(const struct loader_psw *psw) __attribute__((noreturn));
static void load_psw(const struct loader_psw *psw)
{
	/* LPSWE rather than DIAG 308: subcode 10 already reset the I/O subsystem. */
	asm volatile("lpswe %0" : : "Q"(*psw) : "cc", "memory");
	loader_stop(0xdead);
}

void stage3b_main(const volatile struct stage3b_args *in) __attribute__((noreturn));
void stage3b_main(const volatile struct stage3b_args *in)
{
	struct stage3b_args a;
	struct loader_psw psw __attribute__((aligned(8)));
	uint64_t limit;

	/* Private copy: nothing below may overwrite it. */
	a.kernel.src = in->kernel.src;
	a.kernel.size = in->kernel.size;
	a.cmdline.src = in->cmdline.src;
	a.cmdline.size = in->cmdline.size;
	a.initrd.src = in->initrd.src;
	a.initrd.size = in->initrd.size;
	psw.mask = in->psw.mask;
	psw.addr = in->psw.addr;

	if (a.kernel.size < IMAGE_ENTRY)
		loader_panic(STOP_3B_KERNEL, "stage3b: invalid kernel: size 0x%lx is below 64 KiB\n",
			     (unsigned long)a.kernel.size);

	/* Drop the first 64 KiB of the raw kernel image: it runs from 0x10000. */
	memmove((void *)IMAGE_ENTRY, (const void *)(a.kernel.src + IMAGE_ENTRY),
		a.kernel.size - IMAGE_ENTRY);

	/* The kernel's parameter area now tells how long its command line may be. */
	limit = *(volatile uint64_t *)PARM_MAX_CMDLINE_SIZE;
	if (!limit)
		limit = LEGACY_CMDLINE_SIZE;
	if (a.cmdline.size > limit)
		loader_panic(STOP_3B_CMDLINE_SIZE, "stage3b: the command line (%lu bytes) exceeds "
			     "the kernel's limit of %lu bytes\n",
			     (unsigned long)a.cmdline.size, (unsigned long)limit);
	if (a.cmdline.size) {
		if (((const volatile char *)a.cmdline.src)[a.cmdline.size - 1] != '\0')
			loader_panic(STOP_3B_CMDLINE_NUL, "stage3b: the command line is not "
				     "NUL-terminated\n");
		memmove((void *)PARM_COMMAND_LINE, (const void *)a.cmdline.src, a.cmdline.size);
	}
	/* The initrd stays where it was decrypted. */
	if (a.initrd.size) {
		*(volatile uint64_t *)PARM_INITRD_START = a.initrd.src;
		*(volatile uint64_t *)PARM_INITRD_SIZE = a.initrd.size;
	}
	load_psw(&psw);
}
