// Test doubles and helpers of the Ultravisor tests.
import Crypto
import Foundation
import SecureExecution
import Testing
@testable import Ultravisor

/// Guest storage in a malloc'd buffer; `populatedRanges` scans for non-zero pages (honest, small sizes only).
final class MemoryStorage: SecureStorage, @unchecked Sendable {
    let size: UInt64
    let base: UnsafeMutableRawPointer
    private let clearLock = NSLock()
    private(set) var clearCalls = 0

    init(size: UInt64) {
        self.size = size
        base = calloc(Int(size), 1)!
    }

    deinit { free(base) }

    func hostPointer(_ address: UInt64) -> UnsafeMutableRawPointer { base + Int(address) }

    func clear(_ range: Range<UInt64>) {
        precondition(range.lowerBound % 4096 == 0 && range.upperBound % 4096 == 0 && range.upperBound <= size)
        memset(base + Int(range.lowerBound), 0, Int(range.count))
        clearLock.lock()
        clearCalls += 1
        clearLock.unlock()
    }

    func populatedRanges(in range: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var page = range.lowerBound
        while page < range.upperBound {
            let bytes = UnsafeRawBufferPointer(start: base + Int(page), count: 4096)
            if bytes.contains(where: { $0 != 0 }) {
                if let last = result.last, last.upperBound == page {
                    result[result.count - 1] = last.lowerBound ..< page + 4096
                } else {
                    result.append(page ..< page + 4096)
                }
            }
            page += 4096
        }
        return result
    }

    func write(_ bytes: [UInt8], at address: UInt64) {
        bytes.withUnsafeBytes { (base + Int(address)).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    func read(_ address: UInt64, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base + Int(address), count: count))
    }

    func isZero(_ range: Range<UInt64>) -> Bool {
        !UnsafeRawBufferPointer(start: base + Int(range.lowerBound), count: Int(range.count)).contains { $0 != 0 }
    }

    func store16(_ value: UInt16, at address: UInt64) {
        (base + Int(address)).storeBytes(of: value.bigEndian, as: UInt16.self)
    }

    func store64(_ value: UInt64, at address: UInt64) {
        (base + Int(address)).storeBytes(of: value.bigEndian, as: UInt64.self)
    }

    func load16(_ address: UInt64) -> UInt16 {
        UInt16(bigEndian: (base + Int(address)).loadUnaligned(as: UInt16.self))
    }

    func load64(_ address: UInt64) -> UInt64 {
        UInt64(bigEndian: (base + Int(address)).loadUnaligned(as: UInt64.self))
    }
}

/// A fresh host key pair for the UV.
func freshHostKey() -> HostPrivateKey { HostPrivateKey(P521.KeyAgreement.PrivateKey()) }

/// An SE image built for `hostKey`, with its plaintext components and keys.
struct TestImage {
    let image: SEImage
    let keys: SEImageKeys
    let kernel: [UInt8], ramdisk: [UInt8], parmfile: [UInt8]

    init(hostKey: HostPrivateKey, pcf: UInt64 = SEImage.defaultPlaintextControlFlags,
         kernelSize: Int = 0x3123, ramdiskSize: Int = 0x2001) throws {
        kernel = (0 ..< kernelSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        ramdisk = (0 ..< ramdiskSize).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        parmfile = Array("console=ttysclp0\n".utf8)
        var configuration = SEImageConfiguration(kernel: kernel, ramdisk: ramdisk, parmfile: parmfile,
                                                 hostKeys: [hostKey.publicKey])
        configuration.plaintextControlFlags = pcf
        keys = SEImageKeys.random()
        let loaders = SEBootLoaders(stage3a: [UInt8](repeating: 0xA3, count: 0x800),
                                    stage3bReloc: [UInt8](repeating: 0xB3, count: 0x200))
        image = try SEImage.build(configuration, loaders: loaders, keys: keys)
    }

    var headerBytes: [UInt8] { image.header.bytes }

    /// (tweak prefix, address, size) of each IPIB component entry (spec se-image-format §6).
    var ipibComponents: [(tweak: UInt64, address: UInt64, size: UInt64)] {
        let ipib = image.ipib
        func u64(_ offset: Int) -> UInt64 { (0 ..< 8).reduce(0) { $0 << 8 | UInt64(ipib[offset + $1]) } }
        let count = (0 ..< 4).reduce(0) { $0 << 8 | Int(ipib[0x74 + $1]) }
        return (0 ..< count).map { (u64(0x88 + 24 * $0), u64(0x88 + 24 * $0 + 8), u64(0x88 + 24 * $0 + 16)) }
    }

    /// Every (address, tweak) UNPACK call the host makes, in IPIB order (spec §4).
    var unpackCalls: [(address: UInt64, tweak: (UInt64, UInt64))] {
        ipibComponents.flatMap { component in
            stride(from: UInt64(0), to: component.size, by: 4096).map { offset in
                (component.address + offset, (component.tweak, offset))
            }
        }
    }
}

/// A UV with one configuration and one CPU over a storage holding `image`.
struct Fixture {
    let uv: Ultravisor
    let storage: MemoryStorage
    let config: UInt64
    let cpu: UInt64

    init(hostKey: HostPrivateKey, image: TestImage? = nil, storageSize: UInt64 = 2 << 20,
         configuration: UltravisorConfiguration = .default) throws {
        uv = Ultravisor(hostKey: hostKey, configuration: configuration)
        storage = MemoryStorage(size: storageSize)
        if let image { storage.write(image.image.bytes, at: 0) }
        let created = uv.createSecureConfiguration(storage: storage, guestStorageLength: storageSize,
                                                   baseStorageLength: configuration.baseStorageLength,
                                                   variableStorageLength: configuration.minimumVariableStorageLength(guestStorageLength: storageSize),
                                                   flags: 0)
        try #require(created.response == .executed)
        config = created.handle
        let createdCPU = uv.createSecureCPU(configuration: config, cpuNumber: 0, storageLength: configuration.cpuStorageLength)
        try #require(createdCPU.response == .executed)
        cpu = createdCPU.handle
    }

    /// A fixture whose guest has booted (SSC, UNPACK, VERIFY of a small image): from then on
    /// every page of the storage counts as secure, not only the unpacked ones.
    static func running(hostKey: HostPrivateKey, storageSize: UInt64 = 2 << 20,
                        configuration: UltravisorConfiguration = .default) throws -> Fixture {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image, storageSize: storageSize, configuration: configuration)
        try #require(try fixture.boot(image) == .executed)
        return fixture
    }

    func setHeader(_ image: TestImage) -> UVResponse {
        image.headerBytes.withUnsafeBytes { uv.setSecureConfigurationParameters(config, header: $0) }
    }

    /// SSC, every UNPACK, VERIFY.
    func boot(_ image: TestImage) throws -> UVResponse {
        try #require(setHeader(image) == .executed)
        for call in image.unpackCalls {
            try #require(uv.unpack(config, guestAddress: call.address, tweak: call.tweak) == .executed)
        }
        return uv.verify(config)
    }
}
