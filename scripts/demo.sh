#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds the guests and a
# release s390pv, and boots the demo guest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make guests
swift build -c release
.build/release/s390pv run Guests/build/hello.elf --append "${S390PV_DEMO_APPEND:-hello from the command line}"
