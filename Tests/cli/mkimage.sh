#!/usr/bin/env bash
# CLI tests of `s390pv hostkey` and `s390pv mkimage` (spec se-image-format §3, §5, §10.1): files and
# modes written, the image layout, determinism with given keys, and one stderr line + status 1 for
# every bad input. Dummy loaders and a dummy raw kernel: no s390x toolchain needed.
set -u
cd "$(dirname "$0")/../.."
bin=${S390PV:-.build/debug/s390pv}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
kat=../shared/testdata/se-kat

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: the command must succeed.
check() { local what=$1; shift; if "$@"; then pass; else fail "$what"; fi; }
# check_not DESCRIPTION COMMAND...: the command must fail.
check_not() { local what=$1; shift; if "$@"; then fail "$what"; else pass; fi; }

# expect STATUS DESCRIPTION -- ARGS...: runs s390pv, checks the status and (unless 0) a one-line stderr.
expect() {
    local want=$1 what=$2; shift 3
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$? lines; lines=$(wc -l <"$tmp/err")
    if [ "$got" = "$want" ] && { [ "$want" = 0 ] || [ "$lines" = 1 ]; }; then
        pass
    else
        fail "$what: status $got (want $want), stderr:"; sed 's/^/    /' "$tmp/err"
    fi
}

# hexdump of LEN bytes at OFFSET of FILE, no spaces.
bytes() { od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# u64 big-endian at OFFSET of FILE, decimal.
u64() { echo $((16#$(bytes "$1" "$2" 8))); }

# Inputs: dummy loaders, a raw kernel ("S390EP" at 0x10008, 0x10430 = 0 so 896-byte command lines),
# an ELF-looking kernel, keys.
mkdir -p "$tmp/loaders" "$tmp/noloaders"
head -c 4096 /dev/zero | tr '\0' '\243' >"$tmp/loaders/stage3a.bin"
head -c 2048 /dev/zero | tr '\0' '\263' >"$tmp/loaders/stage3b_reloc.bin"
{ head -c $((0x10008)) /dev/zero; printf 'S390EP'; head -c $((0x14000 - 0x1000e)) /dev/zero; } >"$tmp/kernel"
{ printf '\177ELF'; tail -c +5 "$tmp/kernel"; } >"$tmp/kernel.elf"
head -c 70000 /dev/urandom >"$tmp/not-a-kernel"
printf 'console=ttysclp0 quiet\n' >"$tmp/parmfile"
head -c 900 /dev/zero | tr '\0' x >"$tmp/parmfile.long"
head -c 5000 /dev/urandom >"$tmp/ramdisk"
head -c 32 /dev/zero | tr '\0' '\061' >"$tmp/cck"
head -c 32 /dev/zero | tr '\0' '\062' >"$tmp/hdr.key"
{ head -c 32 /dev/zero | tr '\0' '\102'; head -c 32 /dev/zero | tr '\0' '\103'; } >"$tmp/image.key"
head -c 64 /dev/zero >"$tmp/equal-halves.key"
head -c 31 /dev/zero >"$tmp/short.key"
printf 'not a certificate\n' >"$tmp/garbage.crt"
export S390PV_LOADERS_DIR="$tmp/loaders"

# --- hostkey create / show ---
expect 0 "hostkey create" -- hostkey create "$tmp/host"
check "host-key.pem is mode 0600" test "$(stat -c %a "$tmp/host/host-key.pem")" = 600
check "host-key.pem is PKCS#8" grep -q '^-----BEGIN PRIVATE KEY-----$' "$tmp/host/host-key.pem"
check "host-key.crt is a certificate" grep -q '^-----BEGIN CERTIFICATE-----$' "$tmp/host/host-key.crt"
hash=$(sed -n 's/^host-key hash: //p' "$tmp/out")
check "create prints a 32-byte host-key hash" test ${#hash} = 64
cp "$tmp/host/host-key.pem" "$tmp/key.before"
expect 1 "hostkey create refuses to overwrite" -- hostkey create "$tmp/host"
check "refused create leaves the key alone" cmp -s "$tmp/key.before" "$tmp/host/host-key.pem"
rm "$tmp/host/host-key.crt"
expect 1 "hostkey create refuses if only the key exists" -- hostkey create "$tmp/host"
check "no document written by a refused create" test ! -e "$tmp/host/host-key.crt"
expect 0 "hostkey create --force" -- hostkey create "$tmp/host" --force
check_not "--force replaced the key" cmp -s "$tmp/key.before" "$tmp/host/host-key.pem"
check "--force keeps mode 0600" test "$(stat -c %a "$tmp/host/host-key.pem")" = 600
expect 0 "hostkey show (document)" -- hostkey show "$tmp/host/host-key.crt"
doc_hash=$(sed -n 's/^host-key hash: //p' "$tmp/out")
check "document is self-signed" grep -q '^self-signed: yes$' "$tmp/out"
expect 0 "hostkey show (private key)" -- hostkey show "$tmp/host/host-key.pem"
check "key and document have the same hash" test "$doc_hash" = "$(sed -n 's/^host-key hash: //p' "$tmp/out")"
expect 1 "hostkey show of garbage" -- hostkey show "$tmp/garbage.crt"
expect 1 "hostkey show of a missing file" -- hostkey show "$tmp/nonexistent.crt"
if command -v openssl >/dev/null; then
    openssl x509 -in "$tmp/host/host-key.crt" -noout -text >"$tmp/x509.txt" 2>&1
    check "openssl: ecdsa-with-SHA512" grep -q 'ecdsa-with-SHA512' "$tmp/x509.txt"
    check "openssl: secp521r1 key" grep -q 'secp521r1\|P-521' "$tmp/x509.txt"
    check "openssl: key agreement usage" grep -q 'Key Agreement' "$tmp/x509.txt"
    check "openssl: self-signed, CN=s390pv host key" grep -q 'Issuer: O *= *s390pv, CN *= *s390pv host key' "$tmp/x509.txt"
    check "openssl: private key matches the document" test \
        "$(openssl pkey -in "$tmp/host/host-key.pem" -pubout 2>/dev/null)" = "$(openssl x509 -in "$tmp/host/host-key.crt" -pubkey -noout 2>/dev/null)"
fi
hkd="$tmp/host/host-key.crt"

# --- mkimage: layout ---
expect 0 "mkimage (self-signed HKD verifies)" -- mkimage -i "$tmp/kernel" -r "$tmp/ramdisk" -p "$tmp/parmfile" -k "$hkd" -o "$tmp/a.img"
check "no warning without --no-verify" test ! -s "$tmp/err"
check "short PSW at 0" test "$(bytes "$tmp/a.img" 0 8)" = 0008000180011000
check "SeImgLnx metadata at 0xC000" test "$(bytes "$tmp/a.img" $((0xC000)) 8)" = "$(printf SeImgLnx | od -An -tx1 | tr -d ' \n')"
check "metadata: header at 0x14000" test "$(u64 "$tmp/a.img" $((0xC008)))" = $((0x14000))
check "IBMSecEx magic at 0x14000" test "$(bytes "$tmp/a.img" $((0x14000)) 8)" = 49424d5365634578
check "one key slot" test "$(u64 "$tmp/a.img" $((0x14020)))" = 1
check "default PCF 0xe0" test "$(u64 "$tmp/a.img" $((0x14038)))" = $((0xe0))
check "slot 0 is the host key's hash" test "$(bytes "$tmp/a.img" $((0x141A0)) 32)" = "$doc_hash"
# kernel 0x14000 (20 pages) at 0x15000, ramdisk 2 pages, parmfile 1, stage3b 1 page, IPIB with 4 entries.
ipib=$((0x15000 + (20 + 2 + 1 + 1) * 4096))
check "metadata: IPIB offset" test "$(u64 "$tmp/a.img" $((0xC014)))" = $ipib
check "file size = IPIB end" test "$(stat -c %s "$tmp/a.img")" = $((ipib + 136 + 4 * 24))
check "IPIB pbt 5" test "$(bytes "$tmp/a.img" $((ipib + 12)) 1)" = 05
check "output mode follows the umask" test "$(stat -c %a "$tmp/a.img")" = "$(printf '%o' $((0666 & ~$(umask))))"

# --- mkimage: options ---
expect 0 "mkimage with given keys, --x-pcf, --x-scf, --x-psw, --image alias" -- mkimage --image "$tmp/kernel" -k "$hkd" -o "$tmp/b.img" \
    --cck "$tmp/cck" --hdr-key "$tmp/hdr.key" --image-key "$tmp/image.key" --x-pcf 0x200000e0 --x-scf 0 --x-psw 0x15000
check "--x-pcf reaches the header" test "$(u64 "$tmp/b.img" $((0x14038)))" = $((0x200000e0))
expect 0 "second build with the same keys" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/c.img" \
    --comm-key "$tmp/cck" --hdr-key "$tmp/hdr.key" --image-key "$tmp/image.key" --x-pcf 536871136 --x-psw 86016
# Tweaks and the customer key are random as in pvimg: compare sizes and the fixed header fields only.
check "same keys: same size" test "$(stat -c %s "$tmp/b.img")" = "$(stat -c %s "$tmp/c.img")"
check "same keys: same magic..nks..pcf" test "$(bytes "$tmp/b.img" $((0x14000)) 16)$(bytes "$tmp/b.img" $((0x14020)) 32)" \
    = "$(bytes "$tmp/c.img" $((0x14000)) 16)$(bytes "$tmp/c.img" $((0x14020)) 32)"
check "same keys: same key-slot hash" test "$(bytes "$tmp/b.img" $((0x141A0)) 32)" = "$(bytes "$tmp/c.img" $((0x141A0)) 32)"
check_not "different image bytes (random tweaks)" cmp -s "$tmp/b.img" "$tmp/c.img"
expect 0 "--disable-image-encryption, --enable-dump with --cck" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/d.img" \
    --disable-image-encryption --enable-dump --cck "$tmp/cck"
check "PCF bits 34, 35 and PCKMO" test "$(u64 "$tmp/d.img" $((0x14038)))" = $((0x300000e0))
check "plaintext kernel (S390EP visible)" test "$(bytes "$tmp/d.img" $((0x15000 + 0x10008)) 6)" = 533339304550
check "encrypted kernel by default" test "$(bytes "$tmp/a.img" $((0x15000 + 0x10008)) 6)" != 533339304550
expect 0 "two HKDs, comma-separated" -- mkimage -i "$tmp/kernel" -k "$hkd,$kat/cert_host.crt" --no-verify -o "$tmp/e.img"
check "--no-verify warns on stderr" grep -q 'verification is disabled' "$tmp/err"
check "two key slots" test "$(u64 "$tmp/e.img" $((0x14020)))" = 2
expect 0 "--no-component-check takes any kernel" -- mkimage -i "$tmp/not-a-kernel" -k "$hkd" -o "$tmp/f.img" --no-component-check
expect 0 "--loaders DIR" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/g.img" --loaders "$tmp/loaders"
expect 0 "--overwrite replaces" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/a.img" --overwrite
expect 0 "--cert signer for a self-signed HKD" -- mkimage -i "$tmp/kernel" -k "$hkd" -C "$hkd" -o "$tmp/h.img"

# --- mkimage: bad input, status 1 and one line ---
expect 1 "missing kernel"                -- mkimage -i "$tmp/nonexistent" -k "$hkd" -o "$tmp/x.img"
expect 1 "kernel is a directory"         -- mkimage -i "$tmp" -k "$hkd" -o "$tmp/x.img"
expect 1 "non-raw kernel"                -- mkimage -i "$tmp/not-a-kernel" -k "$hkd" -o "$tmp/x.img"
check "error names --no-component-check" grep -q -- '--no-component-check' "$tmp/err"
expect 1 "ELF kernel"                    -- mkimage -i "$tmp/kernel.elf" -k "$hkd" -o "$tmp/x.img"
expect 1 "parmfile too long"             -- mkimage -i "$tmp/kernel" -p "$tmp/parmfile.long" -k "$hkd" -o "$tmp/x.img"
expect 1 "missing ramdisk"               -- mkimage -i "$tmp/kernel" -r "$tmp/nonexistent" -k "$hkd" -o "$tmp/x.img"
expect 1 "short --cck"                   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --cck "$tmp/short.key"
expect 1 "--hdr-key of 64 bytes"         -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --hdr-key "$tmp/image.key"
expect 1 "--image-key of 32 bytes"       -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --image-key "$tmp/cck"
expect 1 "--image-key with equal halves" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --image-key "$tmp/equal-halves.key"
expect 1 "bad --x-pcf"                   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --x-pcf 0xzz
expect 1 "--x-pcf over 64 bits"          -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --x-pcf 0x10000000000000000
expect 1 "bad --x-scf"                   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --x-scf 1e3
expect 1 "bad --x-psw"                   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --x-psw 12ab
expect 1 "zero host-key documents"       -- mkimage -i "$tmp/kernel" -o "$tmp/x.img"
expect 1 "unreadable HKD"                -- mkimage -i "$tmp/kernel" -k "$tmp/nonexistent.crt" -o "$tmp/x.img"
expect 1 "HKD that is no certificate"    -- mkimage -i "$tmp/kernel" -k "$tmp/garbage.crt" -o "$tmp/x.img" --no-verify
expect 1 "unverifiable HKD (IBM-signed KAT) without --no-verify" -- mkimage -i "$tmp/kernel" -k "$kat/cert_host.crt" -o "$tmp/x.img"
check "error says what to pass" grep -q -- '--no-verify' "$tmp/err"
expect 1 "KAT HKD with a --cert that does not sign it" -- mkimage -i "$tmp/kernel" -k "$kat/cert_host.crt" -C "$hkd" -o "$tmp/x.img"
expect 1 "existing output without --overwrite" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/a.img"
expect 1 "missing loaders (--loaders)"   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --loaders "$tmp/noloaders"
check "error names the path and make loaders" grep -q "$tmp/noloaders/stage3a.bin.*make loaders" "$tmp/err"
S390PV_LOADERS_DIR="$tmp/noloaders" expect 1 "missing loaders (environment)" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img"
expect 1 "output directory missing"      -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/nodir/x.img"
check "no output left by failures" test ! -e "$tmp/x.img"
check "no temporary files left" test -z "$(find "$tmp" -name '*.part')"
# Usage errors are ArgumentParser's: status 2.
expect 2 "no -o"                         -- mkimage -i "$tmp/kernel" -k "$hkd"
expect 2 "--no-verify with --cert"       -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --no-verify -C "$hkd"
expect 2 "--enable-dump without --cck"   -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --enable-dump
expect 2 "flag with --x-pcf"             -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --disable-pckmo --x-pcf 0
expect 2 "--enable-dump and --disable-dump" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/x.img" --cck "$tmp/cck" --enable-dump --disable-dump

# --- the loaders `make loaders` built, found from the (symlinked) executable ---
case "$(readlink -f "$bin")" in
"$(pwd -P)"/*)
    if [ -f Firmware/build/loaders/stage3a.bin ] && [ -f Firmware/build/loaders/stage3b_reloc.bin ]; then
        ln -s "$(readlink -f "$bin")" "$tmp/s390pv-link"
        saved_bin=$bin bin="$tmp/s390pv-link"; unset S390PV_LOADERS_DIR
        expect 0 "default loaders found upward from a symlinked executable" -- mkimage -i "$tmp/kernel" -k "$hkd" -o "$tmp/real.img"
        size=$(stat -c %s Firmware/build/loaders/stage3a.bin)
        check "stage3a.bin at 0x10000 (less its 24-byte args)" \
            cmp -s -n $((size - 24)) Firmware/build/loaders/stage3a.bin <(tail -c +$((0x10000 + 1)) "$tmp/real.img")
        check "IBMSecEx at the metadata's header offset" \
            test "$(bytes "$tmp/real.img" "$(u64 "$tmp/real.img" $((0xC008)))" 8)" = 49424d5365634578
        bin=$saved_bin; export S390PV_LOADERS_DIR="$tmp/loaders"
    else
        echo "skip: Firmware/build/loaders not built (make loaders)"
    fi ;;
esac

# --- se-kat: an image for the KAT host opens with its private key ---
if [ -r "$kat/cert_host.key" ]; then
    expect 0 "mkimage for the KAT host key" -- mkimage -i "$tmp/kernel" -k "$kat/cert_host.crt" --no-verify -o "$tmp/kat.img" \
        --hdr-key "$tmp/hdr.key" --cck "$tmp/cck"
    expect 0 "hostkey show of the KAT key" -- hostkey show "$kat/cert_host.key"
    check "KAT image slot = KAT key hash" test "$(bytes "$tmp/kat.img" $((0x141A0)) 32)" = "$(sed -n 's/^host-key hash: //p' "$tmp/out")"
    # (That cert_host.key opens such a header is checked in Tests/SecureExecutionTests/HostKeyDocumentTests.swift.)
fi

echo "mkimage cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
