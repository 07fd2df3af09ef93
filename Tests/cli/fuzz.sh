#!/usr/bin/env bash
# CLI tests of `s390pv fuzz` (issue 7 item 1): the ioctl fuzzer against the reference model of the
# PV state machine, in its short (CI) modes, each in a child process so that a crash is seen as one;
# the seeds of Tests/cli/fuzz-seeds.txt replayed; a minimised sequence replayed with --replay.
# Long mode (not run here): s390pv fuzz --long [--threads N] (10^7 calls).
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
calls=${FUZZ_CALLS:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 crashes=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# fuzz WHAT ARGS...: runs the fuzzer as a child; status 0 passes, 1 is a reported failure,
# a signal (> 128) or a timeout is a crash or hang of the emulator.
fuzz() {
    local what=$1; shift
    timeout 900 "$bin" fuzz "$@" >"$tmp/out" 2>&1
    local status=$?
    if [ "$status" = 0 ]; then ok; return; fi
    [ "$status" -gt 128 ] || [ "$status" = 124 ] && crashes=$((crashes + 1))
    bad "$what: status $status"; grep -E 'DISAGREEMENT|INVARIANT|LEAK|HANG|leaked|hangs|^\{' "$tmp/out" | head -40 | sed 's/^/    /'
}

fuzz "single-threaded, $calls calls" --calls "$calls" --json "$tmp/fuzz.json"
sed -n '/^fuzz: seed/,$p' "$tmp/out"
grep -q '"disagreements": 0,' "$tmp/fuzz.json" && grep -q '"passed": true' "$tmp/fuzz.json" && ok || bad "--json: $(cat "$tmp/fuzz.json")"
fuzz "concurrent, 4 threads" --threads 4 --calls "$calls"
sed -n '/^fuzz: seed/,$p' "$tmp/out"

# Reproducible by seed: the same seed gives the same calls and outcomes.
"$bin" fuzz --seed 42 --calls 2000 --coverage 2>&1 | grep '^fuzz: coverage' >"$tmp/a"
"$bin" fuzz --seed 42 --calls 2000 --coverage 2>&1 | grep '^fuzz: coverage' >"$tmp/b"
[ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b" && ok || bad "seed 42 is not reproducible"
# The model has something to check: PREPARE and PERFORM succeed and fail, from every state.
for outcome in 'ASYNC_CLEANUP_PREPARE P -> 0' 'ASYNC_CLEANUP_PREPARE P+aside -> EINVAL' 'ASYNC_CLEANUP_PERFORM N+aside -> 0' \
               'ASYNC_CLEANUP_PERFORM N -> EINVAL' 'ENABLE N+aside -> 0' 'DISABLE P0 -> 0'; do
    grep -q "coverage $outcome:" "$tmp/a" && ok || bad "2000 calls never met $outcome"
done

# Kept seeds.
while read -r seed seedcalls; do
    case "$seed" in ''|'#'*) continue ;; esac
    fuzz "seed $seed" --seed "$seed" --calls "${seedcalls:-5000}"
done <Tests/cli/fuzz-seeds.txt

# A minimised sequence as the fuzzer prints it, replayed: a 2 GiB + 1 MiB VM protected, then read
# with the absolute MEM_OP (the known deviation, reported but not failing), then PREPARE twice.
cat >"$tmp/sequence" <<'SEQ'
{"createVM":{"layout":4,"slot":1}}
{"createVCPU":{"id":0,"slot":1}}
{"pv":{"call":{"at":{"normal":{}},"cmd":0,"data":{"raw":{"_0":0}},"flags":0,"rc":19087,"reserved":3220202066,"rrc":60591},"slot":1}}
{"memRead":{"gaddr":1333643890,"size":743,"slot":1}}
{"pv":{"call":{"at":{"normal":{}},"cmd":9,"data":{"raw":{"_0":0}},"flags":0,"rc":7,"reserved":0,"rrc":7},"slot":1}}
{"pv":{"call":{"at":{"normal":{}},"cmd":0,"data":{"raw":{"_0":0}},"flags":0,"rc":7,"reserved":0,"rrc":7},"slot":1}}
{"pv":{"call":{"at":{"normal":{}},"cmd":9,"data":{"raw":{"_0":0}},"flags":0,"rc":7,"reserved":0,"rrc":7},"slot":1}}
{"pv":{"call":{"at":{"normal":{}},"cmd":10,"data":{"raw":{"_0":0}},"flags":0,"rc":7,"reserved":0,"rrc":7},"slot":1}}
{"closeVM":{"slot":1}}
SEQ
fuzz "--replay of a minimised sequence" --replay "$tmp/sequence" --json "$tmp/replay.json"
grep -q '"known_deviations": 1,' "$tmp/replay.json" && ok || bad "--replay: $(cat "$tmp/replay.json")"

# Self-test: a deliberately wrong model (PREPARE's rrc 43) must be caught, minimised to a short
# sequence, and that sequence must fail again on replay with the wrong model, pass with the right one.
"$bin" fuzz --calls 3000 --seed 7 --mutate-model >"$tmp/mutated" 2>&1
status=$?
[ "$status" = 1 ] && grep -q 'DISAGREEMENT seed 7 .*ASYNC_CLEANUP_PREPARE' "$tmp/mutated" && ok || bad "the mutated model was not caught (status $status)"
sed -n '/^fuzz: minimal sequence/,/^fuzz: seed/p' "$tmp/mutated" | grep '^{' >"$tmp/minimal"
length=$(wc -l <"$tmp/minimal")
[ "$length" -ge 2 ] && [ "$length" -le 5 ] && ok || bad "minimal sequence of $length ops: $(cat "$tmp/minimal")"
"$bin" fuzz --replay "$tmp/minimal" --mutate-model >/dev/null 2>&1; [ $? = 1 ] && ok || bad "the minimal sequence does not fail on replay"
"$bin" fuzz --replay "$tmp/minimal" >/dev/null 2>&1; [ $? = 0 ] && ok || bad "the minimal sequence fails with the right model"

# Unusable input: status 2.
"$bin" fuzz --calls 0 >/dev/null 2>&1; [ $? = 2 ] && ok || bad "--calls 0 is not refused with status 2"
"$bin" fuzz --threads -1 >/dev/null 2>&1; [ $? = 2 ] && ok || bad "--threads -1 is not refused with status 2"

echo "fuzz: $passed passed, $failed failed, $crashes crashes or hangs"
[ "$failed" = 0 ]
