#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds the
# guests and the emulator, runs the Swift tests (unit, oracle and guest-level) and the CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make guests loaders
swift build --build-tests
# Secure Execution images of test guests need the s390pv binary (mkimage, hostkey).
make pv-guests
swift test --skip-build
Tests/cli/run.sh
Tests/cli/mkimage.sh
Tests/cli/protected.sh
Tests/cli/memtouch.sh
Tests/cli/clock.sh
Tests/cli/detach.sh
Tests/cli/fuzz.sh
Tests/cli/tamper.sh
Tests/cli/isolation.sh
Tests/cli/faults.sh
Tests/c/run.sh
Tests/cli/bench-kvm.sh
Tests/cli/bench-boot.sh
Tests/cli/bench-reboot.sh
