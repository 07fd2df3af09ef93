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
