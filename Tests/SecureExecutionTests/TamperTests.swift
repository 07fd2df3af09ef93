// Tamper tests for opening a header (spec §2.6): every bit flip, wrong host key, truncation, bad fields.
import Crypto
import Foundation
@testable import SecureExecution
import Testing

@Suite("SE header tampering: every failure is a documented SEHeaderError")
struct TamperTests {
    /// The error opening must report when a bit of the header byte at `offset` is flipped (one slot, sea 0x80, spec §2.1).
    static func expectedErrors(forByteAt offset: Int) -> Set<String> {
        switch offset {
        case 0x000 ..< 0x008: ["badMagic"]
        case 0x008 ..< 0x00C: ["unsupportedVersion"]
        case 0x00C ..< 0x010: ["headerSizeMismatch"]
        case 0x020 ..< 0x028: ["noKeySlots", "headerSizeMismatch"]
        case 0x028 ..< 0x030: ["invalidEncryptedAreaSize", "headerSizeMismatch"]
        case 0x040 ..< 0x0E0: ["invalidCustomerKey"]
        case 0x1A0 ..< 0x1C0: ["noMatchingKeySlot"]
        case 0x1C0 ..< 0x1F0: ["keySlotTagMismatch"]
        default: ["headerTagMismatch"] // iv, reserved, nep, pcf, digests, encrypted area, tag
        }
    }

    /// The case name of an error, without its associated values.
    static func caseName(_ error: SEHeaderError) -> String {
        String(String(describing: error).prefix { $0 != "(" })
    }

    /// The 640 header bytes in 8 slices of 80, run as parallel test cases (an open costs one P-521 ECDH).
    static let byteSlices = (0 ..< 8).map { $0 * 80 ..< ($0 + 1) * 80 }

    @Test("Every single bit flip of the 640-byte cert_host header fails to open with the error of its field",
          arguments: byteSlices)
    func everyBitFlip(bytes slice: Range<Int>) throws {
        let hostKey = try KAT.certHostPrivateKey()
        let original = try KAT.builderHeader(hostKeys: [KAT.certHostKey()]).bytes
        #expect(original.count == 640)
        let start = Date()
        var flips = 0
        for bit in slice.lowerBound * 8 ..< slice.upperBound * 8 {
            var tampered = original
            tampered[bit / 8] ^= UInt8(0x80) >> (bit % 8)
            let error = headerError { _ = try openHeader(tampered, with: hostKey) }
            let expected = Self.expectedErrors(forByteAt: bit / 8)
            #expect(error.map { expected.contains(Self.caseName($0)) } == true,
                    "bit \(bit) (byte 0x\(String(bit / 8, radix: 16))): got \(String(describing: error)), expected one of \(expected)")
            flips += 1
        }
        #expect(flips == 640)
        print("SE tamper test: bytes \(slice): \(flips) bit flips rejected in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    @Test("Every byte flip of builder_expected.bin fails reading or decryption with the protection key (README check 5)")
    func everyByteFlipWithProtectionKey() throws {
        let original = try KAT.bytes("builder_expected.bin")
        for offset in 0 ..< original.count {
            var tampered = original
            tampered[offset] ^= 0xFF
            let error = headerError { _ = try SEHeader(parsing: tampered).decrypt(protectionKey: KAT.builderProtectionKey) }
            #expect(error != nil, "byte 0x\(String(offset, radix: 16)) flipped was accepted")
        }
    }

    @Test("A wrong host key fails with noMatchingKeySlot")
    func wrongHostKey() throws {
        let header = try KAT.builderHeader(hostKeys: [KAT.certHostKey()])
        let stranger = HostPrivateKey(P521.KeyAgreement.PrivateKey())
        #expect(throws: SEHeaderError.noMatchingKeySlot) { try openHeader(header.bytes, with: stranger) }
    }

    @Test("Every truncation of a header fails with truncated")
    func everyTruncation() throws {
        let original = try KAT.bytes("builder_expected.bin")
        for length in 0 ..< original.count {
            let error = headerError { _ = try SEHeader(parsing: Array(original[..<length])) }
            #expect(error.map(Self.caseName) == "truncated", "length \(length): \(String(describing: error))")
        }
    }

    @Test("Inconsistent lengths: sehs, nks and sea that do not add up are rejected before any crypto")
    func inconsistentLengths() throws {
        let original = try KAT.bytes("builder_expected.bin")
        var longer = original
        longer.writeBigEndian(UInt32(0x2D0), at: 0x0C) // one more slot's worth, nks still 1
        #expect(throws: SEHeaderError.headerSizeMismatch(sehs: 0x2D0, expected: 0x280)) { try SEHeader(parsing: longer) }
        var twoSlots = original
        twoSlots.writeBigEndian(UInt64(2), at: 0x20)
        #expect(throws: SEHeaderError.headerSizeMismatch(sehs: 0x280, expected: 0x2D0)) { try SEHeader(parsing: twoSlots) }
        var hugeSlots = original
        hugeSlots.writeBigEndian(UInt64.max, at: 0x20)
        #expect(throws: SEHeaderError.headerSizeMismatch(sehs: 0x280, expected: .max)) { try SEHeader(parsing: hugeSlots) }
        var smallArea = original
        smallArea.writeBigEndian(UInt64(0x70), at: 0x28)
        #expect(throws: SEHeaderError.invalidEncryptedAreaSize(0x70)) { try SEHeader(parsing: smallArea) }
        var oversized = original
        oversized.writeBigEndian(UInt32(0x2010), at: 0x0C)
        oversized.writeBigEndian(UInt64(0x2010 - 0x1F0 - 16), at: 0x28)
        #expect(throws: SEHeaderError.headerSizeMismatch(sehs: 0x2010, expected: 0x2010)) { try SEHeader(parsing: oversized) }
        var version2 = original
        version2.writeBigEndian(UInt32(0x200), at: 0x08)
        #expect(throws: SEHeaderError.unsupportedVersion(0x200)) { try SEHeader(parsing: version2) }
        #expect(SEHeaderError.unsupportedVersion(0x200).uvResponse == (0x0104, 0x0001))
    }

    @Test("Extra bytes after sehs are ignored; the header reads back unchanged")
    func trailingBytesIgnored() throws {
        let original = try KAT.bytes("builder_expected.bin")
        #expect(try SEHeader(parsing: original + repeated(0xEE, 100)).bytes == original)
    }

    @Test("A decrypted area with optional items (noi ≠ 0) is rejected (decision for spec §14.2)")
    func optionalItemsRejected() throws {
        var area = try KAT.builderSecrets().bytes
        area.writeBigEndian(UInt32(1), at: 0x78)
        #expect(throws: SEHeaderError.unsupportedOptionalItems(1)) { try SEEncryptedArea(decrypted: area) }
        #expect(throws: SEHeaderError.invalidEncryptedAreaSize(0x90)) {
            try SEEncryptedArea(decrypted: KAT.builderSecrets().bytes + repeated(0, 16))
        }
    }

    @Test("A customer key with non-zero padding fails with invalidCustomerKey (rrc 0x0B) after the slot is found")
    func customerKeyPadding() throws {
        var bytes = try KAT.builderHeader(hostKeys: [KAT.certHostKey()]).bytes
        bytes[0x40] = 1
        let error = headerError { _ = try openHeader(bytes, with: KAT.certHostPrivateKey()) }
        #expect(error == .invalidCustomerKey)
        #expect(error?.uvResponse.rrc == 0x000B)
    }
}
