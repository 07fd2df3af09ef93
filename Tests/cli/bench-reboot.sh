#!/usr/bin/env bash
# `s390pv bench reboot`: a short run (3 GiB guests, 16 MiB touched, sync and async with one
# worker, one run) prints its table and target checks, writes JSON with every metric and an SVG
# plot, and exits 0; bad arguments get one line on stderr and status 2. Needs `make pv-guests`
# (Guests/build/memtouch.raw) and the loaders.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
start=$SECONDS
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; fi; }

"$bin" bench reboot --memory 3G --mode sync,async --workers 1 --runs 1 --touch 16M \
    --json "$tmp/result.json" --plot "$tmp/plot.svg" >"$tmp/out" 2>"$tmp/err"
status=$?
check "exit status $status (want 0): $(tail -1 "$tmp/err")" '[ "$status" = 0 ]'
check "table header on stdout" 'grep -q "^memory  mode   workers  path   latency ms" "$tmp/out"'
check "sync row (path sync)" 'grep -qE "^ +3G  sync +- +sync " "$tmp/out"'
check "async row (path async above 2 GiB)" 'grep -qE "^ +3G  async +1 +async " "$tmp/out"'
check "limits and targets on stdout" 'grep -q "punch-hole (whole file)" "$tmp/out" && grep -q "memset of resident pages" "$tmp/out" && grep -q "^targets:" "$tmp/out" && grep -q "final RSS" "$tmp/out"'
check "progress with ETA on stderr" 'grep -q "^bench reboot: \[1/2\] 3G sync, run 1/1" "$tmp/err" && grep -q "^bench reboot: \[2/2\] 3G async workers=1, run 1/1, ETA" "$tmp/err"'
check "JSON has the metrics" 'python3 - "$tmp/result.json" 2>"$tmp/py" <<"PY"
import json, sys
result = json.load(open(sys.argv[1]))
assert result["command"] == "bench reboot" and result["parameters"]["runs"] == 1, "header"
for name in ("punch_gib_s", "memset_gib_s"):
    assert result["limits"][name]["value"] > 0 and result["limits"][name]["unit"] == "GiB/s", name
rows = result["results"]
assert [(r["mode"], r["path"], r["workers"]) for r in rows] == [("sync", "sync", None), ("async", "async", 1)], rows
for row in rows:
    assert row["memory_bytes"] == 3 << 30 and row["touched_bytes"] == 16 << 20, row
    for name in ("latency_ms", "teardown_ms", "throughput_gib_s", "rss_peak_bytes", "rss_final_bytes", "rss_baseline_bytes"):
        stats = row[name]
        assert len(stats["runs"]) == 1 and 0 < stats["min"] <= stats["median"] <= stats["max"], name
    assert row["teardown_ms"]["median"] > 0 and row["rss_peak_bytes"]["median"] >= row["rss_baseline_bytes"]["median"], row
assert "rss_final_vs_baseline" in result["targets"], result["targets"]
PY'
[ -s "$tmp/py" ] && sed 's/^/    /' "$tmp/py"
check "SVG plot written" 'head -c 200 "$tmp/plot.svg" | grep -q "<svg" && grep -q "<polyline" "$tmp/plot.svg" && grep -q "async, 1 worker" "$tmp/plot.svg" && tail -1 "$tmp/plot.svg" | grep -q "</svg>"'

for arguments in "--runs 0" "--memory 0" "--memory 1G,x" "--memory 64M" "--memory 1G,1G" "--mode fast" "--mode auto" \
                 "--workers 0" "--workers 1,a" "--touch 2G --memory 1G" "--kernel /nonexistent" "--json /nonexistent/r.json"; do
    "$bin" bench reboot $arguments >/dev/null 2>"$tmp/err"
    status=$?
    check "bench reboot $arguments: status $status (want 2), $(wc -l <"$tmp/err") stderr lines" '[ "$status" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]'
done

echo "bench-reboot: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" = 0 ]
