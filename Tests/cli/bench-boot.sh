#!/usr/bin/env bash
# `s390pv bench boot`: a short run boots a sealed image, writes JSON with every metric and
# exits 0; bad arguments get one line on stderr and status 2. Needs `make pv-guests`.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; fi; }

"$bin" bench boot --runs 1 --component-mib 2 --json "$tmp/result.json" >"$tmp/out" 2>"$tmp/err"
status=$?
check "exit status $status (want 0): $(tail -1 "$tmp/err")" '[ "$status" = 0 ]'
check "table on stdout" 'grep -q "process start to first console line" "$tmp/out" && grep -q "UNPACK / slower of the two" "$tmp/out"'
check "progress on stderr" 'grep -q "^bench boot: boot run 1/1" "$tmp/err"'
check "JSON has the metrics" 'python3 - "$tmp/result.json" 2>/dev/null <<"PY"
import json, sys
result = json.load(open(sys.argv[1]))
assert result["command"] == "bench boot" and result["parameters"]["component_mib"] == 2
assert result["limits"]["aes_xts_mib_s"]["value"] > 0 and result["limits"]["sha512_mib_s"]["value"] > 0
row = result["results"][0]
for name in ("boot_latency_ms", "unpack_throughput_mib_s"):
    stats = row[name]
    assert len(stats["runs"]) == 1 and 0 < stats["min"] <= stats["median"] <= stats["max"], name
PY'

for arguments in "--runs 0" "--component-mib 0" "--component-mib 5000" "--kernel /nonexistent"; do
    "$bin" bench boot $arguments >/dev/null 2>"$tmp/err"
    status=$?
    check "bench boot $arguments: status $status (want 2), $(wc -l <"$tmp/err") stderr lines" '[ "$status" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]'
done

echo "bench-boot: $passed passed, $failed failed"
[ "$failed" = 0 ]
