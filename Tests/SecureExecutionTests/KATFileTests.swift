// One test per KAT file of ../shared/testdata/se-kat/README.md: sizes, hashes, keys and key slots (spec §13.1, §13.2).
import Crypto
@testable import SecureExecution
import Testing

@Suite("SE KAT files: integrity and keys")
struct KATFileTests {
    /// README "Files at a glance": name, size and SHA-256 of every file.
    static let fileTable: [(name: String, size: Int, sha256: String)] = [
        ("keys_private_cust.bin", 80, "b0ade81a1a7596d0cf22ff0f2a2985d46dc569388978fb8447250b2f7c290a50"),
        ("keys_public_cust.bin", 160, "5ee905a9be70366815a45641afae00973b1f45292f43bcd7638ee2a73fd7c45e"),
        ("keys_host.pem.crt", 1822, "46c15ca6b3efdd9b2079382dc5a44dfb5137d8d74700750086bdbf030b2dceb5"),
        ("cert_host.crt", 1785, "80804094e5d8877cb96494675ac803a22c417d921df563912eb7898489d89c1b"),
        ("cert_host.key", 384, "67953592187b68cdbbe3d0176026081f0d26b3c477512e9763461022812070ca"),
        ("exp_keyslot.bin", 80, "26da705b572e6578c679e75f152268ae720145b15b00728dc84533a5816b235c"),
        ("builder_expected.bin", 640, "9aea8b257d5a647a4dba1ba49c27c5a37b3770f02c4a8346202e5626df9b8fb5"),
        ("exp_secure_guest.hdr", 640, "c31196aaa1017326f7b3da83cbbe8ce2ec2bfd3b6172b92a57f2c5bd38370aef"),
    ]

    @Test("README check 1: every file has its size and SHA-256", arguments: fileTable.map(\.name))
    func fileIntegrity(name: String) throws {
        let entry = try #require(Self.fileTable.first { $0.name == name })
        let bytes = try KAT.bytes(name)
        #expect(bytes.count == entry.size)
        #expect(sha256Hex(bytes) == entry.sha256)
    }

    @Test("keys_private_cust.bin: d = 01 ‖ 64 × 0x88, and d·G = keys_public_cust.bin (README check 2)")
    func customerPrivateKey() throws {
        let file = try KAT.bytes("keys_private_cust.bin")
        #expect(file == repeated(0, 15) + [0x01] + repeated(0x88, 64))
        let key = try KAT.customerKey()
        #expect(key.publicKeyBlob == (try KAT.bytes("keys_public_cust.bin")))
        #expect(key.paddedScalar == file)
    }

    @Test("keys_public_cust.bin: X and Y of the README, and bytes 0x040–0x0DF of builder_expected.bin")
    func customerPublicKey() throws {
        let blob = try KAT.bytes("keys_public_cust.bin")
        #expect(blob == P521Coordinates.leftPadded(unhex("00c75d34f91652db457b0b209c46a491a44ee2b16e23c2d8daf116678a62f24ce332c5995f08456b66b16dd55a92c507f1e31af78c64a82e7a541b15135015f20286"))
            + P521Coordinates.leftPadded(unhex("01408058a7f1a5c35097533a02a93879e7de67ba280bce8365ec94b2b908f589c3a998d8be1e6307d74ae01adc46825ff6bb6fa05c1147cfe2ccf4a24f3d833dda70")))
        #expect(Array(try KAT.bytes("builder_expected.bin")[0x040 ..< 0x0E0]) == blob)
    }

    @Test("keys_host.pem.crt: X, Y, phkh, and KEK(cust, host) = 7532…f149 (README check 3, spec §13.1)")
    func pemHostKey() throws {
        let hostKey = try KAT.pemHostKey()
        #expect(hostKey.coordinateBlob == P521Coordinates.leftPadded(unhex("0176881cd84b8b6de7123c7e900edf78e7f7b684999146b1263ba8b86c8447f08ab6d469c2b128ed9e1c35015805acd3d30233d39122f7e2f8aa1c2b147b7883b406"))
            + P521Coordinates.leftPadded(unhex("00c34556c25cf92f29ce66bd44114d6b7b3c78e13a3f90bdb90040f6876e5262f778a61a937d1b34802eb257e34e0672dd5f2a347addaa282035092a70c35c2e7973")))
        #expect(hex(hostKey.hash) == "415c25a5d19c381e619733e1c1b7fbd88bdd1c31d882d5ade04b97043c5010f0")
        let kek = try KAT.customerKey().keyEncryptionKey(for: hostKey)
        #expect(hex(kek.bytes) == "753277558f3b6003419ef249ae3c4b55aad77d09d97fdd1fc88fd8f0cf22f149")
        #expect(try HostKey(coordinateBlob: hostKey.coordinateBlob) == hostKey)
    }

    @Test("KEK is SHA-256(ECDH X as 66 bytes ‖ 00000001), the same as the generic X9.63 KDF (spec §1)")
    func kekIsOneRoundX963() throws {
        let customer = try KAT.customerKey()
        let shared = try customer.privateKey.sharedSecretFromKeyAgreement(with: KAT.pemHostKey().publicKey)
        let sharedX = shared.withUnsafeBytes { Array($0) }
        #expect(sharedX.count == 66)
        let manual = Array(SHA256.hash(data: sharedX + [0, 0, 0, 1]))
        #expect(manual == (try customer.keyEncryptionKey(for: KAT.pemHostKey()).bytes))
    }

    @Test("cert_host.crt and cert_host.key: one key pair; X, Y, phkh; KEK 78e0…db86 from both sides (README derived values)")
    func certHostKeyPair() throws {
        let certificateKey = try KAT.certHostKey()
        let privateKey = try KAT.certHostPrivateKey()
        #expect(privateKey.publicKey == certificateKey)
        #expect(certificateKey.coordinateBlob == P521Coordinates.leftPadded(unhex("01c63b4327a506ba43623182a57b006c1ddcec019d83898d8245873af063ec1069c9898d678dc876a1042c6ee1b33cbc3afbd12179bd916b5a9716a5cf494d8e406a"))
            + P521Coordinates.leftPadded(unhex("0142143a887d2bcb27a94a26e0a883945f32c589a46da3fcc9caeccc46f8f87447e22d98b15b585c4257960e4f8de8961c1866bfe977da873c00fde9410333c25a9c")))
        #expect(hex(certificateKey.hash) == "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05")
        let customer = try KAT.customerKey()
        let builderSide = try customer.keyEncryptionKey(for: certificateKey)
        let uvSide = try privateKey.keyEncryptionKey(forCustomerKey: customer.privateKey.publicKey)
        #expect(hex(builderSide.bytes) == "78e0d84956feaf9c9add536a6712012b74ff4076480118b07239795bdf0bdb86")
        #expect(uvSide.bytes == builderSide.bytes)
    }

    @Test("exp_keyslot.bin: slot for 32 × 0x17 = file, starts with phkh, unwraps to 32 × 0x17; 0x16 differs (README check 4, spec §13.2)")
    func keySlotVector() throws {
        let expected = try KAT.bytes("exp_keyslot.bin")
        let hostKey = try KAT.pemHostKey()
        let customer = try KAT.customerKey()
        let slot = try KeySlot(wrapping: repeated(0x17, 32), for: hostKey, customerKey: customer)
        #expect(slot.bytes == expected)
        #expect(Array(expected[..<32]) == hostKey.hash)
        let parsed = try KeySlot(bytes: expected)
        #expect(try parsed.unwrap(with: customer.keyEncryptionKey(for: hostKey)) == repeated(0x17, 32))
        let other = try KeySlot(wrapping: repeated(0x16, 32), for: hostKey, customerKey: customer)
        #expect(other.bytes != expected)
        #expect(other.hostKeyHash == slot.hostKeyHash)
    }

    @Test("cert_host.crt key slot for 32 × 0x17 (README derived values)")
    func certHostKeySlot() throws {
        let slot = try KeySlot(wrapping: repeated(0x17, 32), for: KAT.certHostKey(), customerKey: KAT.customerKey())
        #expect(hex(slot.bytes) == "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05b229dc7b9ddbb9506ef3a1aacd9cb3b3be3fc9a6ffe574a88c4920ec76574f0030aba095281b1c6b021acf087393e209")
    }

    @Test("A key slot unwrapped with the wrong KEK fails with keySlotTagMismatch")
    func keySlotWrongKEK() throws {
        let slot = try KeySlot(bytes: KAT.bytes("exp_keyslot.bin"))
        let wrongKEK = try KAT.customerKey().keyEncryptionKey(for: KAT.certHostKey())
        #expect(throws: SEHeaderError.keySlotTagMismatch) { try slot.unwrap(with: wrongKEK) }
    }

    @Test("Key inputs of the wrong size or with bad padding are rejected")
    func badKeyInputs() throws {
        #expect(throws: SEKeyError.invalidLength(field: "customer private scalar", expected: 80, actual: 79)) {
            try CustomerKey(paddedScalar: repeated(0, 79))
        }
        var padded = try KAT.bytes("keys_private_cust.bin")
        padded[0] = 1
        #expect(throws: SEKeyError.nonZeroPadding(field: "customer private scalar")) { try CustomerKey(paddedScalar: padded) }
        var blob = try KAT.pemHostKey().coordinateBlob
        blob[100] ^= 1
        #expect(throws: SEKeyError.invalidP521Key(field: "host key coordinate blob")) { try HostKey(coordinateBlob: blob) }
        #expect(throws: SEKeyError.self) { try HostKey(certificate: Array("not a certificate".utf8)) }
        #expect(throws: SEKeyError.self) { try HostPrivateKey(pemEncoded: "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----") }
    }
}
