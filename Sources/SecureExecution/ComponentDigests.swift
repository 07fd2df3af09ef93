// The component digests and page count a header carries in plaintext (spec se-image-format §2.1, §4).

/// PLD, ALD, TLD and `nep`: what VERIFY compares after unpacking the components (spec §2.1, §4).
public struct ComponentDigests: Sendable, Equatable {
    /// Size of each SHA-512 digest (spec §2.1).
    public static let digestSize = 64

    /// Page List Digest (SHA-512 over the pages' contents, spec §4).
    public var pageListDigest: [UInt8]
    /// Address List Digest (SHA-512 over the pages' addresses, spec §4).
    public var addressListDigest: [UInt8]
    /// Tweak List Digest (SHA-512 over the pages' tweaks, spec §4).
    public var tweakListDigest: [UInt8]
    /// `nep`: number of component pages the digests cover (spec §2.1).
    public var pageCount: UInt64

    /// Collects the three 64-byte digests and the page count, checking the digest sizes (spec §2.1).
    public init(pageListDigest: [UInt8], addressListDigest: [UInt8], tweakListDigest: [UInt8],
                pageCount: UInt64) throws(SEKeyError) {
        try requireLength(pageListDigest, Self.digestSize, field: "pld")
        try requireLength(addressListDigest, Self.digestSize, field: "ald")
        try requireLength(tweakListDigest, Self.digestSize, field: "tld")
        self.pageListDigest = pageListDigest
        self.addressListDigest = addressListDigest
        self.tweakListDigest = tweakListDigest
        self.pageCount = pageCount
    }
}
