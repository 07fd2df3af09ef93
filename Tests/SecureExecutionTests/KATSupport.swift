// Shared helpers of the Secure Execution tests: KAT files (../shared/testdata/se-kat/) and hex.
import Crypto
import Foundation
@testable import SecureExecution
import Testing

/// Access to the known-answer files of ../shared/testdata/se-kat/ (README there, spec se-image-format §13).
enum KAT {
    /// The repository root, found from this file's path.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The KAT folder beside the repository.
    static let folder = repository.appendingPathComponent("../shared/testdata/se-kat").standardized

    /// The bytes of KAT file `name`; fails the test with a clear message when the folder or file is missing.
    static func bytes(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let url = folder.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("KAT file \(url.path) is missing: the se-kat folder must sit at ../shared/testdata/se-kat/ beside the repository (CI has it)",
                         sourceLocation: sourceLocation)
            throw MissingKATFile(path: url.path)
        }
        return Array(data)
    }

    /// The text of KAT file `name`.
    static func text(_ name: String) throws -> String {
        String(decoding: try bytes(name), as: UTF8.self)
    }

    /// The test customer key (`keys_private_cust.bin`).
    static func customerKey() throws -> CustomerKey {
        try CustomerKey(paddedScalar: bytes("keys_private_cust.bin"))
    }

    /// The builder-side host key without private key (`keys_host.pem.crt`).
    static func pemHostKey() throws -> HostKey {
        try HostKey(certificate: bytes("keys_host.pem.crt"))
    }

    /// The host key document that has a private key (`cert_host.crt`).
    static func certHostKey() throws -> HostKey {
        try HostKey(certificate: bytes("cert_host.crt"))
    }

    /// The UV's private key matching `cert_host.crt` (`cert_host.key`).
    static func certHostPrivateKey() throws -> HostPrivateKey {
        try HostPrivateKey(pemEncoded: text("cert_host.key"))
    }

    /// The secrets of upstream `builder_test`: CCK 32 × 0x31, XTS key 64 × 0x03, PSW 5678/1234, scf 0 (README, spec §13.3).
    static func builderSecrets() throws -> SEEncryptedArea {
        try SEEncryptedArea(customerCommunicationKey: repeated(0x31, 32), xtsKey: repeated(0x03, 64),
                            pswMask: 5678, pswAddress: 1234, secretControlFlags: 0)
    }

    /// The digests of upstream `builder_test`: pld 64 × 0x02, ald 64 × 0x01, tld 64 × 0x03, nep 1 (spec §13.3).
    static func builderDigests() throws -> ComponentDigests {
        try ComponentDigests(pageListDigest: repeated(0x02, 64), addressListDigest: repeated(0x01, 64),
                             tweakListDigest: repeated(0x03, 64), pageCount: 1)
    }

    /// Protection key 32 × 0x32 and IV 12 × 0x33 of upstream `builder_test` (spec §13.3).
    static let builderProtectionKey = repeated(0x32, 32), builderIV = repeated(0x33, 12)

    /// Builds a header with the `builder_test` inputs for the given host keys (spec §13.3, §13.5).
    static func builderHeader(hostKeys: [HostKey]) throws -> SEHeader {
        try SEHeader.build(secrets: builderSecrets(), digests: builderDigests(), plaintextControlFlags: 0,
                           protectionKey: builderProtectionKey, iv: builderIV, customerKey: customerKey(),
                           hostKeys: hostKeys)
    }
}

/// Thrown after recording an issue when a KAT file cannot be read.
struct MissingKATFile: Error {
    let path: String
}

/// `count` bytes of value `value` ("n × 0xAB" in the README).
func repeated(_ value: UInt8, _ count: Int) -> [UInt8] {
    [UInt8](repeating: value, count: count)
}

/// Lower-case hex of `bytes`.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Lower-case hex SHA-256 of `bytes`.
func sha256Hex(_ bytes: [UInt8]) -> String {
    hex(SHA256.hash(data: bytes))
}

/// The bytes of a hex string (whitespace not allowed).
func unhex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0 ..< $0 + 2], as: UTF8.self), radix: 16)! }
}

/// Parses and opens `bytes` as the UV with `hostKey`, the whole path of spec §2.6.
func openHeader(_ bytes: [UInt8], with hostKey: HostPrivateKey) throws(SEHeaderError) -> (protectionKey: [UInt8], secrets: SEEncryptedArea) {
    try SEHeader(parsing: bytes).open(with: hostKey)
}

/// The SEHeaderError that `body` throws, or nil if it succeeds (any other error fails the test).
func headerError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> SEHeaderError? {
    do {
        try body()
        return nil
    } catch let error as SEHeaderError {
        return error
    } catch {
        Issue.record("expected an SEHeaderError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
