// Branches, EXECUTE and addressing-mode instructions (PoP chapter 7).

extension CPU {
    /// True when condition-code mask `m` (bit 8 = CC 0 ... bit 1 = CC 3) selects the current CC.
    @inline(__always) func conditionSelected(_ m: UInt8) -> Bool { (m >> (3 - cc)) & 1 != 0 }

    @inline(__always) func branch(to target: UInt64) {
        breakingEventAddress = currentInstructionAddress
        pswAddress = target & addressMask
    }

    /// The link information BAS/BRAS/BASR store: the updated PSW address, with the 24/31-bit
    /// mode conventions (bit 32 set in 31-bit mode; ILC, CC and program mask in 24-bit mode).
    @inline(__always) func linkAddress(into r: Int) {
        switch addressMask {
        case .max: gpr[r] = pswAddress
        case 0x7FFF_FFFF: gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | 0x8000_0000 | pswAddress
        default:
            let ilc = UInt64((pswAddress &- currentInstructionAddress) & 0xFFFF / 2)
            gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | ilc << 30 | UInt64(cc) << 28 | UInt64(programMask) << 24 | pswAddress
        }
    }

    @inline(__always) func bcr(_ i: RR) throws(CPUException) {
        // BCR 15,0 / 14,0 are serialization points only.
        if i.r2 != 0 && conditionSelected(UInt8(i.r1)) { branch(to: gpr[i.r2]) }
    }
    @inline(__always) func bc(_ i: RX) throws(CPUException) {
        if conditionSelected(UInt8(i.r1)) { branch(to: effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)) }
    }
    @inline(__always) func brc(_ i: RI) throws(CPUException) { if conditionSelected(UInt8(i.r1)) { branch(to: relativeAddress(i.i2)) } }
    @inline(__always) func brcl(_ i: RIL) throws(CPUException) { if conditionSelected(UInt8(i.r1)) { branch(to: relativeAddress(i.i2)) } }

    @inline(__always) func basr(_ i: RR) throws(CPUException) {
        let target = gpr[i.r2]
        linkAddress(into: i.r1)
        if i.r2 != 0 { branch(to: target) }
    }
    @inline(__always) func bas(_ i: RX) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)
        linkAddress(into: i.r1)
        branch(to: target)
    }
    @inline(__always) func balr(_ i: RR) throws(CPUException) { try basr(i) }
    @inline(__always) func bal(_ i: RX) throws(CPUException) { try bas(i) }
    @inline(__always) func bras(_ i: RI) throws(CPUException) { linkAddress(into: i.r1); branch(to: relativeAddress(i.i2)) }
    @inline(__always) func brasl(_ i: RIL) throws(CPUException) { linkAddress(into: i.r1); branch(to: relativeAddress(i.i2)) }

    /// BRANCH AND SAVE AND SET MODE / BRANCH AND SET MODE: the target register's low bit
    /// selects 64-bit mode, else bit 32 selects 31- versus 24-bit.
    private func setAddressingMode(from target: UInt64) -> UInt64 {
        var mask = pswMask & ~(PSW.extendedAddressing | PSW.basicAddressing)
        if target & 1 != 0 {
            mask |= PSW.extendedAddressing | PSW.basicAddressing
        } else if target & 0x8000_0000 != 0 {
            mask |= PSW.basicAddressing
        }
        let address = target & 1 != 0 ? target & ~1 : target & (target & 0x8000_0000 != 0 ? 0x7FFF_FFFF : 0xFF_FFFF)
        loadPSW(PSW(mask: mask | UInt64(cc) << 44, address: pswAddress))
        return address
    }
    private func modeLink(into r: Int) {
        switch addressMask {
        case .max: gpr[r] = pswAddress | 1
        case 0x7FFF_FFFF: gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | 0x8000_0000 | pswAddress
        default: gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | pswAddress
        }
    }
    @inline(__always) func bsm(_ i: RR) throws(CPUException) {
        let target = gpr[i.r2]
        if i.r1 != 0 { modeLink(into: i.r1) }   // BSM saves only the mode, in the link position
        if i.r2 != 0 { branch(to: setAddressingMode(from: target)) }
    }
    @inline(__always) func bassm(_ i: RR) throws(CPUException) {
        let target = gpr[i.r2]
        modeLink(into: i.r1)
        if i.r2 != 0 { branch(to: setAddressingMode(from: target)) }
    }

    // MARK: Branch on count / index

    @inline(__always) func bctr(_ i: RR) throws(CPUException) {
        let target = gpr[i.r2]
        let count = UInt32(truncatingIfNeeded: gpr[i.r1]) &- 1
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(count)
        if count != 0 && i.r2 != 0 { branch(to: target) }
    }
    @inline(__always) func bct(_ i: RX) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)
        let count = UInt32(truncatingIfNeeded: gpr[i.r1]) &- 1
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(count)
        if count != 0 { branch(to: target) }
    }
    @inline(__always) func bctgr(_ i: RRE) throws(CPUException) {
        let target = gpr[i.r2]
        gpr[i.r1] &-= 1
        if gpr[i.r1] != 0 && i.r2 != 0 { branch(to: target) }
    }
    @inline(__always) func bctg(_ i: RXY) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)
        gpr[i.r1] &-= 1
        if gpr[i.r1] != 0 { branch(to: target) }
    }
    @inline(__always) func brct(_ i: RI) throws(CPUException) {
        let count = UInt32(truncatingIfNeeded: gpr[i.r1]) &- 1
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(count)
        if count != 0 { branch(to: relativeAddress(i.i2)) }
    }
    @inline(__always) func brctg(_ i: RI) throws(CPUException) {
        gpr[i.r1] &-= 1
        if gpr[i.r1] != 0 { branch(to: relativeAddress(i.i2)) }
    }

    /// BRANCH ON INDEX HIGH / LOW OR EQUAL: R1 += R3; compare with the odd register of the R3 pair.
    @inline(__always) private func branchOnIndex32(r1: Int, r3: Int, high: Bool) -> Bool {
        let increment = Int32(truncatingIfNeeded: gpr[r3])
        let compare = Int32(truncatingIfNeeded: gpr[r3 | 1])
        let sum = Int32(truncatingIfNeeded: gpr[r1]) &+ increment
        gpr[r1] = (gpr[r1] & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(bitPattern: sum))
        return high ? sum > compare : sum <= compare
    }
    @inline(__always) private func branchOnIndex64(r1: Int, r3: Int, high: Bool) -> Bool {
        let increment = Int64(bitPattern: gpr[r3]), compare = Int64(bitPattern: gpr[r3 | 1])
        let sum = Int64(bitPattern: gpr[r1]) &+ increment
        gpr[r1] = UInt64(bitPattern: sum)
        return high ? sum > compare : sum <= compare
    }
    @inline(__always) func bxh(_ i: RS) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, displacement: i.d2)
        if branchOnIndex32(r1: i.r1, r3: i.r3, high: true) { branch(to: target) }
    }
    @inline(__always) func bxle(_ i: RS) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, displacement: i.d2)
        if branchOnIndex32(r1: i.r1, r3: i.r3, high: false) { branch(to: target) }
    }
    @inline(__always) func bxhg(_ i: RSY) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, displacement: i.d2)
        if branchOnIndex64(r1: i.r1, r3: i.r3, high: true) { branch(to: target) }
    }
    @inline(__always) func bxleg(_ i: RSY) throws(CPUException) {
        let target = effectiveAddress(base: i.b2, displacement: i.d2)
        if branchOnIndex64(r1: i.r1, r3: i.r3, high: false) { branch(to: target) }
    }
    @inline(__always) func brxh(_ i: RSI) throws(CPUException) { if branchOnIndex32(r1: i.r1, r3: i.r3, high: true) { branch(to: relativeAddress(i.i2)) } }
    @inline(__always) func brxle(_ i: RSI) throws(CPUException) { if branchOnIndex32(r1: i.r1, r3: i.r3, high: false) { branch(to: relativeAddress(i.i2)) } }
    @inline(__always) func brxhg(_ i: RIEe) throws(CPUException) { if branchOnIndex64(r1: i.r1, r3: i.r3, high: true) { branch(to: relativeAddress(i.i2)) } }
    @inline(__always) func brxlg(_ i: RIEe) throws(CPUException) { if branchOnIndex64(r1: i.r1, r3: i.r3, high: false) { branch(to: relativeAddress(i.i2)) } }

    // MARK: EXECUTE

    /// Runs the target instruction with bits 8-15 ORed with R1's low byte. The target's
    /// relative operands count from the target; its link addresses and the PSW continue after
    /// the EXECUTE; exceptions report the EXECUTE's address and length (the loop handles that).
    private func execute(targetAddress: UInt64, r1: Int) throws(CPUException) {
        if targetAddress & 1 != 0 { throw .program(.specification) }
        if executing { throw .program(.execute) }
        var raw: UInt64 = 0
        let first = try load8(targetAddress)
        let length = UInt64(InstructionSet.length(firstByte: first))
        for index in 0..<length {
            raw |= UInt64(try load8((targetAddress &+ index) & addressMask)) << (56 - 8 * index)
        }
        if r1 != 0 { raw |= (gpr[r1] & 0xFF) << 48 }
        let id = model.decodeTables.lookup(raw)
        if id == .EX || id == .EXRL { throw .program(.execute) }
        let savedAddress = currentInstructionAddress
        executing = true
        currentInstructionAddress = targetAddress
        defer { executing = false; currentInstructionAddress = savedAddress }
        try dispatch(id, raw)
    }
    @inline(__always) func ex(_ i: RX) throws(CPUException) { try execute(targetAddress: operand2Address(i), r1: i.r1) }
    @inline(__always) func exrl(_ i: RIL) throws(CPUException) { try execute(targetAddress: relativeAddress(i.i2), r1: i.r1) }

    // MARK: Addressing mode

    private func setAddressingMode(ea: Bool, ba: Bool) throws(CPUException) {
        // Switching to a narrower mode with the updated address out of range is a specification exception.
        if !ea && pswAddress >> (ba ? 31 : 24) != 0 { throw .program(.specification) }
        var mask = pswMask & ~(PSW.extendedAddressing | PSW.basicAddressing)
        if ea { mask |= PSW.extendedAddressing }
        if ba { mask |= PSW.basicAddressing }
        loadPSW(PSW(mask: mask | UInt64(cc) << 44, address: pswAddress))
    }
    @inline(__always) func sam24(_ i: E) throws(CPUException) { try setAddressingMode(ea: false, ba: false) }
    @inline(__always) func sam31(_ i: E) throws(CPUException) { try setAddressingMode(ea: false, ba: true) }
    @inline(__always) func sam64(_ i: E) throws(CPUException) { try setAddressingMode(ea: true, ba: true) }
    @inline(__always) func tam(_ i: E) throws(CPUException) {
        switch addressMask {
        case .max: cc = 3
        case 0x7FFF_FFFF: cc = 1
        default: cc = 0
        }
    }
}
