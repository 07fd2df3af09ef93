// Computing PLD, ALD, TLD and nep over prepared components (spec se-image-format §4).
import Crypto

/// The three SHA-512 contexts of spec §4, fed page by page in IPIB order.
///
/// The builder feeds it from `PreparedComponent`s; the UV model can feed it one UNPACK page at a
/// time (the digests depend on the order of the pages, spec §4).
public struct ComponentDigestAccumulator {
    private var pages = SHA512(), addresses = SHA512(), tweaks = SHA512()
    /// `nep` so far.
    public private(set) var pageCount: UInt64 = 0

    /// Empty digests.
    public init() {}

    /// Adds one page: PLD gets the 4096 prepared bytes, ALD the address as u64 BE, TLD the 16-byte tweak (spec §4).
    public mutating func add(page: ArraySlice<UInt8>, address: UInt64, tweak: ComponentTweak) {
        page.withUnsafeBytes { pages.update(bufferPointer: $0) }
        var addressBytes = [UInt8](repeating: 0, count: 8)
        addressBytes.writeBigEndian(address, at: 0)
        addresses.update(data: addressBytes)
        tweaks.update(data: tweak.bytes)
        pageCount += 1
    }

    /// Adds one page without copying it: PLD gets the 4096 bytes at `page`, ALD `address` as u64 BE,
    /// TLD `tweak.0 ‖ tweak.1` as 16 bytes BE (spec §4). The UV's UNPACK path (spec §8 item 2).
    public mutating func add(page: UnsafeRawBufferPointer, address: UInt64, tweak: (UInt64, UInt64)) {
        pages.update(bufferPointer: page)
        withUnsafeBytes(of: address.bigEndian) { addresses.update(bufferPointer: $0) }
        withUnsafeBytes(of: (tweak.0.bigEndian, tweak.1.bigEndian)) { tweaks.update(bufferPointer: $0) }
        pageCount += 1
    }

    /// Adds every page of `component` in ascending order (spec §4).
    public mutating func add(_ component: PreparedComponent) {
        for index in 0 ..< component.pageCount {
            add(page: component.page(index), address: component.pageAddress(index), tweak: component.tweak.forPage(index))
        }
    }

    /// The finished digests and `nep`.
    public func finalize() -> ComponentDigests {
        ComponentDigests(pageListDigest: Array(pages.finalize()), addressListDigest: Array(addresses.finalize()),
                         tweakListDigest: Array(tweaks.finalize()), unsafePageCount: pageCount)
    }
}

extension ComponentDigests {
    /// PLD, ALD, TLD and `nep` over `components` in the given (IPIB) order, after checking that
    /// their addresses are 4096-aligned, strictly increasing and non-overlapping (spec §4 step 1).
    public init(components: [PreparedComponent]) throws(SEComponentError) {
        var previousEnd: UInt64? = nil
        for component in components {
            guard component.address % UInt64(PreparedComponent.pageSize) == 0 else {
                throw .unalignedAddress(component.address)
            }
            if let previousEnd, component.address < previousEnd {
                throw .overlappingComponents(address: component.address, previousEnd: previousEnd)
            }
            previousEnd = component.endAddress
        }
        var accumulator = ComponentDigestAccumulator()
        for component in components { accumulator.add(component) }
        self = accumulator.finalize()
    }

    /// Collects digests that are 64 bytes by construction (SHA-512 outputs).
    init(pageListDigest: [UInt8], addressListDigest: [UInt8], tweakListDigest: [UInt8], unsafePageCount: UInt64) {
        self.pageListDigest = pageListDigest
        self.addressListDigest = addressListDigest
        self.tweakListDigest = tweakListDigest
        self.pageCount = unsafePageCount
    }
}
