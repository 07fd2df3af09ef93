// Component preparation: AES-256-XTS, tweaks, PLD/ALD/TLD/nep (spec se-image-format §4, §13.4; se-kat README check 6).
import Crypto
import Foundation
@testable import SecureExecution
import Testing

/// Runs `python3` with `script` and the given stdin; returns stdout, or nil when Python or the
/// `cryptography` package is missing (the independent cross-checks are then skipped).
func runPython(_ script: String, input: [UInt8] = []) throws -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let stdin = Pipe(), stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let writer = Thread {
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Whether `python3` with the `cryptography` package (for AES-ECB) is available.
let pythonCryptographyAvailable: Bool =
    (try? runPython("import cryptography.hazmat.primitives.ciphers; print('ok')")) == "ok"

@Suite("Secure Execution components (spec §4)")
struct ComponentTests {
    /// XTS key of the §13.4 vector: 32 × 0x42 ‖ 32 × 0x43.
    static let katKey = repeated(0x42, 32) + repeated(0x43, 32)
    /// Initial tweak of the §13.4 vector: byte 7 = 0x42.
    static let katTweak = ComponentTweak(prefix: 0x42)

    /// The two components of upstream `prepare_aligned_component_test` (spec §13.4).
    static func katComponents() throws -> [PreparedComponent] {
        let cipher = try AESXTS(key: katKey)
        return [try PreparedComponent(plaintext: repeated(0x01, 0x3400), address: 0x10000, tweak: katTweak, cipher: cipher),
                try PreparedComponent(plaintext: repeated(0x02, 0x3000), address: 0x20000, tweak: katTweak, cipher: cipher)]
    }

    @Test("README check 6: nep 7 and the upstream PLD/ALD/TLD (spec §13.4)")
    func componentKAT() throws {
        let components = try Self.katComponents()
        #expect(components.map(\.pageCount) == [4, 3])
        #expect(components.map(\.preparedSize) == [0x4000, 0x3000])
        #expect(components.map(\.originalSize) == [0x3400, 0x3000])
        let digests = try ComponentDigests(components: components)
        #expect(digests.pageCount == 7)
        #expect(hex(digests.addressListDigest) == "c391de5727a08212ea2fea9c37f9cf090be51f93c6d521b8906332ce720c5f38ada0e73e69663e5211d015fef41dc62606f5135e619904d4f450ab889f49caad")
        #expect(hex(digests.pageListDigest) == "a24ff30a8af1295888dedfe9369eb509290309a90159ebc32ca26a53f9d4364a781857e2590587536c3e767355c7b7603f2b0c6a407f16330d82128d0964fad2")
        #expect(hex(digests.tweakListDigest) == "424fe3cf04a6f64a7aef185c3b4ef607c0e4f54bb7e14620b574a3d31eef31c7d462eb040d45ee6918e6b80968ba4454f9e2edc26f6929ed624d0055f2355659")
    }

    @Test("First XTS page of the §13.4 vector (derived value in the README)")
    func firstPage() throws {
        let page = Array(try Self.katComponents()[0].page(0))
        #expect(hex(page.prefix(16)) == "6f491067554994df159146098fb52c5a")
        #expect(sha256Hex(page) == "dde34fcf4cc7d36cfd0730af567c8a17d8b9b87cf4b1721a7da3647f92ebbe04")
    }

    @Test("XTS agrees with an independent XTS built from AES-ECB and GF(2^128) doubling in Python",
          .enabled(if: pythonCryptographyAvailable))
    func xtsAgainstPythonReference() throws {
        var generator = SystemRandomNumberGenerator()
        let key = (0 ..< 64).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        let tweak = (0 ..< 16).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        let plaintext = (0 ..< 4096).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        let ours = try AESXTS(key: key).encrypt(plaintext, tweak: tweak)
        // Spec §4 "XTS detail", written from the text: T0 = E(key2, tweak); C_j = E(key1, P_j ^ T_j) ^ T_j;
        // T_{j+1} = T_j * alpha with T little-endian.
        let script = """
        import sys
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        key = bytes.fromhex('\(hex(key))'); tweak = bytes.fromhex('\(hex(tweak))')
        data = sys.stdin.buffer.read()
        ecb = lambda k: Cipher(algorithms.AES(k), modes.ECB()).encryptor()
        e1, e2 = ecb(key[:32]), ecb(key[32:])
        t = int.from_bytes(e2.update(tweak), 'little')
        out = b''
        for j in range(0, len(data), 16):
            tb = t.to_bytes(16, 'little')
            x = bytes(a ^ b for a, b in zip(data[j:j+16], tb))
            out += bytes(a ^ b for a, b in zip(e1.update(x), tb))
            t <<= 1
            if t >> 128: t = (t & ((1 << 128) - 1)) ^ 0x87
        print(out.hex())
        """
        let reference = try #require(try runPython(script, input: plaintext))
        #expect(hex(ours) == reference)
        #expect(try AESXTS(key: key).decrypt(ours, tweak: tweak) == plaintext)
    }

    @Test("Digests agree with an independent SHA-512 over the concatenated page, address and tweak lists (Python hashlib)")
    func digestsAgainstPython() throws {
        let cipher = try AESXTS(key: Self.katKey)
        let tweaks = [ComponentTweak(prefix: 0x0028_0102_0304_0506), ComponentTweak(prefix: 0x0032_0a0b_0c0d_0e0f),
                      ComponentTweak(prefix: 0x003C_0000_0000_0001)]
        let components = [
            try PreparedComponent(plaintext: Array(0 ..< 200).map(UInt8.init), address: 0x15000, tweak: tweaks[0], cipher: cipher),
            try PreparedComponent(plaintext: repeated(0xAA, 4096 * 2 + 1), address: 0x16000, tweak: tweaks[1], cipher: cipher),
            try PreparedComponent(plaintext: [], address: 0x40000, tweak: tweaks[2], cipher: nil),
        ]
        #expect(components.map(\.pageCount) == [1, 3, 1])
        #expect(components[2].bytes == repeated(0, 4096))
        let digests = try ComponentDigests(components: components)
        // Python rebuilds the address and tweak lists from (address, prefix, page count) alone.
        let description = components.map { "(\($0.address), \($0.tweak.prefix), \($0.pageCount))" }.joined(separator: ",")
        let script = """
        import sys, hashlib, struct
        pages = sys.stdin.buffer.read()
        comps = [\(description)]
        ald = b''.join(struct.pack('>Q', a + i * 4096) for a, p, n in comps for i in range(n))
        tld = b''.join(struct.pack('>QQ', p, i * 4096) for a, p, n in comps for i in range(n))
        print(hashlib.sha512(pages).hexdigest(), hashlib.sha512(ald).hexdigest(), hashlib.sha512(tld).hexdigest(),
              sum(n for a, p, n in comps))
        """
        let reference = try #require(try runPython(script, input: components.flatMap(\.bytes)))
        #expect(reference == [hex(digests.pageListDigest), hex(digests.addressListDigest),
                              hex(digests.tweakListDigest), "5"].joined(separator: " "))
    }

    @Test("Page tweaks are the 128-bit big-endian sum of the initial tweak and the page's byte offset (spec §4)")
    func pageTweaks() throws {
        let tweak = ComponentTweak(prefix: 0x0028_AABB_CCDD_EEFF)
        #expect(hex(tweak.forPage(3).bytes) == "0028aabbccddeeff0000000000003000")
        let nearWrap = try ComponentTweak(bytes: unhex("00000000000000fffffffffffffff000"))
        #expect(hex(nearWrap.forPage(1).bytes) == "00000000000001000000000000000000")
        var fixed = SplitMix(seed: 1)
        let random = ComponentTweak.random(for: .ramdisk, using: &fixed)
        #expect(random.prefix >> 48 == 50 && random.offset == 0)
        #expect(ComponentKind.allCases.map(\.tweakPrefix) == [40, 50, 60, 70])
    }

    @Test("Decrypting a prepared component gives back the padded plaintext (the UV's unpack, spec §4)")
    func roundTrip() throws {
        let cipher = try AESXTS(key: Self.katKey)
        let plaintext = Array(repeating: Array("hello secure execution ".utf8), count: 400).flatMap { $0 }
        let component = try PreparedComponent(plaintext: plaintext, address: 0x100000,
                                               tweak: .random(for: .kernel), cipher: cipher)
        #expect(component.bytes.count == 12288 && component.isEncrypted)
        #expect(Array(try component.paddedPlaintext(cipher: cipher).prefix(plaintext.count)) == plaintext)
    }

    @Test("Bad inputs: key size, equal key halves, unaligned or overlapping addresses, command-line NUL (spec §4)")
    func rejections() throws {
        #expect(throws: SEComponentError.invalidXTSKeyLength(32)) { try AESXTS(key: repeated(1, 32)) }
        #expect(throws: SEComponentError.xtsKeyHalvesEqual) { try AESXTS(key: repeated(3, 64)) }
        #expect(throws: SEComponentError.unalignedAddress(0x10010)) {
            try PreparedComponent(plaintext: [1], address: 0x10010, tweak: Self.katTweak, cipher: nil)
        }
        let first = try PreparedComponent(plaintext: repeated(1, 0x2000), address: 0x10000, tweak: Self.katTweak, cipher: nil)
        let second = try PreparedComponent(plaintext: [1], address: 0x11000, tweak: Self.katTweak, cipher: nil)
        #expect(throws: SEComponentError.overlappingComponents(address: 0x11000, previousEnd: 0x12000)) {
            try ComponentDigests(components: [first, second])
        }
        #expect(PreparedComponent.terminatedCommandLine(Array("root=/dev/vda\n".utf8)) == Array("root=/dev/vda\n\0".utf8))
        #expect(PreparedComponent.terminatedCommandLine(Array("x\0".utf8)) == Array("x\0".utf8))
    }

    @Test("A header built with computed digests round-trips through open (spec §2.5, §2.6, §13.5)")
    func headerWithComputedDigests() throws {
        let digests = try ComponentDigests(components: Self.katComponents())
        let secrets = try SEEncryptedArea(customerCommunicationKey: repeated(0x31, 32), xtsKey: Self.katKey,
                                          pswMask: 0x0000_0001_8000_0000, pswAddress: 0x20000)
        let header = try SEHeader.build(secrets: secrets, digests: digests, plaintextControlFlags: 0xE0,
                                        protectionKey: KAT.builderProtectionKey, iv: KAT.builderIV,
                                        customerKey: KAT.customerKey(), hostKeys: [KAT.certHostKey()])
        let parsed = try SEHeader(parsing: header.bytes)
        #expect(parsed.digests == digests)
        let opened = try parsed.open(with: KAT.certHostPrivateKey())
        #expect(opened.protectionKey == KAT.builderProtectionKey)
        #expect(opened.secrets == secrets)
    }
}

/// A deterministic generator for tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
