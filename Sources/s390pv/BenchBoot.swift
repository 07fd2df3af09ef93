import ArgumentParser
import Crypto
import Foundation
import KVMIoctls
import KernelModel
import SecureExecution

/// `s390pv bench boot`: protected-boot time of an SE image with 64 MiB of components (process
/// start to the first guest console line), and UNPACK throughput beside the machine's own
/// AES-256-XTS and SHA-512 rates measured in the same run (an unpacked page costs one of each).
struct BootBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "boot",
                                                    abstract: "Protected-boot time and UNPACK throughput against the machine's XTS and SHA-512 rates.")

    @Option(help: "The guest kernel: a raw image as `make pv-guests` makes them.") var kernel = "Guests/build/hello.raw"
    @Option(name: .customLong("component-mib"), help: "MiB of components in the image (the rest of the kernel is a random ramdisk).") var componentMiB = 64
    @Option(help: "Measured runs (after one warm-up).") var runs = 5
    @Option(help: "Write the machine-readable result here.") var json: String?

    func validate() throws {
        guard runs > 0, (1...1024).contains(componentMiB) else { throw ValidationError("--runs must be positive, --component-mib 1 to 1024") }
        guard FileManager.default.fileExists(atPath: kernel) else { throw ValidationError("no such kernel: \(kernel) (run `make pv-guests`)") }
    }

    func run() throws {
        let work = NSTemporaryDirectory() + "s390pv-bench-boot-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (imagePath, keyPath, imageBytes) = try makeImage(in: work)
        let componentBytes = componentMiB << 20

        progress("machine limits: AES-256-XTS and SHA-512 over \(componentMiB) MiB in 4 KiB pages")
        var xts: [Double] = [], sha: [Double] = []
        for _ in 0...runs {
            xts.append(try xtsRate(bytes: componentBytes))
            sha.append(sha512Rate(bytes: componentBytes))
        }
        xts.removeFirst(); sha.removeFirst()

        let hostKey = try HostPrivateKey(contentsOfFile: keyPath)
        HostFirmware.installHostKey(hostKey)
        var unpack: [Double] = []
        for index in 0...runs {
            progress(index == 0 ? "unpack warm-up" : "unpack run \(index)/\(runs)")
            let rate = try unpackRate(image: imageBytes)
            if index > 0 { unpack.append(rate) }
        }
        var boot: [Double] = []
        for index in 0...runs {
            progress(index == 0 ? "boot warm-up" : "boot run \(index)/\(runs)")
            let seconds = try bootTime(image: imagePath, key: keyPath)
            if index > 0 { boot.append(seconds * 1000) }
        }

        let xtsStats = Stats(xts), shaStats = Stats(sha), unpackStats = Stats(unpack), bootStats = Stats(boot)
        let limit = min(xtsStats.median, shaStats.median)
        print("""
        bench boot: \(componentMiB) MiB of components (\(kernel) + ramdisk), \(runs) runs (median [min..max])
          protected boot, process start to first console line  \(bootStats.text(unit: "ms"))
          UNPACK throughput                                     \(unpackStats.text(unit: "MiB/s"))
          machine AES-256-XTS (OpenSSL, 4 KiB units)            \(xtsStats.text(unit: "MiB/s"))
          machine SHA-512 (swift-crypto, 4 KiB updates)         \(shaStats.text(unit: "MiB/s"))
          UNPACK / slower of the two                            \(String(format: "%.2f", unpackStats.median / limit)) (target >= 0.50)
        """)
        if let json {
            let result = """
            {"tool": "s390pv", "version": "\(gitDescribe())", "command": "bench boot",
             "machine": {"cpus": \(ProcessInfo.processInfo.activeProcessorCount), "memory_bytes": \(ProcessInfo.processInfo.physicalMemory)},
             "parameters": {"kernel": "\(kernel)", "component_mib": \(componentMiB), "runs": \(runs)},
             "limits": {"aes_xts_mib_s": {"value": \(xtsStats.median), "unit": "MiB/s", "how": "OpenSSL EVP aes-256-xts, 4 KiB units, same run"},
                        "sha512_mib_s": {"value": \(shaStats.median), "unit": "MiB/s", "how": "swift-crypto SHA512, 4 KiB updates, same run"}},
             "results": [{"image": "\(kernel)+ramdisk", "component_bytes": \(componentBytes),
               "boot_latency_ms": \(bootStats.json), "unpack_throughput_mib_s": \(unpackStats.json)}]}

            """
            do { try result.write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
        }
    }

    /// A fresh host key, and the kernel plus a random ramdisk sealed for it with our loaders.
    private func makeImage(in directory: String) throws -> (path: String, key: String, bytes: [UInt8]) {
        let pair: HostKeyPair
        do { pair = try HostKeyPair.create(in: directory + "/hostkey", replace: false) } catch { fail(error.message) }
        let loaders: SEBootLoaders
        do { loaders = try SEBootLoaders(directory: try SEBootLoaders.defaultDirectory().get()) } catch { fail("\(error)") }
        let kernelBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: kernel)))
        var generator = SystemRandomNumberGenerator()
        let ramdisk = (0..<max(0, (componentMiB << 20) - kernelBytes.count)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let certificate = try String(contentsOfFile: pair.certificatePath, encoding: .utf8)
        let configuration = SEImageConfiguration(kernel: kernelBytes, ramdisk: ramdisk, hostKeys: [try HostKey(certificate: Array(certificate.utf8))])
        let image = try SEImage.build(configuration, loaders: loaders, keys: .random())
        let path = directory + "/bench-pv.img"
        try Data(image.bytes).write(to: URL(fileURLWithPath: path))
        return (path, pair.keyPath, image.bytes)
    }

    private func xtsRate(bytes: Int) throws -> Double {
        let context = try AESXTSContext(key: (0..<64).map { UInt8($0) }, encrypting: false)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x5A, count: bytes)
        let seconds = try measure { () throws(SEComponentError) in
            for page in stride(from: 0, to: bytes, by: 4096) { try context.crypt(buffer + page, count: 4096, tweak: (1, UInt64(page))) }
        }
        return Double(bytes) / seconds / Double(1 << 20)
    }

    private func sha512Rate(bytes: Int) -> Double {
        let page = [UInt8](repeating: 0xA5, count: 4096)
        var hash = SHA512()
        let seconds = measure { () throws(Never) in
            for _ in 0..<(bytes / 4096) { hash.update(data: page) }
        }
        _ = hash.finalize()
        return Double(bytes) / seconds / Double(1 << 20)
    }

    /// ENABLE and SET_SEC_PARMS, then the UNPACKs of every component are timed (VERIFY must pass).
    private func unpackRate(image: [UInt8]) throws -> Double {
        let system = try KVMSystem()
        let vm = try system.createVM()
        let memory: UInt64 = UInt64(componentMiB + 64) << 20
        let memfd = try vm.createGuestMemfd(size: memory)
        try vm.setMemoryRegion(slot: 0, guestAddress: 0, size: memory, memfd: memfd, offset: 0)
        _ = try vm.createVCPU(id: 0)
        try vm.writeAbsolute(0, image)
        let metadata = Array(image[0xC000..<0xC01C])
        let headerAddress = Int(metadata[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let ipib = Array(image[Int(metadata[20..<28].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })...])
        func field(_ offset: Int) -> UInt64 { ipib[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        let headerSize = Int(field(0x80))
        let count = Int(ipib[0x74..<0x78].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        try vm.protectedVirtualizationCommand(.enable)
        defer { _ = try? vm.protectedVirtualizationCommand(.disable) }
        try vm.setSecureParameters(header: Array(image[headerAddress..<headerAddress + headerSize]))
        var unpacked: UInt64 = 0
        let seconds = try measure { () throws(PVCommandError) in
            for index in 0..<count {
                let entry = 0x88 + 24 * index
                let size = (field(entry + 16) + 0xFFF) & ~0xFFF
                try vm.unpack(address: field(entry + 8), size: size, tweak: field(entry))
                unpacked += size
            }
        }
        try vm.protectedVirtualizationCommand(.verify)
        return Double(unpacked) / seconds / Double(1 << 20)
    }

    /// `s390pv run` of the image in a child process until its first stdout line.
    private func bootTime(image: String, key: String) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path) {
            process.executableURL = Bundle.main.executableURL
        }
        process.arguments = ["run", image, "--host-key", key, "--memory", "\(componentMiB + 64)M", "--timeout", "120"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let start = ContinuousClock.now
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let elapsed = ContinuousClock.now - start
        process.waitUntilExit()
        guard line.contains(UInt8(ascii: "\n")) else { fail("the protected guest printed nothing (exit \(process.terminationStatus))") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func measure<E: Error>(_ body: () throws(E) -> Void) throws(E) -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func progress(_ message: String) { FileHandle.standardError.write(Data("bench boot: \(message)\n".utf8)) }
}
