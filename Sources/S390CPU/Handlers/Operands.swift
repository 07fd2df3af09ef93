// Operand helpers shared by every instruction family: 32-bit views of general registers,
// operand addresses by format, alignment rules and the signed-result condition code.

extension CPU {
    // MARK: General registers

    /// Bits 32-63 of a general register.
    @inline(__always) func gprLow32(_ r: Int) -> UInt32 { UInt32(truncatingIfNeeded: gpr[r]) }
    /// Bits 32-63 of a general register as a signed word.
    @inline(__always) func signedLow32(_ r: Int) -> Int32 { Int32(truncatingIfNeeded: gpr[r]) }
    /// A general register as a signed doubleword.
    @inline(__always) func signed64(_ r: Int) -> Int64 { Int64(bitPattern: gpr[r]) }
    /// Replaces bits 32-63 of a general register, keeping bits 0-31.
    @inline(__always) func setGPRLow32(_ r: Int, _ v: UInt32) { gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | UInt64(v) }
    /// Replaces bits 0-31 of a general register, keeping bits 32-63.
    @inline(__always) func setGPRHigh32(_ r: Int, _ v: UInt32) { gpr[r] = (gpr[r] & 0xFFFF_FFFF) | UInt64(v) << 32 }
    /// Writes a 32-bit result to bits 32-63 or a 64-bit result to the whole register.
    @inline(__always) func writeGPRResult<T: FixedWidthInteger>(_ r: Int, _ v: T) {
        if T.bitWidth == 32 { setGPRLow32(r, UInt32(truncatingIfNeeded: v)) } else { gpr[r] = UInt64(truncatingIfNeeded: v) }
    }

    // MARK: Condition codes

    /// CC 0 zero, 1 negative, 2 positive.
    @inline(__always) func setSignCC<T: FixedWidthInteger & SignedInteger>(_ v: T) { cc = v == 0 ? 0 : v < 0 ? 1 : 2 }

    /// CC 0 zero, 1 negative, 2 positive; or CC 3 and a fixed-point-overflow interruption when
    /// enabled (the caller has stored the result already).
    @inline(__always) func setSignedResultCC<T: FixedWidthInteger & SignedInteger>(_ v: T, overflow: Bool = false) throws(CPUException) {
        if _slowPath(overflow) {
            cc = 3
            if programMask & 8 != 0 { throw .program(.fixedPointOverflow) }
        } else {
            setSignCC(v)
        }
    }

    // MARK: Operand addresses

    @inline(__always) func operand2Address(_ i: RX) -> UInt64 { effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2) }
    @inline(__always) func operand2Address(_ i: RXY) -> UInt64 { effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2) }
    @inline(__always) func operand2Address(_ i: RS) -> UInt64 { effectiveAddress(base: i.b2, displacement: i.d2) }
    @inline(__always) func operand2Address(_ i: RSY) -> UInt64 { effectiveAddress(base: i.b2, displacement: i.d2) }
    @inline(__always) func operand1Address(_ i: SI) -> UInt64 { effectiveAddress(base: i.b1, displacement: i.d1) }
    @inline(__always) func operand1Address(_ i: SIY) -> UInt64 { effectiveAddress(base: i.b1, displacement: i.d1) }
    @inline(__always) func operand1Address(_ i: SIL) -> UInt64 { effectiveAddress(base: i.b1, displacement: i.d1) }

    /// A specification exception unless `address` is a multiple of `size` (a power of two).
    @inline(__always) func requireAlignment(_ address: UInt64, _ size: UInt64) throws(CPUException) {
        if _slowPath(address & (size &- 1) != 0) { throw .program(.specification) }
    }

    /// A relative-long storage operand, which must be aligned to its length.
    @inline(__always) func alignedRelativeAddress(_ halfwords: Int64, size: UInt64) throws(CPUException) -> UInt64 {
        let address = relativeAddress(halfwords)
        try requireAlignment(address, size)
        return address
    }
}
