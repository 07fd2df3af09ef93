// Typed errors of the Secure Execution header code (spec se-image-format §2, §7.4, §14.1).

/// Why an SE header could not be read, opened or found (spec §2.1, §2.6).
///
/// Every case has the Ultravisor response code it stands for (`uvResponse`), so the UV model can
/// report it to the guest as spec §7.4 describes.
public enum SEHeaderError: Error, Equatable, Sendable {
    /// The bytes end before the header does: `expected` bytes are needed, `available` are given.
    case truncated(expected: Int, available: Int)
    /// The first 8 bytes are not `IBMSecEx`.
    case badMagic
    /// The version field is not 0x100 (the only version defined, spec §2.1).
    case unsupportedVersion(UInt32)
    /// `sehs` disagrees with `0x1A0 + 80·nks + sea + 16`, is at most 16, or exceeds 8192 bytes.
    case headerSizeMismatch(sehs: UInt32, expected: UInt64)
    /// `sea` is smaller than the 128-byte fixed part of the encrypted area (spec §2.2).
    case invalidEncryptedAreaSize(UInt64)
    /// `nks` is 0: a header needs at least one key slot (spec §2.1).
    case noKeySlots
    /// No key slot carries the hash of the opening host's public key (spec §2.6 step 2).
    case noMatchingKeySlot
    /// `cust_pub_key` has non-zero padding or is not a point on P-521 (spec §2.6 step 3).
    case invalidCustomerKey
    /// The matching key slot's GCM tag does not verify under the derived KEK (spec §2.6 step 4).
    case keySlotTagMismatch
    /// The header's GCM tag does not verify: any byte of `[0, sehs)` was changed (spec §2.6 step 5).
    case headerTagMismatch
    /// The decrypted area announces optional items, which neither pvimg nor we support (spec §2.2, §14.2).
    case unsupportedOptionalItems(UInt32)
    /// No SE header starts at any of the probed page offsets of an image (spec §13.6).
    case headerNotFound

    /// The UV response (rc, rrc) this failure maps to: spec §7.4 where it gives one, else our decision (§14.1).
    ///
    /// Decisions (spec §14.1, the sources give no value): a bad magic is reported like a version
    /// mismatch (0x104/0x0001), because either way the header is not a v1 header; a truncated header
    /// like a length mismatch (0x10A/0x0031); a key-slot tag failure as 0x108/0x0006 and a header
    /// tag failure as 0x108/0x0007, both in the "not correctly encrypted for this host" family of rc
    /// 0x108; optional items as 0x10A/0x0039, since they change the size of the encrypted area.
    public var uvResponse: (rc: UInt16, rrc: UInt16) {
        switch self {
        case .badMagic, .unsupportedVersion: (0x0104, 0x0001)
        case .truncated, .headerSizeMismatch: (0x010A, 0x0031)
        case .invalidEncryptedAreaSize, .unsupportedOptionalItems: (0x010A, 0x0039)
        case .noKeySlots: (0x010A, 0x0040)
        case .noMatchingKeySlot: (0x0108, 0x0005)
        case .invalidCustomerKey: (0x0108, 0x000B)
        case .keySlotTagMismatch: (0x0108, 0x0006)
        case .headerTagMismatch: (0x0108, 0x0007)
        case .headerNotFound: (0x0103, 0x0000)
        }
    }
}

/// Why a key or a header's inputs were rejected before any header was built or opened (spec §1, §3).
public enum SEKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A byte string has the wrong length for its field.
    case invalidLength(field: String, expected: Int, actual: Int)
    /// A padded big-endian field has non-zero bytes in its padding.
    case nonZeroPadding(field: String)
    /// The bytes are not a valid P-521 private scalar or public point.
    case invalidP521Key(field: String)
    /// The host-key document is not an X.509 certificate that could be parsed.
    case invalidCertificate(String)
    /// The host-key document's public key is not an EC key on secp521r1 (spec §3).
    case hostKeyNotP521
    /// The PEM private key could not be parsed as a P-521 key (PKCS#8 or SEC1).
    case invalidPrivateKey(String)
    /// A header needs 1 to 95 key slots (spec §2.1 size limits); `count` host keys were given.
    case invalidHostKeyCount(Int)

    public var description: String {
        switch self {
        case .invalidLength(let field, let expected, let actual): "\(field) is \(actual) bytes, not \(expected)"
        case .nonZeroPadding(let field): "\(field) has non-zero padding"
        case .invalidP521Key(let field): "\(field) is not a valid P-521 key"
        case .invalidCertificate(let reason): "not an X.509 certificate: \(reason)"
        case .hostKeyNotP521: "the host-key document's key is not on secp521r1"
        case .invalidPrivateKey(let reason): reason
        case .invalidHostKeyCount(let count): "\(count) host keys given; a header takes 1 to 95"
        }
    }
}
