#!/bin/sh
# Run an s390pv guest ELF on qemu-system-s390x the way spec section 3.8 prescribes
# (../shared/spec/s390x-cpu.md), for comparison with s390pv.
#
#   scripts/qemu-run-guest.sh GUEST.elf [extra qemu args, e.g. -append 'x=1' -smp 4 -m 1G]
#
# The console (VT220 stream) goes to stdout. The exit status is QEMU's: 0 once every CPU
# has stopped (the guest's result is the "EXIT: STATUS=" line), 124 on timeout.
# QEMU_TIMEOUT (seconds, default 90) bounds the run; QEMU overrides the binary.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 GUEST.elf [qemu args...]" >&2
	exit 2
fi
elf=$1
shift
if [ ! -f "$elf" ]; then
	echo "$0: $elf: no such file" >&2
	exit 2
fi

# --foreground keeps QEMU in the terminal's process group, so a chardev on an
# interactive stdin does not stop it with SIGTTIN; -k 5 kills it if SIGTERM is ignored.
exec timeout --foreground -k 5 "${QEMU_TIMEOUT:-90}" "${QEMU:-qemu-system-s390x}" \
	-nodefaults -nographic -machine s390-ccw-virtio,accel=tcg \
	-chardev stdio,id=con0 -device sclpconsole,chardev=con0 \
	-kernel "$elf" "$@"
