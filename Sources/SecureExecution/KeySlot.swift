// One 80-byte key slot of an SE header (spec se-image-format §2.3).
import Crypto

/// A key slot: the header protection key wrapped for one host (spec §2.3).
///
/// Layout: `phkh` (32) at 0, `wrpk` (32) at 32, `kst` (16) at 64.
public struct KeySlot: Sendable, Equatable {
    /// Size of a serialised key slot (spec §2.3).
    public static let size = 80
    /// Size of a header protection key (spec §1).
    public static let protectionKeySize = 32
    /// Offsets of the three fields (spec §2.3).
    static let hostKeyHashOffset = 0, wrappedKeyOffset = 32, tagOffset = 64
    /// The all-zero 12-byte GCM nonce of every key-slot wrap (spec §1).
    static let wrapNonceBytes = [UInt8](repeating: 0, count: 12)

    /// `phkh`: SHA-256 of the host key's coordinate blob (spec §2.3).
    public let hostKeyHash: [UInt8]
    /// `wrpk`: the protection key encrypted with AES-256-GCM under the KEK (spec §2.3).
    public let wrappedKey: [UInt8]
    /// `kst`: the GCM tag of the wrap (spec §2.3).
    public let tag: [UInt8]

    /// Wraps `protectionKey` for `hostKey`: phkh ‖ GCM_enc(KEK(customer, host), 0¹², ∅, key) (spec §2.3, §2.5 step 3).
    public init(wrapping protectionKey: [UInt8], for hostKey: HostKey, customerKey: CustomerKey) throws {
        try requireLength(protectionKey, KeySlot.protectionKeySize, field: "header protection key")
        let kek = try customerKey.keyEncryptionKey(for: hostKey)
        let sealed = try AES.GCM.seal(protectionKey, using: kek, nonce: try AES.GCM.Nonce(data: KeySlot.wrapNonceBytes))
        hostKeyHash = hostKey.hash
        wrappedKey = Array(sealed.ciphertext)
        tag = Array(sealed.tag)
    }

    /// Splits 80 serialised bytes into the three fields (spec §2.3).
    public init(bytes: [UInt8]) throws(SEKeyError) {
        try requireLength(bytes, KeySlot.size, field: "key slot")
        hostKeyHash = bytes.bytes(at: KeySlot.hostKeyHashOffset, count: 32)
        wrappedKey = bytes.bytes(at: KeySlot.wrappedKeyOffset, count: 32)
        tag = bytes.bytes(at: KeySlot.tagOffset, count: 16)
    }

    /// The 80 serialised bytes phkh ‖ wrpk ‖ kst (spec §2.3).
    public var bytes: [UInt8] {
        hostKeyHash + wrappedKey + tag
    }

    /// Recovers the protection key with the slot's KEK: GCM_dec(KEK, 0¹², ∅, wrpk, kst) (spec §2.6 step 4).
    public func unwrap(with keyEncryptionKey: SymmetricKey) throws(SEHeaderError) -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: KeySlot.wrapNonceBytes),
                                            ciphertext: wrappedKey, tag: tag)
            return Array(try AES.GCM.open(box, using: keyEncryptionKey))
        } catch {
            throw .keySlotTagMismatch
        }
    }
}
