// Big-endian field access at explicit offsets (spec se-image-format conventions: every integer is big-endian).

extension Array where Element == UInt8 {
    /// Writes `value` big-endian into the bytes at `offset ..< offset + size`.
    mutating func writeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let size = MemoryLayout<T>.size
        for index in 0 ..< size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> ((size - 1 - index) * 8))
        }
    }

    /// Copies `bytes` into this array starting at `offset`.
    mutating func writeBytes(_ bytes: [UInt8], at offset: Int) {
        replaceSubrange(offset ..< offset + bytes.count, with: bytes)
    }

    /// Reads a big-endian integer of type `T` from `offset`.
    func readBigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for index in 0 ..< MemoryLayout<T>.size {
            value = (value << 8) | T(self[offset + index])
        }
        return value
    }

    /// Returns the `count` bytes starting at `offset` as a new array.
    func bytes(at offset: Int, count: Int) -> [UInt8] {
        Array(self[offset ..< offset + count])
    }
}

/// Checks that `bytes` has exactly `expected` elements, naming `field` in the error otherwise.
func requireLength(_ bytes: [UInt8], _ expected: Int, field: String) throws(SEKeyError) {
    guard bytes.count == expected else {
        throw .invalidLength(field: field, expected: expected, actual: bytes.count)
    }
}
