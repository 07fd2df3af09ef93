#!/bin/sh
# Install what building and testing s390pv needs on Debian 12 (bookworm):
# the s390x cross toolchain and make for the guests, QEMU for comparison runs, and
# the libraries the Swift package links (libelf, capstone). Idempotent: installs only
# the packages that are missing, and runs apt-get update at most once. Recommends
# are skipped (qemu-system-misc would pull in a GUI); nothing here needs them.
set -eu

PACKAGES="gcc-s390x-linux-gnu binutils-s390x-linux-gnu libelf-dev libcapstone-dev libssl-dev
	qemu-system-misc qemu-user valgrind pkg-config make"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing:$missing; run as root (or install sudo)" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
