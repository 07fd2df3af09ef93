// Binary integer arithmetic: add, subtract, multiply, divide (PoP chapter 7, "General
// Instructions"). 32-bit forms change only bits 32-63 of R1; register pairs need an even R1.

import Synchronization

extension CPU {
    // MARK: Operand helpers

    @inline(__always) private func loadSigned32(at a: UInt64) throws(CPUException) -> Int32 { Int32(bitPattern: try load32(a)) }
    @inline(__always) private func loadSigned16(at a: UInt64) throws(CPUException) -> Int32 { Int32(Int16(bitPattern: try load16(a))) }
    @inline(__always) private func loadSigned64(at a: UInt64) throws(CPUException) -> Int64 { Int64(bitPattern: try load64(a)) }

    // MARK: Condition codes

    @inline(__always) private func arithSigned32(_ r1: Int, _ s: (partialValue: Int32, overflow: Bool)) throws(CPUException) {
        setGPRLow32(r1, UInt32(bitPattern: s.partialValue))
        try setSignedResultCC(s.partialValue, overflow: s.overflow)
    }
    @inline(__always) private func arithSigned64(_ r1: Int, _ s: (partialValue: Int64, overflow: Bool)) throws(CPUException) {
        gpr[r1] = UInt64(bitPattern: s.partialValue)
        try setSignedResultCC(s.partialValue, overflow: s.overflow)
    }

    /// a + b + carry with the logical CC: (carry out ? 2 : 0) | (nonzero ? 1 : 0). Subtraction is
    /// a + ~b + 1 (carry = no borrow), which gives CC 1 borrow/nonzero, 2 zero/no borrow,
    /// 3 nonzero/no borrow (and 0 zero with borrow, possible only with a borrow in).
    @inline(__always) private func arithAddLogical32(_ a: UInt32, _ b: UInt32, carry: UInt8) -> (value: UInt32, cc: UInt8) {
        let sum = UInt64(a) &+ UInt64(b) &+ UInt64(carry)
        let value = UInt32(truncatingIfNeeded: sum)
        return (value, UInt8(truncatingIfNeeded: sum >> 32) << 1 | (value != 0 ? 1 : 0))
    }
    @inline(__always) private func arithAddLogical64(_ a: UInt64, _ b: UInt64, carry: UInt8) -> (value: UInt64, cc: UInt8) {
        let (s1, c1) = a.addingReportingOverflow(b)
        let (s2, c2) = s1.addingReportingOverflow(UInt64(carry))
        return (s2, (c1 || c2 ? 2 : 0) | (s2 != 0 ? 1 : 0))
    }
    @inline(__always) private func arithLogical32(_ r1: Int, _ s: (value: UInt32, cc: UInt8)) { setGPRLow32(r1, s.value); cc = s.cc }
    @inline(__always) private func arithLogical64(_ r1: Int, _ s: (value: UInt64, cc: UInt8)) { gpr[r1] = s.value; cc = s.cc }
    /// The carry (ALC) or no-borrow (SLB) indication: the leftmost bit of the two-bit CC.
    @inline(__always) private var arithCarryIn: UInt8 { cc >> 1 }

    // MARK: Storage-immediate forms (ASI, AGSI, ALSI, ALGSI)

    // With the interlocked-access facility 1 (bit 45) an aligned first operand is updated as
    // an interlocked fetch and store (host compare-and-swap on the big-endian word); an
    // unaligned one is an ordinary fetch then store. Both return (old, new).
    @inline(__always) private func arithInterlockedAdd32(at a: UInt64, _ imm: UInt32) throws(CPUException) -> (old: UInt32, new: UInt32) {
        if a & 3 != 0 {
            let old = try load32(a)
            try store32(a, old &+ imm)
            return (old, old &+ imm)
        }
        let word = try hostPointer(a, .store).assumingMemoryBound(to: Atomic<UInt32>.self)
        var seen = word.pointee.load(ordering: .relaxed)
        while true {
            let old = UInt32(bigEndian: seen)
            let (exchanged, current) = word.pointee.compareExchange(
                expected: seen, desired: (old &+ imm).bigEndian, ordering: .sequentiallyConsistent)
            if exchanged { return (old, old &+ imm) }
            seen = current
        }
    }
    @inline(__always) private func arithInterlockedAdd64(at a: UInt64, _ imm: UInt64) throws(CPUException) -> (old: UInt64, new: UInt64) {
        if a & 7 != 0 {
            let old = try load64(a)
            try store64(a, old &+ imm)
            return (old, old &+ imm)
        }
        let word = try hostPointer(a, .store).assumingMemoryBound(to: Atomic<UInt64>.self)
        var seen = word.pointee.load(ordering: .relaxed)
        while true {
            let old = UInt64(bigEndian: seen)
            let (exchanged, current) = word.pointee.compareExchange(
                expected: seen, desired: (old &+ imm).bigEndian, ordering: .sequentiallyConsistent)
            if exchanged { return (old, old &+ imm) }
            seen = current
        }
    }
    /// The CC of old + imm = new (already stored): signed (with overflow) or logical (with carry).
    @inline(__always) private func arithStorageAddCC<T: FixedWidthInteger & UnsignedInteger>(
        _ r: (old: T, new: T), _ imm: T, logical: Bool) throws(CPUException) {
        let top = T.bitWidth - 1
        if logical {
            cc = (r.new < r.old ? 2 : 0) | (r.new != 0 ? 1 : 0)
        } else if ((r.old ^ r.new) & (imm ^ r.new)) >> top != 0 {
            cc = 3
            if programMask & 8 != 0 { throw .program(.fixedPointOverflow) }
        } else {
            cc = r.new == 0 ? 0 : (r.new >> top != 0 ? 1 : 2)
        }
    }
    /// The signed 8-bit I2 of SIY, sign-extended (as an unsigned bit pattern).
    @inline(__always) private func arithSIYImmediate32(_ i: SIY) -> UInt32 { UInt32(bitPattern: Int32(Int8(bitPattern: i.i2))) }
    @inline(__always) private func arithSIYImmediate64(_ i: SIY) -> UInt64 { UInt64(bitPattern: Int64(Int8(bitPattern: i.i2))) }

    // MARK: ADD

    @inline(__always) func ar(_ i: RR) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(signedLow32(i.r2))) }
    @inline(__always) func agr(_ i: RRE) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(signed64(i.r2))) }
    @inline(__always) func agfr(_ i: RRE) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(Int64(signedLow32(i.r2)))) }
    @inline(__always) func a(_ i: RX) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(loadSigned32(at: operand2Address(i)))) }
    @inline(__always) func ay(_ i: RXY) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(loadSigned32(at: operand2Address(i)))) }
    @inline(__always) func ag(_ i: RXY) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(loadSigned64(at: operand2Address(i)))) }
    @inline(__always) func agf(_ i: RXY) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(Int64(loadSigned32(at: operand2Address(i))))) }
    @inline(__always) func ah(_ i: RX) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(loadSigned16(at: operand2Address(i)))) }
    @inline(__always) func ahy(_ i: RXY) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(loadSigned16(at: operand2Address(i)))) }
    @inline(__always) func ahi(_ i: RI) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(Int32(truncatingIfNeeded: i.i2))) }
    @inline(__always) func aghi(_ i: RI) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(i.i2)) }
    @inline(__always) func afi(_ i: RIL) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).addingReportingOverflow(Int32(truncatingIfNeeded: i.i2))) }
    @inline(__always) func agfi(_ i: RIL) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).addingReportingOverflow(i.i2)) }
    @inline(__always) func ark(_ i: RRF) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r2).addingReportingOverflow(signedLow32(i.r3))) }
    @inline(__always) func agrk(_ i: RRF) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r2).addingReportingOverflow(signed64(i.r3))) }
    @inline(__always) func ahik(_ i: RIEd) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r3).addingReportingOverflow(Int32(truncatingIfNeeded: i.i2))) }
    @inline(__always) func aghik(_ i: RIEd) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r3).addingReportingOverflow(i.i2)) }
    @inline(__always) func asi(_ i: SIY) throws(CPUException) { try arithStorageAddCC(arithInterlockedAdd32(at: operand1Address(i), arithSIYImmediate32(i)), arithSIYImmediate32(i), logical: false) }
    @inline(__always) func agsi(_ i: SIY) throws(CPUException) { try arithStorageAddCC(arithInterlockedAdd64(at: operand1Address(i), arithSIYImmediate64(i)), arithSIYImmediate64(i), logical: false) }

    // MARK: ADD LOGICAL (with signed immediate, with carry)

    @inline(__always) func alr(_ i: RR) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), gprLow32(i.r2), carry: 0)) }
    @inline(__always) func algr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], gpr[i.r2], carry: 0)) }
    @inline(__always) func algfr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], UInt64(gprLow32(i.r2)), carry: 0)) }
    @inline(__always) func al(_ i: RX) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), try load32(operand2Address(i)), carry: 0)) }
    @inline(__always) func aly(_ i: RXY) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), try load32(operand2Address(i)), carry: 0)) }
    @inline(__always) func alg(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], try load64(operand2Address(i)), carry: 0)) }
    @inline(__always) func algf(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], UInt64(try load32(operand2Address(i))), carry: 0)) }
    @inline(__always) func alfi(_ i: RIL) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), UInt32(i.u2), carry: 0)) }
    @inline(__always) func algfi(_ i: RIL) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], i.u2, carry: 0)) }
    @inline(__always) func alrk(_ i: RRF) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r2), gprLow32(i.r3), carry: 0)) }
    @inline(__always) func algrk(_ i: RRF) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r2], gpr[i.r3], carry: 0)) }
    @inline(__always) func alhsik(_ i: RIEd) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r3), UInt32(truncatingIfNeeded: i.i2), carry: 0)) }
    @inline(__always) func alghsik(_ i: RIEd) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r3], UInt64(bitPattern: i.i2), carry: 0)) }
    @inline(__always) func alsi(_ i: SIY) throws(CPUException) { try arithStorageAddCC(arithInterlockedAdd32(at: operand1Address(i), arithSIYImmediate32(i)), arithSIYImmediate32(i), logical: true) }
    @inline(__always) func algsi(_ i: SIY) throws(CPUException) { try arithStorageAddCC(arithInterlockedAdd64(at: operand1Address(i), arithSIYImmediate64(i)), arithSIYImmediate64(i), logical: true) }
    @inline(__always) func alcr(_ i: RRE) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), gprLow32(i.r2), carry: arithCarryIn)) }
    @inline(__always) func alcgr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], gpr[i.r2], carry: arithCarryIn)) }
    @inline(__always) func alc(_ i: RXY) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), try load32(operand2Address(i)), carry: arithCarryIn)) }
    @inline(__always) func alcg(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], try load64(operand2Address(i)), carry: arithCarryIn)) }

    // MARK: SUBTRACT

    @inline(__always) func sr(_ i: RR) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).subtractingReportingOverflow(signedLow32(i.r2))) }
    @inline(__always) func sgr(_ i: RRE) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).subtractingReportingOverflow(signed64(i.r2))) }
    @inline(__always) func sgfr(_ i: RRE) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).subtractingReportingOverflow(Int64(signedLow32(i.r2)))) }
    @inline(__always) func s(_ i: RX) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).subtractingReportingOverflow(loadSigned32(at: operand2Address(i)))) }
    @inline(__always) func sy(_ i: RXY) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).subtractingReportingOverflow(loadSigned32(at: operand2Address(i)))) }
    @inline(__always) func sg(_ i: RXY) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).subtractingReportingOverflow(loadSigned64(at: operand2Address(i)))) }
    @inline(__always) func sgf(_ i: RXY) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r1).subtractingReportingOverflow(Int64(loadSigned32(at: operand2Address(i))))) }
    @inline(__always) func sh(_ i: RX) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).subtractingReportingOverflow(loadSigned16(at: operand2Address(i)))) }
    @inline(__always) func shy(_ i: RXY) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r1).subtractingReportingOverflow(loadSigned16(at: operand2Address(i)))) }
    @inline(__always) func srk(_ i: RRF) throws(CPUException) { try arithSigned32(i.r1, signedLow32(i.r2).subtractingReportingOverflow(signedLow32(i.r3))) }
    @inline(__always) func sgrk(_ i: RRF) throws(CPUException) { try arithSigned64(i.r1, signed64(i.r2).subtractingReportingOverflow(signed64(i.r3))) }

    // MARK: SUBTRACT LOGICAL (with borrow): a + ~b + (no borrow ? 1 : 0)

    @inline(__always) func slr(_ i: RR) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~gprLow32(i.r2), carry: 1)) }
    @inline(__always) func slgr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~gpr[i.r2], carry: 1)) }
    @inline(__always) func slgfr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~UInt64(gprLow32(i.r2)), carry: 1)) }
    @inline(__always) func sl(_ i: RX) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~(try load32(operand2Address(i))), carry: 1)) }
    @inline(__always) func sly(_ i: RXY) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~(try load32(operand2Address(i))), carry: 1)) }
    @inline(__always) func slg(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~(try load64(operand2Address(i))), carry: 1)) }
    @inline(__always) func slgf(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~UInt64(try load32(operand2Address(i))), carry: 1)) }
    @inline(__always) func slfi(_ i: RIL) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~UInt32(i.u2), carry: 1)) }
    @inline(__always) func slgfi(_ i: RIL) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~i.u2, carry: 1)) }
    @inline(__always) func slrk(_ i: RRF) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r2), ~gprLow32(i.r3), carry: 1)) }
    @inline(__always) func slgrk(_ i: RRF) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r2], ~gpr[i.r3], carry: 1)) }
    @inline(__always) func slbr(_ i: RRE) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~gprLow32(i.r2), carry: arithCarryIn)) }
    @inline(__always) func slbgr(_ i: RRE) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~gpr[i.r2], carry: arithCarryIn)) }
    @inline(__always) func slb(_ i: RXY) throws(CPUException) { arithLogical32(i.r1, arithAddLogical32(gprLow32(i.r1), ~(try load32(operand2Address(i))), carry: arithCarryIn)) }
    @inline(__always) func slbg(_ i: RXY) throws(CPUException) { arithLogical64(i.r1, arithAddLogical64(gpr[i.r1], ~(try load64(operand2Address(i))), carry: arithCarryIn)) }

    // MARK: MULTIPLY (register pairs: multiplicand in R1+1, product in R1:R1+1)

    @inline(__always) private func requireEvenArithmeticPair(_ r1: Int) throws(CPUException) {
        if r1 & 1 != 0 { throw .program(.specification) }
    }
    /// 32 x 32 -> 64 signed into bits 32-63 of the pair R1 (high) : R1+1 (low).
    @inline(__always) private func multiplyPair32(_ r1: Int, _ op2: Int32) {
        let product = UInt64(bitPattern: Int64(signedLow32(r1 + 1)) &* Int64(op2))
        setGPRLow32(r1, UInt32(truncatingIfNeeded: product >> 32))
        setGPRLow32(r1 + 1, UInt32(truncatingIfNeeded: product))
    }
    @inline(__always) private func multiplyLogicalPair32(_ r1: Int, _ op2: UInt32) {
        let product = UInt64(gprLow32(r1 + 1)) &* UInt64(op2)
        setGPRLow32(r1, UInt32(truncatingIfNeeded: product >> 32))
        setGPRLow32(r1 + 1, UInt32(truncatingIfNeeded: product))
    }
    @inline(__always) private func multiplyLogicalPair64(_ r1: Int, _ op2: UInt64) {
        let product = gpr[r1 + 1].multipliedFullWidth(by: op2)
        gpr[r1] = product.high
        gpr[r1 + 1] = product.low
    }
    /// MULTIPLY SINGLE: the low half of the product, no CC, overflow ignored.
    @inline(__always) private func multiplySingle32(_ r1: Int, _ op2: Int32) { setGPRLow32(r1, UInt32(bitPattern: signedLow32(r1) &* op2)) }
    @inline(__always) private func multiplySingle64(_ r1: Int, _ op2: Int64) { gpr[r1] = UInt64(bitPattern: signed64(r1) &* op2) }

    @inline(__always) func mr(_ i: RR) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyPair32(i.r1, signedLow32(i.r2)) }
    @inline(__always) func m(_ i: RX) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyPair32(i.r1, try loadSigned32(at: operand2Address(i))) }
    @inline(__always) func mfy(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyPair32(i.r1, try loadSigned32(at: operand2Address(i))) }
    @inline(__always) func mlr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyLogicalPair32(i.r1, gprLow32(i.r2)) }
    @inline(__always) func ml(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyLogicalPair32(i.r1, try load32(operand2Address(i))) }
    @inline(__always) func mlgr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyLogicalPair64(i.r1, gpr[i.r2]) }
    @inline(__always) func mlg(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); multiplyLogicalPair64(i.r1, try load64(operand2Address(i))) }
    @inline(__always) func msr(_ i: RRE) throws(CPUException) { multiplySingle32(i.r1, signedLow32(i.r2)) }
    @inline(__always) func msgr(_ i: RRE) throws(CPUException) { multiplySingle64(i.r1, signed64(i.r2)) }
    @inline(__always) func msgfr(_ i: RRE) throws(CPUException) { multiplySingle64(i.r1, Int64(signedLow32(i.r2))) }
    @inline(__always) func ms(_ i: RX) throws(CPUException) { multiplySingle32(i.r1, try loadSigned32(at: operand2Address(i))) }
    @inline(__always) func msy(_ i: RXY) throws(CPUException) { multiplySingle32(i.r1, try loadSigned32(at: operand2Address(i))) }
    @inline(__always) func msg(_ i: RXY) throws(CPUException) { multiplySingle64(i.r1, try loadSigned64(at: operand2Address(i))) }
    @inline(__always) func msgf(_ i: RXY) throws(CPUException) { multiplySingle64(i.r1, Int64(try loadSigned32(at: operand2Address(i)))) }
    @inline(__always) func msfi(_ i: RIL) throws(CPUException) { multiplySingle32(i.r1, Int32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func msgfi(_ i: RIL) throws(CPUException) { multiplySingle64(i.r1, i.i2) }
    @inline(__always) func mh(_ i: RX) throws(CPUException) { multiplySingle32(i.r1, try loadSigned16(at: operand2Address(i))) }
    @inline(__always) func mhy(_ i: RXY) throws(CPUException) { multiplySingle32(i.r1, try loadSigned16(at: operand2Address(i))) }
    @inline(__always) func mhi(_ i: RI) throws(CPUException) { multiplySingle32(i.r1, Int32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func mghi(_ i: RI) throws(CPUException) { multiplySingle64(i.r1, i.i2) }

    // MARK: DIVIDE (remainder to R1, quotient to R1+1; fixed-point divide before any change)

    /// DR/D: the 64-bit signed dividend in bits 32-63 of R1:R1+1, a 32-bit signed quotient.
    @inline(__always) private func dividePair32(_ r1: Int, _ divisor: Int32) throws(CPUException) {
        let dividend = Int64(bitPattern: UInt64(gprLow32(r1)) << 32 | UInt64(gprLow32(r1 + 1)))
        if divisor == 0 { throw .program(.fixedPointDivide) }
        let q = dividend.dividedReportingOverflow(by: Int64(divisor))
        if q.overflow || q.partialValue != Int64(Int32(truncatingIfNeeded: q.partialValue)) { throw .program(.fixedPointDivide) }
        let remainder = dividend.remainderReportingOverflow(dividingBy: Int64(divisor)).partialValue
        setGPRLow32(r1, UInt32(truncatingIfNeeded: remainder))
        setGPRLow32(r1 + 1, UInt32(truncatingIfNeeded: q.partialValue))
    }
    /// DLR/DL: 64-bit unsigned dividend, 32-bit unsigned quotient.
    @inline(__always) private func divideLogicalPair32(_ r1: Int, _ divisor: UInt32) throws(CPUException) {
        let dividend = UInt64(gprLow32(r1)) << 32 | UInt64(gprLow32(r1 + 1))
        if divisor == 0 { throw .program(.fixedPointDivide) }
        let q = dividend / UInt64(divisor)
        if q > UInt64(UInt32.max) { throw .program(.fixedPointDivide) }
        setGPRLow32(r1, UInt32(truncatingIfNeeded: dividend % UInt64(divisor)))
        setGPRLow32(r1 + 1, UInt32(truncatingIfNeeded: q))
    }
    /// DLGR/DLG: 128-bit unsigned dividend in R1:R1+1, 64-bit unsigned quotient.
    @inline(__always) private func divideLogicalPair64(_ r1: Int, _ divisor: UInt64) throws(CPUException) {
        // The quotient fits in 64 bits exactly when the high half is below the divisor.
        if divisor == 0 || gpr[r1] >= divisor { throw .program(.fixedPointDivide) }
        let result = divisor.dividingFullWidth((high: gpr[r1], low: gpr[r1 + 1]))
        gpr[r1] = result.remainder
        gpr[r1 + 1] = result.quotient
    }
    /// DSG*: the 64-bit signed dividend in R1+1 only.
    @inline(__always) private func divideSingle64(_ r1: Int, _ divisor: Int64) throws(CPUException) {
        let dividend = signed64(r1 + 1)
        if divisor == 0 { throw .program(.fixedPointDivide) }
        let q = dividend.dividedReportingOverflow(by: divisor)
        if q.overflow { throw .program(.fixedPointDivide) }
        gpr[r1] = UInt64(bitPattern: dividend % divisor)
        gpr[r1 + 1] = UInt64(bitPattern: q.partialValue)
    }

    @inline(__always) func dr(_ i: RR) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try dividePair32(i.r1, signedLow32(i.r2)) }
    @inline(__always) func d(_ i: RX) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try dividePair32(i.r1, try loadSigned32(at: operand2Address(i))) }
    @inline(__always) func dlr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideLogicalPair32(i.r1, gprLow32(i.r2)) }
    @inline(__always) func dl(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideLogicalPair32(i.r1, try load32(operand2Address(i))) }
    @inline(__always) func dlgr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideLogicalPair64(i.r1, gpr[i.r2]) }
    @inline(__always) func dlg(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideLogicalPair64(i.r1, try load64(operand2Address(i))) }
    @inline(__always) func dsgr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideSingle64(i.r1, signed64(i.r2)) }
    @inline(__always) func dsgfr(_ i: RRE) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideSingle64(i.r1, Int64(signedLow32(i.r2))) }
    @inline(__always) func dsg(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideSingle64(i.r1, try loadSigned64(at: operand2Address(i))) }
    @inline(__always) func dsgf(_ i: RXY) throws(CPUException) { try requireEvenArithmeticPair(i.r1); try divideSingle64(i.r1, Int64(try loadSigned32(at: operand2Address(i)))) }
}
