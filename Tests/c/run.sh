#!/usr/bin/env bash
# C tests: ordinary KVM userspace programs built against <linux/kvm.h> (s390 layouts, from
# Sources/CKVM) and run against the s390pv kernel model through the LD_PRELOAD shim.
set -u
cd "$(dirname "$0")/../.."
build=${S390PV_BUILD:-.build/debug}
preload="$PWD/$build/libs390pvpreload.so"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
status=0
for source in Tests/c/*.c; do
    name=$(basename "$source" .c)
    if ! gcc -std=gnu11 -O1 -Wall -Wextra -Werror -I Tests/c/include -I Sources/CKVM/include "$source" -o "$out/$name"; then
        echo "c: $name: does not compile"; status=1; continue
    fi
    # abi_layout checks the header alone; every other program talks to /dev/kvm.
    # kvm_pv boots the SE image `make pv-guests` sealed for this host key (it SKIPs those cases without it).
    if [ "$name" = abi_layout ]; then timeout 60 "$out/$name"
    elif [ "$name" = kvm_pv ]; then
        S390PV_HOST_KEY="$PWD/Guests/build/hostkey/host-key.pem" S390PV_PV_IMAGE="$PWD/Guests/build/hello-pv.img" \
            LD_PRELOAD="$preload" timeout 60 "$out/$name"
    elif [ "$name" = kvm_pv_async ]; then
        # ~25 s (debug): 300 VM rounds, 50 PERFORM races, 30 children SIGTERMed during PERFORM.
        S390PV_HOST_KEY="$PWD/Guests/build/hostkey/host-key.pem" S390PV_PV_IMAGE="$PWD/Guests/build/hello-pv.img" \
            LD_PRELOAD="$preload" timeout 240 "$out/$name"
    else LD_PRELOAD="$preload" timeout 60 "$out/$name"; fi || status=1
done
exit $status
