// The plaintext form of an SE header's encrypted area (spec se-image-format §2.2).

/// The secrets of an SE header: CCK, XTS component key, initial PSW and secret control flags (spec §2.2).
///
/// Layout relative to E: `cck` (32) at 0x00, `xts_key` (64) at 0x20, PSW mask (8) at 0x60, PSW
/// address (8) at 0x68, `scf` (8) at 0x70, `noi` (4) at 0x78, reserved (4) at 0x7C.
public struct SEEncryptedArea: Sendable, Equatable {
    /// Size of the fixed part, which is the whole area when there are no optional items (spec §2.2).
    public static let size = 0x80
    /// Field offsets relative to E (spec §2.2).
    static let cckOffset = 0x00, xtsKeyOffset = 0x20, pswMaskOffset = 0x60, pswAddressOffset = 0x68,
               secretControlFlagsOffset = 0x70, optionalItemCountOffset = 0x78
    /// Sizes of the key fields (spec §2.2).
    public static let cckSize = 32, xtsKeySize = 64

    /// `cck`: customer communication key (spec §2.2).
    public var customerCommunicationKey: [UInt8]
    /// `xts_key`: key1 ‖ key2 of the AES-256-XTS component encryption (spec §2.2, §4).
    public var xtsKey: [UInt8]
    /// Initial PSW mask (spec §2.2).
    public var pswMask: UInt64
    /// Initial PSW address (spec §2.2).
    public var pswAddress: UInt64
    /// `scf`: secret control flags (spec §2.4).
    public var secretControlFlags: UInt64

    /// Collects the secrets, checking the key sizes (spec §2.2).
    public init(customerCommunicationKey: [UInt8], xtsKey: [UInt8], pswMask: UInt64, pswAddress: UInt64,
                secretControlFlags: UInt64 = 0) throws(SEKeyError) {
        try requireLength(customerCommunicationKey, Self.cckSize, field: "cck")
        try requireLength(xtsKey, Self.xtsKeySize, field: "xts_key")
        self.customerCommunicationKey = customerCommunicationKey
        self.xtsKey = xtsKey
        self.pswMask = pswMask
        self.pswAddress = pswAddress
        self.secretControlFlags = secretControlFlags
    }

    /// Decodes a decrypted area; rejects optional items (`noi` ≠ 0) and any size but 128 (spec §2.2, decision §14.2).
    public init(decrypted bytes: [UInt8]) throws(SEHeaderError) {
        guard bytes.count >= Self.size else { throw .invalidEncryptedAreaSize(UInt64(bytes.count)) }
        let optionalItemCount = bytes.readBigEndian(UInt32.self, at: Self.optionalItemCountOffset)
        guard optionalItemCount == 0 else { throw .unsupportedOptionalItems(optionalItemCount) }
        guard bytes.count == Self.size else { throw .invalidEncryptedAreaSize(UInt64(bytes.count)) }
        customerCommunicationKey = bytes.bytes(at: Self.cckOffset, count: Self.cckSize)
        xtsKey = bytes.bytes(at: Self.xtsKeyOffset, count: Self.xtsKeySize)
        pswMask = bytes.readBigEndian(UInt64.self, at: Self.pswMaskOffset)
        pswAddress = bytes.readBigEndian(UInt64.self, at: Self.pswAddressOffset)
        secretControlFlags = bytes.readBigEndian(UInt64.self, at: Self.secretControlFlagsOffset)
    }

    /// The 128 plaintext bytes, `noi` = 0 and reserved = 0 (spec §2.2).
    public var bytes: [UInt8] {
        var area = [UInt8](repeating: 0, count: Self.size)
        area.writeBytes(customerCommunicationKey, at: Self.cckOffset)
        area.writeBytes(xtsKey, at: Self.xtsKeyOffset)
        area.writeBigEndian(pswMask, at: Self.pswMaskOffset)
        area.writeBigEndian(pswAddress, at: Self.pswAddressOffset)
        area.writeBigEndian(secretControlFlags, at: Self.secretControlFlagsOffset)
        return area
    }
}
