// Loads and stores (PoP chapter 7): register and storage loads, load and test / complement /
// positive / negative, immediates and inserts, load/store multiple, relative-long forms, load
// and store on condition, quadword pairs, byte-reversed forms and access-register transfers.

@inline(__always) private func signExtended8(_ v: UInt8) -> UInt64 { UInt64(bitPattern: Int64(Int8(bitPattern: v))) }
@inline(__always) private func signExtended16(_ v: UInt16) -> UInt64 { UInt64(bitPattern: Int64(Int16(bitPattern: v))) }
@inline(__always) private func signExtended32(_ v: UInt32) -> UInt64 { UInt64(bitPattern: Int64(Int32(bitPattern: v))) }

extension CPU {
    // MARK: Load, load and test, complement, positive, negative

    @inline(__always) private func loadAndTest<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T) {
        writeGPRResult(r1, v)
        setSignCC(v)
    }
    @inline(__always) private func loadComplement<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T) throws(CPUException) {
        let result = 0 &- v
        writeGPRResult(r1, result)
        try setSignedResultCC(result, overflow: v == T.min)
    }
    @inline(__always) private func loadPositive<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T) throws(CPUException) {
        let result = v < 0 ? 0 &- v : v
        writeGPRResult(r1, result)
        try setSignedResultCC(result, overflow: v == T.min)
    }
    @inline(__always) private func loadNegative<T: FixedWidthInteger & SignedInteger>(_ r1: Int, _ v: T) {
        let result = v > 0 ? 0 &- v : v
        writeGPRResult(r1, result)
        cc = result == 0 ? 0 : 1
    }

    @inline(__always) func lr(_ i: RR) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r2)) }
    @inline(__always) func lgr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2] }
    @inline(__always) func lgfr(_ i: RRE) throws(CPUException) { gpr[i.r1] = signExtended32(gprLow32(i.r2)) }
    @inline(__always) func ltr(_ i: RR) throws(CPUException) { loadAndTest(i.r1, signedLow32(i.r2)) }
    @inline(__always) func ltgr(_ i: RRE) throws(CPUException) { loadAndTest(i.r1, signed64(i.r2)) }
    @inline(__always) func ltgfr(_ i: RRE) throws(CPUException) { loadAndTest(i.r1, Int64(signedLow32(i.r2))) }
    @inline(__always) func lcr(_ i: RR) throws(CPUException) { try loadComplement(i.r1, signedLow32(i.r2)) }
    @inline(__always) func lcgr(_ i: RRE) throws(CPUException) { try loadComplement(i.r1, signed64(i.r2)) }
    @inline(__always) func lcgfr(_ i: RRE) throws(CPUException) { try loadComplement(i.r1, Int64(signedLow32(i.r2))) }
    @inline(__always) func lnr(_ i: RR) throws(CPUException) { loadNegative(i.r1, signedLow32(i.r2)) }
    @inline(__always) func lngr(_ i: RRE) throws(CPUException) { loadNegative(i.r1, signed64(i.r2)) }
    @inline(__always) func lngfr(_ i: RRE) throws(CPUException) { loadNegative(i.r1, Int64(signedLow32(i.r2))) }
    @inline(__always) func lpr(_ i: RR) throws(CPUException) { try loadPositive(i.r1, signedLow32(i.r2)) }
    @inline(__always) func lpgr(_ i: RRE) throws(CPUException) { try loadPositive(i.r1, signed64(i.r2)) }
    @inline(__always) func lpgfr(_ i: RRE) throws(CPUException) { try loadPositive(i.r1, Int64(signedLow32(i.r2))) }

    @inline(__always) func l(_ i: RX) throws(CPUException) { setGPRLow32(i.r1, try load32(operand2Address(i))) }
    @inline(__always) func ly(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, try load32(operand2Address(i))) }
    @inline(__always) func lg(_ i: RXY) throws(CPUException) { gpr[i.r1] = try load64(operand2Address(i)) }
    @inline(__always) func lgf(_ i: RXY) throws(CPUException) { gpr[i.r1] = signExtended32(try load32(operand2Address(i))) }
    @inline(__always) func lt(_ i: RXY) throws(CPUException) { loadAndTest(i.r1, Int32(bitPattern: try load32(operand2Address(i)))) }
    @inline(__always) func ltg(_ i: RXY) throws(CPUException) { loadAndTest(i.r1, Int64(bitPattern: try load64(operand2Address(i)))) }
    @inline(__always) func ltgf(_ i: RXY) throws(CPUException) { loadAndTest(i.r1, Int64(Int32(bitPattern: try load32(operand2Address(i))))) }

    // MARK: Halfword, byte, logical and thirty-one-bit loads

    @inline(__always) func lh(_ i: RX) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended16(try load16(operand2Address(i))))) }
    @inline(__always) func lhy(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended16(try load16(operand2Address(i))))) }
    @inline(__always) func lgh(_ i: RXY) throws(CPUException) { gpr[i.r1] = signExtended16(try load16(operand2Address(i))) }
    @inline(__always) func lhr(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended16(UInt16(truncatingIfNeeded: gpr[i.r2])))) }
    @inline(__always) func lghr(_ i: RRE) throws(CPUException) { gpr[i.r1] = signExtended16(UInt16(truncatingIfNeeded: gpr[i.r2])) }
    @inline(__always) func lb(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended8(try load8(operand2Address(i))))) }
    @inline(__always) func lgb(_ i: RXY) throws(CPUException) { gpr[i.r1] = signExtended8(try load8(operand2Address(i))) }
    @inline(__always) func lbr(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended8(UInt8(truncatingIfNeeded: gpr[i.r2])))) }
    @inline(__always) func lgbr(_ i: RRE) throws(CPUException) { gpr[i.r1] = signExtended8(UInt8(truncatingIfNeeded: gpr[i.r2])) }
    @inline(__always) func llc(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, UInt32(try load8(operand2Address(i)))) }
    @inline(__always) func llgc(_ i: RXY) throws(CPUException) { gpr[i.r1] = UInt64(try load8(operand2Address(i))) }
    @inline(__always) func llcr(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, UInt32(gpr[i.r2] & 0xFF)) }
    @inline(__always) func llgcr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2] & 0xFF }
    @inline(__always) func llh(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, UInt32(try load16(operand2Address(i)))) }
    @inline(__always) func llgh(_ i: RXY) throws(CPUException) { gpr[i.r1] = UInt64(try load16(operand2Address(i))) }
    @inline(__always) func llhr(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, UInt32(gpr[i.r2] & 0xFFFF)) }
    @inline(__always) func llghr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2] & 0xFFFF }
    @inline(__always) func llgf(_ i: RXY) throws(CPUException) { gpr[i.r1] = UInt64(try load32(operand2Address(i))) }
    @inline(__always) func llgfr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2] & 0xFFFF_FFFF }
    @inline(__always) func llgt(_ i: RXY) throws(CPUException) { gpr[i.r1] = UInt64(try load32(operand2Address(i))) & 0x7FFF_FFFF }
    @inline(__always) func llgtr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2] & 0x7FFF_FFFF }

    // MARK: Addresses and immediates

    /// LA/LAY/LARL: the whole register in 64-bit mode; otherwise bits 32-63 (the address was
    /// wrapped to 24 or 31 bits, so the bits above it are zero) and bits 0-31 are kept.
    @inline(__always) private func loadAddress(_ r1: Int, _ address: UInt64) {
        if addressMask == .max { gpr[r1] = address } else { setGPRLow32(r1, UInt32(truncatingIfNeeded: address)) }
    }
    @inline(__always) func la(_ i: RX) throws(CPUException) { loadAddress(i.r1, operand2Address(i)) }
    @inline(__always) func lay(_ i: RXY) throws(CPUException) { loadAddress(i.r1, operand2Address(i)) }
    @inline(__always) func larl(_ i: RIL) throws(CPUException) { loadAddress(i.r1, relativeAddress(i.i2)) }

    @inline(__always) func lhi(_ i: RI) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func lghi(_ i: RI) throws(CPUException) { gpr[i.r1] = UInt64(bitPattern: i.i2) }
    @inline(__always) func lgfi(_ i: RIL) throws(CPUException) { gpr[i.r1] = UInt64(bitPattern: i.i2) }
    @inline(__always) func llihf(_ i: RIL) throws(CPUException) { gpr[i.r1] = i.u2 << 32 }
    @inline(__always) func llilf(_ i: RIL) throws(CPUException) { gpr[i.r1] = i.u2 }
    @inline(__always) func llihh(_ i: RI) throws(CPUException) { gpr[i.r1] = i.u2 << 48 }
    @inline(__always) func llihl(_ i: RI) throws(CPUException) { gpr[i.r1] = i.u2 << 32 }
    @inline(__always) func llilh(_ i: RI) throws(CPUException) { gpr[i.r1] = i.u2 << 16 }
    @inline(__always) func llill(_ i: RI) throws(CPUException) { gpr[i.r1] = i.u2 }

    /// Replaces the `width`-bit field at `shift` (counted from bit 63) with `value`.
    @inline(__always) private func insertImmediate(_ r1: Int, _ value: UInt64, shift: UInt64, width: UInt64) {
        let mask: UInt64 = ((1 << width) &- 1) << shift
        gpr[r1] = (gpr[r1] & ~mask) | (value << shift)
    }
    @inline(__always) func iihf(_ i: RIL) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 32, width: 32) }
    @inline(__always) func iilf(_ i: RIL) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 0, width: 32) }
    @inline(__always) func iihh(_ i: RI) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 48, width: 16) }
    @inline(__always) func iihl(_ i: RI) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 32, width: 16) }
    @inline(__always) func iilh(_ i: RI) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 16, width: 16) }
    @inline(__always) func iill(_ i: RI) throws(CPUException) { insertImmediate(i.r1, i.u2, shift: 0, width: 16) }

    // MARK: Insert / store characters (under mask)

    @inline(__always) func ic(_ i: RX) throws(CPUException) { insertImmediate(i.r1, UInt64(try load8(operand2Address(i))), shift: 0, width: 8) }
    @inline(__always) func icy(_ i: RXY) throws(CPUException) { insertImmediate(i.r1, UInt64(try load8(operand2Address(i))), shift: 0, width: 8) }

    /// ICM/ICMY/ICMH: consecutive bytes go to the register bytes the mask selects within the
    /// word at `shift`. CC 0 all inserted bits zero (or mask zero), 1 leftmost inserted bit one,
    /// 2 otherwise. With a zero mask, access exceptions are still recognized for one byte.
    @inline(__always) private func insertCharactersUnderMask(_ r1: Int, mask: UInt8, _ address: UInt64, shift: UInt64) throws(CPUException) {
        if mask == 0 {
            _ = try load8(address)
            cc = 0
            return
        }
        var register = gpr[r1], inserted: UInt64 = 0, count: UInt64 = 0
        for byte in 0..<UInt64(4) where mask & (8 >> byte) != 0 {
            let value = UInt64(try load8((address &+ count) & addressMask))
            let position = shift &+ 24 &- 8 &* byte
            register = (register & ~(0xFF << position)) | value << position
            inserted = inserted << 8 | value
            count &+= 1
        }
        gpr[r1] = register
        cc = inserted == 0 ? 0 : inserted >> (count &* 8 &- 1) != 0 ? 1 : 2
    }
    @inline(__always) func icm(_ i: RS) throws(CPUException) { try insertCharactersUnderMask(i.r1, mask: UInt8(i.r3), operand2Address(i), shift: 0) }
    @inline(__always) func icmy(_ i: RSY) throws(CPUException) { try insertCharactersUnderMask(i.r1, mask: i.m3, operand2Address(i), shift: 0) }
    @inline(__always) func icmh(_ i: RSY) throws(CPUException) { try insertCharactersUnderMask(i.r1, mask: i.m3, operand2Address(i), shift: 32) }

    /// STCM/STCMY/STCMH: the register bytes the mask selects, stored contiguously (all or nothing).
    @inline(__always) private func storeCharactersUnderMask(_ r1: Int, mask: UInt8, _ address: UInt64, shift: UInt64) throws(CPUException) {
        if mask == 0 { return }
        try checkAccess(address, length: UInt64(mask.nonzeroBitCount), .store)
        var offset: UInt64 = 0
        for byte in 0..<UInt64(4) where mask & (8 >> byte) != 0 {
            try store8((address &+ offset) & addressMask, UInt8(truncatingIfNeeded: gpr[r1] >> (shift &+ 24 &- 8 &* byte)))
            offset &+= 1
        }
    }
    @inline(__always) func stcm(_ i: RS) throws(CPUException) { try storeCharactersUnderMask(i.r1, mask: UInt8(i.r3), operand2Address(i), shift: 0) }
    @inline(__always) func stcmy(_ i: RSY) throws(CPUException) { try storeCharactersUnderMask(i.r1, mask: i.m3, operand2Address(i), shift: 0) }
    @inline(__always) func stcmh(_ i: RSY) throws(CPUException) { try storeCharactersUnderMask(i.r1, mask: i.m3, operand2Address(i), shift: 32) }

    // MARK: Stores

    @inline(__always) func st(_ i: RX) throws(CPUException) { try store32(operand2Address(i), gprLow32(i.r1)) }
    @inline(__always) func sty(_ i: RXY) throws(CPUException) { try store32(operand2Address(i), gprLow32(i.r1)) }
    @inline(__always) func stg(_ i: RXY) throws(CPUException) { try store64(operand2Address(i), gpr[i.r1]) }
    @inline(__always) func sth(_ i: RX) throws(CPUException) { try store16(operand2Address(i), UInt16(truncatingIfNeeded: gpr[i.r1])) }
    @inline(__always) func sthy(_ i: RXY) throws(CPUException) { try store16(operand2Address(i), UInt16(truncatingIfNeeded: gpr[i.r1])) }
    @inline(__always) func stc(_ i: RX) throws(CPUException) { try store8(operand2Address(i), UInt8(truncatingIfNeeded: gpr[i.r1])) }
    @inline(__always) func stcy(_ i: RXY) throws(CPUException) { try store8(operand2Address(i), UInt8(truncatingIfNeeded: gpr[i.r1])) }

    @inline(__always) func mvi(_ i: SI) throws(CPUException) { try store8(operand1Address(i), i.i2) }
    @inline(__always) func mviy(_ i: SIY) throws(CPUException) { try store8(operand1Address(i), i.i2) }
    @inline(__always) func mvhhi(_ i: SIL) throws(CPUException) { try store16(operand1Address(i), UInt16(truncatingIfNeeded: i.u2)) }
    @inline(__always) func mvhi(_ i: SIL) throws(CPUException) { try store32(operand1Address(i), UInt32(truncatingIfNeeded: i.i2)) }
    @inline(__always) func mvghi(_ i: SIL) throws(CPUException) { try store64(operand1Address(i), UInt64(bitPattern: i.i2)) }

    // MARK: Load / store multiple

    private enum MultiplePart { case word, high, doubleword }

    /// Registers R1 through R3 (wrapping from 15 to 0), from consecutive words or doublewords;
    /// the whole operand is checked first so a failing access changes no register.
    @inline(__always) private func loadMultiple(_ r1: Int, _ r3: Int, _ address: UInt64, _ part: MultiplePart) throws(CPUException) {
        let count = ((r3 &- r1) & 15) &+ 1
        let size: UInt64 = part == .doubleword ? 8 : 4
        try checkAccess(address, length: UInt64(count) &* size, .fetch)
        var r = r1, a = address
        for _ in 0..<count {
            switch part {
            case .word: setGPRLow32(r, try load32(a))
            case .high: setGPRHigh32(r, try load32(a))
            case .doubleword: gpr[r] = try load64(a)
            }
            r = (r &+ 1) & 15
            a = (a &+ size) & addressMask
        }
    }
    @inline(__always) private func storeMultiple(_ r1: Int, _ r3: Int, _ address: UInt64, _ part: MultiplePart) throws(CPUException) {
        let count = ((r3 &- r1) & 15) &+ 1
        let size: UInt64 = part == .doubleword ? 8 : 4
        try checkAccess(address, length: UInt64(count) &* size, .store)
        var r = r1, a = address
        for _ in 0..<count {
            switch part {
            case .word: try store32(a, gprLow32(r))
            case .high: try store32(a, UInt32(truncatingIfNeeded: gpr[r] >> 32))
            case .doubleword: try store64(a, gpr[r])
            }
            r = (r &+ 1) & 15
            a = (a &+ size) & addressMask
        }
    }
    @inline(__always) func lm(_ i: RS) throws(CPUException) { try loadMultiple(i.r1, i.r3, operand2Address(i), .word) }
    @inline(__always) func lmy(_ i: RSY) throws(CPUException) { try loadMultiple(i.r1, i.r3, operand2Address(i), .word) }
    @inline(__always) func lmg(_ i: RSY) throws(CPUException) { try loadMultiple(i.r1, i.r3, operand2Address(i), .doubleword) }
    @inline(__always) func lmh(_ i: RSY) throws(CPUException) { try loadMultiple(i.r1, i.r3, operand2Address(i), .high) }
    @inline(__always) func stm(_ i: RS) throws(CPUException) { try storeMultiple(i.r1, i.r3, operand2Address(i), .word) }
    @inline(__always) func stmy(_ i: RSY) throws(CPUException) { try storeMultiple(i.r1, i.r3, operand2Address(i), .word) }
    @inline(__always) func stmg(_ i: RSY) throws(CPUException) { try storeMultiple(i.r1, i.r3, operand2Address(i), .doubleword) }
    @inline(__always) func stmh(_ i: RSY) throws(CPUException) { try storeMultiple(i.r1, i.r3, operand2Address(i), .high) }

    // MARK: Relative long

    /// The relative-long operand address; word and doubleword operands must be naturally
    /// aligned (specification exception), halfwords always are.
    @inline(__always) func lrl(_ i: RIL) throws(CPUException) { setGPRLow32(i.r1, try load32(alignedRelativeAddress(i.i2, size: 4))) }
    @inline(__always) func lgrl(_ i: RIL) throws(CPUException) { gpr[i.r1] = try load64(alignedRelativeAddress(i.i2, size: 8)) }
    @inline(__always) func lgfrl(_ i: RIL) throws(CPUException) { gpr[i.r1] = signExtended32(try load32(alignedRelativeAddress(i.i2, size: 4))) }
    @inline(__always) func llgfrl(_ i: RIL) throws(CPUException) { gpr[i.r1] = UInt64(try load32(alignedRelativeAddress(i.i2, size: 4))) }
    @inline(__always) func lhrl(_ i: RIL) throws(CPUException) { setGPRLow32(i.r1, UInt32(truncatingIfNeeded: signExtended16(try load16(relativeAddress(i.i2))))) }
    @inline(__always) func lghrl(_ i: RIL) throws(CPUException) { gpr[i.r1] = signExtended16(try load16(relativeAddress(i.i2))) }
    @inline(__always) func llhrl(_ i: RIL) throws(CPUException) { setGPRLow32(i.r1, UInt32(try load16(relativeAddress(i.i2)))) }
    @inline(__always) func llghrl(_ i: RIL) throws(CPUException) { gpr[i.r1] = UInt64(try load16(relativeAddress(i.i2))) }
    @inline(__always) func strl(_ i: RIL) throws(CPUException) { try store32(alignedRelativeAddress(i.i2, size: 4), gprLow32(i.r1)) }
    @inline(__always) func stgrl(_ i: RIL) throws(CPUException) { try store64(alignedRelativeAddress(i.i2, size: 8), gpr[i.r1]) }
    @inline(__always) func sthrl(_ i: RIL) throws(CPUException) { try store16(relativeAddress(i.i2), UInt16(truncatingIfNeeded: gpr[i.r1])) }

    // MARK: Load / store on condition (no storage access when the condition is not met)

    @inline(__always) func locr(_ i: RRF) throws(CPUException) { if conditionSelected(i.m3) { setGPRLow32(i.r1, gprLow32(i.r2)) } }
    @inline(__always) func locgr(_ i: RRF) throws(CPUException) { if conditionSelected(i.m3) { gpr[i.r1] = gpr[i.r2] } }
    @inline(__always) func loc(_ i: RSY) throws(CPUException) { if conditionSelected(i.m3) { setGPRLow32(i.r1, try load32(operand2Address(i))) } }
    @inline(__always) func locg(_ i: RSY) throws(CPUException) { if conditionSelected(i.m3) { gpr[i.r1] = try load64(operand2Address(i)) } }
    @inline(__always) func stoc(_ i: RSY) throws(CPUException) { if conditionSelected(i.m3) { try store32(operand2Address(i), gprLow32(i.r1)) } }
    @inline(__always) func stocg(_ i: RSY) throws(CPUException) { if conditionSelected(i.m3) { try store64(operand2Address(i), gpr[i.r1]) } }

    // MARK: Quadword pairs: even R1, 16-byte-aligned operand (one page, so all or nothing)

    @inline(__always) private func quadwordAddress(_ i: RXY) throws(CPUException) -> UInt64 {
        let address = operand2Address(i)
        if _slowPath(i.r1 & 1 != 0 || address & 15 != 0) { throw .program(.specification) }
        return address
    }
    @inline(__always) func lpq(_ i: RXY) throws(CPUException) {
        let address = try quadwordAddress(i)
        let high = try load64(address), low = try load64(address &+ 8)
        gpr[i.r1] = high
        gpr[i.r1 &+ 1] = low
    }
    @inline(__always) func stpq(_ i: RXY) throws(CPUException) {
        let address = try quadwordAddress(i)
        try store64(address, gpr[i.r1])
        try store64(address &+ 8, gpr[i.r1 &+ 1])
    }

    // MARK: Byte-reversed

    @inline(__always) func lrvr(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, gprLow32(i.r2).byteSwapped) }
    @inline(__always) func lrvgr(_ i: RRE) throws(CPUException) { gpr[i.r1] = gpr[i.r2].byteSwapped }
    @inline(__always) func lrv(_ i: RXY) throws(CPUException) { setGPRLow32(i.r1, try load32(operand2Address(i)).byteSwapped) }
    @inline(__always) func lrvg(_ i: RXY) throws(CPUException) { gpr[i.r1] = try load64(operand2Address(i)).byteSwapped }
    @inline(__always) func lrvh(_ i: RXY) throws(CPUException) { insertImmediate(i.r1, UInt64(try load16(operand2Address(i)).byteSwapped), shift: 0, width: 16) }
    @inline(__always) func strv(_ i: RXY) throws(CPUException) { try store32(operand2Address(i), gprLow32(i.r1).byteSwapped) }
    @inline(__always) func strvg(_ i: RXY) throws(CPUException) { try store64(operand2Address(i), gpr[i.r1].byteSwapped) }
    @inline(__always) func strvh(_ i: RXY) throws(CPUException) { try store16(operand2Address(i), UInt16(truncatingIfNeeded: gpr[i.r1]).byteSwapped) }

    // MARK: Access registers

    @inline(__always) func ear(_ i: RRE) throws(CPUException) { setGPRLow32(i.r1, ar[i.r2]) }
    @inline(__always) func sar(_ i: RRE) throws(CPUException) { ar[i.r1] = gprLow32(i.r2) }

    /// LAM/STAM: access registers R1 through R3 (wrapping), word-aligned operand (all or nothing).
    @inline(__always) private func transferAccessRegisters(_ r1: Int, _ r3: Int, _ address: UInt64, store: Bool) throws(CPUException) {
        if _slowPath(address & 3 != 0) { throw .program(.specification) }
        let count = ((r3 &- r1) & 15) &+ 1
        try checkAccess(address, length: UInt64(count) &* 4, store ? .store : .fetch)
        var r = r1, a = address
        for _ in 0..<count {
            if store { try store32(a, ar[r]) } else { ar[r] = try load32(a) }
            r = (r &+ 1) & 15
            a = (a &+ 4) & addressMask
        }
    }
    @inline(__always) func lam(_ i: RS) throws(CPUException) { try transferAccessRegisters(i.r1, i.r3, operand2Address(i), store: false) }
    @inline(__always) func lamy(_ i: RSY) throws(CPUException) { try transferAccessRegisters(i.r1, i.r3, operand2Address(i), store: false) }
    @inline(__always) func stam(_ i: RS) throws(CPUException) { try transferAccessRegisters(i.r1, i.r3, operand2Address(i), store: true) }
    @inline(__always) func stamy(_ i: RSY) throws(CPUException) { try transferAccessRegisters(i.r1, i.r3, operand2Address(i), store: true) }
}
