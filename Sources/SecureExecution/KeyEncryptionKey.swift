// KEK derivation for key slots (spec se-image-format §1, §2.3).
import Crypto

/// The key-encryption key that wraps a header protection key in one key slot (spec §2.3).
public enum KeyEncryptionKey {
    /// KEK = SHA-256(ECDH X coordinate as 66 bytes ‖ 00 00 00 01), the one-round X9.63 KDF of spec §1.
    public static func derive(privateKey: P521.KeyAgreement.PrivateKey,
                              publicKey: P521.KeyAgreement.PublicKey) throws -> SymmetricKey {
        let sharedSecret = try privateKey.sharedSecretFromKeyAgreement(with: publicKey)
        return sharedSecret.x963DerivedSymmetricKey(using: SHA256.self, sharedInfo: [UInt8](),
                                                    outputByteCount: 32)
    }
}

extension SymmetricKey {
    /// The raw key bytes (for serialising and for tests).
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
