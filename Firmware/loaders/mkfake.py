#!/usr/bin/env python3
"""Hand-built, unencrypted test images for the loaders, to be run with qemu-system-s390x -kernel.

  mkfake.py stage3a STAGE3A.bin OUT
      pvimg layout (spec se-image-format.md section 5): short IPL PSW at 0 (-> 0x11000),
      metadata at 0xC000, stage3a at 0x10000 with its args patched like SEImage.swift does,
      a dummy "SE header" at 0x14000 and a pbt-5 IPIB (one component) on the next page. The
      IPIB's pv_hdr_addr/size are left 0: stage3a must patch them (check with the monitor).

  mkfake.py stage3b STAGE3B_RELOC.bin RAW_KERNEL OUT [--cmdline TEXT] [--initrd-size N]
      Non-protected stand-in for the protected start: the short PSW points at stage3b_reloc
      (QEMU starts it in 64-bit mode, as the UV does from the SE header PSW), placed at a
      4K-aligned address behind the kernel, cmdline and initrd "components", with
      stage3b_args patched in. --cmdline-no-nul, --cmdline-pad N and --bad-cmdline-src
      build the error cases.
"""
import argparse
import struct


def page(n):
    return (n + 4095) & ~4095


def put(img, addr, data):
    if len(img) < addr + len(data):
        img.extend(bytes(addr + len(data) - len(img)))
    img[addr:addr + len(data)] = data


def short_psw(addr):
    return struct.pack(">Q", 0x0008000180000000 | addr)


def stage3a(args):
    s3a = bytearray(open(args.stage3a, "rb").read())
    img = bytearray()
    hdr_addr, hdr_size = max(page(0x10000 + len(s3a)), 0x14000), 0x2a8
    ipib_addr = page(hdr_addr + hdr_size)
    put(img, 0, short_psw(args.entry))
    put(img, 0xC000, b"SeImgLnx" + struct.pack(">QIQ", hdr_addr, 1, ipib_addr))
    args_addr = 0x10000 + len(s3a) - 24
    s3a[-24:] = struct.pack(">QQQ", hdr_addr - args_addr, hdr_size, ipib_addr - args_addr)
    put(img, 0x10000, s3a)
    put(img, hdr_addr, b"IBMSecEx" + bytes(hdr_size - 8))
    ipib = bytearray(0x88 + 24)
    struct.pack_into(">I", ipib, 0, len(ipib))
    ipib[7] = 1
    struct.pack_into(">I", ipib, 8, len(ipib) - 8)
    ipib[0x0C] = 5
    ipib[0x6F] = 1
    struct.pack_into(">I", ipib, 0x74, 1)
    struct.pack_into(">QQQ", ipib, 0x88, 1, 0x10000, 0x1000)
    put(img, ipib_addr, ipib)
    open(args.out, "wb").write(img)
    print(f"header 0x{hdr_addr:x} size 0x{hdr_size:x}, IPIB 0x{ipib_addr:x}, args 0x{args_addr:x}")


def stage3b(args):
    reloc = bytearray(open(args.reloc, "rb").read())
    kernel = open(args.kernel, "rb").read()
    img = bytearray()
    nxt = 0x40000
    comps = {}

    def add(name, data):
        nonlocal nxt
        comps[name] = (nxt, len(data))
        put(img, nxt, data)
        nxt = page(nxt + len(data))

    add("kernel", kernel)
    if args.initrd_size:
        add("initrd", bytes([0xA5]) * args.initrd_size)
    if args.cmdline is not None:
        cmd = args.cmdline.encode() + bytes(args.cmdline_pad)
        if not args.cmdline_no_nul:
            cmd += b"\0"
        add("cmdline", cmd)
    if args.bad_cmdline_src:	# beyond memory: provokes an addressing exception
        comps["cmdline"] = (0x7fff00000000, 16)
    a = b""
    for name in ("kernel", "cmdline", "initrd"):
        a += struct.pack(">QQ", *comps.get(name, (0, 0)))
    a += struct.pack(">QQ", 0x0000000180000000, 0x10000)
    reloc[-64:] = a
    reloc_addr = nxt
    put(img, reloc_addr, reloc)
    put(img, 0, short_psw(reloc_addr))
    open(args.out, "wb").write(img)
    desc = ", ".join(f"{k} 0x{v[0]:x}+0x{v[1]:x}" for k, v in comps.items())
    print(f"{desc}, stage3b_reloc 0x{reloc_addr:x}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("stage3a")
    a.add_argument("stage3a")
    a.add_argument("out")
    a.add_argument("--entry", type=lambda v: int(v, 0), default=0x11000,
                   help="short PSW address: 0x11000 (pvimg) or 0x10000 (the zipl entry)")
    b = sub.add_parser("stage3b")
    b.add_argument("reloc")
    b.add_argument("kernel")
    b.add_argument("out")
    b.add_argument("--cmdline")
    b.add_argument("--cmdline-no-nul", action="store_true")
    b.add_argument("--cmdline-pad", type=int, default=0)
    b.add_argument("--bad-cmdline-src", action="store_true")
    b.add_argument("--initrd-size", type=int, default=0)
    args = p.parse_args()
    stage3a(args) if args.cmd == "stage3a" else stage3b(args)


if __name__ == "__main__":
    main()
