#!/usr/bin/env bash
# `s390pv bench kvm`: a short run writes JSON with every metric and exits 0; bad arguments get
# one line on stderr and status 2.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; fi; }

"$bin" bench kvm --runs 1 --iterations 2000 --json "$tmp/result.json" >"$tmp/out" 2>"$tmp/err"
status=$?
check "exit status $status (want 0): $(tail -1 "$tmp/err")" '[ "$status" = 0 ]'
check "table on stdout" 'grep -q "KVM_RUN round trip" "$tmp/out"'
check "progress on stderr" 'grep -q "^bench kvm: run 1/1" "$tmp/err"'
check "JSON has the metrics" 'python3 - "$tmp/result.json" 2>/dev/null <<"PY"
import json, sys
result = json.load(open(sys.argv[1]))
assert result["command"] == "bench kvm" and result["parameters"]["runs"] == 1
assert result["limits"]["memcpy_gib_s"]["value"] > 0
metrics = {key: value for row in result["results"] for key, value in row.items() if isinstance(value, dict)}
for name in ("round_trip_us", "mem_op_read_throughput_gib_s", "mem_op_write_throughput_gib_s", "memcpy_throughput_gib_s"):
    stats = metrics[name]
    assert len(stats["runs"]) == 1 and 0 < stats["min"] <= stats["median"] <= stats["max"], name
PY'

for arguments in "--runs 0" "--iterations -1" "--memory 12Q" "--memory 100K" "--runs x"; do
    "$bin" bench kvm $arguments >/dev/null 2>"$tmp/err"
    status=$?
    check "bench kvm $arguments: status $status (want 2), $(wc -l <"$tmp/err") stderr lines" '[ "$status" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]'
done

echo "bench-kvm: $passed passed, $failed failed"
[ "$failed" = 0 ]
