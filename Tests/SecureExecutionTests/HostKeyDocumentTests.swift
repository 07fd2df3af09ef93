// Created host-key documents, their verification, PEM reloads and loader files (spec se-image-format §3, §5, §10.1).
import Crypto
import Foundation
@testable import SecureExecution
import Testing
import X509

@Suite("Host-key documents and boot-loader files (spec §3, §10.1)")
struct HostKeyDocumentTests {
    static let loaders = SEBootLoaders(stage3a: repeated(0xA3, 0x1100), stage3bReloc: repeated(0xB3, 0x900))

    static func keys() throws -> SEImageKeys {
        SEImageKeys(customerKey: try KAT.customerKey(), protectionKey: KAT.builderProtectionKey, iv: KAT.builderIV,
                    xtsKey: repeated(0x42, 32) + repeated(0x43, 32), customerCommunicationKey: repeated(0x31, 32))
    }

    @Test("A created document is accepted by HostKey(certificate:) and its key opens the image header (spec §2.6)")
    func roundTrip() throws {
        let (keyPEM, certificatePEM) = try HostKeyDocument.create()
        let hostKey = try HostKey(certificate: Array(certificatePEM.utf8))
        let privateKey = try HostPrivateKey(pemEncoded: keyPEM)
        #expect(privateKey.publicKey == hostKey)
        var configuration = SEImageConfiguration(kernel: repeated(7, 0x3000), parmfile: Array("quiet".utf8),
                                                 hostKeys: [try KAT.certHostKey(), hostKey])
        configuration.secretControlFlags = 0x4000_0000_0000_0000
        let image = try SEImage.build(configuration, loaders: Self.loaders, keys: Self.keys())
        let (offset, header) = try SEHeader.find(inImage: image.bytes)
        #expect(offset == 0x14000)
        let (protectionKey, secrets) = try header.open(with: privateKey)
        #expect(protectionKey == KAT.builderProtectionKey)
        #expect(secrets.customerCommunicationKey == repeated(0x31, 32))
        #expect(secrets.xtsKey == repeated(0x42, 32) + repeated(0x43, 32))
        #expect(secrets.pswAddress == image.components.last!.component.address)
        #expect(secrets.secretControlFlags == 0x4000_0000_0000_0000)
        // The KAT host opens the same header; a fresh unrelated key does not.
        #expect(try header.open(with: KAT.certHostPrivateKey()).protectionKey == KAT.builderProtectionKey)
        let stranger = try HostPrivateKey(pemEncoded: HostKeyDocument.create().privateKeyPEM)
        #expect(headerError { _ = try header.open(with: stranger) } == .noMatchingKeySlot)
    }

    @Test("The private key is PKCS#8 PEM and reloads from a file; the document is self-signed P-521 ECDSA-SHA512")
    func pemAndCertificateShape() throws {
        let now = Date()
        let (keyPEM, certificatePEM) = try HostKeyDocument.create(now: now)
        #expect(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hk-\(UUID()).pem").path
        try keyPEM.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reloaded = try HostPrivateKey(contentsOfFile: path)
        #expect(reloaded.publicKey == (try HostKey(certificate: Array(certificatePEM.utf8))))
        #expect(throws: SEKeyError.self) { try HostPrivateKey(contentsOfFile: path + ".missing") }

        let certificate = try HostKeyDocument.certificate(in: Array(certificatePEM.utf8))
        #expect(certificate.version == .v3)
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.subject.description.contains("CN=s390pv host key"))
        #expect(certificate.subject.description.contains("O=s390pv"))
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA512)
        #expect(P521.Signing.PublicKey(certificate.publicKey) != nil)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let lifetime = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
        #expect(lifetime == Double(HostKeyDocument.defaultValidityDays) * 86400)
        #expect(abs(certificate.notValidBefore.timeIntervalSince(now)) < 2)
        let usage = try #require(try certificate.extensions.keyUsage)
        #expect(usage.keyAgreement && !usage.digitalSignature)
        #expect(certificate.extensions.first { $0.oid == .X509ExtensionID.keyUsage }?.critical == true)
    }

    @Test("Verification: self-signed documents pass, others need a --cert signer, dates are checked (our decision, spec §3)")
    func verification() throws {
        let now = Date()
        let own = try HostKeyDocument.certificate(in: Array(HostKeyDocument.create(now: now).certificatePEM.utf8))
        try HostKeyDocument.verify(own, signers: [], at: now)
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.verify(own, signers: [], at: now.addingTimeInterval(-86400)) }
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.verify(own, signers: [], at: now.addingTimeInterval(3651 * 86400)) }

        // IBM-shaped KAT documents: not self-signed, and we have no signer for them.
        let kat = try HostKeyDocument.certificate(in: KAT.bytes("cert_host.crt"))
        do {
            try HostKeyDocument.verify(kat, signers: [], at: now)
            Issue.record("the KAT document verified without its signer")
        } catch {
            guard case .noSigner = error else { Issue.record("unexpected \(error)"); return }
        }

        // A document signed by a CA key verifies with the CA certificate only.
        let caKey = P521.Signing.PrivateKey(), hostKey = P521.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("test signing service") }
        let hostName = try DistinguishedName { CommonName("test host") }
        func certificate(_ key: P521.Signing.PrivateKey, subject: DistinguishedName, issuer: DistinguishedName,
                         signer: P521.Signing.PrivateKey) throws -> Certificate {
            try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86400),
                            issuer: issuer, subject: subject, signatureAlgorithm: .ecdsaWithSHA512,
                            extensions: Certificate.Extensions(), issuerPrivateKey: .init(signer))
        }
        let ca = try certificate(caKey, subject: caName, issuer: caName, signer: caKey)
        let document = try certificate(hostKey, subject: hostName, issuer: caName, signer: caKey)
        try HostKeyDocument.verify(document, signers: [own, ca], at: now)
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.verify(document, signers: [], at: now) }
        // Same issuer name, wrong key: a forged document.
        let forged = try certificate(hostKey, subject: hostName, issuer: caName, signer: hostKey)
        do {
            try HostKeyDocument.verify(forged, signers: [ca], at: now)
            Issue.record("a forged document verified")
        } catch {
            guard case .badSignature = error else { Issue.record("unexpected \(error)"); return }
        }
        // A self-signed name with a foreign signature.
        let fakeSelf = try certificate(hostKey, subject: hostName, issuer: hostName, signer: caKey)
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.verify(fakeSelf, signers: [], at: now) }
        #expect(try HostKey(document) == HostKey(P521.KeyAgreement.PrivateKey(hostKey).publicKey))
    }

    @Test("Documents read as PEM (first of several) or DER; HostKey(Certificate) matches HostKey(certificate:)")
    func parsing() throws {
        let pem = try KAT.bytes("cert_host.crt")
        let certificate = try HostKeyDocument.certificate(in: pem)
        #expect(try HostKey(certificate) == KAT.certHostKey())
        #expect(try HostKeyDocument.certificate(in: certificate.serializeAsPEM().derBytes) == certificate)
        let both = try HostKeyDocument.certificates(in: pem + Array("\n".utf8) + KAT.bytes("keys_host.pem.crt"))
        #expect(both.count == 2 && both[0] == certificate)
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.certificates(in: Array("hello".utf8)) }
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.certificates(in: Array("-----BEGIN PRIVATE KEY-----\n".utf8)) }
        #expect(throws: HostKeyDocumentError.self) { try HostKeyDocument.certificates(in: []) }
    }

    @Test("Loader files: read from a directory, missing and short files named, default directory search")
    func loaderFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("loaders-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let loaders = root.appendingPathComponent("repo/Firmware/build/loaders")
        let binaries = root.appendingPathComponent("repo/.build/debug")
        try FileManager.default.createDirectory(at: binaries, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: loaders, withIntermediateDirectories: true)
        let executable = binaries.appendingPathComponent("s390pv").path

        // Nothing yet: the error names the repository's loader directory.
        let expectedDirectory = loaders.standardizedFileURL.path
        #expect(SEBootLoaders.defaultDirectory(environment: [:], executablePath: executable)
            == .failure(.notFound(expected: expectedDirectory)))
        #expect(throws: BootLoaderError.missing(path: loaders.appendingPathComponent("stage3a.bin").path)) {
            try SEBootLoaders(directory: loaders.path)
        }
        try Data(repeating: 0xA3, count: 24).write(to: loaders.appendingPathComponent("stage3a.bin"))
        try Data(repeating: 0xB3, count: 63).write(to: loaders.appendingPathComponent("stage3b_reloc.bin"))
        #expect(throws: BootLoaderError.tooSmall(path: loaders.appendingPathComponent("stage3b_reloc.bin").path, size: 63, minimum: 64)) {
            try SEBootLoaders(directory: loaders.path)
        }
        try Data(repeating: 0xB3, count: 64).write(to: loaders.appendingPathComponent("stage3b_reloc.bin"))
        let loaded = try SEBootLoaders(directory: loaders.path)
        #expect(loaded == SEBootLoaders(stage3a: repeated(0xA3, 24), stage3bReloc: repeated(0xB3, 64)))

        // Found upward from the executable, also through a symlink elsewhere; the environment wins.
        #expect(SEBootLoaders.defaultDirectory(environment: [:], executablePath: executable) == .success(expectedDirectory))
        try Data().write(to: URL(fileURLWithPath: executable))
        let link = root.appendingPathComponent("s390pv-link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: executable)
        #expect(SEBootLoaders.defaultDirectory(environment: [:], executablePath: link) == .success(expectedDirectory))
        #expect(SEBootLoaders.defaultDirectory(environment: ["S390PV_LOADERS_DIR": "/x"], executablePath: executable) == .success("/x"))
    }
}
