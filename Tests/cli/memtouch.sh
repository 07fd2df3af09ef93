#!/usr/bin/env bash
# Guest-level test: nothing of a guest's memory survives a reboot (DIAG 308 subcode 3), run with
# Guests/memtouch.c unprotected (the ELF) and protected (memtouch-pv.img, `make pv-guests`).
# Negative controls prove the scan sees the pattern: selfcheck=1 scans right after writing (finds
# every byte), keepmem=1 reboots with subcode 1, which keeps memory (the next boot finds the whole
# pattern and the guest fails). The protected controls are sealed here from Guests/build/memtouch.raw
# for the test host key, as `make pv-guests` seals memtouch-pv.img.
# Each check asserts the exit status, the console lines (stdout) and an empty stderr where clean.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
elf=Guests/build/memtouch.elf
pv=Guests/build/memtouch-pv.img
raw=Guests/build/memtouch.raw
key=Guests/build/hostkey/host-key.pem
crt=Guests/build/hostkey/host-key.crt
loaders=Firmware/build/loaders

[ -x "$bin" ] || { echo "memtouch: $bin missing: run swift build" >&2; exit 1; }
for f in "$elf" "$pv" "$raw" "$key" "$crt" "$loaders/stage3a.bin" "$loaders/stage3b_reloc.bin"; do
    [ -f "$f" ] || { echo "memtouch: $f missing: run \`make guests pv-guests\`" >&2; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 why=""
start=$SECONDS

boot_timeout=25
source Tests/cli/guest-checks.sh

# clean_reboots BOOTS: every boot after the first found 0 bytes, the summary, EXIT: STATUS=1.
clean_reboots() {
    local n=$1 b
    want_status 0; want_no_err
    for ((b = 2; b <= n; b++)); do
        want_out_re "boot $b/$n: previous boot's pattern found: 0 bytes \(scanned [0-9]+ [KM]iB\)"
    done
    want_count_re "previous boot's pattern found" $((n - 1))
    want_count_re "^boot [0-9]+/$n: wrote [0-9]+ [KM]iB of pattern, rebooting$" $((n - 1))
    want_out "memtouch: $n boot(s), $((n - 1)) scan(s) after a reboot, 0 bytes of an earlier boot's pattern found"
    want_out "EXIT: STATUS=1"
}
# seal NAME PARMS: a protected memtouch with this command line, as `make pv-guests` builds one.
seal() {
    printf '%s\n' "$2" >"$tmp/$1.parm"
    "$bin" mkimage --no-component-check --overwrite --loaders "$loaders" -k "$crt" -i "$raw" \
        -p "$tmp/$1.parm" -o "$tmp/$1.img" >"$tmp/out" 2>"$tmp/err" || why+="mkimage $1 failed; "
}

# ---- unprotected: the re-IPL punches all memory ----
boot "$elf" --memory 32M --append "mem=8M reboots=2"
want_out_re "memtouch: storage 32 MiB, touching 8 MiB at 0x[0-9a-f]+, 2 reboot\(s\)"
clean_reboots 3
verdict "unprotected: 2 reboots, no pattern survives"

boot "$elf" --memory 16M --append "mem=1M reboots=0 selfcheck=1"
want_status 0; want_no_err
want_out_re "self-check: pattern found: 1048576 of 1048576 bytes \(scanned [0-9]+ [KM]iB\)"
want_out "EXIT: STATUS=1"
verdict "unprotected negative control: the scan finds all of a pattern just written"

boot "$elf" --memory 16M --append "mem=1M reboots=1 keepmem=1"
want_status 1
want_out_re "boot 2/2: previous boot's pattern found: 1048576 bytes \(scanned [0-9]+ [KM]iB\)"
want_out "memtouch: 32768 record(s) survived, 32768 of boot 1: FAIL"
want_out "EXIT: STATUS=3"
verdict "unprotected negative control: a reboot that keeps memory (subcode 1) is caught"

# ---- protected: the re-IPL tears the secure configuration down and boots the SE image again ----
boot "$pv" --memory 40M --host-key "$key"
want_out_re "memtouch: storage 40 MiB, touching 32 MiB at 0x[0-9a-f]+, 3 reboot\(s\)"
clean_reboots 4
verdict "protected (memtouch-pv.img, mem=32M reboots=3): no pattern survives"

seal selfcheck "mem=1M reboots=1 selfcheck=1"
[ -z "$why" ] && boot "$tmp/selfcheck.img" --memory 16M --host-key "$key"
if [ -z "$why" ]; then
    want_count_re "^self-check: pattern found: 1048576 of 1048576 bytes \(scanned [0-9]+ [KM]iB\)$" 2
    clean_reboots 2
fi
verdict "protected negative control: the scan finds all of a pattern just written, then 0 after a reboot"

seal keepmem "mem=1M reboots=1 keepmem=1"
[ -z "$why" ] && boot "$tmp/keepmem.img" --memory 16M --host-key "$key"
if [ -z "$why" ]; then
    want_status 1
    want_out_re "boot 2/2: previous boot's pattern found: 1048576 bytes \(scanned [0-9]+ [KM]iB\)"
    want_out "memtouch: 32768 record(s) survived, 32768 of boot 1: FAIL"
    want_out "EXIT: STATUS=3"
fi
verdict "protected negative control: a reset that keeps secure memory (subcode 1) is caught"

# ---- protected above 2 GiB: reboots go through KVM_PV_ASYNC_CLEANUP_PREPARE and an async_cleanup
# thread; only the touched range is scanned (a full 3 GiB scan is slow in a debug build) ----
seal async "mem=16M reboots=2 scan=touched"
[ -z "$why" ] && boot "$tmp/async.img" --memory 3G --teardown async --reboot-report --host-key "$key"
if [ -z "$why" ]; then
    want_status 0
    want_count_re "previous boot's pattern found: 0 bytes" 2
    grep -qE "^s390pv: reboot 2: asynchronous teardown; protected guest running again after [0-9.]+ ms; old configuration destroyed after [0-9.]+ ms$" "$tmp/err" \
        || why+="stderr lacks the second asynchronous reboot; "
fi
verdict "protected at 3G: asynchronous teardown at every reboot, no pattern survives"

echo "memtouch: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" = 0 ]
