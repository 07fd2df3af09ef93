#!/usr/bin/env bash
# The Swift tests under a sanitizer (issue 7 item 5), in their own build directory:
#   scripts/sanitize.sh thread [FILTER]    ThreadSanitizer (default filter: the concurrent suites)
#   scripts/sanitize.sh address [FILTER]   AddressSanitizer (default filter: every suite)
# Exits non-zero if a test fails or the sanitizer reports anything.
set -uo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh thread|address [FILTER]}
case "$kind" in
    thread) filter=${2:-'AsynchronousTeardownTests|ProtectedVirtualizationTests|SignalProcessorTests|VirtualCPUTests|GuestMemfd|Ultravisor'} ;;
    address) filter=${2:-'.'} ;;
    *) echo "sanitize: unknown sanitizer $kind (thread or address)" >&2; exit 2 ;;
esac
scratch=.build-$kind
# LeakSanitizer is off: it reports the XCTest harness's own objects at exit, and test doubles the
# tests drop without destroying their configurations. Memory errors are what this run checks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
log=$(mktemp); trap 'rm -f "$log"' EXIT
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" || exit 1
swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" --filter "$filter" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
reports=$(grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer)' "$log")
echo "sanitize $kind: test status $status, $reports sanitizer report(s)"
[ "$status" = 0 ] && [ "$reports" = 0 ]
