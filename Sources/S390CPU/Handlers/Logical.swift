// Logical operations (AND, OR, EXCLUSIVE OR), TEST UNDER MASK, shifts, rotates, the
// rotate-then-operate-on-selected-bits family, POPULATION COUNT and FIND LEFTMOST ONE (PoP chapter 7).

private enum BitwiseOperation { case and, or, xor }

extension CPU {
    @inline(__always) private func apply<T: FixedWidthInteger>(_ op: BitwiseOperation, _ a: T, _ b: T) -> T {
        switch op {
        case .and: a & b
        case .or: a | b
        case .xor: a ^ b
        }
    }

    // MARK: AND / OR / EXCLUSIVE OR: CC 0 result zero, 1 nonzero

    /// Register forms: 32-bit results go to bits 32-63 (bits 0-31 kept), 64-bit to the whole register.
    @inline(__always) private func bitwise<T: FixedWidthInteger>(_ op: BitwiseOperation, _ r1: Int, _ a: T, _ b: T) {
        let result = apply(op, a, b)
        writeGPRResult(r1, result)
        cc = result == 0 ? 0 : 1
    }
    /// NI/OI/XI: fetch, operate, store back one byte.
    @inline(__always) private func bitwiseStorage(_ op: BitwiseOperation, _ address: UInt64, _ immediate: UInt8) throws(CPUException) {
        let result = apply(op, try load8(address), immediate)
        try store8(address, result)
        cc = result == 0 ? 0 : 1
    }
    /// NIHF ... XILF: operate on the `width`-bit field at `shift` (from bit 63); CC from that field.
    @inline(__always) private func bitwiseImmediate(_ op: BitwiseOperation, _ r1: Int, _ immediate: UInt64, shift: UInt64, width: UInt64) {
        let mask: UInt64 = (1 << width) &- 1
        let result = apply(op, (gpr[r1] >> shift) & mask, immediate)
        gpr[r1] = (gpr[r1] & ~(mask << shift)) | result << shift
        cc = result == 0 ? 0 : 1
    }

    @inline(__always) func nr(_ i: RR) throws(CPUException) { bitwise(.and, i.r1, gprLow32(i.r1), gprLow32(i.r2)) }
    @inline(__always) func ngr(_ i: RRE) throws(CPUException) { bitwise(.and, i.r1, gpr[i.r1], gpr[i.r2]) }
    @inline(__always) func n(_ i: RX) throws(CPUException) { bitwise(.and, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func ny(_ i: RXY) throws(CPUException) { bitwise(.and, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func ng(_ i: RXY) throws(CPUException) { bitwise(.and, i.r1, gpr[i.r1], try load64(operand2Address(i))) }
    @inline(__always) func nrk(_ i: RRF) throws(CPUException) { bitwise(.and, i.r1, gprLow32(i.r2), gprLow32(i.r3)) }
    @inline(__always) func ngrk(_ i: RRF) throws(CPUException) { bitwise(.and, i.r1, gpr[i.r2], gpr[i.r3]) }
    @inline(__always) func ni(_ i: SI) throws(CPUException) { try bitwiseStorage(.and, operand1Address(i), i.i2) }
    @inline(__always) func niy(_ i: SIY) throws(CPUException) { try bitwiseStorage(.and, operand1Address(i), i.i2) }
    @inline(__always) func nihf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 32, width: 32) }
    @inline(__always) func nilf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 0, width: 32) }
    @inline(__always) func nihh(_ i: RI) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 48, width: 16) }
    @inline(__always) func nihl(_ i: RI) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 32, width: 16) }
    @inline(__always) func nilh(_ i: RI) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 16, width: 16) }
    @inline(__always) func nill(_ i: RI) throws(CPUException) { bitwiseImmediate(.and, i.r1, i.u2, shift: 0, width: 16) }

    @inline(__always) func or(_ i: RR) throws(CPUException) { bitwise(.or, i.r1, gprLow32(i.r1), gprLow32(i.r2)) }
    @inline(__always) func ogr(_ i: RRE) throws(CPUException) { bitwise(.or, i.r1, gpr[i.r1], gpr[i.r2]) }
    @inline(__always) func o(_ i: RX) throws(CPUException) { bitwise(.or, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func oy(_ i: RXY) throws(CPUException) { bitwise(.or, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func og(_ i: RXY) throws(CPUException) { bitwise(.or, i.r1, gpr[i.r1], try load64(operand2Address(i))) }
    @inline(__always) func ork(_ i: RRF) throws(CPUException) { bitwise(.or, i.r1, gprLow32(i.r2), gprLow32(i.r3)) }
    @inline(__always) func ogrk(_ i: RRF) throws(CPUException) { bitwise(.or, i.r1, gpr[i.r2], gpr[i.r3]) }
    @inline(__always) func oi(_ i: SI) throws(CPUException) { try bitwiseStorage(.or, operand1Address(i), i.i2) }
    @inline(__always) func oiy(_ i: SIY) throws(CPUException) { try bitwiseStorage(.or, operand1Address(i), i.i2) }
    @inline(__always) func oihf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 32, width: 32) }
    @inline(__always) func oilf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 0, width: 32) }
    @inline(__always) func oihh(_ i: RI) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 48, width: 16) }
    @inline(__always) func oihl(_ i: RI) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 32, width: 16) }
    @inline(__always) func oilh(_ i: RI) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 16, width: 16) }
    @inline(__always) func oill(_ i: RI) throws(CPUException) { bitwiseImmediate(.or, i.r1, i.u2, shift: 0, width: 16) }

    @inline(__always) func xr(_ i: RR) throws(CPUException) { bitwise(.xor, i.r1, gprLow32(i.r1), gprLow32(i.r2)) }
    @inline(__always) func xgr(_ i: RRE) throws(CPUException) { bitwise(.xor, i.r1, gpr[i.r1], gpr[i.r2]) }
    @inline(__always) func x(_ i: RX) throws(CPUException) { bitwise(.xor, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func xy(_ i: RXY) throws(CPUException) { bitwise(.xor, i.r1, gprLow32(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func xg(_ i: RXY) throws(CPUException) { bitwise(.xor, i.r1, gpr[i.r1], try load64(operand2Address(i))) }
    @inline(__always) func xrk(_ i: RRF) throws(CPUException) { bitwise(.xor, i.r1, gprLow32(i.r2), gprLow32(i.r3)) }
    @inline(__always) func xgrk(_ i: RRF) throws(CPUException) { bitwise(.xor, i.r1, gpr[i.r2], gpr[i.r3]) }
    @inline(__always) func xi(_ i: SI) throws(CPUException) { try bitwiseStorage(.xor, operand1Address(i), i.i2) }
    @inline(__always) func xiy(_ i: SIY) throws(CPUException) { try bitwiseStorage(.xor, operand1Address(i), i.i2) }
    @inline(__always) func xihf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.xor, i.r1, i.u2, shift: 32, width: 32) }
    @inline(__always) func xilf(_ i: RIL) throws(CPUException) { bitwiseImmediate(.xor, i.r1, i.u2, shift: 0, width: 32) }

    // MARK: TEST UNDER MASK

    /// CC 0 selected bits all zero (or mask zero), 3 all one; mixed: 1, or for the TMxx forms
    /// (`leftmostDecides`) 2 when the leftmost selected bit is one.
    @inline(__always) private func testUnderMask(_ value: UInt64, _ mask: UInt64, leftmostDecides: Bool) {
        let selected = value & mask
        if selected == 0 {
            cc = 0
        } else if selected == mask {
            cc = 3
        } else {
            let leftmost: UInt64 = 1 << (63 &- UInt64(mask.leadingZeroBitCount))
            cc = leftmostDecides && value & leftmost != 0 ? 2 : 1
        }
    }
    @inline(__always) func tm(_ i: SI) throws(CPUException) {
        testUnderMask(UInt64(try load8(effectiveAddress(base: i.b1, displacement: i.d1))), UInt64(i.i2), leftmostDecides: false)
    }
    @inline(__always) func tmy(_ i: SIY) throws(CPUException) {
        testUnderMask(UInt64(try load8(effectiveAddress(base: i.b1, displacement: i.d1))), UInt64(i.i2), leftmostDecides: false)
    }
    @inline(__always) func tmhh(_ i: RI) throws(CPUException) { testUnderMask((gpr[i.r1] >> 48) & 0xFFFF, i.u2, leftmostDecides: true) }
    @inline(__always) func tmhl(_ i: RI) throws(CPUException) { testUnderMask((gpr[i.r1] >> 32) & 0xFFFF, i.u2, leftmostDecides: true) }
    @inline(__always) func tmlh(_ i: RI) throws(CPUException) { testUnderMask((gpr[i.r1] >> 16) & 0xFFFF, i.u2, leftmostDecides: true) }
    @inline(__always) func tmll(_ i: RI) throws(CPUException) { testUnderMask(gpr[i.r1] & 0xFFFF, i.u2, leftmostDecides: true) }

    // MARK: Shifts (amount: the low 6 bits of the second-operand address)

    @inline(__always) private func shiftAmount(_ i: RS) -> UInt64 { operand2Address(i) & 63 }
    @inline(__always) private func shiftAmount(_ i: RSY) -> UInt64 { operand2Address(i) & 63 }

    /// SHIFT LEFT SINGLE: the sign bit stays; overflow when a bit unlike the sign leaves bit 1
    /// (that is, when value * 2^n does not fit). Returns the result and the overflow flag.
    @inline(__always) private func shiftLeftArithmetic<T: FixedWidthInteger & SignedInteger>(_ v: T, _ n: UInt64) -> (T, Bool) {
        let shifted = v << n   // smart shift: an amount >= the width gives 0
        let overflow = n >= UInt64(T.bitWidth) ? v != 0 : (shifted >> n) != v
        return ((v & T.min) | (shifted & T.max), overflow)
    }
    /// SLA/SLAK/SLAG: result to R1 (CC by sign, or 3 and fixed-point overflow).
    @inline(__always) private func shiftLeftSingle<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T, _ n: UInt64) throws(CPUException) {
        let (result, overflow) = shiftLeftArithmetic(v, n)
        writeGPRResult(r1, result)
        try setSignedResultCC(result, overflow: overflow)
    }
    @inline(__always) private func shiftRightSingle<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T, _ n: UInt64) {
        let result = v >> n    // smart shift: an amount >= the width gives the sign
        writeGPRResult(r1, result)
        setSignCC(result)
    }

    @inline(__always) func sll(_ i: RS) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r1) << shiftAmount(i)) }
    @inline(__always) func srl(_ i: RS) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r1) >> shiftAmount(i)) }
    @inline(__always) func sla(_ i: RS) throws(CPUException) { try shiftLeftSingle(i.r1, Int32(bitPattern: gprLow32(i.r1)), shiftAmount(i)) }
    @inline(__always) func sra(_ i: RS) throws(CPUException) { shiftRightSingle(i.r1, Int32(bitPattern: gprLow32(i.r1)), shiftAmount(i)) }
    @inline(__always) func sllg(_ i: RSY) throws(CPUException) { gpr[i.r1] = gpr[i.r3] << shiftAmount(i) }
    @inline(__always) func srlg(_ i: RSY) throws(CPUException) { gpr[i.r1] = gpr[i.r3] >> shiftAmount(i) }
    @inline(__always) func slag(_ i: RSY) throws(CPUException) { try shiftLeftSingle(i.r1, Int64(bitPattern: gpr[i.r3]), shiftAmount(i)) }
    @inline(__always) func srag(_ i: RSY) throws(CPUException) { shiftRightSingle(i.r1, Int64(bitPattern: gpr[i.r3]), shiftAmount(i)) }
    @inline(__always) func sllk(_ i: RSY) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r3) << shiftAmount(i)) }
    @inline(__always) func srlk(_ i: RSY) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r3) >> shiftAmount(i)) }
    @inline(__always) func slak(_ i: RSY) throws(CPUException) { try shiftLeftSingle(i.r1, Int32(bitPattern: gprLow32(i.r3)), shiftAmount(i)) }
    @inline(__always) func srak(_ i: RSY) throws(CPUException) { shiftRightSingle(i.r1, Int32(bitPattern: gprLow32(i.r3)), shiftAmount(i)) }

    /// The 64-bit value of the even/odd pair R1, R1+1 (bits 32-63 of each); R1 must be even.
    @inline(__always) private func doubleOperand(_ r1: Int) throws(CPUException) -> UInt64 {
        if _slowPath(r1 & 1 != 0) { throw .program(.specification) }
        return UInt64(gprLow32(r1)) << 32 | UInt64(gprLow32(r1 | 1))
    }
    @inline(__always) private func setDoubleOperand(_ r1: Int, _ v: UInt64) {
        setGPRLow32(r1, UInt32(truncatingIfNeeded: v >> 32))
        setGPRLow32(r1 | 1, UInt32(truncatingIfNeeded: v))
    }
    @inline(__always) func sldl(_ i: RS) throws(CPUException) { setDoubleOperand(i.r1, try doubleOperand(i.r1) << shiftAmount(i)) }
    @inline(__always) func srdl(_ i: RS) throws(CPUException) { setDoubleOperand(i.r1, try doubleOperand(i.r1) >> shiftAmount(i)) }
    @inline(__always) func slda(_ i: RS) throws(CPUException) {
        let (result, overflow) = shiftLeftArithmetic(Int64(bitPattern: try doubleOperand(i.r1)), shiftAmount(i))
        setDoubleOperand(i.r1, UInt64(bitPattern: result))
        try setSignedResultCC(result, overflow: overflow)
    }
    @inline(__always) func srda(_ i: RS) throws(CPUException) {
        let result = Int64(bitPattern: try doubleOperand(i.r1)) >> shiftAmount(i)
        setDoubleOperand(i.r1, UInt64(bitPattern: result))
        setSignCC(result)
    }

    // MARK: Rotates

    @inline(__always) func rll(_ i: RSY) throws(CPUException) {
        let v = gprLow32(i.r3), n = shiftAmount(i) & 31
        setGPRLow32(i.r1, v << n | v >> (32 &- n))
    }
    @inline(__always) func rllg(_ i: RSY) throws(CPUException) {
        let v = gpr[i.r3], n = shiftAmount(i)
        gpr[i.r1] = v << n | v >> (64 &- n)
    }

    /// R2 rotated left by I5 bits 2-7, and the mask of the bits from I3 bits 2-7 to I4 bits 2-7
    /// (bit 0 = leftmost), wrapping around when the start is after the end.
    @inline(__always) private func rotateAndSelect(_ i: RIEf) -> (rotated: UInt64, mask: UInt64) {
        let v = gpr[i.r2], n = UInt64(i.i5 & 63)
        let rotated = v << n | v >> (64 &- n)
        let start = UInt64(i.i3 & 63), end = UInt64(i.i4 & 63)
        let fromStart = UInt64.max >> start, toEnd = UInt64.max << (63 &- end)
        return (rotated, start <= end ? fromStart & toEnd : fromStart | toEnd)
    }
    /// RISBG/RISBGN: insert the selected bits; I4 bit 0 zeroes the unselected bits of R1.
    @inline(__always) private func rotateThenInsert(_ i: RIEf) -> UInt64 {
        let (rotated, mask) = rotateAndSelect(i)
        let keep = i.i4 & 0x80 != 0 ? 0 : gpr[i.r1] & ~mask
        let result = keep | (rotated & mask)
        gpr[i.r1] = result
        return result
    }
    @inline(__always) func risbg(_ i: RIEf) throws(CPUException) {
        let result = Int64(bitPattern: rotateThenInsert(i))
        setSignCC(result)
    }
    @inline(__always) func risbgn(_ i: RIEf) throws(CPUException) { _ = rotateThenInsert(i) }

    /// RNSBG/ROSBG/RXSBG: operate on the selected bits only; CC 0 when the selected bits of the
    /// result are zero, else 1; I3 bit 0 makes it a test (R1 unchanged).
    @inline(__always) private func rotateThenOperate(_ op: BitwiseOperation, _ i: RIEf) {
        let (rotated, mask) = rotateAndSelect(i)
        let original = gpr[i.r1]
        let selected = apply(op, original, rotated) & mask
        if i.i3 & 0x80 == 0 { gpr[i.r1] = (original & ~mask) | selected }
        cc = selected == 0 ? 0 : 1
    }
    @inline(__always) func rnsbg(_ i: RIEf) throws(CPUException) { rotateThenOperate(.and, i) }
    @inline(__always) func rosbg(_ i: RIEf) throws(CPUException) { rotateThenOperate(.or, i) }
    @inline(__always) func rxsbg(_ i: RIEf) throws(CPUException) { rotateThenOperate(.xor, i) }

    // MARK: POPULATION COUNT, FIND LEFTMOST ONE

    /// Per-byte one-bit counts; with M3 bit 0 and the miscellaneous-instruction-extensions
    /// facility 3 (STFLE bit 61), the total count instead. CC 0 zero, 1 nonzero.
    @inline(__always) func popcnt(_ i: RRF) throws(CPUException) {
        let v = gpr[i.r2]
        if _slowPath(i.m3 & 8 != 0) && model.facilities.contains(61) {
            gpr[i.r1] = UInt64(v.nonzeroBitCount)
        } else {
            var x = v &- ((v >> 1) & 0x5555_5555_5555_5555)
            x = (x & 0x3333_3333_3333_3333) &+ ((x >> 2) & 0x3333_3333_3333_3333)
            gpr[i.r1] = (x &+ (x >> 4)) & 0x0F0F_0F0F_0F0F_0F0F
        }
        cc = v == 0 ? 0 : 1
    }

    /// R1 (even) = number of the leftmost one bit of R2 (64 if none); R1+1 = R2 with that bit
    /// cleared. CC 0 no one bit, 2 found.
    @inline(__always) func flogr(_ i: RRE) throws(CPUException) {
        if _slowPath(i.r1 & 1 != 0) { throw .program(.specification) }
        let v = gpr[i.r2]
        let position = UInt64(v.leadingZeroBitCount)
        gpr[i.r1] = position
        gpr[i.r1 | 1] = v == 0 ? 0 : v & ~(1 << (63 &- position))
        cc = v == 0 ? 0 : 2
    }
}
