#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds the guests, the
# Secure Execution loaders and a release s390pv, seals the hello guest for a host key made here,
# and boots it as a protected guest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make guests loaders
swift build -c release
s390pv=.build/release/s390pv
make pv-guests S390PV=$s390pv
key=Guests/build/hostkey/host-key.pem
echo "== The emulated host: KVM capabilities and the Ultravisor's query values"
$s390pv info --host-key $key
echo "== Booting Guests/build/hello-pv.img (a Secure Execution image sealed for $key) protected"
$s390pv run Guests/build/hello-pv.img --host-key $key
echo "== Rebooting a protected guest 3 times with 4 GiB of memory: each reboot sets the old secure"
echo "   configuration aside (KVM_PV_ASYNC_CLEANUP_PREPARE) and clears it in the background (PERFORM);"
echo "   the guest scans all memory after each boot for the previous boot's secret pattern"
$s390pv run Guests/build/memtouch-pv.img --memory 4G --host-key $key --teardown async --reboot-report
