// Image layout and the full builder → UV flow (spec se-image-format §5, §6, §13.5).
@testable import SecureExecution
import Testing

@Suite("Secure Execution image layout (spec §5, §6)")
struct SEImageTests {
    /// Placeholder loaders: stage3a 0x1100 bytes (reaches past 0x11000), stage3b_reloc 0x900 bytes.
    static let loaders = SEBootLoaders(stage3a: repeated(0xA3, 0x1100), stage3bReloc: repeated(0xB3, 0x900))
    static let kernel = (0 ..< 0x5123).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let ramdisk = repeated(0x5A, 0x2001)
    static let parmfile = Array("console=ttysclp0 quiet\n".utf8)
    static let xtsKey = repeated(0x42, 32) + repeated(0x43, 32)

    static func keys() throws -> SEImageKeys {
        SEImageKeys(customerKey: try KAT.customerKey(), protectionKey: KAT.builderProtectionKey, iv: KAT.builderIV,
                    xtsKey: xtsKey, customerCommunicationKey: repeated(0x31, 32))
    }

    static func build(pcf: UInt64 = SEImage.defaultPlaintextControlFlags, ramdisk: [UInt8]? = ramdisk,
                      parmfile: [UInt8]? = parmfile) throws -> SEImage {
        var configuration = SEImageConfiguration(kernel: kernel, ramdisk: ramdisk, parmfile: parmfile,
                                                 hostKeys: [try KAT.certHostKey()])
        configuration.plaintextControlFlags = pcf
        return try SEImage.build(configuration, loaders: loaders, keys: keys())
    }

    @Test("Fixed parts: short PSW, metadata, stage3a and its args, header at 0x14000, components from 0x15000 (spec §5)")
    func layout() throws {
        let image = try Self.build()
        let bytes = image.bytes
        #expect(bytes.readBigEndian(UInt64.self, at: 0) == 0x0008_0001_8001_1000)
        #expect(Array(bytes[0xC000 ..< 0xC008]) == Array("SeImgLnx".utf8))
        #expect(bytes.readBigEndian(UInt64.self, at: 0xC008) == 0x14000)
        #expect(bytes.readBigEndian(UInt32.self, at: 0xC010) == 1)
        #expect(bytes.readBigEndian(UInt64.self, at: 0xC014) == UInt64(image.ipibAddress))
        #expect(Array(bytes[0x10000 ..< 0x10000 + 0x1100 - 24]) == repeated(0xA3, 0x1100 - 24))
        let argumentsAddress = 0x10000 + 0x1100 - 24
        #expect(bytes.readBigEndian(UInt64.self, at: argumentsAddress) == UInt64(0x14000 - argumentsAddress))
        #expect(bytes.readBigEndian(UInt64.self, at: argumentsAddress + 8) == 640)
        #expect(bytes.readBigEndian(UInt64.self, at: argumentsAddress + 16) == UInt64(image.ipibAddress - argumentsAddress))
        #expect(image.headerAddress == 0x14000)
        #expect(try SEHeader.find(inImage: bytes).offset == 0x14000)
        // kernel 6 pages, ramdisk 3, cmdline 1, stage3b 1, each right after the one before.
        #expect(image.components.map(\.kind) == [.kernel, .ramdisk, .commandLine, .stage3b])
        #expect(image.components.map(\.component.address) == [0x15000, 0x1B000, 0x1E000, 0x1F000])
        #expect(image.ipibAddress == 0x20000 && bytes.count == 0x20000 + 136 + 4 * 24)
        for (kind, component) in image.components {
            #expect(component.tweak.prefix >> 48 == UInt64(kind.tweakPrefix))
            #expect(Array(bytes[Int(component.address) ..< Int(component.endAddress)]) == component.bytes)
        }
    }

    @Test("A large stage3a pushes the header to the next page after it (spec §5 rule)")
    func largeStage3a() throws {
        let loaders = SEBootLoaders(stage3a: repeated(1, 0x4800), stage3bReloc: repeated(2, 64))
        let image = try SEImage.build(SEImageConfiguration(kernel: [1, 2, 3], hostKeys: [KAT.certHostKey()]),
                                      loaders: loaders, keys: Self.keys())
        #expect(image.headerAddress == 0x15000)
        #expect(image.components.map(\.kind) == [.kernel, .stage3b])
        #expect(image.components[0].component.address == 0x16000)
    }

    @Test("IPIB: pbt 5, lengths, header address and size, one entry per component (spec §6)")
    func ipib() throws {
        let image = try Self.build()
        let ipib = Array(image.bytes[image.ipibAddress...])
        #expect(ipib == image.ipib)
        #expect(ipib.readBigEndian(UInt32.self, at: 0) == 136 + 24 * 4)
        #expect(ipib[4] == 0 && ipib[7] == 1 && ipib[0x0C] == 5 && ipib[0x6F] == 1)
        #expect(ipib.readBigEndian(UInt32.self, at: 8) == 128 + 24 * 4)
        #expect(ipib.readBigEndian(UInt32.self, at: 0x74) == 4)
        #expect(ipib.readBigEndian(UInt64.self, at: 0x78) == 0x14000)
        #expect(ipib.readBigEndian(UInt64.self, at: 0x80) == 640)
        for (index, (_, component)) in image.components.enumerated() {
            #expect(ipib.readBigEndian(UInt64.self, at: 0x88 + 24 * index) == component.tweak.prefix)
            #expect(ipib.readBigEndian(UInt64.self, at: 0x90 + 24 * index) == component.address)
            #expect(ipib.readBigEndian(UInt64.self, at: 0x98 + 24 * index) == UInt64(component.preparedSize))
        }
    }

    /// The UV side of spec §13.5 from the image bytes alone: find and open the header, unpack the
    /// IPIB's components with `tweak = pref ‖ offset`, compare digests, decrypt.
    static func unpack(_ image: [UInt8]) throws -> (secrets: SEEncryptedArea, plaintexts: [[UInt8]], header: SEHeader) {
        let (offset, header) = try SEHeader.find(inImage: image)
        let secrets = try header.open(with: KAT.certHostPrivateKey()).secrets
        let metadataIPIB = Int(image.readBigEndian(UInt64.self, at: 0xC014))
        let ipib = Array(image[metadataIPIB...])
        #expect(ipib.readBigEndian(UInt64.self, at: 0x78) == UInt64(offset))
        var accumulator = ComponentDigestAccumulator()
        var plaintexts: [[UInt8]] = []
        let encrypted = header.plaintextControlFlags & SEImage.noComponentEncryption == 0
        for index in 0 ..< Int(ipib.readBigEndian(UInt32.self, at: 0x74)) {
            let prefix = ipib.readBigEndian(UInt64.self, at: 0x88 + 24 * index)
            let address = Int(ipib.readBigEndian(UInt64.self, at: 0x90 + 24 * index))
            let length = Int(ipib.readBigEndian(UInt64.self, at: 0x98 + 24 * index))
            var plaintext: [UInt8] = []
            for page in stride(from: 0, to: length, by: 4096) {
                let bytes = Array(image[address + page ..< address + page + 4096])
                let tweak = ComponentTweak(prefix: prefix, offset: UInt64(page))
                accumulator.add(page: bytes[...], address: UInt64(address + page), tweak: tweak)
                plaintext += encrypted ? try AESXTS(key: secrets.xtsKey).decrypt(bytes, tweak: tweak.bytes) : bytes
            }
            plaintexts.append(plaintext)
        }
        #expect(accumulator.finalize() == header.digests, "VERIFY: PLD/ALD/TLD/nep of the unpacked pages")
        return (secrets, plaintexts, header)
    }

    @Test("Builder → UV: open, unpack by IPIB, digests match, pages decrypt to the inputs; stage3b args (spec §13.5)")
    func fullFlow() throws {
        let image = try Self.build()
        let (secrets, plaintexts, header) = try Self.unpack(image.bytes)
        #expect(header.digests.pageCount == 11)
        #expect(header.plaintextControlFlags == 0xE0)
        #expect(secrets.xtsKey == Self.xtsKey && secrets.customerCommunicationKey == repeated(0x31, 32))
        #expect(secrets.pswMask == 0x0000_0001_8000_0000 && secrets.pswAddress == 0x1F000)
        #expect(Array(plaintexts[0].prefix(Self.kernel.count)) == Self.kernel)
        #expect(Array(plaintexts[1].prefix(Self.ramdisk.count)) == Self.ramdisk)
        #expect(Array(plaintexts[2].prefix(Self.parmfile.count + 1)) == Self.parmfile + [0])
        #expect(Array(plaintexts[3].prefix(0x900 - 64)) == repeated(0xB3, 0x900 - 64))
        let arguments = Array(plaintexts[3][0x900 - 64 ..< 0x900])
        let expected: [UInt64] = [0x15000, UInt64(Self.kernel.count), 0x1E000, UInt64(Self.parmfile.count + 1),
                                  0x1B000, UInt64(Self.ramdisk.count), 0x1_8000_0000, 0x10000]
        #expect((0 ..< 8).map { arguments.readBigEndian(UInt64.self, at: $0 * 8) } == expected)
        #expect(image.components.allSatisfy { $0.component.bytes != (try? $0.component.paddedPlaintext(cipher: AESXTS(key: Self.xtsKey))) })
    }

    @Test("PCF bit 35: components stay plaintext but are still hashed; no ramdisk or parmfile gives zero args")
    func plaintextComponents() throws {
        let image = try Self.build(pcf: 0x1000_00E0, ramdisk: nil, parmfile: nil)
        #expect(image.components.map(\.kind) == [.kernel, .stage3b])
        #expect(Array(image.bytes[0x15000 ..< 0x15000 + Self.kernel.count]) == Self.kernel)
        let (_, plaintexts, header) = try Self.unpack(image.bytes)
        #expect(header.digests.pageCount == 7)
        let arguments = Array(plaintexts[1][0x900 - 64 ..< 0x900])
        #expect((2 ..< 6).map { arguments.readBigEndian(UInt64.self, at: $0 * 8) } == [0, 0, 0, 0])
    }

    @Test("Bad inputs: loaders too small, equal XTS halves, no host key")
    func rejections() throws {
        let configuration = SEImageConfiguration(kernel: [1], hostKeys: [try KAT.certHostKey()])
        #expect(throws: SEComponentError.loaderTooSmall(name: "stage3a", size: 8, minimum: 24)) {
            try SEImage.build(configuration, loaders: SEBootLoaders(stage3a: repeated(0, 8), stage3bReloc: repeated(0, 64)),
                              keys: Self.keys())
        }
        #expect(throws: SEComponentError.loaderTooSmall(name: "stage3b_reloc", size: 63, minimum: 64)) {
            try SEImage.build(configuration, loaders: SEBootLoaders(stage3a: repeated(0, 24), stage3bReloc: repeated(0, 63)),
                              keys: Self.keys())
        }
        var keys = try Self.keys()
        keys.xtsKey = repeated(3, 64)
        #expect(throws: SEComponentError.xtsKeyHalvesEqual) {
            try SEImage.build(configuration, loaders: Self.loaders, keys: keys)
        }
        #expect(throws: SEKeyError.invalidHostKeyCount(0)) {
            try SEImage.build(SEImageConfiguration(kernel: [1], hostKeys: []), loaders: Self.loaders, keys: Self.keys())
        }
        let random = SEImageKeys.random()
        #expect(random.xtsKey.count == 64 && random.protectionKey.count == 32 && random.iv.count == 12)
    }

    @Test("Raw-kernel check: S390EP at 0x10008 and no ELF magic (spec §5)")
    func rawKernelCheck() {
        var kernel = [UInt8](repeating: 0, count: 0x10010)
        #expect(!SEImage.isRawS390Kernel(kernel))
        kernel.replaceSubrange(0x10008 ..< 0x1000E, with: Array("S390EP".utf8))
        #expect(SEImage.isRawS390Kernel(kernel))
        kernel.replaceSubrange(0 ..< 4, with: [0x7F, 0x45, 0x4C, 0x46])
        #expect(!SEImage.isRawS390Kernel(kernel))
    }
}
