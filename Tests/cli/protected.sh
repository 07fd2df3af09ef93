#!/usr/bin/env bash
# CLI tests of protected (Secure Execution) boots, spec se-image-format §5-§8: the images of
# `make pv-guests` boot protected for the test host key; a wrong host key, a tampered SE header,
# tampered components or IPIB, and truncated images are refused, by stage3a's documented disabled
# waits (0x3a0030: DIAG 308 subcode 8 refused, 0x3a0040: subcode 10 returned; exit 3) or by the CLI
# (exit 2, one line) - never booted, never another crash, never a timeout. Also `s390pv info`.
# Each check asserts the exit status, console lines (stdout) and the stderr reasons.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
hello=Guests/build/hello-pv.img
uvguest=Guests/build/uv-guest-pv.img
key=Guests/build/hostkey/host-key.pem

[ -x "$bin" ] || { echo "protected cli: $bin missing: run swift build" >&2; exit 1; }
for f in "$hello" "$uvguest" "$key"; do
    [ -f "$f" ] || { echo "protected cli: $f missing: run \`make pv-guests\`" >&2; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 why=""

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# ---- running s390pv and judging its output ----

# boot IMAGE [ARGS...]: `s390pv run IMAGE ARGS`, stdout/stderr in $tmp/out, $tmp/err, status in $status.
boot() {
    local image=$1; shift
    "$bin" run "$image" --timeout 20 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
}
# Each want_* adds to $why when the last run differs; verdict WHAT reports and resets.
want_status() { [ "$status" = "$1" ] || why+="status $status (want $1); "; }
want_out() { grep -qF -- "$1" "$tmp/out" || why+="stdout lacks '$1'; "; }
want_out_re() { grep -qE -- "$1" "$tmp/out" || why+="stdout lacks /$1/; "; }
want_no_out() { ! grep -qF -- "$1" "$tmp/out" || why+="stdout has '$1'; "; }
want_err() { grep -qF -- "$1" "$tmp/err" || why+="stderr lacks '$1'; "; }
want_err_lines() { local n; n=$(wc -l <"$tmp/err"); [ "$n" = "$1" ] || why+="$n stderr lines (want $1); "; }
want_err_last_re() { tail -n 1 "$tmp/err" | grep -qE -- "$1" || why+="last stderr line not /$1/; "; }
verdict() {
    if [ -z "$why" ]; then
        pass "$1"
    else
        fail "$1: $why"
        sed 's/^/    out: /' "$tmp/out" | head -n 6; sed 's/^/    err: /' "$tmp/err" | head -n 6
    fi
    why=""
}

# booted WHAT: a clean protected boot (exit 0, nothing on stderr).
booted() { want_status 0; want_err_lines 0; }

wait_3a30='disabled wait, PSW 0002000180000000 00000000003a0030$'
wait_3a40='disabled wait, PSW 0002000180000000 00000000003a0040$'
# refused KIND: the last boot was refused and never ran the guest. KIND:
#   ssc         SET_SEC_PARMS failed (any rc/rrc), stage3a stops at 0x3a0040
#   verify:RRC  VERIFY failed with rc 0x102 rrc 0xRRC, stage3a stops at 0x3a0040
#   ipib        DIAG 308 subcode 8 answered 0x402 (invalid IPIB), stage3a stops at 0x3a0030
#   any         one of the above
refused() {
    want_status 3
    want_no_out "Hello from"; want_no_out "protected=yes"; want_no_out "uv-guest:"
    case $1 in
    ssc)
        want_out_re '^Secure Execution: SET_SEC_PARMS failed: rc 0x[0-9a-f]+ rrc 0x[0-9a-f]+: '
        want_out "Secure Execution: cannot boot the protected image (DIAG 308 subcode 10 response 0x0002"
        want_err "s390pv: KVM PV command 2 (KVM_PV_SET_SEC_PARMS) failed: "
        want_err "s390pv: Failed to set secure execution parameters"
        want_err_last_re "$wait_3a40" ;;
    verify:*)
        want_out "Secure Execution: VERIFY failed: rc 0x102 rrc 0x${1#verify:}: "
        want_out "Secure Execution: cannot boot the protected image (DIAG 308 subcode 10 response 0x0004"
        want_err "s390pv: KVM PV command 4 (KVM_PV_VERIFY) failed: header rc 102 rrc ${1#verify:} "
        want_err_last_re "$wait_3a40"; want_err_lines 2 ;;
    ipib)
        want_out "Secure Execution: setting the PV IPL block failed: DIAG 308 subcode 8 response 0x402"
        want_err_last_re "$wait_3a30"; want_err_lines 1 ;;
    any)
        if grep -qF "DIAG 308 subcode 8 response" "$tmp/out"; then refused ipib
        elif grep -qF "SET_SEC_PARMS failed" "$tmp/out"; then refused ssc
        else
            want_out_re '^Secure Execution: (UNPACK|VERIFY) failed: rc 0x[0-9a-f]+ rrc 0x[0-9a-f]+: '
            grep -qE -- 'KVM PV command [34] ' "$tmp/err" || why+="stderr lacks /KVM PV command [34] /; "
            want_err_last_re "$wait_3a40"
        fi ;;
    esac
}

# ---- reading and editing image copies ----

# u64/u32 FILE OFFSET: big-endian value, decimal.
u64() { echo $((16#$(od -An -tx1 -v -j "$2" -N 8 "$1" | tr -d ' \n'))); }
u32() { echo $((16#$(od -An -tx1 -v -j "$2" -N 4 "$1" | tr -d ' \n'))); }
# put FILE OFFSET VALUE WIDTH: writes VALUE big-endian in WIDTH bytes.
put() {
    local s="" i
    for ((i = $4 - 1; i >= 0; i--)); do s+=$(printf '\\%03o' $(( ($3 >> (8 * i)) & 255 ))); done
    printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# xor FILE OFFSET [MASK]: flips bits of one byte (default 0x01).
xor() { put "$1" "$2" $(( $(od -An -tu1 -j "$2" -N 1 "$1") ^ ${3:-1} )) 1; }
# copy NAME: a fresh copy of hello-pv.img in $tmp, printed.
copy() { cp "$hello" "$tmp/$1.img"; echo "$tmp/$1.img"; }

# Layout (spec §5, §6): metadata at 0xC000 ("SeImgLnx", hdr_off u64 at +8, ipib_off u64 at +20).
if [ "$(head -c $((0xC008)) "$hello" | tail -c 8)" != SeImgLnx ]; then
    echo "protected cli: $hello has no SeImgLnx metadata at 0xC000" >&2; exit 1
fi
hdr=$(u64 "$hello" $((0xC008)))
ipib=$(u64 "$hello" $((0xC014)))
sehs=$(u32 "$hello" $((hdr + 0xC)))
nks=$(u64 "$hello" $((hdr + 0x20)))
sea=$(u64 "$hello" $((hdr + 0x28)))
ncomp=$(u32 "$hello" $((ipib + 0x74)))
comp() { echo $((ipib + 0x88 + 24 * $1)); }    # IPIB entry i: tweak_pref, addr, len
# stage3a_args (last 24 bytes of stage3a: hdr_offs, hdr_size, ipib_offs, relative to themselves):
# stage3a patches the IPIB's header address and size from them.
args=$(python3 - "$hello" "$hdr" "$sehs" "$ipib" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
hdr, sehs, ipib = (int(a) for a in sys.argv[2:5])
for p in range(0x10000, 0x13000 - 23):
    o, s, i = struct.unpack('>QQQ', data[p:p + 24])
    if s == sehs and (p + o) % 2**64 == hdr and (p + i) % 2**64 == ipib:
        print(p)
        break
EOF
)
if [ -z "$args" ] || [ "$ncomp" -lt 2 ]; then
    echo "protected cli: unexpected layout of $hello (stage3a args '$args', $ncomp components)" >&2; exit 1
fi

# ---- 1, 2: the images boot protected ----

boot "$hello" --host-key "$key"
booted; want_out "Hello from s390pv guest!"; want_out "command line: protected=yes"
verdict "hello-pv.img boots protected"

boot "$uvguest" --host-key "$key"
booted; want_no_out "FAIL:"; want_out "uv-guest: 0 failures"
want_out "PASS: UV-call facility (158) installed"
want_out "PASS: subcode 1: resumed at the PSW stored at absolute 0"
want_out "PASS: subcode 1: still protected: QUI cc 0 rc 0x1 lists SET/REMOVE_SHARED_ACCESS"
want_out "PASS: DIAG 308 subcode 10 in PV: program interruption 0x06 (expected 0x06)"
[ "$(grep -c '^PASS: ' "$tmp/out")" -ge 30 ] || why+="only $(grep -c '^PASS: ' "$tmp/out") PASS lines; "
verdict "uv-guest-pv.img: all PASS, 0 failures"

# ---- 3: a host key the image was not sealed for ----

"$bin" hostkey create "$tmp/otherhost" >/dev/null 2>&1
boot "$hello" --host-key "$tmp/otherhost/host-key.pem"
refused ssc
want_out "Secure Execution: SET_SEC_PARMS failed: rc 0x108 rrc 0x5: no key slot matches this host's key"
want_err "s390pv: KVM PV command 2 (KVM_PV_SET_SEC_PARMS) failed: header rc 108 rrc 5 "
want_err "s390pv: Please check whether the image is correctly encrypted for this host"
verdict "wrong host key: SET_SEC_PARMS rc 0x108 rrc 0x5, disabled wait 0x3a0040"

# ---- 4: tampering ----

# SE header (spec §2.1): a byte in every region flipped; all of it is AAD, ciphertext or tag, so
# SET_SEC_PARMS refuses each. (The exhaustive per-byte test is at the Swift level.)
e=$((0x1a0 + 80 * nks))
for spec in magic:0 magic:7 version:8 version:11 sehs:12 sehs:15 iv:0x10 iv:0x1b reserved:0x1c \
            nks:0x27 sea:0x2f nep:0x37 pcf:0x3f cust-pub-key:0x40 cust-pub-key:0x4e cust-pub-key:0xdf \
            pld:0xe0 pld:0x11f ald:0x120 ald:0x15f tld:0x160 tld:0x19f key-slot-phkh:0x1a0 \
            key-slot-wrpk:0x1c0 key-slot-kst:0x1e0 key-slot:$((e - 1)) encrypted-area:$e \
            encrypted-area-psw:$((e + 0x60)) encrypted-area:$((e + sea - 1)) tag:$((sehs - 16)) tag:$((sehs - 1)); do
    off=$((${spec#*:}))
    img=$(copy header); xor "$img" $((hdr + off))
    boot "$img" --host-key "$key"; refused ssc
    verdict "SE header byte 0x$(printf %x $off) (${spec%%:*}) flipped: refused at SET_SEC_PARMS"
done

# Components (IPIB entries: kernel, cmdline, stage3b): a byte of the prepared pages flipped.
for spec in 0:first 0:middle 0:last 1:first 1:last $((ncomp - 1)):first $((ncomp - 1)):middle $((ncomp - 1)):last; do
    i=${spec%%:*} where=${spec#*:}
    addr=$(u64 "$hello" $(($(comp "$i") + 8))) len=$(u64 "$hello" $(($(comp "$i") + 16)))
    case $where in first) off=$addr ;; middle) off=$((addr + len / 2)) ;; last) off=$((addr + len - 1)) ;; esac
    img=$(copy comp); xor "$img" "$off" 0x80
    boot "$img" --host-key "$key"; refused verify:1b
    verdict "component $i byte 0x$(printf %x "$off") ($where) flipped: VERIFY rrc 0x1b"
done

# IPIB (spec §6): tweak prefixes, addresses, count, type.
last=$((ncomp - 1))
img=$(copy tweak0); xor "$img" $(($(comp 0) + 7))
boot "$img" --host-key "$key"; refused verify:1c; verdict "IPIB: tweak prefix of component 0 changed: VERIFY rrc 0x1c"
img=$(copy tweakn); xor "$img" $(($(comp $last) + 7))
boot "$img" --host-key "$key"; refused verify:1c; verdict "IPIB: tweak prefix of component $last changed: VERIFY rrc 0x1c"
img=$(copy tweakorder); put "$img" "$(comp 0)" "$(u64 "$hello" "$(comp 1)")" 8
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: tweak prefixes not increasing: subcode 8 refuses"
for i in 0 $last; do
    img=$(copy addr$i); put "$img" $(($(comp "$i") + 8)) $(($(u64 "$hello" $(($(comp "$i") + 8))) + 4096)) 8
    boot "$img" --host-key "$key"; refused any
    verdict "IPIB: component $i address one page up: refused (rrc 0x1a or another refusal)"
done
img=$(copy addr-unaligned); put "$img" $(($(comp 0) + 8)) $(($(u64 "$hello" $(($(comp 0) + 8))) + 0x800)) 8
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: component address not 4K aligned: subcode 8 refuses"
img=$(copy ncomp-less); put "$img" $((ipib + 0x74)) $((ncomp - 1)) 4
boot "$img" --host-key "$key"; refused verify:1d; verdict "IPIB: num_comp $ncomp -> $((ncomp - 1)): VERIFY rrc 0x1d"
img=$(copy ncomp-zero); put "$img" $((ipib + 0x74)) 0 4
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: num_comp 0: subcode 8 refuses"
img=$(copy ncomp-more); put "$img" $((ipib + 0x74)) $((ncomp + 1)) 4
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: num_comp beyond the block's length: subcode 8 refuses"
img=$(copy pbt); put "$img" $((ipib + 0xC)) 2 1
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: type 5 -> 2: subcode 8 refuses"
# Header address and size: stage3a writes them into the IPIB from its args, so mangle those.
img=$(copy hdr-size-short); put "$img" $((args + 8)) $((sehs - 16)) 8
boot "$img" --host-key "$key"; refused ssc; want_out "rc 0x10a rrc 0x31"
verdict "IPIB: header size sehs-16: SET_SEC_PARMS rc 0x10a rrc 0x31"
img=$(copy hdr-size-zero); put "$img" $((args + 8)) 0 8
boot "$img" --host-key "$key"; refused ssc; verdict "IPIB: header size 0: refused at SET_SEC_PARMS"
img=$(copy hdr-size-big); put "$img" $((args + 8)) $((0x4000)) 8
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: header size 16 KiB: subcode 8 refuses"
img=$(copy hdr-addr-page); put "$img" "$args" $(($(u64 "$hello" "$args") + 4096)) 8
boot "$img" --host-key "$key"; refused ssc; verdict "IPIB: header address one page up: refused at SET_SEC_PARMS"
img=$(copy hdr-addr-far); put "$img" "$args" $(($(u64 "$hello" "$args") + 0x7f00000000)) 8
boot "$img" --host-key "$key"; refused ipib; verdict "IPIB: header address beyond memory: subcode 8 refuses"

# Truncated images: the CLI rejects the file (exit 2, one line) or the boot is refused (exit 3).
for spec in inside-IPIB:$((ipib + 100)) inside-component-0:$(($(u64 "$hello" $(($(comp 0) + 8))) + 0x800)) \
            half-size:$(($(stat -c %s "$hello") / 2)); do
    head -c "${spec#*:}" "$hello" >"$tmp/cut.img"
    boot "$tmp/cut.img" --host-key "$key"
    if [ "$status" = 2 ]; then want_err_lines 1; want_no_out "Hello from"; else refused any; fi
    verdict "truncated ${spec%%:*} (${spec#*:} bytes): status $status, refused"
done

# Host key files that cannot be used: exit 2, one line, the guest never starts.
mkdir "$tmp/dir.pem"
printf 'not a key\n' >"$tmp/garbage.pem"
keys=("missing:$tmp/nonexistent.pem" "directory:$tmp/dir.pem" "not-a-key:$tmp/garbage.pem")
if [ "$(id -u)" != 0 ]; then
    cp "$key" "$tmp/unreadable.pem"; chmod 000 "$tmp/unreadable.pem"; keys+=("unreadable:$tmp/unreadable.pem")
fi
for spec in "${keys[@]}"; do
    boot "$hello" --host-key "${spec#*:}"
    want_status 2; want_err_lines 1; want_err "--host-key ${spec#*:}"; want_no_out "Secure Execution"
    verdict "--host-key ${spec%%:*}: exit 2, one line"
done

# ---- 5: s390pv info ----

"$bin" info --host-key "$key" >"$tmp/out" 2>"$tmp/err" </dev/null; status=$?
want_status 0; want_err_lines 0; want_out "KVM_CAP_S390_PROTECTED (180): 1"
grep -qE '^ *installed calls:.* SET_SHARED_ACCESS( |$)' "$tmp/out" || why+="no installed-calls line with SET_SHARED_ACCESS; "
want_out "KVM_CAP_S390_PROTECTED_ASYNC_DISABLE (224): 1"
verdict "info: KVM_CAP_S390_PROTECTED 1, async teardown 1, SET_SHARED_ACCESS installed"

# kvm.async_destroy=0 at "module load": capability 224 is 0.
S390PV_ASYNC_DESTROY=0 "$bin" info --host-key "$key" >"$tmp/out" 2>"$tmp/err" </dev/null; status=$?
want_status 0; want_out "KVM_CAP_S390_PROTECTED_ASYNC_DISABLE (224): 0"
verdict "info with S390PV_ASYNC_DESTROY=0: async teardown capability 0"

echo "protected cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
