// `s390pv isolation` (issue 7 item 2): a protected guest (Guests/secret.c) writes a secret drawn
// from a seed that reaches it only inside the encrypted parmfile; at its re-IPL (DIAG 308
// subcode 3, before any teardown) the harness, acting as a hostile VMM with the machine's own
// descriptors, tries every path a VMM has to guest memory and registers; after the reboot (both
// teardown paths) it reads whatever still holds the old guest RAM, and the rebooted guest looks
// for the secret in place. Every byte of the secret found is counted; all must be 0.
// The emulator's own backing (one process holds the model "kernel" and the VMM) is read too, and
// reported apart while the guest runs: on real hardware no VMM reaches it. After the teardown it
// counts like every VMM path.
import ArgumentParser
import CKVM
import Foundation
import KernelABI
import KernelModel
import RestrictedMemory
import SecureExecution
import VMM

struct Isolation: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A protected guest writes a random secret; no VMM-reachable path may yield a byte of it.",
        discussion: """
        Short (CI) mode: one round per teardown path (sync, async) with a 1 MiB secret in 2304 MiB \
        of guest memory. Long mode: `--long` (5 rounds per path, a 64 MiB secret in 4 GiB; the \
        options still override). `--control` adds \
        the negative controls: the same guest unprotected (the absolute MEM_OP and the registers \
        must find the secret) and protected with keepmem=1 (a reboot that keeps memory: the \
        rebooted guest must find all of it). Exit status 0 when no path found a byte of the \
        secret and every control found it; 1 otherwise.
        """)

    @Flag(help: "Long mode: 5 rounds per path, a 64M secret in 4G of memory.") var long = false
    @Option(name: .customLong("memory"), help: "Guest memory, above 2 GiB so that the asynchronous teardown is taken (default 2304M, 4G with --long).")
    var memoryOption: MemorySize?
    @Option(name: .customLong("secret-size"), help: "Size of the secret (default 1M, 64M with --long).") var secretSizeOption: MemorySize?
    @Option(name: .customLong("rounds"), help: "Rounds per teardown path, each with a fresh seed (default 1, 5 with --long).") var roundsOption: Int?
    var memory: MemorySize { memoryOption ?? MemorySize(argument: long ? "4G" : "2304M")! }
    var secretSize: MemorySize { secretSizeOption ?? MemorySize(argument: long ? "64M" : "1M")! }
    var rounds: Int { roundsOption ?? (long ? 5 : 1) }
    @Option(help: "Teardown paths to try (comma-separated: sync, async).") var teardown = "sync,async"
    @Option(help: "Seed of the first round (default: random, printed).") var seed: UInt64?
    @Option(help: "Host object behind guest RAM (as `run --memory-backend`).") var memoryBackend: Backend = .memfd
    @Flag(help: "Also run the negative controls.") var control = false
    @Option(help: "The secret guest, raw (sealed here for this process's Ultravisor).") var kernel = "Guests/build/secret.raw"
    @Option(help: "The secret guest, ELF (for the unprotected control).") var elf = "Guests/build/secret.elf"
    @Option(help: "Write the figures here as JSON.") var json: String?

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard memory.bytes > 2 << 30 || !teardownModes.contains(.async) else {
            throw ValidationError("--memory must be above 2 GiB for the asynchronous teardown")
        }
        guard secretSize.bytes >= 4096, secretSize.bytes + (1 << 20) < memory.bytes else {
            throw ValidationError("--secret-size must be at least 4K and fit in --memory")
        }
        guard !teardownModes.isEmpty, teardownModes.count == teardown.split(separator: ",").count else {
            throw ValidationError("--teardown takes sync and/or async")
        }
        for path in [kernel] + (control ? [elf] : []) where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("no such guest: \(path) (run `make guests pv-guests`)")
        }
    }

    var teardownModes: [TeardownMode] {
        teardown.split(separator: ",").compactMap { TeardownMode(rawValue: String($0)) }.filter { $0 != .automatic }
    }

    func run() throws {
        ModuleParameters.setMemoryBackend(memoryBackend)
        HostFirmware.installHostKey(HostPrivateKey(.init()))
        guard let ultravisor = HostFirmware.ultravisor else { commandFail("isolation", "protected virtualization is off on this host") }
        let loaders: SEBootLoaders
        do { loaders = try SEBootLoaders(directory: try SEBootLoaders.defaultDirectory().get()) } catch {
            commandFail("isolation", "boot loaders: \(error) (run `make loaders`)")
        }
        let kernelBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s390pv-isolation-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let firstSeed = seed ?? UInt64.random(in: 0...UInt64.max)
        var seeds = SplitMix64(seed: firstSeed)
        print("isolation: seed \(firstSeed), \(rounds) round(s) per path, secret \(secretSize.bytes >> 10) KiB in \(memory.bytes >> 20) MiB, backend \(memoryBackend)")

        /// The secret guest sealed for this process's Ultravisor with `arguments` as its parmfile.
        func seal(_ arguments: String, as name: String) throws -> String {
            let image = directory + "/\(name).img"
            let sealed = try SEImage.build(SEImageConfiguration(kernel: kernelBytes, parmfile: Array((arguments + "\n").utf8),
                                                                hostKeys: [ultravisor.hostPublicKey]),
                                           loaders: loaders, keys: .random())
            try Data(sealed.bytes).write(to: URL(fileURLWithPath: image))
            return image
        }
        var report = IsolationReport()
        let began = ContinuousClock.now
        for mode in teardownModes {
            for round in 0..<rounds {
                let roundSeed = round == 0 && mode == teardownModes[0] ? firstSeed : seeds.next()
                let image = try seal("seed=\(roundSeed) size=\(secretSize.bytes >> 10)K", as: "secret-\(mode)-\(round)")
                let trial = IsolationTrial(label: "protected, \(mode) teardown", imagePath: image, commandLine: nil,
                                           memory: memory.bytes, teardown: mode, secret: Secret(seed: roundSeed, bytes: secretSize.bytes))
                report.add(trial.run(), expectation: .nothingFound)
            }
        }
        if control {
            // The controls need no asynchronous teardown: a smaller guest keeps them quick.
            let controlMemory = min(memory.bytes, 256 << 20)
            let controlSeed = seeds.next()
            let secret = Secret(seed: controlSeed, bytes: secretSize.bytes)
            let unprotected = IsolationTrial(label: "control: unprotected", imagePath: elf,
                                             commandLine: "seed=\(controlSeed) size=\(secretSize.bytes >> 10)K",
                                             memory: controlMemory, teardown: .sync, secret: secret)
            report.add(unprotected.run(), expectation: .unprotectedControl)
            let image = try seal("seed=\(controlSeed) size=\(secretSize.bytes >> 10)K keepmem=1", as: "secret-keepmem")
            let keepmem = IsolationTrial(label: "control: protected, reboot keeping memory", imagePath: image, commandLine: nil,
                                         memory: controlMemory, teardown: .sync, secret: secret, keepsMemory: true)
            report.add(keepmem.run(), expectation: .keepMemoryControl)
        }
        let elapsed = ContinuousClock.now - began
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(report.text)
        if let json {
            do { try report.json.write(toFile: json, atomically: true, encoding: .utf8) } catch { commandFail("isolation", "cannot write \(json): \(error)") }
        }
        if !report.passed { throw ExitCode(1) }
    }
}

// MARK: - The secret

/// The guest's secret: the SplitMix64 sequence of `seed` (Guests/secret.c writes it big-endian).
/// Found means a whole doubleword of it, at a doubleword boundary of what was read.
struct Secret {
    let seed: UInt64
    let bytes: UInt64
    private let words: Set<UInt64>
    /// One bit per hash bucket, so that a scan of gigabytes rarely reaches the set.
    private let filter: [UInt64]
    private static let filterBits = 24

    init(seed: UInt64, bytes: UInt64) {
        self.seed = seed
        self.bytes = bytes
        var generator = SplitMix64(seed: seed)
        var words = Set<UInt64>(minimumCapacity: Int(bytes / 8))
        var filter = [UInt64](repeating: 0, count: (1 << Self.filterBits) / 64)
        for _ in 0..<bytes / 8 {
            let word = generator.next()
            words.insert(word)
            let bucket = Self.bucket(word)
            filter[bucket >> 6] |= 1 << UInt64(bucket & 63)
        }
        self.words = words
        self.filter = filter
    }

    @inline(__always)
    private static func bucket(_ word: UInt64) -> Int { Int(truncatingIfNeeded: (word &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - filterBits)) }

    @inline(__always)
    func contains(_ word: UInt64) -> Bool {
        guard word != 0 else { return false }
        let bucket = Self.bucket(word)
        return filter[bucket >> 6] & (1 << UInt64(bucket & 63)) != 0 && words.contains(word)
    }

    /// Bytes of the secret in guest-order (big-endian) memory.
    func bytesFound(in memory: UnsafeRawBufferPointer) -> UInt64 {
        var found: UInt64 = 0
        var offset = 0
        while offset + 8 <= memory.count {
            if contains(UInt64(bigEndian: memory.loadUnaligned(fromByteOffset: offset, as: UInt64.self))) { found += 8 }
            offset += 8
        }
        return found
    }

    func bytesFound(in memory: [UInt8]) -> UInt64 { memory.withUnsafeBytes { bytesFound(in: $0) } }

    /// Bytes of the secret among register values (native order).
    func bytesFound(inRegisters values: [UInt64]) -> UInt64 { UInt64(values.filter(contains).count * 8) }
}

// MARK: - One path's figures

/// What one path gave: attempts, refusals by errno, bytes handed out, bytes of the secret among them.
struct IsolationPath {
    var name: String
    /// Whether the path counts towards the verdict (the emulator's own backing while the guest runs does not).
    var counted = true
    var tried = 0
    var refusals: [String: Int] = [:]
    var bytesReturned: UInt64 = 0
    var secretBytes: UInt64 = 0

    mutating func refused(_ errno: Int32) { refusals[IsolationPath.errnoName(errno), default: 0] += 1 }

    mutating func returned(_ bytes: UInt64, secret: UInt64) {
        bytesReturned += bytes
        secretBytes += secret
    }

    static func errnoName(_ code: Int32) -> String {
        [0: "program exception", 1: "EPERM", 2: "ENOENT", 5: "EIO", 7: "E2BIG", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 19: "ENODEV",
         22: "EINVAL", 25: "ENOTTY", 29: "ESPIPE", 95: "EOPNOTSUPP"][code] ?? "errno \(code)"
    }

    var text: String {
        let refused = refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(name): tried \(tried), refused \(refusals.values.reduce(0, +))\(refused.isEmpty ? "" : " (\(refused))"), "
            + "bytes returned \(bytesReturned), secret bytes found \(secretBytes)\(counted ? "" : " [emulator-internal, not counted]")"
    }
}

// MARK: - One trial: boot, attack at the re-IPL, reboot, look again

struct IsolationOutcome {
    var label: String
    var paths: [IsolationPath] = []
    /// The rebooted guest's own scan ("secret found in place: N bytes"), nil if it never printed one.
    var guestFound: UInt64?
    var written = false
    var runOutcome: String = ""
    var problems: [String] = []

    func path(_ name: String) -> IsolationPath? { paths.first { $0.name == name } }
}

final class IsolationTrial: @unchecked Sendable {
    let label: String
    let imagePath: String
    let commandLine: String?
    let memory: UInt64
    let teardown: TeardownMode
    let secret: Secret
    /// The guest reboots with DIAG 308 subcode 1 (keepmem=1): no re-IPL, no teardown.
    let keepsMemory: Bool
    /// Filled on the vCPU thread at the re-IPL, read after the run.
    private let lock = NSLock()
    private var attackPaths: [IsolationPath] = []
    private var backingRanges: [Range<UInt>] = []

    init(label: String, imagePath: String, commandLine: String?, memory: UInt64, teardown: TeardownMode, secret: Secret,
         keepsMemory: Bool = false) {
        self.keepsMemory = keepsMemory
        self.label = label
        self.imagePath = imagePath
        self.commandLine = commandLine
        self.memory = memory
        self.teardown = teardown
        self.secret = secret
    }

    func run() -> IsolationOutcome {
        var outcome = IsolationOutcome(label: label)
        var configuration = MachineConfiguration(imagePath: imagePath)
        configuration.memorySize = memory
        configuration.commandLine = commandLine
        configuration.teardown = teardown
        configuration.timeout = .seconds(600)
        configuration.beforeReIPL = { [self] descriptors in attack(descriptors) }
        let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
        do {
            let machine = try Machine(configuration, console: console)
            outcome.runOutcome = "\(machine.run())"
            // After the reboot: what still maps or holds guest RAM (the rebooted guest's, and
            // whatever the teardown left), while the machine still exists.
            var mapped = IsolationPath(name: "after teardown: /proc/self/mem of the old and current backing ranges")
            HostMemory.scan(Array(Set(backingRanges + HostMemory.backingMappings())), secret: secret, into: &mapped)
            outcome.paths.append(mapped)
            var files = IsolationPath(name: "after teardown: the backing files (/proc/self/fd)")
            HostMemory.scanBackingFiles(secret: secret, into: &files)
            outcome.paths.append(files)
            withExtendedLifetime(machine) {}
        } catch {
            outcome.problems.append("cannot start the machine: \(error)")
        }
        var released = IsolationPath(name: "after the VM is gone: /proc/self/mem of the old backing ranges")
        HostMemory.scan(backingRanges, secret: secret, into: &released)
        outcome.paths.append(released)
        outcome.paths.insert(contentsOf: lock.withLock { attackPaths }, at: 0)
        let text = console.text
        outcome.written = text.contains("secret: boot 1/2: \(secret.bytes) bytes written")
        if let line = text.split(separator: "\n").first(where: { $0.contains("secret found in place:") }),
           let number = line.split(separator: " ").dropLast().last, let found = UInt64(number) {
            outcome.guestFound = found
        }
        if !outcome.written { outcome.problems.append("the guest never wrote its secret: \(text.suffix(300))") }
        if attackPaths.isEmpty && !keepsMemory { outcome.problems.append("the guest never reached its re-IPL") }
        return outcome
    }

    /// At the re-IPL, with the secret in guest memory and registers: every path a VMM has.
    private func attack(_ descriptors: MachineDescriptors) {
        var paths: [IsolationPath] = []
        paths.append(absoluteMemoryOperations(descriptors.vm))
        paths.append(logicalMemoryOperations(descriptors.currentVCPU))
        paths.append(secureInstructionDataArea(descriptors.currentVCPU))
        paths.append(dump(descriptors))
        paths.append(registers(descriptors.vcpus))
        paths.append(guestMemfdFiles(descriptors.guestMemfds))
        // The emulator's own side: one process holds the model kernel and the VMM.
        let ranges = HostMemory.backingMappings()
        var mapped = IsolationPath(name: "while running: /proc/self/mem of the backing mappings", counted: false)
        HostMemory.scan(ranges, secret: secret, into: &mapped)
        paths.append(mapped)
        var files = IsolationPath(name: "while running: the backing files (/proc/self/fd)", counted: false)
        HostMemory.scanBackingFiles(secret: secret, into: &files)
        paths.append(files)
        lock.withLock {
            attackPaths = paths
            backingRanges = ranges
        }
    }

    /// KVM_GET_VCPU_MMAP_SIZE, asked of a /dev/kvm of our own.
    private static let runPageSize: Int = {
        let kvm = s390pv_kvm_open(O_RDWR)
        defer { _ = s390pv_kvm_close(kvm) }
        return Int(s390pv_kvm_ioctl(kvm, S390PV_KVM_GET_VCPU_MMAP_SIZE, nil))
    }()

    private static func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
        s390pv_kvm_ioctl(fd, request, argument) < 0 ? errno : 0
    }

    /// KVM_S390_MEM_OP absolute read of every page of guest memory (VM fd).
    private func absoluteMemoryOperations(_ vm: Int32) -> IsolationPath {
        memoryOperations(name: "KVM_S390_MEM_OP absolute read, every page", on: vm, operation: KVM_S390_MEMOP_ABSOLUTE_READ, below: memory)
    }

    /// KVM_S390_MEM_OP logical read (vCPU fd) over the first 64 MiB.
    private func logicalMemoryOperations(_ vcpu: Int32) -> IsolationPath {
        memoryOperations(name: "KVM_S390_MEM_OP logical read, first 64 MiB", on: vcpu, operation: KVM_S390_MEMOP_LOGICAL_READ, below: min(memory, 64 << 20))
    }

    /// One 4 KiB KVM_S390_MEM_OP read per page below `end`; a program exception (result > 0) counts as refused.
    private func memoryOperations(name: String, on fd: Int32, operation kind: Int32, below end: UInt64) -> IsolationPath {
        var path = IsolationPath(name: name)
        var buffer = [UInt8](repeating: 0, count: 4096)
        buffer.withUnsafeMutableBytes { page in
            for address in stride(from: UInt64(0), to: end, by: 4096) {
                var operation = kvm_s390_mem_op()
                operation.gaddr = address
                operation.size = 4096
                operation.op = UInt32(kind)
                operation.buf = UInt64(UInt(bitPattern: page.baseAddress))
                path.tried += 1
                let result = s390pv_kvm_ioctl(fd, S390PV_KVM_S390_MEM_OP, &operation)
                if result < 0 { path.refused(errno) } else if result > 0 { path.refused(0) } else {
                    path.returned(4096, secret: secret.bytesFound(in: UnsafeRawBufferPointer(page)))
                }
            }
        }
        return path
    }

    /// KVM_S390_MEMOP_SIDA_READ at every offset and size a SIDA can have (up to 2 pages).
    private func secureInstructionDataArea(_ vcpu: Int32) -> IsolationPath {
        var path = IsolationPath(name: "KVM_S390_MEMOP_SIDA_READ")
        var buffer = [UInt8](repeating: 0, count: 8192)
        buffer.withUnsafeMutableBytes { area in
            for (offset, size) in [(0, 4096), (0, 8192), (4096, 4096), (0, 256), (3840, 256)] as [(UInt64, UInt32)] {
                var operation = kvm_s390_mem_op()
                operation.sida_offset = UInt32(offset)
                operation.size = size
                operation.op = UInt32(KVM_S390_MEMOP_SIDA_READ)
                operation.buf = UInt64(UInt(bitPattern: area.baseAddress))
                path.tried += 1
                if s390pv_kvm_ioctl(vcpu, S390PV_KVM_S390_MEM_OP, &operation) < 0 { path.refused(errno); continue }
                path.returned(UInt64(size), secret: secret.bytesFound(in: UnsafeRawBufferPointer(rebasing: area[0..<Int(size)])))
            }
        }
        return path
    }

    /// KVM_PV_DUMP (init, configuration storage state, complete) and KVM_PV_DUMP_CPU.
    private func dump(_ descriptors: MachineDescriptors) -> IsolationPath {
        var path = IsolationPath(name: "KVM_PV_DUMP (init, storage state, CPU, complete)")
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        buffer.withUnsafeMutableBytes { area in
            for (subcommand, onCPU) in [(KVM_PV_DUMP_INIT, false), (KVM_PV_DUMP_CONFIG_STOR_STATE, false),
                                        (KVM_PV_DUMP_CPU, true), (KVM_PV_DUMP_COMPLETE, false)] {
                var parameters = kvm_s390_pv_dmp()
                parameters.subcmd = UInt64(subcommand.rawValue)
                parameters.buff_addr = UInt64(UInt(bitPattern: area.baseAddress))
                parameters.buff_len = UInt64(area.count)
                let result = withUnsafeMutablePointer(to: &parameters) { pointer in
                    var command = kvm_pv_cmd()
                    command.cmd = KVM_PV_DUMP.rawValue
                    command.data = UInt64(UInt(bitPattern: pointer))
                    return Self.ioctl(onCPU ? descriptors.currentVCPU : descriptors.vm,
                                      onCPU ? S390PV_KVM_S390_PV_CPU_COMMAND : S390PV_KVM_S390_PV_COMMAND, &command)
                }
                path.tried += 1
                if result != 0 { path.refused(result); continue }
                path.returned(UInt64(area.count), secret: secret.bytesFound(in: UnsafeRawBufferPointer(area)))
            }
        }
        return path
    }

    /// KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_FPU and the sync registers of the kvm_run page, on every vCPU.
    private func registers(_ vcpus: [Int32]) -> IsolationPath {
        var path = IsolationPath(name: "registers (KVM_GET_REGS/SREGS/FPU, kvm_run sync registers)")
        for vcpu in vcpus {
            var regs = kvm_regs()
            path.tried += 1
            if Self.ioctl(vcpu, S390PV_KVM_GET_REGS, &regs) == 0 {
                path.returned(128, secret: secret.bytesFound(inRegisters: withUnsafeBytes(of: regs.gprs) { Array($0.bindMemory(to: UInt64.self)) }))
            } else { path.refused(errno) }
            var sregs = kvm_sregs()
            path.tried += 1
            if Self.ioctl(vcpu, S390PV_KVM_GET_SREGS, &sregs) == 0 {
                path.returned(192, secret: secret.bytesFound(inRegisters: withUnsafeBytes(of: sregs.crs) { Array($0.bindMemory(to: UInt64.self)) }))
            } else { path.refused(errno) }
            var fpu = kvm_fpu()
            path.tried += 1
            if Self.ioctl(vcpu, S390PV_KVM_GET_FPU, &fpu) == 0 {
                path.returned(136, secret: secret.bytesFound(inRegisters: withUnsafeBytes(of: fpu.fprs) { Array($0.bindMemory(to: UInt64.self)) }))
            } else { path.refused(errno) }
            // The kvm_run page: its s390 sync registers (GPRs, ACRs, CRs, the vector/FP area).
            path.tried += 1
            let runSize = Self.runPageSize
            guard let run = s390pv_kvm_mmap(nil, runSize, PROT_READ, MAP_SHARED, vcpu, 0), run != MAP_FAILED else {
                path.refused(errno)
                continue
            }
            path.returned(UInt64(runSize), secret: secret.bytesFound(inRegisters: Array(UnsafeBufferPointer(start: run.assumingMemoryBound(to: UInt64.self), count: runSize / 8))))
            munmap(run, runSize)
        }
        return path
    }

    /// The guest_memfd descriptors themselves: read, pread, mmap.
    private func guestMemfdFiles(_ memfds: [Int32]) -> IsolationPath {
        var path = IsolationPath(name: "guest_memfd read/pread/mmap")
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for memfd in memfds {
            buffer.withUnsafeMutableBytes { area in
                path.tried += 1
                let read = s390pv_kvm_read(memfd, area.baseAddress, area.count)
                if read < 0 { path.refused(errno) } else {
                    path.returned(UInt64(read), secret: secret.bytesFound(in: UnsafeRawBufferPointer(rebasing: area[0..<read])))
                }
                for offset in [0, 0x10000, 0x100000] {
                    path.tried += 1
                    let count = s390pv_kvm_pread(memfd, area.baseAddress, area.count, offset)
                    if count < 0 { path.refused(errno) } else {
                        path.returned(UInt64(count), secret: secret.bytesFound(in: UnsafeRawBufferPointer(rebasing: area[0..<count])))
                    }
                }
            }
            for flags in [MAP_SHARED, MAP_PRIVATE] {
                path.tried += 1
                let length = 16 << 20
                guard let mapping = s390pv_kvm_mmap(nil, length, PROT_READ, flags, memfd, 0), mapping != MAP_FAILED else {
                    path.refused(errno)
                    continue
                }
                path.returned(UInt64(length), secret: secret.bytesFound(in: UnsafeRawBufferPointer(start: mapping, count: length)))
                munmap(mapping, length)
            }
        }
        return path
    }
}

// MARK: - The emulator's own backing of guest RAM

enum HostMemory {
    /// Host mappings of guest RAM (memfd or memfd_secret files named for it), from /proc/self/maps.
    static func backingMappings() -> [Range<UInt>] {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
        return maps.split(separator: "\n").compactMap { line in
            guard isGuestRAM(String(line)), let dash = line.firstIndex(of: "-"),
                  let start = UInt(line[..<dash], radix: 16),
                  let end = UInt(line[line.index(after: dash)...].prefix(while: { $0 != " " }), radix: 16) else { return nil }
            return start..<end
        }
    }

    /// The names the kernel model gives guest RAM's host files (GuestMemfd.Options.name) and secretmem.
    private static func isGuestRAM(_ name: String) -> Bool { name.contains("s390pv-guest-ram") || name.contains("secretmem") }

    /// Reads every page of `ranges` that is present (per /proc/self/pagemap) through /proc/self/mem.
    static func scan(_ ranges: [Range<UInt>], secret: Secret, into path: inout IsolationPath) {
        let memory = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        defer { close(memory); close(pagemap) }
        guard memory >= 0, pagemap >= 0 else { path.tried += 1; path.refused(errno); return }
        var page = [UInt8](repeating: 0, count: 4096)
        var entries = [UInt64](repeating: 0, count: 512)
        for range in ranges {
            for chunk in stride(from: range.lowerBound, to: range.upperBound, by: 512 * 4096) {
                let pages = min(512, Int((range.upperBound - chunk) / 4096))
                let got = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, pages * 8, off_t(chunk / 4096 * 8)) }
                guard got == pages * 8 else { path.tried += 1; path.refused(errno); continue }
                for index in 0..<pages where entries[index] >> 62 != 0 {   // present or swapped
                    path.tried += 1
                    let address = chunk + UInt(index) * 4096
                    let read = page.withUnsafeMutableBytes { pread(memory, $0.baseAddress, 4096, off_t(Int(bitPattern: address))) }
                    if read < 0 { path.refused(errno) } else { path.returned(UInt64(read), secret: secret.bytesFound(in: Array(page[0..<read]))) }
                }
            }
        }
    }

    /// lseek whence values of <linux/fs.h> that Glibc's Swift overlay does not export.
    private static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// Reads the data ranges (SEEK_DATA/SEEK_HOLE) of every open file of guest RAM.
    static func scanBackingFiles(secret: Secret, into path: inout IsolationPath) {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for name in descriptors {
            guard let fd = Int32(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name),
                  isGuestRAM(target) else { continue }
            var offset: off_t = 0
            while true {
                let data = lseek(fd, offset, seekData)
                if data < 0 { if errno != ENXIO { path.tried += 1; path.refused(errno) }; break }
                let hole = lseek(fd, data, seekHole)
                var at = data
                while at < hole {
                    path.tried += 1
                    let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(hole - at)), at) }
                    if count <= 0 { if count < 0 { path.refused(errno) }; break }
                    path.returned(UInt64(count), secret: secret.bytesFound(in: Array(buffer[0..<count])))
                    at += off_t(count)
                }
                if at < hole { break }
                offset = hole
            }
        }
    }
}

// MARK: - Figures

enum IsolationExpectation { case nothingFound, unprotectedControl, keepMemoryControl }

struct IsolationReport {
    var trials: [(IsolationOutcome, IsolationExpectation, [String])] = []
    var seconds = 0.0

    var passed: Bool { trials.allSatisfy { $0.2.isEmpty } }

    /// Judges a trial: no counted path may find a byte, the rebooted guest must find none; a
    /// control must find what it exists to find.
    mutating func add(_ outcome: IsolationOutcome, expectation: IsolationExpectation) {
        var problems = outcome.problems
        let secretBytes = outcome.path("KVM_S390_MEM_OP absolute read, every page").map(\.secretBytes) ?? 0
        switch expectation {
        case .nothingFound:
            for path in outcome.paths where path.counted && path.secretBytes > 0 {
                problems.append("\(path.name): \(path.secretBytes) bytes of the secret")
            }
            if outcome.guestFound != 0 { problems.append("the rebooted guest found \(outcome.guestFound.map(String.init) ?? "no result")") }
        case .unprotectedControl:
            if secretBytes == 0 { problems.append("the absolute MEM_OP did not find the unprotected guest's secret") }
            let registers = outcome.paths.first { $0.name.hasPrefix("registers") }?.secretBytes ?? 0
            if registers == 0 { problems.append("the registers did not show the unprotected guest's secret") }
            if outcome.guestFound != 0 { problems.append("the rebooted unprotected guest found \(outcome.guestFound.map(String.init) ?? "no result")") }
        case .keepMemoryControl:
            if outcome.guestFound == nil || outcome.guestFound == 0 { problems.append("the guest rebooted with memory kept did not find its secret") }
            for path in outcome.paths where path.counted && path.secretBytes > 0 && path.name.hasPrefix("KVM") {
                problems.append("\(path.name): \(path.secretBytes) bytes of the secret")
            }
        }
        trials.append((outcome, expectation, problems))
    }

    /// Protected trials, the reads their counted paths tried, and the bytes of the secret found
    /// (by those paths and by the rebooted guests).
    private var totals: (trials: Int, reads: Int, secretBytes: UInt64) {
        let protected = trials.filter { $0.1 == .nothingFound }
        let paths = protected.flatMap { $0.0.paths }.filter(\.counted)
        return (protected.count, paths.map(\.tried).reduce(0, +),
                paths.map(\.secretBytes).reduce(0, +) + protected.compactMap { $0.0.guestFound }.reduce(0, +))
    }

    var text: String {
        var lines: [String] = []
        for (outcome, _, problems) in trials {
            lines.append("isolation: \(outcome.label) (\(outcome.runOutcome))")
            for path in outcome.paths { lines.append("  \(path.text)") }
            lines.append("  the rebooted guest's scan in place: \(outcome.guestFound.map { "\($0) bytes" } ?? "no result")")
            for problem in problems { lines.append("  PROBLEM: \(problem)") }
        }
        let (protected, tried, found) = totals
        lines.append("isolation: \(protected) protected trial(s), \(tried) reads tried, \(found) bytes of the secret found, "
                     + "\(trials.count - protected) control(s); \(String(format: "%.1f", seconds)) s")
        lines.append("isolation: \(passed ? "PASS" : "FAIL")")
        return lines.joined(separator: "\n")
    }

    var json: String {
        let (protected, tried, found) = totals
        return """
        {"protected_trials": \(protected), "controls": \(trials.count - protected), "reads_tried": \(tried), \
        "secret_bytes_found": \(found), "seconds": \(String(format: "%.1f", seconds)), "passed": \(passed)}

        """
    }
}
