#!/usr/bin/env bash
# CLI tests of `s390pv isolation` (issue 7 item 2): a protected guest (Guests/secret.c) writes a
# secret from a seed sealed in its encrypted parmfile; at its re-IPL the harness tries every path a
# VMM has (absolute and logical MEM_OP, SIDA, PV dump, registers, the guest_memfd descriptors), then
# reads what holds guest RAM after both teardown paths, and the rebooted guest looks in place. Short
# mode with the negative controls (the same guest unprotected: the reads find the secret; protected
# with a reboot that keeps memory: the guest finds it), run as a child so that a crash is seen as one.
# Also the fixed-seed image from `make pv-guests` through `s390pv run`, and unusable input.
# Long mode (not run here): s390pv isolation --long --control (5 rounds per path, 64 MiB secret in 4 GiB).
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
key=Guests/build/hostkey/host-key.pem
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

[ -x "$bin" ] || { echo "isolation cli: $bin missing: run swift build" >&2; exit 1; }
for f in Guests/build/secret.raw Guests/build/secret.elf Guests/build/secret-pv.img "$key"; do
    [ -f "$f" ] || { echo "isolation cli: $f missing: run \`make guests pv-guests\`" >&2; exit 1; }
done

# check_trial LABEL: every VMM path of that trial tried something and found 0 bytes of the secret.
check_trial() {
    local label=$1 block
    block=$(sed -n "/^isolation: $label (/,/^isolation: /p" "$tmp/out")
    [ -n "$block" ] || { bad "no trial '$label'"; return; }
    grep -qE '^  KVM_S390_MEM_OP absolute read, every page: tried [1-9][0-9]*, refused [0-9]+ \(EINVAL [0-9]+\), bytes returned 0, secret bytes found 0$' <<<"$block" \
        && ok || bad "$label: absolute MEM_OP not all EINVAL: $(grep absolute <<<"$block")"
    local path
    for path in 'KVM_S390_MEM_OP logical read' 'KVM_S390_MEMOP_SIDA_READ' 'KVM_PV_DUMP' 'registers' 'guest_memfd read/pread/mmap' \
                'after teardown: /proc/self/mem' 'after teardown: the backing files' 'after the VM is gone'; do
        grep -qE "^  $path.*: tried [0-9]+, .*secret bytes found 0$" <<<"$block" && ok || bad "$label: $path: $(grep -F "  $path" <<<"$block")"
    done
    grep -qxF "  the rebooted guest's scan in place: 0 bytes" <<<"$block" && ok || bad "$label: the rebooted guest's scan"
    grep -q PROBLEM <<<"$block" && bad "$label: $(grep PROBLEM <<<"$block")" || ok
}

timeout 600 "$bin" isolation --control --json "$tmp/isolation.json" >"$tmp/out" 2>&1
status=$?
[ "$status" = 0 ] && ok || { bad "short mode: status $status"; grep -E 'PROBLEM|FAIL|rror' "$tmp/out" | head -20 | sed 's/^/    /'; }
grep -E '^isolation: [0-9]+ protected' "$tmp/out"
check_trial 'protected, sync teardown'
check_trial 'protected, async teardown'
# Negative controls: the same reads find an unprotected guest's secret (all of it through the
# absolute MEM_OP, some in the registers), and a protected guest rebooted with memory kept finds it.
control=$(sed -n '/^isolation: control: unprotected/,/^isolation: /p' "$tmp/out")
grep -qE '^  KVM_S390_MEM_OP absolute read, every page: .*secret bytes found 1048576$' <<<"$control" && ok || bad "unprotected control: $(grep absolute <<<"$control")"
grep -qE '^  registers.*secret bytes found [1-9][0-9]*$' <<<"$control" && ok || bad "unprotected control: registers showed nothing"
grep -qxF "  the rebooted guest's scan in place: 1048576 bytes" "$tmp/out" && ok || bad "keepmem control: the guest did not find its secret"
grep -q '"secret_bytes_found": 0,' "$tmp/isolation.json" && grep -q '"passed": true' "$tmp/isolation.json" && ok || bad "--json: $(cat "$tmp/isolation.json")"

# The sealed fixed-seed image boots and reboots protected through `s390pv run`.
"$bin" run Guests/build/secret-pv.img --host-key "$key" --memory 64M --timeout 60 >"$tmp/run" 2>&1
status=$?
[ "$status" = 0 ] && grep -qxF 'secret: boot 1/2: 1048576 bytes written at 0x58000, rebooting' "$tmp/run" \
    && grep -qxF 'secret: boot 2/2: secret found in place: 0 bytes' "$tmp/run" && ok || bad "run secret-pv.img: status $status: $(head -c 300 "$tmp/run")"

# Unusable input: status 2 and one line.
for args in "--rounds 0" "--teardown sideways" "--memory 1G" "--secret-size 3G --memory 2304M" "--kernel /nonexistent"; do
    # shellcheck disable=SC2086
    "$bin" isolation $args >"$tmp/bad" 2>&1
    status=$?
    [ "$status" = 2 ] && [ "$(wc -l <"$tmp/bad")" -le 3 ] && ok || bad "isolation $args: status $status: $(head -c 200 "$tmp/bad")"
done

echo "isolation: $passed passed, $failed failed"
[ "$failed" = 0 ]
