#!/usr/bin/env python3
"""Run the loaders under qemu-system-s390x (TCG) with images from ../mkfake.py and check the
console output, the final PSW and memory. Usage (from the repository root, after make loaders):

    python3 Firmware/loaders/tests/qemu_test.py [path/to/hello.elf]

The stage3b cases need a raw kernel; they use the runtime's hello guest (Guests/build/hello.elf)
turned into a raw image with objcopy, and are skipped when it is missing. TCG has no facility
161, so stage3a is expected to stop with its "unpack facility" message.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "Firmware", "build", "loaders")
MKFAKE = os.path.join(ROOT, "Firmware", "loaders", "mkfake.py")
QEMU = os.environ.get("QEMU", "qemu-system-s390x")
WAIT_MASK = 0x0002000180000000


class QMP:
    def __init__(self, path):
        for _ in range(100):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r.get("return", r.get("error"))

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})


def run(img, reads=(), timeout=30):
    with tempfile.TemporaryDirectory() as d:
        sock, out = os.path.join(d, "qmp"), os.path.join(d, "out")
        with open(out, "wb") as o:
            p = subprocess.Popen([QEMU, "-nodefaults", "-nographic", "-machine", "s390-ccw-virtio,accel=tcg",
                                  "-chardev", "stdio,id=con0", "-device", "sclpconsole,chardev=con0",
                                  "-kernel", img, "-action", "panic=pause,shutdown=pause",
                                  "-qmp", f"unix:{sock},server=on,wait=off"],
                                 stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT)
        try:
            q = QMP(sock)
            end = time.time() + timeout
            while q.cmd("query-status")["running"] and time.time() < end:
                time.sleep(0.1)
            status = q.cmd("query-status")["status"]
            regs = q.hmp("info registers")
            psw = [l for l in regs.splitlines() if l.startswith("PSW=")][0].split()
            mem = {}
            for a in reads:
                mem[a] = int(q.hmp(f"xp /1gx 0x{a:x}").split()[1], 16)
            q.cmd("quit")
            p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
        text = open(out, "rb").read().decode(errors="replace")
    return status, int(psw[1], 16), int(psw[3], 16), mem, text


failures = 0


def check(name, ok, detail=""):
    global failures
    print(("PASS" if ok else "FAIL") + f": {name}" + ("" if ok else f"  [{detail}]"))
    failures += not ok


def mkfake(*args):
    return subprocess.run([sys.executable, MKFAKE, *args], check=True, capture_output=True, text=True).stdout


def stage3a_tests(tmp):
    for entry in (0x11000, 0x10000):
        img = os.path.join(tmp, f"s3a-{entry:x}.img")
        mkfake("stage3a", os.path.join(OUT, "stage3a.bin"), img, "--entry", hex(entry))
        status, mask, addr, mem, text = run(img, reads=(0x15078, 0x15080))
        tag = f"stage3a entry 0x{entry:x}"
        check(f"{tag}: unpack-facility message", "unpack facility (161) is not installed" in text, text)
        check(f"{tag}: disabled wait 0x3a0010", (mask, addr) == (WAIT_MASK, 0x3a0010), f"{status} {mask:x} {addr:x}")
        check(f"{tag}: IPIB pv_hdr_addr/size patched", mem == {0x15078: 0x14000, 0x15080: 0x2a8}, str(mem))


def stage3b_tests(tmp, hello):
    raw = os.path.join(tmp, "hello.raw")
    subprocess.run(["s390x-linux-gnu-objcopy", "-O", "binary", hello, raw], check=True)
    reloc = os.path.join(OUT, "stage3b_reloc.bin")

    img = os.path.join(tmp, "s3b-ok.img")
    layout = mkfake("stage3b", reloc, raw, img, "--cmdline", "s390pv stage3b x=1", "--initrd-size", "5000")
    initrd = int(layout.split("initrd ")[1].split("+")[0], 16)
    status, mask, addr, mem, text = run(img, reads=(0x10408, 0x10410))
    check("stage3b: kernel started with the command line", "command line: s390pv stage3b x=1" in text, text)
    check("stage3b: initrd start/size at 0x10408/0x10410", mem == {0x10408: initrd, 0x10410: 5000}, str(mem))

    img = os.path.join(tmp, "s3b-nocmd.img")
    mkfake("stage3b", reloc, raw, img)
    status, mask, addr, mem, text = run(img, reads=(0x10408, 0x10410))
    check("stage3b: no cmdline/initrd: kernel started", "command line: (none)" in text, text)
    check("stage3b: no initrd: 0x10408/0x10410 untouched", mem == {0x10408: 0, 0x10410: 0}, str(mem))

    cases = [
        ("cmdline without NUL", ["--cmdline", "abc", "--cmdline-no-nul"], 0x3b0030, "not NUL-terminated"),
        ("cmdline too long", ["--cmdline", "x", "--cmdline-pad", "900"], 0x3b0020, "exceeds the kernel's limit of 896"),
        ("program check", ["--bad-cmdline-src"], 0x3b00ee, "stage3b: program interruption 0x5"),
    ]
    for name, extra, stop, msg in cases:
        img = os.path.join(tmp, "s3b-err.img")
        mkfake("stage3b", reloc, raw, img, *extra)
        status, mask, addr, mem, text = run(img)
        check(f"stage3b {name}: message", msg in text, text)
        check(f"stage3b {name}: disabled wait 0x{stop:x}", (mask, addr) == (WAIT_MASK, stop), f"{mask:x} {addr:x}")

    small = os.path.join(tmp, "small.raw")
    open(small, "wb").write(bytes(0x8000))
    img = os.path.join(tmp, "s3b-small.img")
    mkfake("stage3b", reloc, small, img)
    status, mask, addr, mem, text = run(img)
    check("stage3b kernel < 64 KiB: message", "invalid kernel" in text, text)
    check("stage3b kernel < 64 KiB: disabled wait 0x3b0010", (mask, addr) == (WAIT_MASK, 0x3b0010), f"{mask:x} {addr:x}")


def main():
    hello = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Guests", "build", "hello.elf")
    with tempfile.TemporaryDirectory() as tmp:
        stage3a_tests(tmp)
        if os.path.exists(hello):
            stage3b_tests(tmp, hello)
        else:
            print(f"SKIP: stage3b tests ({hello} missing)")
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
