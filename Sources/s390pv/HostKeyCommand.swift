// `s390pv hostkey create|show`: an emulated host's key pair and its self-signed host-key document (spec se-image-format §3).
import ArgumentParser
import Foundation
import SecureExecution

struct HostKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hostkey",
        abstract: "Create or inspect host keys and host-key documents.",
        subcommands: [HostKeyCreate.self, HostKeyShow.self])
}

/// `s390pv hostkey create DIR`: DIR/host-key.pem (P-521 private key, PKCS#8, mode 0600) and DIR/host-key.crt.
struct HostKeyCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a P-521 host key and a self-signed host-key document for it.",
        discussion: """
        Writes DIR/host-key.pem (the private key the emulated Ultravisor opens headers with, PKCS#8 PEM, \
        mode 0600) and DIR/host-key.crt (the host-key document to pass to `s390pv mkimage -k`: X.509, \
        secp521r1 key, ECDSA-SHA512 self-signature). DIR is created if missing. Prints the host-key hash.
        """)

    static let keyFileName = "host-key.pem", certificateFileName = "host-key.crt"

    @Argument(help: "Directory for host-key.pem and host-key.crt.") var directory: String
    @Flag(help: "Replace existing files.") var force = false
    @Option(help: "Validity of the document in days.") var days = HostKeyDocument.defaultValidityDays
    @Option(help: "Common name (CN) of the document's subject.") var commonName = HostKeyDocument.defaultCommonName

    func validate() throws {
        guard days > 0, days <= 100 * 366 else { throw ValidationError("--days must be 1 to 36600") }
    }

    func run() throws {
        do {
            let pair = try HostKeyPair.create(in: directory, replace: force, days: days, commonName: commonName)
            print("\(pair.keyPath): host private key\n\(pair.certificatePath): host-key document\nhost-key hash: \(pair.hash)")
        } catch {
            fail(error.message)
        }
    }

    private func fail(_ message: String) -> Never { commandFail("hostkey create", message) }
}

/// A host private key and its self-signed host-key document, written as DIR/host-key.pem (mode
/// 0600) and DIR/host-key.crt; never one without the other.
struct HostKeyPair {
    struct Failure: Error { let message: String }
    let keyPath: String, certificatePath: String, hash: String

    static func create(in directory: String, replace: Bool, days: Int = HostKeyDocument.defaultValidityDays,
                       commonName: String = HostKeyDocument.defaultCommonName) throws(Failure) -> HostKeyPair {
        let keyPath = (directory as NSString).appendingPathComponent(HostKeyCreate.keyFileName)
        let certificatePath = (directory as NSString).appendingPathComponent(HostKeyCreate.certificateFileName)
        if !replace {
            for path in [keyPath, certificatePath] where FileManager.default.fileExists(atPath: path) {
                throw Failure(message: "\(path) exists (pass --force to replace it)")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(message: "cannot create directory \(directory): \((error as NSError).localizedDescription)")
        }
        let pair: (privateKeyPEM: String, certificatePEM: String)
        do { pair = try HostKeyDocument.create(commonName: commonName, validityDays: days) } catch {
            throw Failure(message: "cannot create the host-key document: \(error)")
        }
        do { try writeAtomically(Array(pair.privateKeyPEM.utf8), to: keyPath, mode: 0o600, replace: replace) } catch {
            throw Failure(message: error.description)
        }
        do { try writeAtomically(Array(pair.certificatePEM.utf8), to: certificatePath, mode: 0o644, replace: replace) } catch {
            unlink(keyPath)  // no half pair
            throw Failure(message: error.description)
        }
        let hash = (try? HostPrivateKey(pemEncoded: pair.privateKeyPEM).publicKey.hash).map(hexString) ?? "?"
        return HostKeyPair(keyPath: keyPath, certificatePath: certificatePath, hash: hash)
    }
}

/// `s390pv hostkey show FILE`: what a host-key document or private key file holds, with the host-key hash.
struct HostKeyShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a host-key document's names, validity and host-key hash (or a private key's hash).",
        discussion: "The host-key hash is SHA-256 of the P-521 public key's coordinates: the phkh of its key slot in a header.")

    @Argument(help: "A host-key document (PEM or DER) or a PEM P-521 private key.") var file: String

    func run() throws {
        let bytes: [UInt8]
        do { bytes = try readFileBytes(file) } catch { fail("cannot read \(file): \(error.description)") }
        if let text = String(validating: bytes, as: UTF8.self), text.contains("PRIVATE KEY-----") {
            let key: HostPrivateKey
            do { key = try HostPrivateKey(pemEncoded: text) } catch { fail("\(file): not a P-521 private key (\(error))") }
            print("private key: P-521\nhost-key hash: \(hexString(key.publicKey.hash))")
            return
        }
        let summary: HostKeyDocument.Summary
        do { summary = try HostKeyDocument.summary(of: HostKeyDocument.certificate(in: bytes)) } catch {
            fail("\(file): \(error as? SEKeyError == .hostKeyNotP521 ? "the public key is not an EC key on secp521r1" : "\(error)")")
        }
        print("""
        subject: \(summary.subject)
        issuer: \(summary.issuer)
        not before: \(summary.notBefore)
        not after: \(summary.notAfter)
        self-signed: \(summary.isSelfSigned ? "yes" : "no")
        host-key hash: \(hexString(summary.hostKey.hash))
        """)
    }

    private func fail(_ message: String) -> Never { commandFail("hostkey show", message) }
}

/// Lower-case hex.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
