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

    func cr(_ i: RR) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), compareWord(i.r2)) }
    func cgr(_ i: RRE) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)) }
    func cgfr(_ i: RRE) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(compareWord(i.r2))) }
    func c(_ i: RX) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(operand2Address(i)))) }
    func cy(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(operand2Address(i)))) }
    func cg(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(bitPattern: try load64(operand2Address(i)))) }
    func cgf(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int32(bitPattern: try load32(operand2Address(i))))) }
    func ch(_ i: RX) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(operand2Address(i))))) }
    func chy(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(operand2Address(i))))) }
    func cgh(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int16(bitPattern: try load16(operand2Address(i))))) }
    func chi(_ i: RI) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)) }
    func cghi(_ i: RI) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), i.i2) }
    func cfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)) }
    func cgfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), i.i2) }
    func chhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int16(bitPattern: try load16(operand1Address(i))), Int16(truncatingIfNeeded: i.i2)) }
    func chsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int32(bitPattern: try load32(operand1Address(i))), Int32(truncatingIfNeeded: i.i2)) }
    func cghsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(Int64(bitPattern: try load64(operand1Address(i))), i.i2) }
    func crl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(bitPattern: try load32(alignedRelativeAddress(i.i2, size: 4)))) }
    func cgrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(bitPattern: try load64(alignedRelativeAddress(i.i2, size: 8)))) }
    func cgfrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int32(bitPattern: try load32(alignedRelativeAddress(i.i2, size: 4))))) }
    func chrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareWord(i.r1), Int32(Int16(bitPattern: try load16(alignedRelativeAddress(i.i2, size: 2))))) }
    func cghrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareDoubleword(i.r1), Int64(Int16(bitPattern: try load16(alignedRelativeAddress(i.i2, size: 2))))) }

    // MARK: COMPARE LOGICAL

    func clr(_ i: RR) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)) }
    func clgr(_ i: RRE) throws(CPUException) { cc = comparisonCC(gpr[i.r1], gpr[i.r2]) }
    func clgfr(_ i: RRE) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(compareLogicalWord(i.r2))) }
    func cl(_ i: RX) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(operand2Address(i))) }
    func cly(_ i: RXY) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(operand2Address(i))) }
    func clg(_ i: RXY) throws(CPUException) { cc = comparisonCC(gpr[i.r1], try load64(operand2Address(i))) }
    func clgf(_ i: RXY) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load32(operand2Address(i)))) }
    func cli(_ i: SI) throws(CPUException) { cc = comparisonCC(try load8(operand1Address(i)), i.i2) }
    func cliy(_ i: SIY) throws(CPUException) { cc = comparisonCC(try load8(operand1Address(i)), i.i2) }
    func clfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)) }
    func clgfi(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], i.u2) }
    func clhhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load16(operand1Address(i)), UInt16(i.u2)) }
    func clfhsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load32(operand1Address(i)), UInt32(i.u2)) }
    func clghsi(_ i: SIL) throws(CPUException) { cc = comparisonCC(try load64(operand1Address(i)), i.u2) }
    func clrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), try load32(alignedRelativeAddress(i.i2, size: 4))) }
    func clgrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], try load64(alignedRelativeAddress(i.i2, size: 8))) }
    func clgfrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load32(alignedRelativeAddress(i.i2, size: 4)))) }
    func clhrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(compareLogicalWord(i.r1), UInt32(try load16(alignedRelativeAddress(i.i2, size: 2)))) }
    func clghrl(_ i: RIL) throws(CPUException) { cc = comparisonCC(gpr[i.r1], UInt64(try load16(alignedRelativeAddress(i.i2, size: 2)))) }

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
    func clm(_ i: RS) throws(CPUException) {
        try compareUnderMask(compareLogicalWord(i.r1), mask: UInt8(i.r3), address: effectiveAddress(base: i.b2, displacement: i.d2))
    }
    func clmy(_ i: RSY) throws(CPUException) {
        try compareUnderMask(compareLogicalWord(i.r1), mask: i.m3, address: effectiveAddress(base: i.b2, displacement: i.d2))
    }
    func clmh(_ i: RSY) throws(CPUException) {
        try compareUnderMask(UInt32(truncatingIfNeeded: gpr[i.r1] >> 32), mask: i.m3, address: effectiveAddress(base: i.b2, displacement: i.d2))
    }

    // MARK: COMPARE (LOGICAL) AND BRANCH (RELATIVE): no CC change

    func crj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    func cgrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    func clrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3, to: relativeAddress(i.i4)) }
    func clgrj(_ i: RIEb) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3, to: relativeAddress(i.i4)) }
    func cij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3, to: relativeAddress(i.i4)) }
    func cgij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3, to: relativeAddress(i.i4)) }
    func clij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3, to: relativeAddress(i.i4)) }
    func clgij(_ i: RIEc) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], i.u2), mask: i.m3, to: relativeAddress(i.i4)) }

    @inline(__always) private func compareBranchTarget(_ i: RRS) -> UInt64 { effectiveAddress(base: i.b4, displacement: i.d4) }
    @inline(__always) private func compareBranchTarget(_ i: RIS) -> UInt64 { effectiveAddress(base: i.b4, displacement: i.d4) }
    func crb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    func cgrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    func clrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3, to: compareBranchTarget(i)) }
    func clgrb(_ i: RRS) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3, to: compareBranchTarget(i)) }
    func cib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3, to: compareBranchTarget(i)) }
    func cgib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3, to: compareBranchTarget(i)) }
    func clib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3, to: compareBranchTarget(i)) }
    func clgib(_ i: RIS) throws(CPUException) { compareAndBranch(comparisonCC(gpr[i.r1], i.u2), mask: i.m3, to: compareBranchTarget(i)) }

    // MARK: COMPARE (LOGICAL) AND TRAP

    func crt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareWord(i.r1), compareWord(i.r2)), mask: i.m3) }
    func cgrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareDoubleword(i.r1), compareDoubleword(i.r2)), mask: i.m3) }
    func clrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(compareLogicalWord(i.r1), compareLogicalWord(i.r2)), mask: i.m3) }
    func clgrt(_ i: RRF) throws(CPUException) { try compareAndTrap(comparisonCC(gpr[i.r1], gpr[i.r2]), mask: i.m3) }
    func cit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareWord(i.r1), Int32(truncatingIfNeeded: i.i2)), mask: i.m3) }
    func cgit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareDoubleword(i.r1), i.i2), mask: i.m3) }
    func clfit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(compareLogicalWord(i.r1), UInt32(i.u2)), mask: i.m3) }
    func clgit(_ i: RIEa) throws(CPUException) { try compareAndTrap(comparisonCC(gpr[i.r1], i.u2), mask: i.m3) }
}
