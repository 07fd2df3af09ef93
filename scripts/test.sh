#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds the
# guests and the emulator, runs the Swift tests (unit, oracle and guest-level) and the CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make guests
swift build --build-tests
swift test --skip-build
Tests/cli/run.sh
Tests/c/run.sh
Tests/cli/bench-kvm.sh
