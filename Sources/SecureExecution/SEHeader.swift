// The SE header v1: layout, building (builder side) and opening (UV side) (spec se-image-format §2).
import Crypto

/// A Secure Execution header, version 1, as stored in an image: plaintext fields, key slots, the
/// encrypted area still encrypted, and the GCM tag (spec §2.1).
public struct SEHeader: Sendable, Equatable {
    /// `IBMSecEx` (spec §2.1).
    public static let magic: [UInt8] = Array("IBMSecEx".utf8)
    /// The only header version defined (spec §2.1, §14.9).
    public static let version1: UInt32 = 0x100
    /// Largest header pvimg writes and QEMU accepts (spec §2.1).
    public static let maximumSize = 8192
    /// Size of the IV and of the tag (spec §2.1).
    public static let ivSize = 12, tagSize = 16

    /// Plaintext field offsets (spec §2.1 table).
    enum Offset {
        static let magic = 0x000, version = 0x008, sehs = 0x00C, iv = 0x010, reserved = 0x01C, nks = 0x020, sea = 0x028,
                   nep = 0x030, pcf = 0x038, customerPublicKey = 0x040, pld = 0x0E0, ald = 0x120,
                   tld = 0x160, keySlots = 0x1A0
    }

    /// `iv`: the GCM nonce of the encrypted area (spec §2.1).
    public var iv: [UInt8]
    /// The reserved word at 0x01C: 0 when built, kept as read so that the AAD is the bytes as stored (spec §2.1).
    public var reserved: UInt32 = 0
    /// PLD, ALD, TLD and `nep` (spec §2.1).
    public var digests: ComponentDigests
    /// `pcf`: plaintext control flags (spec §2.4).
    public var plaintextControlFlags: UInt64
    /// `cust_pub_key`: the customer public key's 160-byte coordinate blob (spec §2.1).
    public var customerPublicKeyBlob: [UInt8]
    /// The key slots, one per host key (spec §2.3).
    public var keySlots: [KeySlot]
    /// The encrypted area as stored: `sea` bytes of ciphertext (spec §2.1).
    public var encryptedAreaCiphertext: [UInt8]
    /// The GCM tag over the whole header (spec §2.1).
    public var tag: [UInt8]

    /// E: offset of the encrypted area, `0x1A0 + 80·nks` (spec §2.1).
    public var encryptedAreaOffset: Int { Offset.keySlots + KeySlot.size * keySlots.count }
    /// `sehs`: total header size, tag included, `E + sea + 16` (spec §2.1).
    public var size: Int { encryptedAreaOffset + encryptedAreaCiphertext.count + Self.tagSize }
    /// The boot header tags `pld ‖ ald ‖ tld ‖ tag` (0xD0 bytes) that identify an image (spec §13.6).
    public var bootHeaderTags: [UInt8] {
        digests.pageListDigest + digests.addressListDigest + digests.tweakListDigest + tag
    }

    // MARK: Serialising

    /// The `sehs` header bytes, every field big-endian at its offset (spec §2.1).
    public var bytes: [UInt8] {
        var header = plaintextPart
        header += encryptedAreaCiphertext
        header += tag
        return header
    }

    /// Bytes `[0, E)`: every plaintext field and the key slots, which are the GCM AAD (spec §2.1).
    var plaintextPart: [UInt8] {
        var part = [UInt8](repeating: 0, count: encryptedAreaOffset)
        part.writeBytes(Self.magic, at: Offset.magic)
        part.writeBigEndian(Self.version1, at: Offset.version)
        part.writeBigEndian(UInt32(size), at: Offset.sehs)
        part.writeBytes(iv, at: Offset.iv)
        part.writeBigEndian(reserved, at: Offset.reserved)
        part.writeBigEndian(UInt64(keySlots.count), at: Offset.nks)
        part.writeBigEndian(UInt64(encryptedAreaCiphertext.count), at: Offset.sea)
        part.writeBigEndian(digests.pageCount, at: Offset.nep)
        part.writeBigEndian(plaintextControlFlags, at: Offset.pcf)
        part.writeBytes(customerPublicKeyBlob, at: Offset.customerPublicKey)
        part.writeBytes(digests.pageListDigest, at: Offset.pld)
        part.writeBytes(digests.addressListDigest, at: Offset.ald)
        part.writeBytes(digests.tweakListDigest, at: Offset.tld)
        for (index, slot) in keySlots.enumerated() {
            part.writeBytes(slot.bytes, at: Offset.keySlots + index * KeySlot.size)
        }
        return part
    }

    // MARK: Building (spec §2.5)

    /// Builds and seals a header: one slot per host key, then GCM over the area with AAD `[0, E)` (spec §2.5 steps 3–4).
    public static func build(secrets: SEEncryptedArea, digests: ComponentDigests, plaintextControlFlags: UInt64,
                             protectionKey: [UInt8], iv: [UInt8], customerKey: CustomerKey,
                             hostKeys: [HostKey]) throws -> SEHeader {
        try requireLength(iv, ivSize, field: "iv")
        guard (1 ... 95).contains(hostKeys.count) else { throw SEKeyError.invalidHostKeyCount(hostKeys.count) }
        let slots = try hostKeys.map {
            try KeySlot(wrapping: protectionKey, for: $0, customerKey: customerKey)
        }
        let plaintextArea = secrets.bytes
        var header = SEHeader(iv: iv, reserved: 0, digests: digests, plaintextControlFlags: plaintextControlFlags,
                              customerPublicKeyBlob: customerKey.publicKeyBlob, keySlots: slots,
                              encryptedAreaCiphertext: [UInt8](repeating: 0, count: plaintextArea.count),
                              tag: [UInt8](repeating: 0, count: tagSize))
        let sealed = try AES.GCM.seal(plaintextArea, using: SymmetricKey(data: protectionKey),
                                      nonce: try AES.GCM.Nonce(data: iv), authenticating: header.plaintextPart)
        header.encryptedAreaCiphertext = Array(sealed.ciphertext)
        header.tag = Array(sealed.tag)
        return header
    }

}

extension SEHeader {
    // MARK: Reading (spec §2.1, §2.6 step 1)

    /// Parses the header at the start of `bytes`, checking magic, version and the sizes; decrypts nothing (spec §2.1, §2.6 step 1).
    ///
    /// Check order (our decision, spec §14.1): enough bytes for magic/version/sehs, magic, version,
    /// enough bytes for the fixed part, `nks` ≥ 1, `sea` ≥ 128, `sehs` = `0x1A0 + 80·nks + sea + 16`
    /// and ≤ 8192, enough bytes for `sehs`. Extra bytes after `sehs` are ignored.
    public init(parsing bytes: [UInt8]) throws(SEHeaderError) {
        try Self.requireAvailable(Offset.iv, in: bytes)
        guard bytes.bytes(at: Offset.magic, count: Self.magic.count) == Self.magic else { throw .badMagic }
        let version = bytes.readBigEndian(UInt32.self, at: Offset.version)
        guard version == Self.version1 else { throw .unsupportedVersion(version) }
        try Self.requireAvailable(Offset.keySlots, in: bytes)
        let sehs = bytes.readBigEndian(UInt32.self, at: Offset.sehs)
        let keySlotCount = bytes.readBigEndian(UInt64.self, at: Offset.nks)
        let encryptedAreaSize = bytes.readBigEndian(UInt64.self, at: Offset.sea)
        guard keySlotCount > 0 else { throw .noKeySlots }
        guard encryptedAreaSize >= UInt64(SEEncryptedArea.size) else { throw .invalidEncryptedAreaSize(encryptedAreaSize) }
        let expectedSize = Self.expectedSize(keySlotCount: keySlotCount, encryptedAreaSize: encryptedAreaSize)
        guard UInt64(sehs) == expectedSize, Int(sehs) <= Self.maximumSize else {
            throw .headerSizeMismatch(sehs: sehs, expected: expectedSize)
        }
        let header = Array(bytes[..<min(bytes.count, Int(sehs))])
        try Self.requireAvailable(Int(sehs), in: bytes)
        let encryptedAreaOffset = Offset.keySlots + KeySlot.size * Int(keySlotCount)
        iv = header.bytes(at: Offset.iv, count: Self.ivSize)
        reserved = header.readBigEndian(UInt32.self, at: Offset.reserved)
        digests = ComponentDigests(unchecked: header)
        plaintextControlFlags = header.readBigEndian(UInt64.self, at: Offset.pcf)
        customerPublicKeyBlob = header.bytes(at: Offset.customerPublicKey, count: P521Coordinates.blobSize)
        keySlots = (0 ..< Int(keySlotCount)).map {
            KeySlot(unchecked: header.bytes(at: Offset.keySlots + $0 * KeySlot.size, count: KeySlot.size))
        }
        encryptedAreaCiphertext = header.bytes(at: encryptedAreaOffset, count: Int(encryptedAreaSize))
        tag = header.bytes(at: Int(sehs) - Self.tagSize, count: Self.tagSize)
    }

    /// `0x1A0 + 80·nks + sea + 16`, saturating at `UInt64.max` for absurd field values (spec §2.1).
    static func expectedSize(keySlotCount: UInt64, encryptedAreaSize: UInt64) -> UInt64 {
        let (slots, slotsOverflow) = keySlotCount.multipliedReportingOverflow(by: UInt64(KeySlot.size))
        let (withArea, areaOverflow) = slots.addingReportingOverflow(encryptedAreaSize)
        let (total, totalOverflow) = withArea.addingReportingOverflow(UInt64(Offset.keySlots + tagSize))
        return slotsOverflow || areaOverflow || totalOverflow ? .max : total
    }

    /// Throws `truncated` unless `bytes` holds at least `count` bytes.
    static func requireAvailable(_ count: Int, in bytes: [UInt8]) throws(SEHeaderError) {
        guard bytes.count >= count else { throw .truncated(expected: count, available: bytes.count) }
    }

    /// Finds and parses the header at the first of an image's first 0x15 page starts that holds the magic (spec §13.6).
    public static func find(inImage image: [UInt8]) throws(SEHeaderError) -> (offset: Int, header: SEHeader) {
        let pageSize = 4096, probedPages = 0x15
        for offset in stride(from: 0, to: probedPages * pageSize, by: pageSize)
        where image.count >= offset + magic.count && Array(image[offset ..< offset + magic.count]) == magic {
            return (offset, try SEHeader(parsing: Array(image[offset...])))
        }
        throw .headerNotFound
    }

    // MARK: Opening (spec §2.6)

    /// Opens the header as the UV holding `hostKey`: find the slot by phkh, ECDH with `cust_pub_key`, unwrap, decrypt (spec §2.6 steps 2–5).
    public func open(with hostKey: HostPrivateKey) throws(SEHeaderError) -> (protectionKey: [UInt8], secrets: SEEncryptedArea) {
        let ownHash = hostKey.publicKey.hash
        guard let slot = keySlots.first(where: { $0.hostKeyHash == ownHash }) else { throw .noMatchingKeySlot }
        guard let customerPublicKey = P521Coordinates.publicKey(fromBlob: customerPublicKeyBlob) else {
            throw .invalidCustomerKey
        }
        let keyEncryptionKey: SymmetricKey
        do {
            keyEncryptionKey = try hostKey.keyEncryptionKey(forCustomerKey: customerPublicKey)
        } catch {
            throw .invalidCustomerKey
        }
        let protectionKey = try slot.unwrap(with: keyEncryptionKey)
        return (protectionKey, try decrypt(protectionKey: protectionKey))
    }

    /// Decrypts and decodes the encrypted area with the protection key, AAD = `[0, E)` (spec §2.6 step 5, pvimg `--hdr-key`).
    public func decrypt(protectionKey: [UInt8]) throws(SEHeaderError) -> SEEncryptedArea {
        let plaintextArea: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: encryptedAreaCiphertext, tag: tag)
            plaintextArea = Array(try AES.GCM.open(box, using: SymmetricKey(data: protectionKey),
                                                   authenticating: plaintextPart))
        } catch {
            throw .headerTagMismatch
        }
        return try SEEncryptedArea(decrypted: plaintextArea)
    }
}

extension ComponentDigests {
    /// Reads `nep`, PLD, ALD and TLD from their header offsets; the sizes are right by construction (spec §2.1).
    init(unchecked header: [UInt8]) {
        pageListDigest = header.bytes(at: SEHeader.Offset.pld, count: Self.digestSize)
        addressListDigest = header.bytes(at: SEHeader.Offset.ald, count: Self.digestSize)
        tweakListDigest = header.bytes(at: SEHeader.Offset.tld, count: Self.digestSize)
        pageCount = header.readBigEndian(UInt64.self, at: SEHeader.Offset.nep)
    }
}

extension KeySlot {
    /// Splits 80 bytes that are known to be a whole slot (spec §2.3).
    init(unchecked bytes: [UInt8]) {
        // The length is guaranteed by the caller, so the checked initialiser cannot fail.
        try! self.init(bytes: bytes)
    }
}
