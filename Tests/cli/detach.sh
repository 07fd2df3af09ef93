#!/usr/bin/env bash
# CLI tests of detached VMs (issue 6 item 2): run --detach, ps, kill, wait, console, rm, all
# through pidfds; a record whose pid now belongs to another process is never signalled.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d)
export S390PV_STATE_DIR=$tmp/state
sleeper=
cleanup() {
    # Anything of ours still running (only through our own records and pids).
    [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
    for vm in loop killed; do "$bin" kill "$vm" --signal KILL >/dev/null 2>&1; done
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect STATUS DESCRIPTION -- ARGS...: runs s390pv, checks the status and, for status 1 or 2
# (s390pv's own refusals), a one-line stderr; other statuses are the VM's, passed on by wait.
expect() {
    local want=$1 what=$2; shift 3
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$? lines; lines=$(wc -l <"$tmp/err")
    if [ "$got" = "$want" ] && { [ "$want" != 1 ] && [ "$want" != 2 ] || [ "$lines" = 1 ]; }; then ok
    else bad "$what: status $got (want $want), stderr:"; sed 's/^/    /' "$tmp/err"; fi
}
# state NAME: the STATE column of ps for NAME.
state() { "$bin" ps | awk -v n="$1" '$1 == n { print $3 }'; }

printf '\x00\x08\x00\x00\x80\x01\x00\x00' >"$tmp/loop.bin"
{ head -c $((0x10000 - 8)) /dev/zero; printf '\xa7\xf4\x00\x00'; } >>"$tmp/loop.bin"

# A guest that runs a few seconds: listed as running, waited for, its console shown.
expect 0 "detach sieve" -- run --detach --name sieve Guests/build/sieve.elf --append iterations=1
read -r name pid <"$tmp/out"
[ "$name" = sieve ] && [ "$pid" -gt 1 ] 2>/dev/null && ok || bad "run --detach printed '$(cat "$tmp/out")'"
[ "$(state sieve)" = running ] && ok || bad "ps does not show sieve running: $("$bin" ps)"
"$bin" ps --json | grep -q '"state" : "running"' && ok || bad "ps --json lacks the running state"
expect 2 "same name while running" -- run --detach --name sieve Guests/build/hello.elf
expect 0 "wait sieve" -- wait sieve
[ "$(state sieve)" = "exited(0)" ] && ok || bad "ps after wait: $("$bin" ps)"
"$bin" console sieve | grep -q '^primes: 78498' && ok || bad "console lacks the sieve output"
expect 0 "wait again after the end" -- wait sieve
expect 1 "kill an exited VM" -- kill sieve
grep -q 'already exited' "$tmp/err" && ok || bad "kill of an exited VM: $(cat "$tmp/err")"

# SIGTERM through the pidfd ends a running VM with 128+15; console --follow ends with it.
expect 0 "detach loop" -- run --detach --name loop "$tmp/loop.bin" --timeout 60
"$bin" console loop --follow >"$tmp/follow" 2>&1 &
follower=$!
sleep 0.5
expect 0 "kill loop" -- kill loop
expect 143 "wait returns 128+SIGTERM" -- wait loop
grep -q 'terminated by signal 15' "$S390PV_STATE_DIR/loop.log" && ok || bad "console log lacks the termination line"
for _ in $(seq 20); do kill -0 $follower 2>/dev/null || break; sleep 0.1; done
if kill -0 $follower 2>/dev/null; then bad "console --follow still running after the VM ended"; kill $follower; else ok; fi
grep -q 'terminated by signal 15' "$tmp/follow" && ok || bad "console --follow missed the last line"
expect 1 "kill a VM already gone" -- kill loop --signal INT

# SIGKILL leaves nothing but a record ps marks as gone; wait and kill say so.
expect 0 "detach killed" -- run --detach --name killed "$tmp/loop.bin" --timeout 60
expect 0 "kill -9 by number" -- kill killed --signal 9
for _ in $(seq 50); do [ "$(state killed)" = gone ] && break; sleep 0.1; done
[ "$(state killed)" = gone ] && ok || bad "ps after SIGKILL: $("$bin" ps)"
expect 1 "wait after SIGKILL" -- wait killed
expect 1 "kill a gone VM" -- kill killed
grep -q "is gone" "$tmp/err" && ok || bad "kill of a gone VM: $(cat "$tmp/err")"

# A recycled pid: the record of an ended VM edited to point at a live process of ours, start
# identity kept. ps reports it gone, kill and wait refuse, the process lives on.
sleep 30 &
sleeper=$!
sed -e "s/\"pid\" : [0-9]*/\"pid\" : $sleeper/" -e 's/"name" : "killed"/"name" : "recycled"/' \
    "$S390PV_STATE_DIR/killed.json" >"$S390PV_STATE_DIR/recycled.json"
grep -q "\"pid\" : $sleeper" "$S390PV_STATE_DIR/recycled.json" && ok || bad "could not edit the record"
[ "$(state recycled)" = gone ] && ok || bad "ps shows the recycled record as $(state recycled)"
"$bin" ps | grep recycled | grep -q 'another process' && ok || bad "ps does not say the pid was recycled"
"$bin" ps --json | grep -q '"state" : "gone"' && ok || bad "ps --json lacks the gone state"
expect 1 "kill a recycled pid" -- kill recycled --signal KILL
expect 1 "wait on a recycled pid" -- wait recycled
kill -0 "$sleeper" 2>/dev/null && ok || bad "the process behind the recycled pid was signalled"

# rm removes dead records only.
expect 0 "detach for rm" -- run --detach --name busy "$tmp/loop.bin" --timeout 60
expect 1 "rm a running VM" -- rm busy
"$bin" kill busy --signal KILL; "$bin" wait busy 2>/dev/null
expect 0 "rm a dead VM" -- rm busy
[ ! -e "$S390PV_STATE_DIR/busy.json" ] && [ ! -e "$S390PV_STATE_DIR/busy.log" ] && ok || bad "rm left files"

# Unusable input: one line, status 2.
expect 2 "bad name" -- run --detach --name 'bad/name' Guests/build/hello.elf
expect 2 "empty name" -- run --detach --name '' Guests/build/hello.elf
expect 2 "name too long" -- run --detach --name "$(head -c 65 /dev/zero | tr '\0' a)" Guests/build/hello.elf
expect 2 "missing image" -- run --detach --name nope "$tmp/nonexistent.elf"
expect 2 "unknown VM" -- wait nosuchvm
expect 2 "unknown VM for kill" -- kill nosuchvm
expect 2 "bad signal" -- kill sieve --signal NOPE
expect 2 "signal out of range" -- kill sieve --signal 99
expect 2 "bad name for console" -- console '../x'
expect 2 "missing name" -- kill

echo "detach: $passed passed, $failed failed"
[ "$failed" = 0 ]
