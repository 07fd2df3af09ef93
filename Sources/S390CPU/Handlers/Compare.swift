// Binary integer comparison: COMPARE, COMPARE LOGICAL, COMPARE (LOGICAL) AND BRANCH / TRAP,
// COMPARE LOGICAL CHARACTERS UNDER MASK (PoP chapter 7). CC 0 equal, 1 first low, 2 first high.

/// The comparison result as a condition code (0 equal, 1 first operand low, 2 first operand high).
@inline(__always) private func comparisonCC<T: FixedWidthInteger>(_ a: T, _ b: T) -> UInt8 {
    a == b ? 0 : (a < b ? 1 : 2)
}

extension CPU {
    // MARK: Operand helpers

    @inline(__always) private func compareWord(_ r: Int) -> Int32 { Int32(truncatingIfNeeded: gpr[r]) }
    @inline(__always) private func compareDoubleword(_ r: Int) -> Int64 { Int64(bitPattern: gpr[r]) }
    @inline(__always) private func compareLogicalWord(_ r: Int) -> UInt32 { UInt32(truncatingIfNeeded: gpr[r]) }

    /// Whether a compare-and-branch/trap mask (8 equal, 4 low, 2 high; bit 1 ignored) selects `c`.
    @inline(__always) private func compareMaskSelects(_ m: UInt8, _ c: UInt8) -> Bool { (m >> (3 &- c)) & 1 != 0 }
    @inline(__always) private func compareAndBranch(_ c: UInt8, mask: UInt8, to target: UInt64) {
        if compareMaskSelects(mask, c) { branch(to: target) }
    }
    /// Compare and trap: a data exception with DXC 0xFF when the mask selects; no CC.
    @inline(__always) private func compareAndTrap(_ c: UInt8, mask: UInt8) throws(CPUException) {
        if compareMaskSelects(mask, c) {
            exceptionDXC = 0xFF
            throw .program(.data)
        }
    }

    // MARK: COMPARE

    @inline(__always) func cr(_ i: RR) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), compareWord(i.r2)) }
    @inline(__always) func cgr(_ i: RRE) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)) }
    @inline(__always) func cgfr(_ i: RRE) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(compareWord(i.r2))) }
    @inline(__always) func c(_ i: RX) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(operand2Address(i)))) }
    @inline(__always) func cy(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(operand2Address(i)))) }
    @inline(__always) func cg(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(bitPattern: try load64(operand2Address(i)))) }
    @inline(__always) func cgf(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int32(bitPattern: try load32(operand2Address(i))))) }
    @inline(__always) func ch(_ i: RX) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(operand2Address(i))))) }
    @inline(__always) func chy(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(operand2Address(i))))) }
    @inline(__always) func cgh(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int16(bitPattern: try load16(operand2Address(i))))) }
    @inline(__always) func chi(_ i: RI) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func cghi(_ i: RI) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), i.i2) }
    @inline(__always) func cfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func cgfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), i.i2) }
    @inline(__always) func chhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int16(bitPattern: try load16(operand1Address(i))), Int16(truncatingIfNeeded: i.i2)) }
    @inline(__always) func chsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int32(bitPattern: try load32(operand1Address(i))), Int32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func cghsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int64(bitPattern: try load64(operand1Address(i))), i.i2) }
    @inline(__always) func crl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(alignedRelativeAddress(i.i2, size: 4)))) }
    @inline(__always) func cgrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(bitPattern: try load64(alignedRelativeAddress(i.i2, size: 8)))) }
    @inline(__always) func cgfrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int32(bitPattern: try load32(alignedRelativeAddress(i.i2, size: 4))))) }
    @inline(__always) func chrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(alignedRelativeAddress(i.i2, size: 2))))) }
    @inline(__always) func cghrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int16(bitPattern: try load16(alignedRelativeAddress(i.i2, size: 2))))) }

    // MARK: COMPARE LOGICAL

    @inline(__always) func clr(_ i: RR) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)) }
    @inline(__always) func clgr(_ i: RRE) throws(CPUException) { cc = comparisonCC(gpr[i.r1], gpr[i.r2]) }
    @inline(__always) func clgfr(_ i: RRE) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(compareLogicalWord(i.r2))) }
    @inline(__always) func cl(_ i: RX) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func cly(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(operand2Address(i))) }
    @inline(__always) func clg(_ i: RXY) throws(CPUException) { cc = comparisonCC(gpr[i.r1], try load64(operand2Address(i))) }
    @inline(__always) func clgf(_ i: RXY) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load32(operand2Address(i)))) }
    @inline(__always) func cli(_ i: SI) throws(CPUException) { cc = comparisonCC(try load8(operand1Address(i)), i.i2) }
    @inline(__always) func cliy(_ i: SIY) throws(CPUException) { cc = comparisonCC(try load8(operand1Address(i)), i.i2) }
    @inline(__always) func clfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)) }
    @inline(__always) func clgfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], i.u2) }
    @inline(__always) func clhhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load16(operand1Address(i)), UInt16(i.u2)) }
    @inline(__always) func clfhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load32(operand1Address(i)), UInt32(i.u2)) }
    @inline(__always) func clghsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load64(operand1Address(i)), i.u2) }
    @inline(__always) func clrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(alignedRelativeAddress(i.i2, size: 4))) }
    @inline(__always) func clgrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], try load64(alignedRelativeAddress(i.i2, size: 8))) }
    @inline(__always) func clgfrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load32(alignedRelativeAddress(i.i2, size: 4)))) }
    @inline(__always) func clhrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), UInt32(try load16(alignedRelativeAddress(i.i2, size: 2)))) }
    @inline(__always) func clghrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load16(alignedRelativeAddress(i.i2, size: 2)))) }

    // MARK: COMPARE LOGICAL CHARACTERS UNDER MASK

    /// Compares the bytes of the 32-bit `value` that `mask` selects (left to right) with the
    /// contiguous bytes at `address`. A zero mask gives CC 0 but still accesses one byte.
    @inline(__always) private func compareUnderMask(_ value: UInt32, mask: UInt8, address: UInt64) throws(CPUException) {
        var address = address
        if mask == 0 { _ = try load8(address); cc = 0; return }
        var result: UInt8 = 0
        for position in 0..<4 where (mask >> (3 - position)) & 1 != 0 {
            let registerByte = UInt8(truncatingIfNeeded: value >> (24 - 8 * position))
            let storageByte = try load8(address)
            if registerByte != storageByte { result = registerByte < storageByte ? 1 : 2; break }
            address = (address &+ 1) & addressMask
        }
        cc = result
    }
    @inline(__always) func clm(_ i: RS) throws(CPUException) {
        try compareUnderMask(compareLogicalWord(i.r1), mask: UInt8(i.r3), address: effectiveAddress(base: i.b2, displacement: i.d2))
    }
    @inline(__always) func clmy(_ i: RSY) throws(CPUException) {
        try compareUnderMask(compareLogicalWord(i.r1), mask: i.m3, address: effectiveAddress(base: i.b2, displacement: i.d2))
    }
    @inline(__always) func clmh(_ i: RSY) throws(CPUException) {
        try compareUnderMask(UInt32(truncatingIfNeeded: gpr[i.r1] >> 32), mask: i.m3, address: effectiveAddress(base: i.b2, displacement: i.d2))
    }

    // MARK: COMPARE (LOGICAL) AND BRANCH (RELATIVE): no CC change

    @inline(__always) func crj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func cgrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func clrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func clgrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func cij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func cgij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func clij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3, to: relativeAddress(i.i4)) }
    @inline(__always) func clgij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], i.u2), mask: i.m3, to: relativeAddress(i.i4)) }

    @inline(__always) private func compareBranchTarget(_ i: RRS) -> UInt64 { effectiveAddress(base: i.b4, displacement: i.d4) }
    @inline(__always) private func compareBranchTarget(_ i: RIS) -> UInt64 { effectiveAddress(base: i.b4, displacement: i.d4) }
    @inline(__always) func crb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func cgrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func clrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func clgrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func cib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func cgib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func clib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3, to: compareBranchTarget(i)) }
    @inline(__always) func clgib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], i.u2), mask: i.m3, to: compareBranchTarget(i)) }

    // MARK: COMPARE (LOGICAL) AND TRAP

    @inline(__always) func crt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3) }
    @inline(__always) func cgrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3) }
    @inline(__always) func clrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3) }
    @inline(__always) func clgrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3) }
    @inline(__always) func cit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3) }
    @inline(__always) func cgit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3) }
    @inline(__always) func clfit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3) }
    @inline(__always) func clgit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(gpr[i.r1], i.u2), mask: i.m3) }
}
