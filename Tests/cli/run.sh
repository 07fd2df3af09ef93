#!/usr/bin/env bash
# CLI tests: every bad input gets one line on stderr and the documented exit status.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# expect STATUS DESCRIPTION -- ARGS...: runs s390pv, checks the status and a one-line stderr.
expect() {
    local want=$1 what=$2; shift 3
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$? lines; lines=$(wc -l <"$tmp/err")
    if [ "$got" = "$want" ] && { [ "$want" = 0 ] || [ "$lines" = 1 ]; }; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "FAIL: $what: status $got (want $want), stderr:"; sed 's/^/    /' "$tmp/err"
    fi
}

printf 'not an image at all\n' >"$tmp/text"
head -c 100 Guests/build/hello.elf >"$tmp/truncated.elf"
printf '\x00\x0a\x00\x00\x80\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$tmp/wait.bin"
{ printf '\x00\x08\x00\x00\x80\x01\x00\x00'; head -c $((0x10000 - 8)) /dev/zero; printf '\xa7\xf4\x00\x00'; } >"$tmp/loop.bin"

expect 0  "hello boots"             -- run Guests/build/hello.elf
expect 0  "sieve with append"       -- run Guests/build/sieve.elf --append iterations=1
expect 0  "smp on 3 CPUs"           -- run Guests/build/smp.elf --cpus 3 --memory 64M
expect 2  "missing image"           -- run "$tmp/nonexistent.elf"
expect 2  "not an image"            -- run "$tmp/text"
expect 2  "truncated ELF"           -- run "$tmp/truncated.elf"
expect 2  "image larger than memory" -- run Guests/build/sieve.elf --memory 1M
expect 2  "bad size suffix"         -- run Guests/build/hello.elf --memory 12Q
expect 2  "zero CPUs"               -- run Guests/build/hello.elf --cpus 0
expect 2  "negative timeout"        -- run Guests/build/hello.elf --timeout -1
expect 2  "append too long"         -- run Guests/build/hello.elf --append "$(head -c 1000 /dev/zero | tr '\0' x)"
expect 3  "disabled wait"           -- run "$tmp/wait.bin"
expect 4  "timeout"                 -- run "$tmp/loop.bin" --timeout 0.5
expect 2  "disasm of a missing file" -- disasm "$tmp/nonexistent.elf"
expect 0  "disasm"                  -- disasm Guests/build/hello.elf
grep -q 'brasl' "$tmp/out" && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: disasm output lacks brasl"; }
"$bin" run Guests/build/hello.elf --trace >/dev/null 2>"$tmp/trace"
grep -q 'larl' "$tmp/trace" && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: --trace shows no disassembly"; }

# Architecture: the VMM reaches the kernel model only through the ioctl surface.
if grep -hE '^(@testable )?import (KernelModel|KernelABI|S390CPU|RestrictedMemory)$' Sources/VMM/*.swift; then
    failed=$((failed + 1)); echo "FAIL: Sources/VMM imports a module below the ioctl surface"
else
    passed=$((passed + 1))
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
