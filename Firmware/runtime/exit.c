/* The exit protocol of spec 4.1, as kvm-unit-tests implements it. */
#include "runtime.h"

void exit(int code)
{
	smp_stop_others();
	printf("\nEXIT: STATUS=%d\n", (code << 1) | 1);
	/* The run ends once no CPU is operating; the stop takes effect after this SIGP. */
	for (;;)
		sigp(stap(), SIGP_STOP, 0, NULL);
}

void abort(void)
{
	exit(63);	/* STATUS=127: aborted */
}
