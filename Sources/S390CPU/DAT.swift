// Dynamic address translation (PoP chapter 3, "Dynamic Address Translation"; spec 7.4), the
// software TLB it can use, and the storage-key array.
//
// Translation maps a logical address to a REAL address; prefixing is applied afterwards by the
// caller. Table entries are fetched as absolute addresses (PoP: "unpredictably real or absolute";
// QEMU reads them absolute too).
import Synchronization

/// Bits of the ASCE and of the table entries (PoP 3-43..3-49; bit n of the PoP = 1 << (63 - n)).
enum DATBits {
    static let origin: UInt64 = ~0xFFF                     // ASCE / region-entry table origin
    static let asceSubspaceGroup: UInt64 = 0x200           // bit 54 G
    static let ascePrivate: UInt64 = 0x100                 // bit 55 P
    static let asceRealSpace: UInt64 = 0x20                // bit 58 R
    static let invalid: UInt64 = 0x20                      // bit 58 I (region and segment entries)
    static let protection: UInt64 = 0x200                  // bit 54 P (region, segment, page entries)
    static let segmentFormatControl: UInt64 = 0x400        // bit 53 FC (EDAT-1)
    static let segmentCommon: UInt64 = 0x10                // bit 59 CS
    static let segmentFrame: UInt64 = ~0xF_FFFF            // bits 0-43: 1 MiB frame (FC = 1)
    static let pageTableOrigin: UInt64 = ~0x7FF            // bits 0-52
    static let pageInvalid: UInt64 = 0x400                 // PTE bit 53 I
    static let pageZeroBit: UInt64 = 0x800                 // PTE bit 52: must be 0
    /// TEID bits 52-53: the access was a fetch (10) or a store (01) (facility 75, QEMU FS_READ/FS_WRITE).
    static let teidFetch: UInt64 = 0x800
    static let teidStore: UInt64 = 0x400
    /// TEID bit 61: the protection exception is DAT protection (ESOP-1).
    static let teidDATProtection: UInt64 = 0x4
    /// CR0 bit 35 low-address protection, bit 40 EDAT-1, bit 37 secondary-space control.
    static let cr0LowAddressProtection: UInt64 = 0x1000_0000
    static let cr0SecondarySpace: UInt64 = 0x0400_0000
    static let cr0EDAT: UInt64 = 0x0080_0000
}

/// The outcome of one table walk. Not thrown: LRA and TPROT turn exceptions into condition codes.
struct DATResult {
    /// The real address (when `code` is nil).
    var real: UInt64 = 0
    /// The exception the walk recognized, or nil.
    var code: ProgramInterruptionCode? = nil
    /// A P bit was on in some entry on the path: stores are refused (DAT protection).
    var protected = false
    /// Absolute address of the last table entry fetched (LRA reports it for invalid entries).
    var entryAddress: UInt64 = 0
    /// The exception came from an entry's I bit (not a length, type or addressing condition).
    var invalidEntry = false
}

extension CPU {
    /// The ASCE and the TEID address-space id (0 primary, 1 AR, 2 secondary, 3 home) that an
    /// access of `kind` uses in the current PSW address-space mode. Instructions come from the
    /// primary space except in home-space mode. AR mode is translated as ALET 0 (primary).
    @inline(__always)
    func addressSpace(for kind: AccessKind) -> (asce: UInt64, id: UInt64) {
        let mode = (pswMask >> 46) & 3
        switch mode {
        case 3: return (cr[13], 3)
        case 2 where kind != .instruction: return (cr[7], 2)
        case 1 where kind != .instruction: return (cr[1], 1)
        default: return (cr[1], 0)
        }
    }

    /// Reads one table entry at absolute `address`; nil when it is outside storage.
    @inline(__always)
    private func tableEntry(_ address: UInt64) -> UInt64? {
        guard address <= storage.size &- 8 else { return nil }
        return UInt64(bigEndian: (storage.base + Int(address)).loadUnaligned(as: UInt64.self))
    }

    /// Walks the DAT tables designated by `asce` for logical `address` (spec 7.4 walk rules,
    /// QEMU mmu_translate_asce). The R (real-space) bit is honoured. Never throws.
    func walkDAT(_ address: UInt64, asce: UInt64) -> DATResult {
        var result = DATResult()
        if asce & DATBits.asceRealSpace != 0 {
            result.real = address
            return result
        }
        let indexes: (UInt64, UInt64, UInt64, UInt64) = ((address >> 53) & 0x7FF, (address >> 42) & 0x7FF,
                                                         (address >> 31) & 0x7FF, (address >> 20) & 0x7FF)
        func index(_ level: UInt64) -> UInt64 {   // level 3 = region first ... 0 = segment
            switch level { case 3: indexes.0; case 2: indexes.1; case 1: indexes.2; default: indexes.3 }
        }
        func translationException(_ level: UInt64) -> ProgramInterruptionCode {
            switch level {
            case 3: .regionFirstTranslation
            case 2: .regionSecondTranslation
            case 1: .regionThirdTranslation
            default: .segmentTranslation
            }
        }
        let designationType = (asce >> 2) & 3
        // The ASCE type must cover the address: every higher index must be zero.
        if designationType < 3 && address >> (31 + 11 * designationType) != 0 {
            result.code = .asceType
            return result
        }
        // The first table's length (TL in 4 KiB units of 512 entries).
        if index(designationType) >> 9 > asce & 3 {
            result.code = translationException(designationType)
            return result
        }
        let edat1 = cr[0] & DATBits.cr0EDAT != 0 && model.facilities.contains(8)
        var level = designationType
        var entryAddress = (asce & DATBits.origin) &+ index(level) &* 8
        // Region tables.
        while level > 0 {
            result.entryAddress = entryAddress
            guard let entry = tableEntry(entryAddress) else { result.code = .addressing; return result }
            if entry & DATBits.invalid != 0 {
                result.code = translationException(level)
                result.invalidEntry = true
                return result
            }
            if (entry >> 2) & 3 != level { result.code = .translationSpecification; return result }
            let next = index(level - 1) >> 9
            if next < (entry >> 6) & 3 || next > entry & 3 {
                result.code = translationException(level - 1)
                return result
            }
            if edat1 && entry & DATBits.protection != 0 { result.protected = true }
            level -= 1
            entryAddress = (entry & DATBits.origin) &+ index(level) &* 8
        }
        // Segment table.
        result.entryAddress = entryAddress
        guard let segment = tableEntry(entryAddress) else { result.code = .addressing; return result }
        if segment & DATBits.invalid != 0 {
            result.code = .segmentTranslation
            result.invalidEntry = true
            return result
        }
        if (segment >> 2) & 3 != 0 || (segment & DATBits.segmentCommon != 0 && asce & DATBits.ascePrivate != 0) {
            result.code = .translationSpecification
            return result
        }
        if segment & DATBits.protection != 0 { result.protected = true }
        if edat1 && segment & DATBits.segmentFormatControl != 0 {
            result.real = (segment & DATBits.segmentFrame) | (address & 0xF_FFFF)
            return result
        }
        // Page table.
        entryAddress = (segment & DATBits.pageTableOrigin) &+ ((address >> 12) & 0xFF) &* 8
        result.entryAddress = entryAddress
        guard let page = tableEntry(entryAddress) else { result.code = .addressing; return result }
        if page & DATBits.pageInvalid != 0 {
            result.code = .pageTranslation
            result.invalidEntry = true
            return result
        }
        if page & DATBits.pageZeroBit != 0 { result.code = .translationSpecification; return result }
        if page & DATBits.protection != 0 { result.protected = true }
        result.real = (page & ~0xFFF) | (address & 0xFFF)
        return result
    }

    /// Low-address protection (CR0 bit 35): effective addresses 0-511 and 4096-4607, unless DAT
    /// is on and the ASCE is private.
    @inline(__always)
    func isLowAddressProtected(_ address: UInt64, asce: UInt64?) -> Bool {
        guard cr[0] & DATBits.cr0LowAddressProtection != 0, address & ~0x11FF == 0 else { return false }
        if let asce, asce & DATBits.ascePrivate != 0 { return false }
        return true
    }

    /// Raises the low-address-protection exception for a store to logical `address` (the store
    /// path with DAT off calls this; with DAT on `translateDAT` does).
    @inline(__always)
    func checkLowAddressProtection(_ address: UInt64, asce: UInt64? = nil, spaceID: UInt64 = 0) throws(CPUException) {
        if _slowPath(isLowAddressProtected(address, asce: asce)) {
            exceptionTEID = (address & ~0xFFF) | DATBits.teidStore | spaceID
            throw .program(.protection)
        }
    }

    /// Logical -> real for an access of `kind` with DAT on, through `buffer` when given. Sets
    /// `exceptionTEID` before throwing a translation or protection exception.
    @inline(__always)
    func translateDAT(_ address: UInt64, _ kind: AccessKind, buffer: TranslationBuffer? = nil) throws(CPUException) -> UInt64 {
        let (asce, id) = addressSpace(for: kind)
        let store = kind == .store
        if store { try checkLowAddressProtection(address, asce: asce, spaceID: id) }
        if let buffer, let real = buffer.lookup(address, space: id, store: store) { return real }
        return try translateDATSlow(address, store: store, asce: asce, spaceID: id, buffer: buffer)
    }

    private func translateDATSlow(_ address: UInt64, store: Bool, asce: UInt64, spaceID: UInt64,
                                  buffer: TranslationBuffer?) throws(CPUException) -> UInt64 {
        let result = walkDAT(address, asce: asce)
        let access = store ? DATBits.teidStore : DATBits.teidFetch
        if let code = result.code {
            exceptionTEID = (address & ~0xFFF) | access | spaceID
            throw .program(code)
        }
        if store && result.protected {
            exceptionTEID = (address & ~0xFFF) | DATBits.teidStore | DATBits.teidDATProtection | spaceID
            throw .program(.protection)
        }
        buffer?.insert(address, space: spaceID, real: result.real, writable: !result.protected)
        return result.real
    }

    /// Drops every cached translation of this CPU (the fetch-page cache and the TLB). Called by PTLB, IPTE, IDTE, loads of CR0/CR1/CR7/CR13, SSKE, and by the
    /// memory layer when guest storage mappings change.
    public func invalidateTranslations() {
        fetchPage = .max
        translationBuffer.flush()
    }

    /// Purges the translations of every CPU of the machine (IPTE, IDTE, SSKE).
    func invalidateTranslationsEverywhere() {
        translationEpoch.advance()
        invalidateTranslations()
    }
}

/// Machine-wide count of translation purges (IPTE, IDTE, SSKE) so every CPU drops its cached
/// translations: each CPU compares it with the value it last saw before every block of
/// instructions, so another CPU's purge takes effect within one block.
public final class TranslationEpoch: Sendable {
    private let value = Atomic<UInt64>(0)
    public init() {}
    @inline(__always) var current: UInt64 { value.load(ordering: .acquiring) }
    public func advance() { value.add(1, ordering: .releasing) }
}

/// A direct-mapped software TLB: logical page (plus address-space id) -> real page and whether
/// stores are allowed. Owned by one CPU; unsafe storage so lookups pay no ARC or bounds checks.
public final class TranslationBuffer: @unchecked Sendable {
    static let entries = 256
    /// Logical page | space id << 1 | 1 (valid); 0 = empty.
    private let tags: UnsafeMutablePointer<UInt64>
    /// Real page | 1 when stores are allowed.
    private let frames: UnsafeMutablePointer<UInt64>

    public init() {
        tags = .allocate(capacity: TranslationBuffer.entries)
        tags.initialize(repeating: 0, count: TranslationBuffer.entries)
        frames = .allocate(capacity: TranslationBuffer.entries)
        frames.initialize(repeating: 0, count: TranslationBuffer.entries)
    }

    deinit {
        tags.deallocate()
        frames.deallocate()
    }

    @inline(__always)
    func lookup(_ address: UInt64, space: UInt64, store: Bool) -> UInt64? {
        let slot = Int(truncatingIfNeeded: (address >> 12) & UInt64(TranslationBuffer.entries - 1))
        guard tags[slot] == (address & ~0xFFF) | space << 1 | 1 else { return nil }
        let frame = frames[slot]
        if store && frame & 1 == 0 { return nil }   // walk again: it raises the protection exception
        return (frame & ~0xFFF) | (address & 0xFFF)
    }

    func insert(_ address: UInt64, space: UInt64, real: UInt64, writable: Bool) {
        let slot = Int(truncatingIfNeeded: (address >> 12) & UInt64(TranslationBuffer.entries - 1))
        tags[slot] = (address & ~0xFFF) | space << 1 | 1
        frames[slot] = (real & ~0xFFF) | (writable ? 1 : 0)
    }

    public func flush() {
        tags.update(repeating: 0, count: TranslationBuffer.entries)
    }
}

/// Storage keys, one per 4 KiB frame of absolute storage, shared by all CPUs of a machine. A
/// key byte holds ACC (bits 0-3), F (4), R (5), C (6) as ISKE returns them in bits 56-62, so
/// `0xF0` = ACC, `0x08` = F, `0x04` = R, `0x02` = C. The array is allocated on the first nonzero
/// key (until then every key reads as 0).
public final class StorageKeys: @unchecked Sendable {
    public static let accessControl: UInt8 = 0xF0
    public static let fetchProtection: UInt8 = 0x08
    public static let reference: UInt8 = 0x04
    public static let change: UInt8 = 0x02

    public let frameCount: Int
    private let table = Atomic<UInt>(0)

    public init(storageSize: UInt64) { frameCount = Int(storageSize / 4096) }

    deinit {
        let bits = table.load(ordering: .acquiring)
        if bits != 0 { UnsafeMutablePointer<UInt8>(bitPattern: bits)?.deallocate() }
    }

    /// The key array, allocating it if `create`; nil while no key was ever set.
    @inline(__always)
    private func keys(create: Bool) -> UnsafeMutablePointer<UInt8>? {
        let bits = table.load(ordering: .acquiring)
        if _fastPath(bits != 0) { return UnsafeMutablePointer(bitPattern: bits) }
        guard create else { return nil }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: max(frameCount, 1))
        fresh.initialize(repeating: 0, count: max(frameCount, 1))
        let (exchanged, winner) = table.compareExchange(expected: 0, desired: UInt(bitPattern: fresh),
                                                        ordering: .acquiringAndReleasing)
        if exchanged { return fresh }
        fresh.deallocate()
        return UnsafeMutablePointer(bitPattern: winner)
    }

    /// The key of the frame holding absolute `address` (the caller checked it is in storage).
    public func key(absolute address: UInt64) -> UInt8 {
        guard let keys = keys(create: false) else { return 0 }
        return keys[Int(address >> 12)]
    }

    /// SSKE: sets the 7-bit key (bit 7 of `key` is ignored).
    public func setKey(absolute address: UInt64, _ key: UInt8) {
        let value = key & 0xFE
        if value == 0 && table.load(ordering: .relaxed) == 0 { return }
        keys(create: true)![Int(address >> 12)] = value
    }

    /// RRBE: clears the reference bit; returns the CC from the old R and C bits (PoP: 0 = R0 C0,
    /// 1 = R0 C1, 2 = R1 C0, 3 = R1 C1).
    public func resetReference(absolute address: UInt64) -> UInt8 {
        guard let keys = keys(create: false) else { return 0 }
        let old = keys[Int(address >> 12)]
        keys[Int(address >> 12)] = old & ~StorageKeys.reference
        return (old >> 1) & 3
    }

    /// Key-controlled protection (PoP 3-10) for an access with `accessKey` (0-15) to the frame of
    /// `absolute`: (fetch allowed, store allowed). `effectiveAddress` and `cr0` decide the
    /// fetch-protection override (CR0 bit 38, addresses 0-2047) and storage-protection override
    /// (CR0 bit 39, ACC 9).
    public func permits(absolute: UInt64, accessKey: UInt8, effectiveAddress: UInt64, cr0: UInt64) -> (fetch: Bool, store: Bool) {
        if accessKey == 0 { return (true, true) }
        let key = self.key(absolute: absolute)
        let acc = key >> 4
        if acc == accessKey || (cr0 & 0x0100_0000 != 0 && acc == 9) { return (true, true) }
        let fetch = key & StorageKeys.fetchProtection == 0
            || (cr0 & 0x0200_0000 != 0 && effectiveAddress < 2048)
        return (fetch, false)
    }

    /// TPROT's condition code for an accessible frame: 0 fetch and store, 1 fetch only, 2 neither.
    public func protectionCondition(absolute: UInt64, accessKey: UInt8, effectiveAddress: UInt64, cr0: UInt64) -> UInt8 {
        let (fetch, store) = permits(absolute: absolute, accessKey: accessKey, effectiveAddress: effectiveAddress, cr0: cr0)
        return store ? 0 : fetch ? 1 : 2
    }
}
