// The customer ECDH key pair of an SE image (spec se-image-format §2.3, §2.5, §13).
import Crypto

/// The customer's P-521 key pair: its public half goes into `cust_pub_key`, its private half derives every slot's KEK (spec §2.3).
public struct CustomerKey {
    /// The P-521 private key.
    public let privateKey: P521.KeyAgreement.PrivateKey

    /// Wraps an existing swift-crypto private key.
    public init(_ privateKey: P521.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
    }

    /// A fresh random key pair, as pvimg draws for every image (spec §2.3).
    public static func generate() -> CustomerKey {
        CustomerKey(P521.KeyAgreement.PrivateKey())
    }

    /// Loads the private scalar from its 80-byte big-endian, zero-padded form (s390-tools' `private_cust.bin`, spec §13).
    public init(paddedScalar: [UInt8]) throws(SEKeyError) {
        try requireLength(paddedScalar, P521Coordinates.paddedSize, field: "customer private scalar")
        guard let scalar = P521Coordinates.stripPadding(paddedScalar) else {
            throw .nonZeroPadding(field: "customer private scalar")
        }
        do {
            privateKey = try P521.KeyAgreement.PrivateKey(rawRepresentation: scalar)
        } catch {
            throw .invalidP521Key(field: "customer private scalar")
        }
    }

    /// The private scalar as 80 big-endian bytes, zero-padded on the left (spec §13).
    public var paddedScalar: [UInt8] {
        P521Coordinates.leftPadded(Array(privateKey.rawRepresentation))
    }

    /// The public key d·G as the 160-byte coordinate blob stored in `cust_pub_key` (spec §2.1).
    public var publicKeyBlob: [UInt8] {
        P521Coordinates.blob(of: privateKey.publicKey)
    }

    /// KEK(customer, host): the key that wraps the protection key in `hostKey`'s slot (spec §2.3).
    public func keyEncryptionKey(for hostKey: HostKey) throws -> SymmetricKey {
        try KeyEncryptionKey.derive(privateKey: privateKey, publicKey: hostKey.publicKey)
    }
}
