// Host-key documents: creating a self-signed one for an emulated host, reading and verifying them
// (spec se-image-format §3). pvimg verifies real HKDs against IBM's chain; s390pv cannot, see `verify`.
import Crypto
import Foundation
import X509

/// Creation, parsing and verification of host-key documents (X.509 certificates carrying a P-521 key, spec §3).
public enum HostKeyDocument {
    /// A parsed host-key document (an X.509 certificate), so that callers need not import X509.
    public typealias Document = Certificate

    /// Subject of the documents `create` makes: `O=s390pv, CN=s390pv host key` (RFC 4514: `CN=s390pv host key,O=s390pv`).
    public static let defaultCommonName = "s390pv host key", organization = "s390pv"
    /// Default validity of a created document, in days (about ten years).
    public static let defaultValidityDays = 3650

    /// Makes a P-521 host key and a self-signed host-key document for it (spec §3 "minimal test HKD").
    ///
    /// The certificate is X.509 v3 with a secp521r1 public key, signed with ECDSA-SHA512 by the key
    /// itself, issuer = subject, KeyUsage `keyAgreement` (critical, as IBM's HKDs), BasicConstraints
    /// CA:FALSE and a subject key identifier. The private key is PKCS#8 PEM (`BEGIN PRIVATE KEY`),
    /// which `HostPrivateKey(pemEncoded:)` reads back.
    public static func create(privateKey: P521.Signing.PrivateKey = P521.Signing.PrivateKey(),
                              commonName: String = defaultCommonName,
                              validityDays: Int = defaultValidityDays,
                              now: Date = Date()) throws -> (privateKeyPEM: String, certificatePEM: String) {
        precondition(validityDays > 0, "validity must be positive")
        let publicKey = Certificate.PublicKey(privateKey.publicKey)
        let name = try DistinguishedName {
            OrganizationName(organization)
            CommonName(commonName)
        }
        // Whole seconds: X.509 times have no fraction, and the signature covers the encoded time.
        let notBefore = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notBefore.addingTimeInterval(Double(validityDays) * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA512,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(keyAgreement: true))
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(privateKey))
        let keyPEM = P521.KeyAgreement.PrivateKey(privateKey).pemRepresentation
        return (keyPEM + "\n", try certificate.serializeAsPEM().pemString + "\n")
    }

    /// Every certificate in `bytes`: each `BEGIN CERTIFICATE` block of a PEM file, or one DER certificate.
    public static func certificates(in bytes: [UInt8]) throws(HostKeyDocumentError) -> [Certificate] {
        if let text = String(validating: bytes, as: UTF8.self), text.contains("-----BEGIN ") {
            var found: [Certificate] = []
            var rest = text[...]
            while let begin = rest.range(of: "-----BEGIN CERTIFICATE-----"),
                  let end = rest.range(of: "-----END CERTIFICATE-----", range: begin.upperBound ..< rest.endIndex) {
                do {
                    found.append(try Certificate(pemEncoded: String(rest[begin.lowerBound ..< end.upperBound])))
                } catch {
                    throw .notACertificate("a BEGIN CERTIFICATE block is not a valid X.509 certificate")
                }
                rest = rest[end.upperBound...]
            }
            guard !found.isEmpty else { throw .notACertificate("PEM without a BEGIN CERTIFICATE block") }
            return found
        }
        do {
            return [try Certificate(derEncoded: bytes)]
        } catch {
            throw .notACertificate("neither a PEM nor a DER X.509 certificate")
        }
    }

    /// The first certificate of a host-key document file's bytes (pvimg uses the first, spec §3).
    public static func certificate(in bytes: [UInt8]) throws(HostKeyDocumentError) -> Certificate {
        try certificates(in: bytes)[0]
    }

    /// s390pv's host-key document verification (pvimg without `--no-verify`; our decision, spec §3, §14).
    ///
    /// pvimg checks the chain up to IBM's root CA, CRLs and the IBM subject names; s390pv has neither
    /// IBM's CA nor a real host, so it checks what a self-contained tool can:
    /// - the document is valid at `date` (notBefore ≤ date ≤ notAfter);
    /// - its signature verifies under the key of one of `signers` whose subject is the document's
    ///   issuer (pvimg's `--cert`; each such signer must itself be valid at `date`; signers are
    ///   trusted as given, no root CA or CRL is consulted), or, when no signer matches and the
    ///   document is self-signed (issuer = subject), under its own public key (the documents
    ///   `create` makes).
    public static func verify(_ document: Certificate, signers: [Certificate], at date: Date = Date()) throws(HostKeyDocumentError) {
        try requireValid(document, at: date, role: "host-key document")
        let issuers = signers.filter { $0.subject == document.issuer }
        for signer in issuers {
            try requireValid(signer, at: date, role: "signing certificate")
            if signer.publicKey.isValidSignature(document.signature, for: document) { return }
        }
        if !issuers.isEmpty { throw .badSignature(issuer: String(describing: document.issuer)) }
        guard document.issuer == document.subject else {
            throw .noSigner(issuer: String(describing: document.issuer))
        }
        guard document.publicKey.isValidSignature(document.signature, for: document) else {
            throw .badSignature(issuer: String(describing: document.issuer))
        }
    }

    /// What `s390pv hostkey show` prints about a document.
    public struct Summary {
        /// Subject and issuer names (RFC 4514 strings).
        public let subject: String, issuer: String
        /// The validity period.
        public let notBefore: Date, notAfter: Date
        /// Issuer = subject and the signature verifies under the document's own key.
        public let isSelfSigned: Bool
        /// The P-521 host key (its `hash` is the key slot's phkh, spec §2.3).
        public let hostKey: HostKey
    }

    /// Names, validity, self-signature and host key of a document; throws if its key is not P-521.
    public static func summary(of document: Certificate) throws(SEKeyError) -> Summary {
        Summary(subject: String(describing: document.subject), issuer: String(describing: document.issuer),
                notBefore: document.notValidBefore, notAfter: document.notValidAfter,
                isSelfSigned: document.issuer == document.subject
                    && document.publicKey.isValidSignature(document.signature, for: document),
                hostKey: try HostKey(document))
    }

    /// Throws unless `certificate` is within its validity period at `date`.
    static func requireValid(_ certificate: Certificate, at date: Date, role: String) throws(HostKeyDocumentError) {
        if date < certificate.notValidBefore { throw .notYetValid(role: role, notBefore: certificate.notValidBefore) }
        if date > certificate.notValidAfter { throw .expired(role: role, notAfter: certificate.notValidAfter) }
    }
}

/// Why a host-key document could not be read or verified (spec §3).
public enum HostKeyDocumentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes hold no X.509 certificate (PEM or DER).
    case notACertificate(String)
    /// The document, or its signer, is not valid yet.
    case notYetValid(role: String, notBefore: Date)
    /// The document, or its signer, has expired.
    case expired(role: String, notAfter: Date)
    /// The document is not self-signed and no given signing certificate has its issuer as subject.
    case noSigner(issuer: String)
    /// The signature does not verify under the issuer's key.
    case badSignature(issuer: String)

    public var description: String {
        switch self {
        case .notACertificate(let reason): "not a certificate: \(reason)"
        case .notYetValid(let role, let notBefore): "the \(role) is not valid before \(notBefore)"
        case .expired(let role, let notAfter): "the \(role) expired on \(notAfter)"
        case .noSigner(let issuer): "it is signed by \(issuer), and no --cert certificate has that subject"
        case .badSignature(let issuer): "its signature does not verify under the key of \(issuer)"
        }
    }
}

extension HostKey {
    /// The P-521 public key of a parsed host-key document (spec §3).
    public init(_ certificate: Certificate) throws(SEKeyError) {
        guard let signingKey = P521.Signing.PublicKey(certificate.publicKey) else { throw .hostKeyNotP521 }
        do {
            self.init(try P521.KeyAgreement.PublicKey(rawRepresentation: signingKey.rawRepresentation))
        } catch {
            throw .invalidP521Key(field: "host-key document public key")
        }
    }
}

extension HostPrivateKey {
    /// Reads a PEM P-521 private key file (PKCS#8 or SEC1), e.g. `host-key.pem` of `s390pv hostkey create`.
    public init(contentsOfFile path: String) throws(SEKeyError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .invalidPrivateKey("cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(pemEncoded: text)
    }
}

extension P521.KeyAgreement.PrivateKey {
    /// The same scalar as a key-agreement key.
    init(_ signingKey: P521.Signing.PrivateKey) {
        // Same curve, same scalar: the conversion cannot fail.
        try! self.init(rawRepresentation: signingKey.rawRepresentation)
    }
}
