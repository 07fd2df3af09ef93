// `s390pv tamper` (issue 7 item 3): tampered Secure Execution images. SE images are sealed
// in-process for this process's Ultravisor (a fresh host key); each tampered variant is driven
// through the path QEMU takes at DIAG 308 subcodes 8 and 10: the VMM's PV-IPIB validation
// (QEMU's iplb_valid_pv as Sources/VMM/Diagnose.swift implements it, answer 0x402), then
// KVM_PV_ENABLE, KVM_PV_SET_SEC_PARMS with the header the IPIB names, KVM_PV_UNPACK of every
// IPIB component in IPIB order and KVM_PV_VERIFY on one reused 16 MiB VM, KVM_PV_DISABLE after
// each variant. A variant is refused when a step fails with a documented answer (0x402, a UV
// rc/rrc of se-image-format.md §7.4, or a kernel errno of kvm-pv-ioctl.md §2 before the UV);
// it must never reach a successful VERIFY. Some UNPACK orders bypass the VMM (duplicated,
// reordered, omitted components): the UV alone must refuse them at VERIFY.
import ArgumentParser
import Foundation
import KVMIoctls
import KernelModel
import SecureExecution

struct Tamper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tamper",
        abstract: "Try tampered variants of SE images; every one must be refused with a documented rc/rrc.",
        discussion: """
        Short (CI) mode: `s390pv tamper` (every byte of the header, key slots and IPIB with one bit
        flipped, 16 component samples per image). Long mode: `s390pv tamper --exhaustive` (every
        bit of them, 256 component samples per image; `--component-samples N` overrides).
        `--control` adds each untampered image, which must boot (and be the only variant that does).
        Exit status 0 when every tampered variant was refused with a documented answer, no UV
        configuration leaked and (with --control) every control booted; 1 otherwise.
        The VMM's PV-IPIB check is reimplemented here from Sources/VMM/Diagnose.swift
        (ProtectedIPLBlock is internal to the VMM module).
        """)

    @Flag(help: "Long mode: every bit of the header, key slots and IPIB.") var exhaustive = false
    @Option(name: .customLong("component-samples"), help: "Component bits flipped per image (default 16, 256 with --exhaustive).") var componentSamples: Int?
    @Flag(help: "Also run each untampered image: it must boot (negative control).") var control = false
    @Option(help: "PRNG seed of the component samples (default: random, printed).") var seed: UInt64?
    @Option(help: "Write the figures here as JSON.") var json: String?
    @Option(help: "Raw kernels to seal (comma-separated).") var kernels = "Guests/build/hello.raw,Guests/build/uv-guest.raw"
    @Flag(help: "Print every variant.") var verbose = false
    /// Self-test: the untampered images counted as tampered variants (each must show as BOOTED, exit 1).
    @Flag(name: .customLong("self-test-untampered"), help: .hidden) var selfTestUntampered = false

    func validate() throws {
        if let componentSamples, componentSamples < 0 { throw ValidationError("--component-samples must be 0 or more") }
        for kernel in kernelPaths where !FileManager.default.fileExists(atPath: kernel) {
            throw ValidationError("no such kernel: \(kernel) (run `make guests`)")
        }
    }

    var kernelPaths: [String] { kernels.split(separator: ",").map(String.init) }

    func run() throws {
        let began = ContinuousClock.now
        // The host key must be in before the first VM creates the Ultravisor.
        HostFirmware.installHostKey(HostPrivateKey(.init()))
        guard let ultravisor = HostFirmware.ultravisor else { fail("protected virtualization is off on this host") }
        let ownKey = ultravisor.hostPublicKey
        let loaders: SEBootLoaders
        do { loaders = try SEBootLoaders(directory: try SEBootLoaders.defaultDirectory().get()) } catch { fail("boot loaders: \(error) (run `make loaders`)") }
        let seed = self.seed ?? UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let samples = componentSamples ?? (exhaustive ? 256 : 16)
        print("tamper: seed \(seed), \(exhaustive ? "exhaustive (every bit)" : "short (one bit per byte)"), \(samples) component samples per image")

        // The images: each kernel alone with one key slot, and with a parmfile, a small ramdisk
        // and two key slots (a foreign host first, so the UV must search the slots).
        var images: [TamperImage] = []
        for path in kernelPaths {
            let kernel = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let ramdisk = (0..<(3 * 4096 + 100)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let foreign = HostPrivateKey(.init()).publicKey
            let plain = SEImageConfiguration(kernel: kernel, hostKeys: [ownKey])
            let full = SEImageConfiguration(kernel: kernel, ramdisk: ramdisk, parmfile: Array("console=ttyS0 tamper".utf8),
                                            hostKeys: [foreign, ownKey])
            images.append(try TamperImage(name: name, configuration: plain, loaders: loaders))
            images.append(try TamperImage(name: name + "+parm+initrd,2keys", configuration: full, loaders: loaders))
        }

        let runner = try TamperRunner(configurationCount: { ultravisor.configurationCount }, verbose: verbose)
        let bits: [Int] = exhaustive ? Array(0..<8) : []
        func flips(_ offset: Int) -> [Int] { bits.isEmpty ? [(offset * 5 + 3) % 8] : bits }

        for image in images {
            let header = image.header
            let slots = image.keySlotRange
            // Control: the untampered image boots.
            if control { runner.control(image) }
            if selfTestUntampered { runner.attempt("untampered", image, what: "no change", memory: image.memory) }

            // Header (outside the key slots) and key slots: SET_SEC_PARMS must refuse.
            for offset in header.indices {
                let cls = slots.contains(offset) ? "key-slot" : "header"
                for bit in flips(offset) {
                    var tampered = header
                    tampered[offset] ^= 1 << bit
                    runner.attempt(cls, image, what: "header byte 0x\(hex(offset)) bit \(bit)", memory: image.memory, header: tampered)
                }
            }

            // IPIB: each byte (every bit with --exhaustive), through the VMM's check, then the UV.
            for offset in image.ipib.indices {
                for bit in flips(offset) {
                    var tampered = image.ipib
                    tampered[offset] ^= 1 << bit
                    runner.attempt("ipib", image, what: "IPIB byte 0x\(hex(offset)) bit \(bit) (\(TamperImage.ipibField(offset)))",
                                   memory: image.memory, ipib: tampered, field: TamperImage.ipibField(offset).replacingOccurrences(of: #"\[\d+\]"#, with: "[i]", options: .regularExpression))
                }
            }

            // Component bits: a sample of (component, byte, bit), the image in memory tampered.
            let components = image.image.components.map(\.component)
            for sample in 0..<samples {
                let component = components[random.below(components.count)]
                let offset = Int(component.address) + random.below(component.preparedSize)
                let bit = random.below(8)
                var memory = image.memory
                memory.bytes[offset] ^= 1 << bit
                memory.id = "\(image.name)/component-sample-\(sample)"
                runner.attempt("component", image, what: "image byte 0x\(hex(offset)) bit \(bit)", memory: memory)
            }

            // Wrong host key: the same kernel sealed for one and for two foreign hosts.
            for keys in [1, 2] {
                var configuration = image.configuration
                configuration.hostKeys = (0..<keys).map { _ in HostPrivateKey(.init()).publicKey }
                let foreign = try TamperImage(name: image.name + "/foreign\(keys)", configuration: configuration, loaders: loaders)
                runner.attempt("wrong-host-key", foreign, what: "\(keys) foreign key slot(s)", memory: foreign.memory)
            }

            // Truncated header: the IPIB's pv_hdr_size cut (QEMU copies that many bytes).
            let e = header.count - 16 - 128
            for length in Set([0, 1, 8, 12, 16, 0x20, 0x40, 0x1A0, slots.upperBound, e, header.count - 16, header.count - 1]).sorted() {
                var ipib = image.ipib
                ipib.tamperPutBigEndian(UInt64(length), at: 0x80)
                runner.attempt("truncate-header", image, what: "pv_hdr_size \(length) of \(header.count)", memory: image.memory, ipib: ipib)
            }
            // The file cut inside the header and inside each component: the IPIB at its end is lost
            // (stage3a hands DIAG 308 a zeroed block); and the same components cut with the IPIB kept.
            var cuts = [image.image.headerAddress + 0x100]
            for component in components {
                cuts.append(Int(component.address) + 100)
                if component.pageCount > 1 { cuts.append(Int(component.address) + component.preparedSize - 4096 + 7) }
            }
            for cut in cuts {
                var memory = image.memory
                memory.bytes = Array(memory.bytes[..<cut])
                memory.id = "\(image.name)/cut-\(cut)"
                runner.attempt("truncate-file", image, what: "file cut at 0x\(hex(cut)) of 0x\(hex(image.memory.bytes.count))", memory: memory)
                guard cut > image.image.headerAddress + header.count else { continue }
                var kept = image.memory
                for index in cut..<image.image.ipibAddress { kept.bytes[index] = 0 }
                kept.id = "\(image.name)/cut-\(cut)-ipib-kept"
                runner.attempt("truncate-component", image, what: "components cut at 0x\(hex(cut)), IPIB kept", memory: kept)
            }

            // Duplicated and reordered IPIB entries: the VMM's strictly-increasing tweak rule.
            let entries = components.indices.map { Array(image.ipib[0x88 + 24 * $0 ..< 0x88 + 24 * $0 + 24]) }
            func ipib(with list: [[UInt8]]) -> [UInt8] {
                var block = Array(image.ipib[..<0x88]) + list.flatMap { $0 }
                block.tamperPutBigEndian(UInt32(136 + 24 * list.count), at: 0x00)
                block.tamperPutBigEndian(UInt32(128 + 24 * list.count), at: 0x08)
                block.tamperPutBigEndian(UInt32(list.count), at: 0x74)
                return block
            }
            for index in entries.indices {
                var list = entries
                list.insert(entries[index], at: index + 1)
                runner.attempt("duplicate-ipib", image, what: "IPIB entry \(index) duplicated", memory: image.memory, ipib: ipib(with: list))
                list = entries
                list.append(entries[index])
                runner.attempt("duplicate-ipib", image, what: "IPIB entry \(index) repeated at the end", memory: image.memory, ipib: ipib(with: list))
            }
            for i in entries.indices { for j in entries.indices where j > i {
                var list = entries
                list.swapAt(i, j)
                runner.attempt("reorder-ipib", image, what: "IPIB entries \(i) and \(j) swapped", memory: image.memory, ipib: ipib(with: list))
            } }

            // The VMM bypassed: UNPACKs issued directly in a wrong order; VERIFY must refuse.
            let order = image.unpackList
            for index in order.indices {
                var list = order
                list.insert(order[index], at: index + 1)
                runner.attempt("duplicate-unpack", image, what: "component \(index) unpacked twice", memory: image.memory, unpack: list)
                list = order
                list.append(order[index])
                runner.attempt("duplicate-unpack", image, what: "component \(index) unpacked again at the end", memory: image.memory, unpack: list)
                list = order
                list.remove(at: index)
                runner.attempt("omit-unpack", image, what: "component \(index) not unpacked", memory: image.memory, unpack: list)
            }
            for permutation in permutations(Array(order.indices)) where permutation != Array(order.indices) {
                runner.attempt("reorder-unpack", image, what: "UNPACK order \(permutation)", memory: image.memory,
                               unpack: permutation.map { order[$0] })
            }
        }

        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let report = runner.finish(seconds: seconds, images: images.count, seed: seed)
        print(report.text)
        if let json {
            do { try report.json.write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
        }
        if !report.passed { throw ExitCode(1) }
    }

    private func permutations(_ items: [Int]) -> [[Int]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { index -> [[Int]] in
            var rest = items
            let first = rest.remove(at: index)
            return permutations(rest).map { [first] + $0 }
        }
    }
}

private func hex(_ value: Int) -> String { String(value, radix: 16) }

extension Array where Element == UInt8 {
    /// Big-endian store (SecureExecution's writeBigEndian is internal).
    fileprivate mutating func tamperPutBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * (MemoryLayout<T>.size - 1 - index))) }
    }
}

/// Guest memory as the VMM would load it: the image file from absolute 0 (zeros after it).
struct TamperMemory {
    var id: String
    var bytes: [UInt8]
}

/// One SE image sealed for the test: its bytes, header, IPIB and UNPACK list.
struct TamperImage {
    let name: String
    let configuration: SEImageConfiguration
    let image: SEImage

    init(name: String, configuration: SEImageConfiguration, loaders: SEBootLoaders) throws {
        self.name = name
        self.configuration = configuration
        image = try SEImage.build(configuration, loaders: loaders, keys: .random())
    }

    var memory: TamperMemory { TamperMemory(id: name, bytes: image.bytes) }
    var header: [UInt8] { image.header.bytes }
    var ipib: [UInt8] { image.ipib }
    /// Key slots within the header (spec §2.1: from 0x1A0, 80 bytes each).
    var keySlotRange: Range<Int> { 0x1A0 ..< 0x1A0 + 80 * configuration.hostKeys.count }
    var unpackList: [TamperComponent] {
        image.components.map { TamperComponent(address: $0.component.address, size: UInt64($0.component.preparedSize), tweak: $0.component.tweak.prefix) }
    }

    /// The IPIB field a byte belongs to (spec §6).
    static func ipibField(_ offset: Int) -> String {
        switch offset {
        case 0..<4: "hdr.len"
        case 4: "hdr.flags"
        case 5..<7: "reserved"
        case 7: "hdr.version"
        case 8..<12: "pb0.len"
        case 12: "pbt"
        case 13..<16: "reserved"
        case 16..<24: "loadparm"
        case 24..<0x6F: "reserved"
        case 0x6F: "pv.version"
        case 0x70..<0x74: "reserved"
        case 0x74..<0x78: "num_comp"
        case 0x78..<0x80: "pv_hdr_addr"
        case 0x80..<0x88: "pv_hdr_size"
        default: "comp[\((offset - 0x88) / 24)].\(["tweak_pref", "addr", "len"][(offset - 0x88) % 24 / 8])"
        }
    }
}

struct TamperComponent: Equatable {
    var address: UInt64, size: UInt64, tweak: UInt64
}

/// What the VMM keeps of a PV IPIB that passes its check.
struct TamperIPIB: Equatable {
    var headerAddress: UInt64, headerLength: UInt64
    var components: [TamperComponent]

    static let blockTypeOffset = 12, maximumLength = 4096, minimumLength = 148, maximumHeaderLength: UInt64 = 8192

    /// DIAG 308 subcode 8 as IPLParameters.store and ProtectedIPLBlock.init (Sources/VMM/Diagnose.swift,
    /// QEMU's handle_diag_308 and iplb_valid_pv) check it: nil means the answer 0x402.
    /// Reimplemented: ProtectedIPLBlock is internal to the VMM module.
    init?(memory read: (UInt64, Int) -> [UInt8]?, address: UInt64, memorySize: UInt64) {
        guard let first = read(address, Self.blockTypeOffset + 1) else { return nil }
        let length = Int(first[0]) << 24 | Int(first[1]) << 16 | Int(first[2]) << 8 | Int(first[3])
        guard length <= Self.maximumLength, length >= Self.blockTypeOffset + 1, let bytes = read(address, length) else { return nil }
        func u32(_ offset: Int) -> UInt64 { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt64($1) } }
        func u64(_ offset: Int) -> UInt64 { bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        guard bytes.count >= Self.minimumLength, bytes[Self.blockTypeOffset] == 5 else { return nil }
        headerAddress = u64(0x78)
        headerLength = u64(0x80)
        guard headerLength <= Self.maximumHeaderLength, headerAddress < memorySize, headerLength <= memorySize - headerAddress else { return nil }
        let count = Int(u32(0x74))
        guard count >= 1, 0x88 + 24 * count <= bytes.count else { return nil }
        var components: [TamperComponent] = []
        for index in 0..<count {
            let entry = 0x88 + 24 * index
            let component = TamperComponent(address: u64(entry + 8), size: u64(entry + 16), tweak: u64(entry))
            guard component.address & 0xFFF == 0 else { return nil }
            if let previous = components.last, component.tweak <= previous.tweak { return nil }
            components.append(component)
        }
        self.components = components
    }
}

/// Tried and refused counts of one class, by answer.
struct TamperClass {
    var tried = 0, refused = 0, sameBoot = 0, booted = 0, undocumented = 0
    var seconds = 0.0
    var answers: [String: Int] = [:]
    /// Per field (IPIB): the answers, "same configuration" for a change nobody sees.
    var fields: [String: [String: Int]] = [:]
}

final class TamperRunner {
    static let memorySize: UInt64 = 16 << 20
    let system: KVMSystem
    let vm: VMFd
    let memfd: GuestMemfdFd
    let vcpu: VCPUFd
    /// The UV's live configurations (HostFirmware.ultravisor?.configurationCount).
    let configurationCount: () -> Int
    let baseConfigurations: Int
    let verbose: Bool
    var classes: [(name: String, counts: TamperClass)] = []
    var findings: [String] = []
    var leaks = 0
    var controls = (tried: 0, booted: 0)
    /// What guest memory holds: the id of the last memory written, nil once UNPACK (and the
    /// DISABLE after it) changed it; and how many bytes from 0 were written.
    private var loaded: String?
    private var loadedLength = 0

    init(configurationCount: @escaping () -> Int, verbose: Bool) throws {
        system = try KVMSystem()
        vm = try system.createVM()
        memfd = try vm.createGuestMemfd(size: Self.memorySize)
        try vm.setMemoryRegion(slot: 0, guestAddress: 0, size: Self.memorySize, memfd: memfd, offset: 0)
        vcpu = try vm.createVCPU(id: 0)
        self.configurationCount = configurationCount
        baseConfigurations = configurationCount()
        self.verbose = verbose
    }

    /// Documented refusals: the VMM's 0x402 (spec §7.1), the UV's rc/rrc (spec §7.4 and the
    /// generic rc of arch/s390/include/asm/uv.h), a kernel errno before the UV (kvm-pv-ioctl §2).
    static func documented(_ answer: String) -> Bool {
        let exact: Set<String> = ["0x402", "0x102/0x1a", "0x102/0x1b", "0x102/0x1c", "0x102/0x1d", "0x104/0x1", "0x106/0x30", "0x109/0x0",
                                  "0x10a/0x31", "0x10a/0x39", "0x10a/0x40", "EINVAL", "EFAULT", "ENOMEM",
                                  "EFAULT after rc 0x1"]
        let anyRRC = ["0x108/", "0x103/", "0x101/", "0x2/", "0x3/", "0x5/", "0x20/", "0x21/"]
        return exact.contains(answer) || anyRRC.contains { answer.hasPrefix($0) }
    }

    private func memoryRead(_ memory: TamperMemory) -> (UInt64, Int) -> [UInt8]? {
        { address, count in
            guard address < Self.memorySize, UInt64(count) <= Self.memorySize - address else { return nil }
            let start = Int(address)
            var bytes = [UInt8](repeating: 0, count: count)
            if start < memory.bytes.count {
                let end = min(start + count, memory.bytes.count)
                bytes.replaceSubrange(0..<(end - start), with: memory.bytes[start..<end])
            }
            return bytes
        }
    }

    /// Writes `memory` at absolute 0 (and zeros over the rest of what was written before).
    private func load(_ memory: TamperMemory) {
        guard loaded != memory.id else { return }
        var bytes = memory.bytes
        if bytes.count < loadedLength { bytes += [UInt8](repeating: 0, count: loadedLength - bytes.count) }
        do { try vm.writeAbsolute(0, bytes) } catch { fail("tamper: loading \(memory.id): \(error)", status: 1) }
        loaded = memory.id
        loadedLength = memory.bytes.count
    }

    private func count(_ cls: String, _ body: (inout TamperClass) -> Void) {
        if let index = classes.firstIndex(where: { $0.name == cls }) { body(&classes[index].counts) } else {
            var counts = TamperClass()
            body(&counts)
            classes.append((cls, counts))
        }
    }

    /// The protect sequence QEMU runs; the first failure's answer, or nil when VERIFY succeeded.
    private func protect(_ memory: TamperMemory, ipib: TamperIPIB?, header override: [UInt8]?, unpack list: [TamperComponent]?,
                         imageIPIB: [UInt8]) -> String? {
        let read = memoryRead(memory)
        let block: TamperIPIB
        if let ipib { block = ipib } else {
            // Bypassing the VMM: the untampered image's IPIB gives the header; `list` the UNPACKs.
            guard let parsed = TamperIPIB(memory: { address, count in
                address + UInt64(count) <= UInt64(imageIPIB.count) ? Array(imageIPIB[Int(address)..<Int(address) + count]) : nil
            }, address: 0, memorySize: Self.memorySize) else { return "0x402" }
            block = parsed
        }
        guard let header = override ?? read(block.headerAddress, Int(block.headerLength)) else { return "0x402" }
        let unpacks = list ?? block.components
        if !unpacks.isEmpty { load(memory) }
        do { try vm.protectedVirtualizationCommand(.enable) } catch { fail("tamper: KVM_PV_ENABLE failed: \(error)", status: 1) }
        defer {
            do { try vm.protectedVirtualizationCommand(.disable) } catch { findings.append("KVM_PV_DISABLE failed: \(error)") }
            if configurationCount() != baseConfigurations {
                leaks += 1
                findings.append("UV configurations \(configurationCount()) after DISABLE (start \(baseConfigurations))")
            }
        }
        // A UV refusal is EINVAL with the UV's rc/rrc; a kernel check before any UVC leaves rc 0;
        // UNPACK's EFAULT past the memslot carries the rc of the last UVC, 1 (kvm-pv-ioctl §2.4 step 5).
        func answer(_ error: PVCommandError) -> String {
            let name: String
            switch error.errno { case 22: name = "EINVAL"; case 14: name = "EFAULT"; case 12: name = "ENOMEM"; default: name = "errno \(error.errno)" }
            if error.rc == 0 { return name }
            if error.errno == 22 && error.rc != 1 { return "0x\(String(error.rc, radix: 16))/0x\(String(error.rrc, radix: 16))" }
            return "\(name) after rc 0x\(String(error.rc, radix: 16))"
        }
        do {
            try vm.setSecureParameters(header: header)
            for component in unpacks {
                loaded = nil
                try vm.unpack(address: component.address, size: (component.size &+ 0xFFF) & ~0xFFF, tweak: component.tweak)
            }
            try vm.protectedVirtualizationCommand(.verify)
            return nil
        } catch {
            return answer(error)
        }
    }

    /// One tampered variant: VMM check of the IPIB in memory (or `ipib`), then the UV.
    func attempt(_ cls: String, _ image: TamperImage, what: String, memory: TamperMemory, header: [UInt8]? = nil, ipib: [UInt8]? = nil,
                 unpack: [TamperComponent]? = nil, field: String? = nil) {
        let started = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - started
            count(cls) { $0.seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
        }
        let read = memoryRead(memory)
        var result: String?
        var same = false
        if unpack != nil {
            result = protect(memory, ipib: nil, header: header, unpack: unpack, imageIPIB: image.ipib)
        } else {
            // DIAG 308 subcode 8: the block stage3a passes, from guest memory (or as edited).
            let blockMemory: (UInt64, Int) -> [UInt8]?
            if let ipib {
                blockMemory = { address, count in
                    let start = Int(address) - image.image.ipibAddress
                    guard start >= 0, address < Self.memorySize, UInt64(count) <= Self.memorySize - address else { return nil }
                    return (start..<start + count).map { $0 < ipib.count ? ipib[$0] : 0 }
                }
            } else {
                blockMemory = read
            }
            if let block = TamperIPIB(memory: blockMemory, address: UInt64(image.image.ipibAddress), memorySize: Self.memorySize) {
                // A change the VMM and the UV cannot see (a reserved or ignored field): the same boot.
                let original = TamperIPIB(memory: memoryRead(image.memory), address: UInt64(image.image.ipibAddress), memorySize: Self.memorySize)
                if ipib != nil, header == nil, block == original, memory.id == image.memory.id {
                    same = true
                } else {
                    result = protect(memory, ipib: block, header: header, unpack: nil, imageIPIB: image.ipib)
                }
            } else {
                result = "0x402"
            }
        }
        if same {
            count(cls) { $0.tried += 1; $0.sameBoot += 1; if let field { $0.fields[field, default: [:]]["same configuration", default: 0] += 1 } }
            if verbose { print("tamper: \(cls) \(image.name) \(what): ignored field, same configuration") }
            return
        }
        guard let result else {
            count(cls) { $0.tried += 1; $0.booted += 1 }
            findings.append("BOOTED: \(cls) \(image.name) \(what)")
            print("tamper: BOOTED \(cls) \(image.name) \(what)")
            return
        }
        let documented = Self.documented(result)
        count(cls) {
            $0.tried += 1
            $0.answers[result, default: 0] += 1
            if let field { $0.fields[field, default: [:]][result, default: 0] += 1 }
            if documented { $0.refused += 1 } else { $0.undocumented += 1 }
        }
        if !documented {
            findings.append("UNDOCUMENTED \(result): \(cls) \(image.name) \(what)")
            print("tamper: UNDOCUMENTED \(result) \(cls) \(image.name) \(what)")
        }
        if verbose { print("tamper: \(cls) \(image.name) \(what): \(result)") }
    }

    /// The untampered image through the same path: it must boot.
    func control(_ image: TamperImage) {
        controls.tried += 1
        guard let block = TamperIPIB(memory: memoryRead(image.memory), address: UInt64(image.image.ipibAddress), memorySize: Self.memorySize) else {
            findings.append("CONTROL \(image.name): the VMM refused the IPIB")
            print("tamper: CONTROL \(image.name) refused: 0x402")
            return
        }
        if let answer = protect(image.memory, ipib: block, header: nil, unpack: nil, imageIPIB: image.ipib) {
            findings.append("CONTROL \(image.name) refused: \(answer)")
            print("tamper: CONTROL \(image.name) refused: \(answer)")
        } else {
            controls.booted += 1
        }
    }

    func finish(seconds: Double, images: Int, seed: UInt64) -> TamperReport {
        TamperReport(classes: classes, findings: findings, leaks: leaks, controls: controls, seconds: seconds, images: images, seed: seed,
                     finalConfigurations: configurationCount() - baseConfigurations)
    }
}

struct TamperReport {
    let classes: [(name: String, counts: TamperClass)]
    let findings: [String]
    let leaks: Int
    let controls: (tried: Int, booted: Int)
    let seconds: Double
    let images: Int
    let seed: UInt64
    let finalConfigurations: Int

    var tried: Int { classes.reduce(0) { $0 + $1.counts.tried - $1.counts.sameBoot } }
    var refused: Int { classes.reduce(0) { $0 + $1.counts.refused } }
    var booted: Int { classes.reduce(0) { $0 + $1.counts.booted } }
    var undocumented: Int { classes.reduce(0) { $0 + $1.counts.undocumented } }
    var sameBoot: Int { classes.reduce(0) { $0 + $1.counts.sameBoot } }
    var passed: Bool {
        tried == refused && booted == 0 && undocumented == 0 && leaks == 0 && finalConfigurations == 0 && controls.booted == controls.tried
            && !findings.contains { $0.hasPrefix("KVM_PV_DISABLE") }
    }

    private func answers(_ map: [String: Int]) -> String {
        "{" + map.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }

    var text: String {
        var lines = ["tamper: \(images) images, seed \(seed)"]
        for (name, counts) in classes {
            var line = "  \(name): tried \(counts.tried - counts.sameBoot), refused \(counts.refused), by rc/rrc: \(answers(counts.answers))"
            line += " (\(String(format: "%.1f", counts.seconds)) s)"
            if counts.sameBoot > 0 { line += "; \(counts.sameBoot) more in fields QEMU and the UV ignore (same configuration, not counted)" }
            if counts.booted > 0 { line += "; BOOTED \(counts.booted)" }
            if counts.undocumented > 0 { line += "; undocumented \(counts.undocumented)" }
            lines.append(line)
            for (field, answers) in counts.fields.sorted(by: { $0.key < $1.key }) { lines.append("    \(name) \(field): \(self.answers(answers))") }
        }
        var total: [String: Int] = [:]
        for (_, counts) in classes { total.merge(counts.answers, uniquingKeysWith: +) }
        lines.append("  total: tried \(tried), refused \(refused), booted \(booted), undocumented \(undocumented), by rc/rrc: \(answers(total))")
        if controls.tried > 0 { lines.append("  control (untampered): tried \(controls.tried), booted \(controls.booted)") }
        lines.append("  leaked UV configurations \(leaks + finalConfigurations), crashes 0 (this process is alive), \(String(format: "%.1f", seconds)) s")
        for finding in findings.prefix(20) { lines.append("  finding: \(finding)") }
        lines.append("tamper: \(passed ? "PASS" : "FAIL")")
        return lines.joined(separator: "\n")
    }

    var json: String {
        func map(_ answers: [String: Int]) -> String {
            "{" + answers.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        }
        let classesJSON = classes.map { name, counts in
            "\"\(name)\": {\"tried\": \(counts.tried - counts.sameBoot), \"refused\": \(counts.refused), \"booted\": \(counts.booted), \"undocumented\": \(counts.undocumented), \"ignored_same_configuration\": \(counts.sameBoot), \"by\": \(map(counts.answers))}"
        }.joined(separator: ",\n  ")
        return """
        {"tool": "s390pv", "command": "tamper", "seed": \(seed), "images": \(images), "seconds": \(seconds),
         "classes": {\(classesJSON)},
         "tried": \(tried), "refused": \(refused), "booted": \(booted), "undocumented": \(undocumented),
         "controls_tried": \(controls.tried), "controls_booted": \(controls.booted), "leaked_uv_configurations": \(leaks + finalConfigurations),
         "passed": \(passed)}

        """
    }
}
