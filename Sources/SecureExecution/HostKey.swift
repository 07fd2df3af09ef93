// Host keys: the public key of a host-key document and the UV's private key (spec se-image-format §2.3, §3).
import Crypto
import X509

/// A host's P-521 public key, one key slot per host key in a header (spec §2.3, §3).
public struct HostKey: Equatable {
    /// The P-521 public key.
    public let publicKey: P521.KeyAgreement.PublicKey

    /// Wraps an existing swift-crypto public key.
    public init(_ publicKey: P521.KeyAgreement.PublicKey) {
        self.publicKey = publicKey
    }

    /// Takes the public key of a host-key document, PEM (first certificate) or DER, without verifying it (`--no-verify`, spec §3).
    public init(certificate bytes: [UInt8]) throws(SEKeyError) {
        let certificate: Certificate
        do {
            if let pem = HostKey.firstPEMCertificate(in: bytes) {
                certificate = try Certificate(pemEncoded: pem)
            } else {
                certificate = try Certificate(derEncoded: bytes)
            }
        } catch {
            throw .invalidCertificate(String(describing: error))
        }
        guard let signingKey = P521.Signing.PublicKey(certificate.publicKey) else {
            throw .hostKeyNotP521
        }
        do {
            publicKey = try P521.KeyAgreement.PublicKey(rawRepresentation: signingKey.rawRepresentation)
        } catch {
            throw .invalidP521Key(field: "host-key document public key")
        }
    }

    /// Decodes a 160-byte coordinate blob X ‖ Y (spec §2.1).
    public init(coordinateBlob: [UInt8]) throws(SEKeyError) {
        try requireLength(coordinateBlob, P521Coordinates.blobSize, field: "host key coordinate blob")
        guard let key = P521Coordinates.publicKey(fromBlob: coordinateBlob) else {
            throw .invalidP521Key(field: "host key coordinate blob")
        }
        publicKey = key
    }

    /// The 160-byte coordinate blob X ‖ Y, each left-padded to 80 bytes (spec §2.1).
    public var coordinateBlob: [UInt8] {
        P521Coordinates.blob(of: publicKey)
    }

    /// `phkh`: SHA-256 of the coordinate blob, which identifies this host's key slot (spec §2.3).
    public var hash: [UInt8] {
        Array(SHA256.hash(data: coordinateBlob))
    }

    /// Equal when the points are equal.
    public static func == (lhs: HostKey, rhs: HostKey) -> Bool {
        lhs.publicKey.rawRepresentation == rhs.publicKey.rawRepresentation
    }

    /// The first `-----BEGIN CERTIFICATE-----` block of a PEM file, or nil for anything else (spec §3: pvimg reads the first certificate).
    static func firstPEMCertificate(in bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self),
              let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound ..< text.endIndex)
        else { return nil }
        return String(text[begin.lowerBound ..< end.upperBound])
    }
}

/// The private half of a host key, as the Ultravisor holds it to open headers (spec §2.6).
public struct HostPrivateKey {
    /// The P-521 private key.
    public let privateKey: P521.KeyAgreement.PrivateKey

    /// Wraps an existing swift-crypto private key.
    public init(_ privateKey: P521.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
    }

    /// Parses a PEM P-521 private key, PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`).
    public init(pemEncoded pem: String) throws(SEKeyError) {
        do {
            privateKey = try P521.KeyAgreement.PrivateKey(pemRepresentation: pem)
        } catch {
            throw .invalidPrivateKey(String(describing: error))
        }
    }

    /// The matching public host key.
    public var publicKey: HostKey {
        HostKey(privateKey.publicKey)
    }

    /// KEK(host, customer): the same key the builder derived from the other side (spec §2.6 step 4).
    public func keyEncryptionKey(forCustomerKey customerPublicKey: P521.KeyAgreement.PublicKey) throws -> SymmetricKey {
        try KeyEncryptionKey.derive(privateKey: privateKey, publicKey: customerPublicKey)
    }
}
