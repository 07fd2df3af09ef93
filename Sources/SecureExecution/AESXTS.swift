// AES-256-XTS over 4096-byte pages, the component encryption of Secure Execution images
// (spec se-image-format §1, §4), through OpenSSL's libcrypto (EVP_aes_256_xts).
import COpenSSL

/// Why a component or an image could not be prepared (spec §4, §5).
public enum SEComponentError: Error, Equatable, Sendable {
    /// The XTS key is not 64 bytes (key1 ‖ key2, spec §1).
    case invalidXTSKeyLength(Int)
    /// key1 == key2: OpenSSL refuses to encrypt with such a key, and so does the builder (spec §4).
    case xtsKeyHalvesEqual
    /// A tweak is not 16 bytes (spec §4).
    case invalidTweakLength(Int)
    /// XTS input that is not a whole number of 16-byte blocks, or is empty (spec §4: pages only).
    case invalidDataLength(Int)
    /// A component address is not 4096-aligned (spec §4 step 1).
    case unalignedAddress(UInt64)
    /// A component starts below the end of the one before it: addresses must strictly increase
    /// without overlap (spec §4 step 1).
    case overlappingComponents(address: UInt64, previousEnd: UInt64)
    /// A component does not fit below 2⁶⁴.
    case addressOverflow(UInt64)
    /// A boot loader blob is too small for its patched argument block (spec §5).
    case loaderTooSmall(name: String, size: Int, minimum: Int)
    /// stage3a is so large that it reaches into the header area; `limit` is the address it may not reach.
    case loaderTooLarge(name: String, size: Int, limit: Int)
    /// libcrypto reported a failure in the named EVP call.
    case cryptoFailure(String)
}

/// AES-256-XTS with the OpenSSL / IEEE 1619 conventions of spec §4: a 64-byte key key1 ‖ key2,
/// a 16-byte tweak used as given, one data unit per call.
///
/// The builder-side rule of spec §4 applies to every instance: a key whose halves are equal is
/// rejected, for decryption too (OpenSSL itself would decrypt with it; we keep one rule).
public struct AESXTS: Sendable {
    /// key1 ‖ key2 (spec §1).
    public static let keySize = 64
    /// Tweak (and block) size.
    public static let tweakSize = 16, blockSize = 16

    /// The 64 key bytes.
    public let key: [UInt8]

    /// Checks the key: 64 bytes, halves different (spec §4).
    public init(key: [UInt8]) throws(SEComponentError) {
        guard key.count == Self.keySize else { throw .invalidXTSKeyLength(key.count) }
        guard key[..<32].elementsEqual(key[32...]) == false else { throw .xtsKeyHalvesEqual }
        self.key = key
    }

    /// Encrypts `data` as consecutive data units of `unitSize` bytes, unit *i* with `tweak(i)`.
    public func encrypt(_ data: [UInt8], unitSize: Int, tweak: (Int) -> [UInt8]) throws(SEComponentError) -> [UInt8] {
        try crypt(data, unitSize: unitSize, tweak: tweak, encrypting: true)
    }

    /// Decrypts `data` as consecutive data units of `unitSize` bytes, unit *i* with `tweak(i)`.
    public func decrypt(_ data: [UInt8], unitSize: Int, tweak: (Int) -> [UInt8]) throws(SEComponentError) -> [UInt8] {
        try crypt(data, unitSize: unitSize, tweak: tweak, encrypting: false)
    }

    /// Encrypts one data unit (a multiple of 16 bytes) with one tweak.
    public func encrypt(_ data: [UInt8], tweak: [UInt8]) throws(SEComponentError) -> [UInt8] {
        try crypt(data, unitSize: data.count, tweak: { _ in tweak }, encrypting: true)
    }

    /// Decrypts one data unit (a multiple of 16 bytes) with one tweak.
    public func decrypt(_ data: [UInt8], tweak: [UInt8]) throws(SEComponentError) -> [UInt8] {
        try crypt(data, unitSize: data.count, tweak: { _ in tweak }, encrypting: false)
    }

    /// One EVP context for all units: the key schedule is set once, each unit re-initialises only the tweak.
    private func crypt(_ data: [UInt8], unitSize: Int, tweak: (Int) -> [UInt8],
                       encrypting: Bool) throws(SEComponentError) -> [UInt8] {
        guard unitSize > 0, unitSize % Self.blockSize == 0, data.count % unitSize == 0, !data.isEmpty else {
            throw .invalidDataLength(unitSize > 0 && data.count % unitSize != 0 ? data.count : unitSize)
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw .cryptoFailure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        let enc: Int32 = encrypting ? 1 : 0
        guard EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, key, nil, enc) == 1 else {
            throw .cryptoFailure("EVP_CipherInit_ex(key)")
        }
        var output = [UInt8](repeating: 0, count: data.count)
        let unitCount = data.count / unitSize
        for unit in 0 ..< unitCount {
            let unitTweak = tweak(unit)
            guard unitTweak.count == Self.tweakSize else { throw .invalidTweakLength(unitTweak.count) }
            guard EVP_CipherInit_ex(context, nil, nil, nil, unitTweak, -1) == 1 else {
                throw .cryptoFailure("EVP_CipherInit_ex(tweak)")
            }
            var written: Int32 = 0
            let start = unit * unitSize
            let ok = data.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    EVP_CipherUpdate(context, out.baseAddress! + start, &written,
                                     input.baseAddress! + start, Int32(unitSize))
                }
            }
            guard ok == 1, Int(written) == unitSize else { throw .cryptoFailure("EVP_CipherUpdate") }
        }
        return output
    }
}

/// AES-256-XTS over caller-owned memory with one long-lived OpenSSL context: the UV's UNPACK
/// path (spec se-image-format §4, §8 item 2) decrypts each 4096-byte page in place, re-keying
/// only the tweak, with no allocation per page.
///
/// Not thread-safe: one instance per user (the UV keeps one per secure configuration, under its lock).
public final class AESXTSContext: @unchecked Sendable {
    private let context: OpaquePointer
    /// Whether `crypt` encrypts (true) or decrypts (false).
    public let encrypting: Bool

    /// Sets up the key schedule once; the key follows the rules of `AESXTS.init(key:)` (spec §4).
    public init(key: [UInt8], encrypting: Bool) throws(SEComponentError) {
        _ = try AESXTS(key: key)
        guard let context = EVP_CIPHER_CTX_new() else { throw .cryptoFailure("EVP_CIPHER_CTX_new") }
        guard EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, key, nil, encrypting ? 1 : 0) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw .cryptoFailure("EVP_CipherInit_ex(key)")
        }
        self.context = context
        self.encrypting = encrypting
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts or decrypts `count` bytes (a non-zero multiple of 16) at `buffer` in place as one
    /// data unit with the 16-byte tweak `tweak.0 ‖ tweak.1`, both big-endian (spec §4).
    public func crypt(_ buffer: UnsafeMutableRawPointer, count: Int, tweak: (UInt64, UInt64)) throws(SEComponentError) {
        guard count > 0, count % AESXTS.blockSize == 0, count <= Int(Int32.max) else { throw .invalidDataLength(count) }
        var tweakBytes = (tweak.0.bigEndian, tweak.1.bigEndian)
        let tweakOK = withUnsafeBytes(of: &tweakBytes) { raw in
            EVP_CipherInit_ex(context, nil, nil, nil, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), -1)
        }
        guard tweakOK == 1 else { throw .cryptoFailure("EVP_CipherInit_ex(tweak)") }
        var written: Int32 = 0
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherUpdate(context, bytes, &written, bytes, Int32(count)) == 1, Int(written) == count else {
            throw .cryptoFailure("EVP_CipherUpdate")
        }
    }
}
