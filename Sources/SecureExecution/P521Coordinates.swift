// The padded big-endian forms of P-521 keys used in SE headers (spec se-image-format §2.1, §2.3, §11).
import Crypto

/// Conversions between swift-crypto's P-521 keys and the 80-byte padded fields of an SE header.
enum P521Coordinates {
    /// Significant bytes of a P-521 coordinate or scalar (spec §2.1).
    static let significantSize = 66
    /// Size of one padded coordinate or scalar field (spec §2.1).
    static let paddedSize = 80
    /// Size of a coordinate blob, X ‖ Y (spec §2.1 `cust_pub_key`, §2.3 `phkh`).
    static let blobSize = 2 * paddedSize

    /// The 160-byte coordinate blob X ‖ Y of `publicKey`, each left-padded to 80 bytes (spec §2.1).
    static func blob(of publicKey: P521.KeyAgreement.PublicKey) -> [UInt8] {
        let raw = Array(publicKey.rawRepresentation)
        return leftPadded(Array(raw[..<significantSize])) + leftPadded(Array(raw[significantSize...]))
    }

    /// The public key a 160-byte coordinate blob encodes; nil for bad padding or a point off the curve (spec §2.6 step 3).
    static func publicKey(fromBlob blob: [UInt8]) -> P521.KeyAgreement.PublicKey? {
        guard blob.count == blobSize,
              let x = stripPadding(Array(blob[..<paddedSize])),
              let y = stripPadding(Array(blob[paddedSize...]))
        else { return nil }
        return try? P521.KeyAgreement.PublicKey(rawRepresentation: x + y)
    }

    /// `significant` (66 bytes) left-padded with zeros to 80 bytes (spec §2.1).
    static func leftPadded(_ significant: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0, count: paddedSize - significant.count) + significant
    }

    /// The 66 significant bytes of an 80-byte field; nil if the 14 padding bytes are not all zero (spec §11).
    static func stripPadding(_ padded: [UInt8]) -> [UInt8]? {
        guard padded.count == paddedSize,
              padded[..<(paddedSize - significantSize)].allSatisfy({ $0 == 0 })
        else { return nil }
        return Array(padded[(paddedSize - significantSize)...])
    }
}
