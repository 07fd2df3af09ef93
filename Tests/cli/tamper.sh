#!/usr/bin/env bash
# CLI tests of `s390pv tamper` (issue 7 item 3): tampered SE images (header and key-slot bits, IPIB
# bytes, component bits, a wrong host key, truncations, duplicated and reordered components) driven
# through the VMM's PV-IPIB check and ENABLE / SET_SEC_PARMS / UNPACK / VERIFY, in the short (CI)
# mode, as a child process so that a crash is seen as one. With --control the untampered images run
# too: they must boot, and be the only variants that do.
# Long mode (not run here): s390pv tamper --exhaustive [--component-samples N].
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

[ -x "$bin" ] || { echo "tamper cli: $bin missing: run swift build" >&2; exit 1; }

start=$(date +%s)
timeout 300 "$bin" tamper --control --json "$tmp/tamper.json" >"$tmp/out" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
sed -n '/^tamper: [0-9]* images/,$p' "$tmp/out" | grep -v '^    ipib '
[ "$status" = 0 ] && ok || { bad "short mode: status $status"; grep -E 'BOOTED|UNDOCUMENTED|CONTROL|finding' "$tmp/out" | head -20 | sed 's/^/    /'; }
[ "$elapsed" -le 60 ] && ok || bad "short mode took $elapsed s"

# Every class ran and refused all it tried.
for class in header key-slot ipib component wrong-host-key truncate-header truncate-file truncate-component \
             duplicate-ipib reorder-ipib duplicate-unpack omit-unpack reorder-unpack; do
    line=$(grep -E "^  $class: tried" "$tmp/out")
    tried=$(sed -E 's/.*tried ([0-9]+).*/\1/' <<<"$line")
    refused=$(sed -E 's/.*refused ([0-9]+).*/\1/' <<<"$line")
    [ -n "$line" ] && [ "$tried" -gt 0 ] && [ "$tried" = "$refused" ] && ok || bad "class $class: '$line'"
done
# The answers are the documented ones of each layer.
grep -qE '^  header: .*0x108/0x7' "$tmp/out" && ok || bad "header flips not refused by SET_SEC_PARMS (0x108)"
grep -qE '^  wrong-host-key: .*\{0x108/0x5: [0-9]+\}' "$tmp/out" && ok || bad "wrong host key not 0x108/0x5"
grep -qE '^  component: .*\{0x102/0x1b: [0-9]+\}' "$tmp/out" && ok || bad "component bits not 0x102/0x1b"
grep -qE '^  reorder-ipib: .*\{0x402: [0-9]+\}' "$tmp/out" && ok || bad "reordered IPIB entries not 0x402"
grep -qE '^  reorder-unpack: .*0x102/0x1a' "$tmp/out" && ok || bad "reordered UNPACKs not refused at VERIFY (0x102/0x1a)"
grep -qE '^  total: tried [0-9]+, refused [0-9]+, booted 0, undocumented 0' "$tmp/out" && ok || bad "total line"
# Negative control: the untampered images boot through the same path, and only they.
grep -qE '^  control \(untampered\): tried 4, booted 4$' "$tmp/out" && ok || bad "the untampered images did not all boot"
grep -q '^tamper: PASS$' "$tmp/out" && ok || bad "no PASS"
grep -q '"passed": true' "$tmp/tamper.json" && grep -q '"booted": 0,' "$tmp/tamper.json" && grep -q '"controls_booted": 4,' "$tmp/tamper.json" \
    && grep -q '"leaked_uv_configurations": 0,' "$tmp/tamper.json" && ok || bad "--json: $(head -c 400 "$tmp/tamper.json")"

# The harness tells a boot apart: the untampered images slipped in as "tampered" variants must be
# reported as BOOTED (and only they), and fail the run.
"$bin" tamper --self-test-untampered --kernels Guests/build/hello.raw --component-samples 1 >"$tmp/self" 2>&1
status=$?
booted=$(grep -c '^tamper: BOOTED' "$tmp/self")
untampered=$(grep -c '^tamper: BOOTED untampered ' "$tmp/self")
[ "$status" = 1 ] && [ "$booted" = 2 ] && [ "$untampered" = 2 ] && grep -q '^tamper: FAIL$' "$tmp/self" && ok \
    || bad "self-test: status $status, $booted BOOTED ($untampered untampered)"

# Unusable input: status 2.
"$bin" tamper --component-samples -1 >/dev/null 2>&1; [ $? = 2 ] && ok || bad "--component-samples -1 is not refused with status 2"
"$bin" tamper --kernels /nonexistent.raw >/dev/null 2>&1; [ $? = 2 ] && ok || bad "a missing kernel is not refused with status 2"

echo "tamper: $passed passed, $failed failed"
[ "$failed" = 0 ]
