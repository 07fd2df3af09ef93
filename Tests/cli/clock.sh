#!/usr/bin/env bash
# Guest-level test of the VM's clock namespace (issue 6) with Guests/clock.c: the guest TOD carries
# --clock-offset / --clock-epoch from the first instruction, keeps it across reboots (DIAG 308
# subcode 3) and never goes backwards, unprotected and protected, with synchronous and
# asynchronous teardown. Negative controls: without the offset the guest sees the host time (and
# fails its window), and a stored TOD one hour ahead must be caught as "backwards". Also the
# option errors (ERANGE) and the host time namespace (--host-time-namespace: one line, entered
# or a clean fallback). The protected guests are sealed here from Guests/build/clock.raw with
# their expected window in the parmfile.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
elf=Guests/build/clock.elf
raw=Guests/build/clock.raw
key=Guests/build/hostkey/host-key.pem
crt=Guests/build/hostkey/host-key.crt
loaders=Firmware/build/loaders

[ -x "$bin" ] || { echo "clock: $bin missing: run swift build" >&2; exit 1; }
for f in "$elf" "$raw" "$key" "$crt" "$loaders/stage3a.bin" "$loaders/stage3b_reloc.bin"; do
    [ -f "$f" ] || { echo "clock: $f missing: run \`make guests pv-guests\`" >&2; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 why=""
start=$SECONDS
# 2040-01-01T00:00:00Z as Unix seconds, and a 10-minute window after it.
epoch=2208988800 window_end=$((2208988800 + 600))

boot_timeout=30
source Tests/cli/guest-checks.sh

# clean BOOTS: the window held at every boot, never backwards, the summary, EXIT: STATUS=1.
clean() {
    local n=$1 b
    want_status 0
    want_out "clock: boot 1/$n: TOD offset applied: yes"
    for ((b = 2; b <= n; b++)); do
        want_out "clock: boot $b/$n: TOD offset kept: yes"
        want_out "clock: boot $b/$n: never backwards across the reboot: yes"
    done
    want_out "clock: $n boot(s), the TOD never went backwards"
    want_out "EXIT: STATUS=1"
}
seal() {
    printf '%s\n' "$2" >"$tmp/$1.parm"
    "$bin" mkimage --no-component-check --overwrite --loaders "$loaders" -k "$crt" -i "$raw" \
        -p "$tmp/$1.parm" -o "$tmp/$1.img" >"$tmp/out" 2>"$tmp/err" || why+="mkimage $1 failed; "
}
# The offset in seconds that puts the guest clock at 2040-01-01 now (plus a few seconds).
offset_to_epoch() { echo $((epoch - $(date +%s) + 5)); }

# ---- unprotected ----
now=$(date +%s)
boot "$elf" --clock-offset +3600s --append "after=$((now + 3595)) before=$((now + 3700)) reboots=2"
clean 3; want_no_err
verdict "unprotected --clock-offset +3600s: applied from the first instruction, kept across 2 reboots, never backwards"

boot "$elf" --clock-epoch 2040-01-01T00:00:00Z --append "after=$epoch before=$window_end reboots=2"
clean 3; want_no_err
verdict "unprotected --clock-epoch 2040-01-01T00:00:00Z"

boot "$elf" "--clock-offset=-1d" --append "after=$((now - 86400 - 5)) before=$((now - 86400 + 100)) reboots=1"
clean 2; want_no_err
verdict "unprotected --clock-offset=-1d: a negative offset is kept across the reboot"

now=$(date +%s)
boot "$elf" --append "after=$((now + 3595)) reboots=1"
want_status 1; want_out "clock: boot 1/2: TOD offset applied: no"
verdict "negative control: without --clock-offset the guest sees the host time and fails its window"

boot "$elf" --append "reboots=1 backwards=1"
want_status 1; want_out "clock: boot 1/2: rebooting"
grep -qE "^clock: boot 2/2: TOD went backwards by 3[0-9]{9} us across the reboot: FAIL$" "$tmp/out" || why+="no backwards report; "
verdict "negative control: a stored TOD one hour ahead is caught as going backwards"

# ---- option errors ----
boot "$elf" --clock-offset +20000d
want_status 2; want_err "s390pv: --clock-offset is out of range (ERANGE): the guest TOD must stay within epoch 0, 1900-01-01 to 2042-09-17 UTC"
verdict "--clock-offset +20000d (past 2042): ERANGE before the guest runs"
boot "$elf" --clock-epoch 2043-01-01
want_status 2; want_err "s390pv: --clock-epoch is out of range (ERANGE): the guest TOD must stay within epoch 0, 1900-01-01 to 2042-09-17 UTC"
verdict "--clock-epoch 2043-01-01: ERANGE"
boot "$elf" --clock-epoch 1950-06-01T00:00:00Z --append "before=1 reboots=1"
clean 2; want_no_err
verdict "--clock-epoch 1950-06-01 (an offset beyond 71 years, through TOD_EXT): kept across the reboot"
boot "$elf" --clock-offset 1h --clock-epoch @0
want_status 2
grep -q -- "--clock-offset and --clock-epoch exclude each other" "$tmp/err" || why+="no exclusion message; "
verdict "--clock-offset with --clock-epoch: refused"
boot "$elf" --clock-offset 3x
[ "$status" != 0 ] || why+="status 0; "
grep -q "is invalid for '--clock-offset" "$tmp/err" || why+="no parse error; "
verdict "--clock-offset 3x: not a duration"

# ---- protected: sealed with the 2040 window; sync (128M) and async teardown (3G) ----
seal pv "after=$epoch before=$window_end reboots=2"
if [ -z "$why" ]; then
    boot "$tmp/pv.img" --host-key "$key" --clock-epoch "@$epoch"
    clean 3; want_no_err
fi
verdict "protected --clock-epoch @$epoch: kept across 2 protected reboots (synchronous teardown)"
if [ -f "$tmp/pv.img" ]; then
    boot "$tmp/pv.img" --host-key "$key" --clock-offset "$(offset_to_epoch)s" --teardown sync --reboot-report
    clean 3
    grep -qE "^s390pv: reboot 2: synchronous teardown; " "$tmp/err" || why+="stderr lacks the second synchronous reboot; "
fi
verdict "protected --clock-offset, --teardown sync: never backwards"
if [ -f "$tmp/pv.img" ]; then
    boot "$tmp/pv.img" --host-key "$key" --memory 3G --teardown async --reboot-report --clock-offset "$(offset_to_epoch)s"
    clean 3
    grep -qE "^s390pv: reboot 2: asynchronous teardown; " "$tmp/err" || why+="stderr lacks the second asynchronous reboot; "
fi
verdict "protected at 3G --clock-offset, --teardown async: never backwards"
if [ -f "$tmp/pv.img" ]; then
    boot "$tmp/pv.img" --host-key "$key"
    want_status 1; want_out "clock: boot 1/3: TOD offset applied: no"
fi
verdict "protected negative control: without the offset the sealed window fails"

# ---- the host time namespace (enterTimeNamespace): one line, entered or a clean fallback ----
boot "$elf" --clock-offset +100s --host-time-namespace --append "reboots=0"
want_status 0
lines=$(grep -c "^s390pv: host time namespace" "$tmp/err")
[ "$lines" = 1 ] || why+="$lines time-namespace lines (want 1); "
if grep -qE "^s390pv: host time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME \+100 s \(measured \+(99\.9[0-9]{2}|100\.[0-9]{3}) s\)$" "$tmp/err"; then
    ns="entered (CLOCK_MONOTONIC moved by +100 s)"
elif grep -qE "^s390pv: host time namespace not used \(.+\); the guest TOD offset still applies$" "$tmp/err"; then
    ns="fallback: $(sed -n 's/^s390pv: host time namespace not used (\(.*\));.*/\1/p' "$tmp/err")"
else
    why+="unexpected time-namespace line; "
fi
verdict "--host-time-namespace: ${ns:-?}"
if command -v unshare >/dev/null && unshare --user true 2>/dev/null; then
    # In a new user namespace without mapped ids: no CAP_SYS_ADMIN over the time namespace.
    unshare --user "$bin" run "$elf" --timeout 30 --host-key "$key" --clock-offset +100s --host-time-namespace \
        --append "reboots=0" >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
    want_status 0
    [ "$(grep -c "^s390pv: host time namespace" "$tmp/err")" = 1 ] || why+="not exactly one time-namespace line; "
    grep -qE "^s390pv: host time namespace not used \(.+\); the guest TOD offset still applies$" "$tmp/err" || why+="no fallback line; "
    verdict "--host-time-namespace without the capability: one fallback line, the guest runs"
fi

echo "clock: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" = 0 ]
