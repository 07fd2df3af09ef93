import ArgumentParser
import CKVM
import CSyscalls
import Foundation
import KernelABI

/// `s390pv bench kvm`: the ioctl surface as a VMM drives it, from the calling thread: the
/// KVM_RUN intercept round trip, and KVM_S390_MEM_OP bandwidth beside the host's memcpy.
struct KVMBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kvm",
                                                    abstract: "KVM_RUN intercept round trip and KVM_S390_MEM_OP bandwidth.")

    @Option(help: "Intercept round trips per run.") var iterations = 100_000
    @Option(help: "Guest memory the MEM_OP passes cover: a size with K, M, G or T suffix (a bare number is MiB).")
    var memory = MemorySize(argument: "64M")!
    @Option(help: "Measured runs (after one warm-up).") var runs = 5
    @Option(help: "Write the machine-readable result here.") var json: String?

    func validate() throws {
        guard runs > 0, iterations > 0 else { throw ValidationError("--runs and --iterations must be positive") }
        guard memory.bytes >= 1 << 20, memory.bytes % UInt64(KVMSession.block) == 0 else {
            throw ValidationError("--memory must be at least 1M and a multiple of 64K")
        }
        // Guest memory plus two host buffers of the same size.
        guard memory.bytes <= ProcessInfo.processInfo.physicalMemory / 4 else {
            throw ValidationError("--memory must be at most a quarter of the host's memory")
        }
    }

    struct Sample { let roundTripMicroseconds, readGiBs, writeGiBs, memcpyGiBs, punchGiBs, hostPunchGiBs: Double }

    func run() throws {
        let session = KVMSession(memoryBytes: Int(memory.bytes))
        let started = ContinuousClock.now
        var samples: [Sample] = []
        for index in 0...runs {
            let eta = index == 0 ? "" : String(format: ", ETA %.0f s", seconds(ContinuousClock.now - started) / Double(index) * Double(runs + 1 - index))
            progress(index == 0 ? "warm-up run" : "run \(index)/\(runs)\(eta)")
            let sample = session.measure(iterations: iterations)
            if index > 0 { samples.append(sample) }
        }
        let roundTrip = Stats(samples.map(\.roundTripMicroseconds)), read = Stats(samples.map(\.readGiBs))
        let write = Stats(samples.map(\.writeGiBs)), memcpy = Stats(samples.map(\.memcpyGiBs))
        let punch = Stats(samples.map(\.punchGiBs)), hostPunch = Stats(samples.map(\.hostPunchGiBs))
        let memoryText = "\(memory.bytes >> 20) MiB"
        print("""
        bench kvm: \(iterations) intercept round trips, MEM_OP over \(memoryText) in 64 KiB blocks, \(runs) runs (median [min..max])
          KVM_RUN round trip   \(roundTrip.text(unit: "us")) (SERVC intercept, setcc, KVM_RUN)
          MEM_OP write         \(write.text(unit: "GiB/s")) (\(ratio(write, memcpy)) of memcpy)
          MEM_OP read          \(read.text(unit: "GiB/s")) (\(ratio(read, memcpy)) of memcpy)
          memcpy (limit)       \(memcpy.text(unit: "GiB/s"))
          guest_memfd punch    \(punch.text(unit: "GiB/s")) of populated guest RAM (\(ratio(punch, hostPunch)) of a host memfd punch)
          memfd punch (limit)  \(hostPunch.text(unit: "GiB/s"))
        """)
        guard let json else { return }
        let result = """
        {"tool": "s390pv", "version": "\(gitDescribe())", "command": "bench kvm",
         "machine": \(machineJSON()),
         "parameters": {"iterations": \(iterations), "memory_bytes": \(memory.bytes), "runs": \(runs)},
         "limits": {"memcpy_gib_s": {"value": \(memcpy.median), "unit": "GiB/s", "how": "memcpy of \(memoryText) between two host buffers in 64 KiB blocks, same run"},
                    "memfd_punch_gib_s": {"value": \(hostPunch.median), "unit": "GiB/s", "how": "PUNCH_HOLE of a populated \(memoryText) host memfd, same run"}},
         "results": [
          {"mode": "intercept", "instruction": "SERVC", "iterations": \(iterations), "round_trip_us": \(roundTrip.json)},
          {"mode": "mem_op", "memory_bytes": \(memory.bytes), "block_bytes": \(KVMSession.block),
           "mem_op_write_throughput_gib_s": \(write.json), "mem_op_read_throughput_gib_s": \(read.json), "memcpy_throughput_gib_s": \(memcpy.json)},
          {"mode": "punch_hole", "memory_bytes": \(memory.bytes), "throughput_gib_s": \(punch.json), "host_memfd_throughput_gib_s": \(hostPunch.json)}]}

        """
        do { try result.write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
    }

    private func ratio(_ achieved: Stats, _ limit: Stats) -> String { String(format: "%.2f", achieved.median / limit.median) }

    private func machineJSON() -> String {
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown"
        return #"{"cpus": \#(ProcessInfo.processInfo.activeProcessorCount), "memory_bytes": \#(ProcessInfo.processInfo.physicalMemory), "kernel": "\#(kernel)", "cpu_model": "\#(model)"}"#
    }

    private func progress(_ message: String) { FileHandle.standardError.write(Data("bench kvm: \(message)\n".utf8)) }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

private func seconds(of body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    return seconds(ContinuousClock.now - start)
}

/// One VM with a guest_memfd memslot and one vCPU whose guest loops on SERVC, opened through
/// the model's ioctl surface; every descriptor is closed and the run page unmapped at the end.
private final class KVMSession {
    static let block = 65536                 // MEM_OP_MAX_SIZE
    static let loopAddress: UInt64 = 0x10000
    /// SERVC 1,2; BRC 15,*-4: an intercept to userspace on every pass.
    static let guest: [UInt8] = [0xB2, 0x20, 0x00, 0x12, 0xA7, 0xF4, 0xFF, 0xFE]

    let memoryBytes: Int
    let fds: [Int32]                         // /dev/kvm, VM, guest_memfd, vCPU
    let vm, vcpu: Int32
    let run: UnsafeMutablePointer<kvm_run>
    let runSize: Int
    /// The MEM_OP source and destination, and the memcpy pair: the same host buffers.
    let source, destination: UnsafeMutableRawPointer

    init(memoryBytes: Int) {
        self.memoryBytes = memoryBytes
        source = .allocate(byteCount: memoryBytes, alignment: 4096)
        destination = .allocate(byteCount: memoryBytes, alignment: 4096)
        for offset in stride(from: 0, to: memoryBytes, by: 8) {
            source.storeBytes(of: UInt64(offset) &* 0x9E37_79B9_7F4A_7C15, toByteOffset: offset, as: UInt64.self)
        }
        memset(destination, 0, memoryBytes)

        let kvm = Int32(kvmCall(Int(KVMDevice.open()), "open /dev/kvm"))
        vm = Int32(kvmCall(kvm, S390PV_KVM_CREATE_VM, 0, "KVM_CREATE_VM"))
        var create = kvm_create_guest_memfd()
        create.size = UInt64(memoryBytes)
        let memfd = Int32(kvmCall(vm, S390PV_KVM_CREATE_GUEST_MEMFD, &create, "KVM_CREATE_GUEST_MEMFD"))
        var region = kvm_userspace_memory_region2()
        region.flags = UInt32(KVM_MEM_GUEST_MEMFD)
        region.memory_size = UInt64(memoryBytes)
        region.guest_memfd = UInt32(memfd)
        kvmCall(vm, S390PV_KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2")
        vcpu = Int32(kvmCall(vm, S390PV_KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU"))
        fds = [kvm, vm, memfd, vcpu]
        runSize = kvmCall(kvm, S390PV_KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE")
        guard let page = s390pv_kvm_mmap(nil, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0), page != MAP_FAILED else {
            fail("mmap kvm_run: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure)
        }
        run = page.bindMemory(to: kvm_run.self, capacity: 1)

        var psw = kvm_s390_psw(mask: 0x0000_0001_8000_0000, addr: Self.loopAddress)
        kvmCall(vcpu, S390PV_KVM_S390_SET_INITIAL_PSW, &psw, "KVM_S390_SET_INITIAL_PSW")
    }

    deinit {
        munmap(run, runSize)
        for fd in fds.reversed() { _ = KVMDevice.close(fd) }
        source.deallocate()
        destination.deallocate()
    }

    /// One run of every measurement.
    func measure(iterations: Int) -> KVMBench.Sample {
        let gib = Double(memoryBytes) / Double(1 << 30)
        // The MEM_OP passes overwrite guest memory: the loop goes back in before every run.
        Self.guest.withUnsafeBytes { memOp(KVM_S390_MEMOP_ABSOLUTE_WRITE, Self.loopAddress, $0.baseAddress!, count: $0.count) }
        let roundTrip = seconds { roundTrips(iterations) } / Double(iterations) * 1e6
        let write = seconds { pass(KVM_S390_MEMOP_ABSOLUTE_WRITE, source) }
        let read = seconds { pass(KVM_S390_MEMOP_ABSOLUTE_READ, destination) }
        guard memcmp(source, destination, memoryBytes) == 0 else { fail("MEM_OP read back differs from what was written", status: ExitStatus.guestFailure) }
        memset(destination, 0, memoryBytes)
        let copy = seconds {
            for offset in stride(from: 0, to: memoryBytes, by: Self.block) { memcpy(destination + offset, source + offset, Self.block) }
        }
        // Guest RAM is fully populated now: release it the way a VMM does, and a host memfd as the limit.
        let punch = seconds {
            guard s390pv_kvm_fallocate(fds[2], S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE, 0, memoryBytes) == 0 else {
                fail("guest_memfd PUNCH_HOLE: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure)
            }
        }
        return .init(roundTripMicroseconds: roundTrip, readGiBs: gib / read, writeGiBs: gib / write, memcpyGiBs: gib / copy,
                     punchGiBs: gib / punch, hostPunchGiBs: gib / hostMemfdPunch())
    }

    /// Seconds to punch a populated host memfd of the same size (the host's own limit).
    private func hostMemfdPunch() -> Double {
        let fd = s390pv_memfd_create("s390pv-bench-punch", S390PV_MFD_CLOEXEC)
        guard fd >= 0, ftruncate(fd, off_t(memoryBytes)) == 0,
              let mapping = mmap(nil, memoryBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            fail("host memfd for the punch limit: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure)
        }
        defer { munmap(mapping, memoryBytes); close(fd) }
        memcpy(mapping, source, memoryBytes)
        munmap(mapping, memoryBytes)
        return seconds { _ = s390pv_fallocate(fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE, 0, Int64(memoryBytes)) }
    }

    /// KVM_RUN to the SERVC intercept, then what a VMM does before re-entering: set the CC in
    /// kvm_run's PSW (QEMU's setcc), here 0.
    private func roundTrips(_ count: Int) {
        for _ in 0..<count {
            let result = KVMDevice.ioctl(vcpu, S390PV_KVM_RUN, 0)
            guard result == 0, run.pointee.exit_reason == UInt32(KVM_EXIT_S390_SIEIC), run.pointee.s390_sieic.icptcode == 4,
                  run.pointee.s390_sieic.ipa == 0xB220 else {
                fail("KVM_RUN: result \(result), exit reason \(run.pointee.exit_reason), icptcode \(run.pointee.s390_sieic.icptcode)",
                     status: ExitStatus.guestFailure)
            }
            run.pointee.psw_mask &= ~(3 << 44)
        }
    }

    /// The whole guest memory in 64 KiB absolute MEM_OPs, from or to the same offset of `host`.
    private func pass(_ op: Int32, _ host: UnsafeMutableRawPointer) {
        for offset in stride(from: 0, to: memoryBytes, by: Self.block) { memOp(op, UInt64(offset), host + offset, count: Self.block) }
    }

    private func memOp(_ op: Int32, _ address: UInt64, _ buffer: UnsafeRawPointer, count: Int) {
        var operation = kvm_s390_mem_op()
        operation.gaddr = address
        operation.size = UInt32(count)
        operation.op = UInt32(op)
        operation.buf = UInt64(UInt(bitPattern: buffer))
        let code = kvmCall(vm, S390PV_KVM_S390_MEM_OP, &operation, "KVM_S390_MEM_OP")
        guard code == 0 else { fail("KVM_S390_MEM_OP at 0x\(String(address, radix: 16)): program interruption \(code)", status: ExitStatus.guestFailure) }
    }
}

/// An ioctl on a model descriptor; an error ends the command with a one-line message.
@discardableResult
private func kvmCall<T>(_ fd: Int32, _ request: UInt, _ argument: inout T, _ name: String) -> Int {
    kvmCall(withUnsafeMutablePointer(to: &argument) { KVMDevice.ioctl(fd, request, UInt(bitPattern: $0)) }, name)
}

@discardableResult
private func kvmCall(_ fd: Int32, _ request: UInt, _ argument: UInt, _ name: String) -> Int {
    kvmCall(KVMDevice.ioctl(fd, request, argument), name)
}

/// A result or -errno.
private func kvmCall(_ result: Int, _ name: String) -> Int {
    guard result >= 0 else { fail("\(name): \(String(cString: strerror(Int32(-result))))", status: ExitStatus.guestFailure) }
    return result
}
