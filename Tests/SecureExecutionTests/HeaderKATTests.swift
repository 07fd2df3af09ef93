// Header KATs: builder_expected.bin, the derived cert_host header, and exp_secure_guest.hdr (spec §2, §13.3, §13.5, §13.6).
import Crypto
@testable import SecureExecution
import Testing

@Suite("SE header KATs: build, read, open")
struct HeaderKATTests {
    @Test("builder_expected.bin: the builder_test inputs give the file byte for byte (README check 5, spec §13.3)")
    func builderReproducesVector() throws {
        let header = try KAT.builderHeader(hostKeys: [KAT.pemHostKey()])
        #expect(header.bytes == (try KAT.bytes("builder_expected.bin")))
        #expect(hex(header.tag) == "7165174055f9fffa1e1c8887bb6d76de")
        #expect(header.size == 0x280)
        #expect(header.encryptedAreaOffset == 0x1F0)
    }

    @Test("builder_expected.bin: plaintext fields, key slot, and decryption with the protection key recover every input")
    func builderVectorReadsBack() throws {
        let file = try KAT.bytes("builder_expected.bin")
        let header = try SEHeader(parsing: file)
        #expect(Array(file[0 ..< 8]) == Array("IBMSecEx".utf8))
        #expect(file.readBigEndian(UInt32.self, at: 0x08) == 0x100)
        #expect(file.readBigEndian(UInt32.self, at: 0x0C) == 0x280)
        #expect(file.readBigEndian(UInt32.self, at: 0x1C) == 0)
        #expect(file.readBigEndian(UInt64.self, at: 0x20) == 1)
        #expect(file.readBigEndian(UInt64.self, at: 0x28) == 0x80)
        #expect(header.iv == KAT.builderIV)
        #expect(header.digests == (try KAT.builderDigests()))
        #expect(header.plaintextControlFlags == 0)
        #expect(header.customerPublicKeyBlob == (try KAT.bytes("keys_public_cust.bin")))
        #expect(header.keySlots.count == 1)
        let slot = header.keySlots[0]
        #expect(slot.hostKeyHash == Array(try KAT.bytes("exp_keyslot.bin")[..<32]))
        #expect(slot.bytes != (try KAT.bytes("exp_keyslot.bin")))
        let kek = try KAT.customerKey().keyEncryptionKey(for: KAT.pemHostKey())
        #expect(try slot.unwrap(with: kek) == KAT.builderProtectionKey)
        #expect(try header.decrypt(protectionKey: KAT.builderProtectionKey) == KAT.builderSecrets())
        #expect(header.bytes == file)
    }

    @Test("Derived header for cert_host.crt: SHA-256 7dd5…ba22, tag f57a…d89b; cert_host.key opens it (README check 7, spec §13.5)")
    func certHostHeaderOpens() throws {
        let header = try KAT.builderHeader(hostKeys: [KAT.certHostKey()])
        #expect(sha256Hex(header.bytes) == "7dd572fe301f4cfac9d3729e3de9b26913bc3f7f1a5726536f9eb8b4c132ba22")
        #expect(hex(header.tag) == "f57a8202dd9164ca3531852b5ee9d89b")
        let opened = try openHeader(header.bytes, with: KAT.certHostPrivateKey())
        #expect(opened.protectionKey == KAT.builderProtectionKey)
        #expect(opened.secrets == (try KAT.builderSecrets()))
    }

    @Test("Headers whose slots are for other hosts fail with noMatchingKeySlot, rc 0x108 rrc 0x0005 (README check 7)",
          arguments: ["builder_expected.bin", "exp_secure_guest.hdr"])
    func otherHostsHeaders(name: String) throws {
        let bytes = try KAT.bytes(name)
        let hostKey = try KAT.certHostPrivateKey()
        let error = headerError { _ = try openHeader(bytes, with: hostKey) }
        #expect(error == .noMatchingKeySlot)
        #expect(error?.uvResponse.rc == 0x0108 && error?.uvResponse.rrc == 0x0005)
    }

    @Test("A header for several hosts opens with each host's key, in any slot")
    func multipleSlots() throws {
        let extraHost = HostPrivateKey(P521.KeyAgreement.PrivateKey())
        let header = try KAT.builderHeader(hostKeys: [KAT.pemHostKey(), extraHost.publicKey, KAT.certHostKey()])
        #expect(header.size == 560 + 80 * 3)
        let reparsed = try SEHeader(parsing: header.bytes)
        #expect(reparsed == header)
        for hostKey in [extraHost, try KAT.certHostPrivateKey()] {
            #expect(try reparsed.open(with: hostKey).secrets == KAT.builderSecrets())
        }
    }

    @Test("Round trip with a fresh customer key and a fresh host key pair (spec §13.5, second item)")
    func freshKeysRoundTrip() throws {
        let host = HostPrivateKey(P521.KeyAgreement.PrivateKey())
        let secrets = try SEEncryptedArea(customerCommunicationKey: repeated(0xC1, 32), xtsKey: repeated(0x5A, 64),
                                          pswMask: 0x0000_0001_8000_0000, pswAddress: 0x1_0000,
                                          secretControlFlags: 0x4000_0000_0000_0000)
        let digests = try ComponentDigests(pageListDigest: repeated(1, 64), addressListDigest: repeated(2, 64),
                                           tweakListDigest: repeated(3, 64), pageCount: 42)
        let header = try SEHeader.build(secrets: secrets, digests: digests, plaintextControlFlags: 0xE0,
                                        protectionKey: repeated(0x77, 32), iv: repeated(0x01, 12),
                                        customerKey: .generate(), hostKeys: [host.publicKey])
        let opened = try openHeader(header.bytes, with: host)
        #expect(opened.protectionKey == repeated(0x77, 32))
        #expect(opened.secrets == secrets)
        let parsed = try SEHeader(parsing: header.bytes)
        #expect(parsed.digests == digests)
        #expect(parsed.plaintextControlFlags == 0xE0)
    }

    @Test("Building rejects no host keys, more than 95, and mis-sized keys or IVs")
    func builderInputChecks() throws {
        #expect(throws: SEKeyError.invalidHostKeyCount(0)) { try KAT.builderHeader(hostKeys: []) }
        let ninetySix = try [HostKey](repeating: KAT.pemHostKey(), count: 96)
        #expect(throws: SEKeyError.invalidHostKeyCount(96)) { try KAT.builderHeader(hostKeys: ninetySix) }
        #expect(throws: SEKeyError.invalidLength(field: "iv", expected: 12, actual: 11)) {
            try SEHeader.build(secrets: KAT.builderSecrets(), digests: KAT.builderDigests(), plaintextControlFlags: 0,
                               protectionKey: KAT.builderProtectionKey, iv: repeated(0, 11),
                               customerKey: KAT.customerKey(), hostKeys: [KAT.pemHostKey()])
        }
        #expect(throws: SEKeyError.invalidLength(field: "header protection key", expected: 32, actual: 16)) {
            try KeySlot(wrapping: repeated(0, 16), for: KAT.pemHostKey(), customerKey: KAT.customerKey())
        }
    }
}

@Suite("exp_secure_guest.hdr: header reader and boot header tags (README check 8, spec §13.6)")
struct SecureGuestHeaderTests {
    static let expectedTags =
        "be94b5eab3c1b118c757d7db7ea0f65d9b64823a8dc55bf8a8725b58072d9d4258c53e8a5da82dfb2192d91d07bc1c39b95d6321d3ba16a751a6e3e32f3e0161"
        + "2858c3368b2a0af0c5ea0fde7905eb15af9cd1dd737165933cdaa2b850b6a8e2f0f42c7b36dd5381096288dc092daa8a6facec2534137bc94ca80bda4fcb9328"
        + "4860ebcf7b9d24eb909a795356ad32c936b62165988a9ffcd66170dbc590c23010d7952fa882d1bb79558f9be0a549d8d7a94ae720e5c0760a825d479fe67af5"
        + "92309d4589b9a85b427f8753171d1520"

    @Test("Plaintext fields: sehs 640, iv, nks 1, sea 0x80, nep 0xFC25, pcf 0; a valid customer key that is not the test key; slot phkh 7829…af2f")
    func plaintextFields() throws {
        let file = try KAT.bytes("exp_secure_guest.hdr")
        let header = try SEHeader(parsing: file)
        #expect(header.size == 640)
        #expect(hex(header.iv) == "4dc42a795fd9d2e4a40fcb33")
        #expect(header.keySlots.count == 1)
        #expect(header.encryptedAreaCiphertext.count == 0x80)
        #expect(header.digests.pageCount == 0xFC25)
        #expect(header.plaintextControlFlags == 0)
        #expect(P521Coordinates.publicKey(fromBlob: header.customerPublicKeyBlob) != nil)
        #expect(header.customerPublicKeyBlob != (try KAT.bytes("keys_public_cust.bin")))
        #expect(hex(header.keySlots[0].hostKeyHash) == "782966a6298f6f5968780c3134ca4c55958d2dbca5292f59e9f5d2670befaf2f")
        for hostKey in [try KAT.pemHostKey(), try KAT.certHostKey()] {
            #expect(header.keySlots[0].hostKeyHash != hostKey.hash)
        }
        #expect(header.bytes == file)
    }

    @Test("Boot header tags pld ‖ ald ‖ tld ‖ tag (0xD0 bytes) of the file at offset 0")
    func bootHeaderTagsAtOffsetZero() throws {
        let found = try SEHeader.find(inImage: KAT.bytes("exp_secure_guest.hdr"))
        #expect(found.offset == 0)
        #expect(found.header.bootHeaderTags.count == 0xD0)
        #expect(hex(found.header.bootHeaderTags) == Self.expectedTags)
    }

    @Test("The header at 0x12000 of a 0x13000-byte zero image is found with the same tags")
    func bootHeaderTagsInImage() throws {
        var image = repeated(0, 0x13000)
        image.writeBytes(try KAT.bytes("exp_secure_guest.hdr"), at: 0x12000)
        let found = try SEHeader.find(inImage: image)
        #expect(found.offset == 0x12000)
        #expect(hex(found.header.bootHeaderTags) == Self.expectedTags)
    }

    @Test("Search fails without the first byte, with bytes 0 and 1 swapped, and at offset 8 of a page")
    func searchFailures() throws {
        let file = try KAT.bytes("exp_secure_guest.hdr")
        var swapped = file
        swapped.swapAt(0, 1)
        var misaligned = repeated(0, 4096)
        misaligned.writeBytes(file, at: 8)
        for image in [Array(file.dropFirst()), swapped, misaligned] {
            #expect(throws: SEHeaderError.headerNotFound) { try SEHeader.find(inImage: image) }
        }
        #expect(throws: SEHeaderError.badMagic) { try SEHeader(parsing: swapped) }
    }
}
