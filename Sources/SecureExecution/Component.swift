// Secured image components: kind, tweak, address and preparation (spec se-image-format §4).

/// The secured components of an image, in image (= IPIB = address = tweak-prefix) order (spec §4).
///
/// The raw values are pvimg's component tweak prefixes (decimal 40, 50, 60, 70; s390-tools
/// `rust/pvimg/src/se_img_comps.rs` `ComponentKind`).
public enum ComponentKind: UInt16, Sendable, CaseIterable, Comparable {
    case kernel = 40
    case ramdisk = 50
    case commandLine = 60
    case stage3b = 70

    /// The u16 that starts the component's tweak (spec §4).
    public var tweakPrefix: UInt16 { rawValue }

    public static func < (lhs: ComponentKind, rhs: ComponentKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A component's initial 16-byte tweak; page *i* uses `tweak + i·4096` as a 128-bit big-endian sum (spec §4).
public struct ComponentTweak: Sendable, Equatable, Hashable {
    /// High half: the `tweak_pref` that goes into the IPIB (spec §4, §6).
    public var prefix: UInt64
    /// Low half of the initial tweak: 0 for pvimg; create-sehdr allows any value (spec §10.1).
    public var offset: UInt64

    /// A tweak from its two big-endian halves.
    public init(prefix: UInt64, offset: UInt64 = 0) {
        self.prefix = prefix
        self.offset = offset
    }

    /// A tweak from its 16 bytes.
    public init(bytes: [UInt8]) throws(SEComponentError) {
        guard bytes.count == AESXTS.tweakSize else { throw .invalidTweakLength(bytes.count) }
        prefix = bytes.readBigEndian(UInt64.self, at: 0)
        offset = bytes.readBigEndian(UInt64.self, at: 8)
    }

    /// pvimg's tweak: `kind prefix:u16 ‖ 6 random bytes ‖ u64 0` (spec §4).
    public static func random(for kind: ComponentKind) -> ComponentTweak {
        var generator = SystemRandomNumberGenerator()
        return random(for: kind, using: &generator)
    }

    /// pvimg's tweak with the 6 random bytes drawn from `generator` (spec §4).
    public static func random(for kind: ComponentKind, using generator: inout some RandomNumberGenerator) -> ComponentTweak {
        let randomBits = generator.next() & 0x0000_FFFF_FFFF_FFFF
        return ComponentTweak(prefix: UInt64(kind.tweakPrefix) << 48 | randomBits)
    }

    /// The 16 bytes `prefix ‖ offset`, big-endian.
    public var bytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: AESXTS.tweakSize)
        bytes.writeBigEndian(prefix, at: 0)
        bytes.writeBigEndian(offset, at: 8)
        return bytes
    }

    /// The tweak of page `index`: the initial tweak plus `index·4096`, carrying into the high half (spec §4).
    public func forPage(_ index: Int) -> ComponentTweak {
        let (low, carry) = offset.addingReportingOverflow(UInt64(index) &* UInt64(PreparedComponent.pageSize))
        return ComponentTweak(prefix: carry ? prefix &+ 1 : prefix, offset: low)
    }
}

/// A component after preparation: whole pages, encrypted unless PCF bit 35 says otherwise, at a
/// 4096-aligned address (spec §4 steps 1–4).
public struct PreparedComponent: Sendable, Equatable {
    /// Data unit and page size (spec §4).
    public static let pageSize = 4096

    /// Guest absolute address of the first page (spec §4 step 1).
    public var address: UInt64
    /// Initial tweak (spec §4).
    public var tweak: ComponentTweak
    /// Size of the input before padding; stage3b gets this one (spec §4 step 4, §5).
    public var originalSize: Int
    /// The prepared bytes: `pageCount·4096` bytes of ciphertext, or padded plaintext (spec §4 steps 2–3).
    public var bytes: [UInt8]
    /// Whether `bytes` is ciphertext (false when PCF bit 35 is set, spec §2.4).
    public var isEncrypted: Bool

    /// Number of pages (spec §4).
    public var pageCount: Int { bytes.count / Self.pageSize }
    /// The prepared size, which is the IPIB `len` (spec §4 step 4, §6).
    public var preparedSize: Int { bytes.count }
    /// First address after the component.
    public var endAddress: UInt64 { address &+ UInt64(bytes.count) }

    /// Prepares `plaintext` at `address`: zero-pad to whole pages (an empty input gives one zero
    /// page), then encrypt each page with its tweak when `cipher` is given (spec §4 steps 2–3).
    ///
    /// Pass `cipher: nil` for images with PCF bit 35 (no component encryption).
    public init(plaintext: [UInt8], address: UInt64, tweak: ComponentTweak, cipher: AESXTS?) throws(SEComponentError) {
        guard address % UInt64(Self.pageSize) == 0 else { throw .unalignedAddress(address) }
        let pages = max(1, (plaintext.count + Self.pageSize - 1) / Self.pageSize)
        var padded = plaintext
        padded.append(contentsOf: repeatElement(0, count: pages * Self.pageSize - plaintext.count))
        guard address.addingReportingOverflow(UInt64(padded.count)).overflow == false else {
            throw .addressOverflow(address)
        }
        self.address = address
        self.tweak = tweak
        self.originalSize = plaintext.count
        if let cipher {
            bytes = try cipher.encrypt(padded, unitSize: Self.pageSize) { tweak.forPage($0).bytes }
        } else {
            bytes = padded
        }
        isEncrypted = cipher != nil
    }

    /// Guest address of page `index`.
    public func pageAddress(_ index: Int) -> UInt64 { address + UInt64(index * Self.pageSize) }

    /// The prepared bytes of page `index`.
    public func page(_ index: Int) -> ArraySlice<UInt8> {
        bytes[index * Self.pageSize ..< (index + 1) * Self.pageSize]
    }

    /// The padded plaintext: decrypted with `cipher` if the component is encrypted (the UV's unpack, spec §4).
    public func paddedPlaintext(cipher: AESXTS) throws(SEComponentError) -> [UInt8] {
        guard isEncrypted else { return bytes }
        return try cipher.decrypt(bytes, unitSize: Self.pageSize) { tweak.forPage($0).bytes }
    }

    /// The command line as pvimg secures it: the file's bytes, plus a NUL unless they already end in one;
    /// no newline stripping (spec §4 step 5).
    public static func terminatedCommandLine(_ parmfile: [UInt8]) -> [UInt8] {
        parmfile.last == 0 ? parmfile : parmfile + [0]
    }
}
