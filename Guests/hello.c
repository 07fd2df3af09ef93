/* The smallest guest: a greeting, the command line, and a clean exit. */
#include "runtime.h"

int main(void)
{
	const char *args = cmdline();

	printf("Hello from s390pv guest!\n");
	if (*args)
		printf("command line: %s\n", args);
	else
		printf("command line: (none)\n");
	return 0;
}
