// Problem-state PSW access, SUPERVISOR CALL, prefetch, clock stores and STFLE (PoP chapters 7
// and 10). EX/EXRL and the addressing-mode instructions live in Branch.swift.

extension CPU {
    /// INSERT PROGRAM MASK: CC and program mask into bits 34-39 of R1, bits 32-33 zeroed.
    @inline(__always) func ipm(_ i: RRE) throws(CPUException) {
        gpr[i.r1] = (gpr[i.r1] & ~0xFF00_0000) | UInt64(cc) << 28 | UInt64(programMask) << 24
    }

    /// SET PROGRAM MASK: bits 34-35 of R1 become the CC, bits 36-39 the program mask.
    @inline(__always) func spm(_ i: RR) throws(CPUException) {
        let value = gpr[i.r1]
        pswMask = (pswMask & ~PSW.programMask) | ((value >> 24) & 0xF) << 40
        cc = UInt8(truncatingIfNeeded: (value >> 28) & 3)
    }

    /// EXTRACT PSW: PSW bits 0-31 into bits 32-63 of R1, bits 32-63 into R2 (unless R2 is 0).
    @inline(__always) func epsw(_ i: RRE) throws(CPUException) {
        let mask = pswMask | UInt64(cc) << 44
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | mask >> 32
        if i.r2 != 0 { gpr[i.r2] = (gpr[i.r2] & 0xFFFF_FFFF_0000_0000) | (mask & 0xFFFF_FFFF) }
    }

    /// SUPERVISOR CALL. The ILC is that of the SVC (2) or, when executed, of the EXECUTE:
    /// the PSW already points past the EXECUTE, so the EX opcode 0x44 four bytes back tells EX
    /// (4) from EXRL (6). (An EXRL whose offset's high byte is 0x44 would need a 2 GiB reach.)
    @inline(__always) func svc(_ i: I) throws(CPUException) {
        var ilc = 2
        if executing {
            let opcode = try? load8((pswAddress &- 4) & addressMask)
            ilc = opcode == 0x44 ? 4 : 6
        }
        try deliverSupervisorCall(code: i.i, ilc: ilc)
    }

    /// PREFETCH DATA (RELATIVE LONG): no-ops here; the address is formed but never accessed.
    @inline(__always) func pfd(_ i: RXY) throws(CPUException) { _ = operand2Address(i) }
    @inline(__always) func pfdrl(_ i: RIL) throws(CPUException) { _ = relativeAddress(i.i2) }

    // MARK: Clock

    /// STORE CLOCK: a unique TOD value, CC 0 (the clock is in the set state).
    @inline(__always) func stck(_ i: S) throws(CPUException) {
        try store64(effectiveAddress(base: i.b2, displacement: i.d2), clock.readUnique())
        cc = 0
    }

    /// STORE CLOCK FAST: the TOD value without the uniqueness guarantee.
    @inline(__always) func stckf(_ i: S) throws(CPUException) {
        try store64(effectiveAddress(base: i.b2, displacement: i.d2), clock.read())
        cc = 0
    }

    /// STORE CLOCK EXTENDED: byte 0 epoch index (0), bytes 1-8 TOD bits 0-63, bytes 9-13 the
    /// extension (nonzero: 0x01 in byte 13, as QEMU), bytes 14-15 the TOD programmable field.
    @inline(__always) func stcke(_ i: S) throws(CPUException) {
        let address = effectiveAddress(base: i.b2, displacement: i.d2)
        try checkAccess(address, length: 16, .store)
        let tod = clock.readUnique()
        try store64(address, tod >> 8)
        try store64((address &+ 8) & addressMask,
                    tod << 56 | 0x0001_0000 | UInt64(todProgrammableRegister & 0xFFFF))
        cc = 0
    }

    // MARK: Facilities

    /// STORE FACILITY LIST EXTENDED: GR0 bits 56-63 = doublewords provided - 1; stores what
    /// fits, sets them to the number needed - 1, CC 0 if all fit, else 3.
    @inline(__always) func stfle(_ i: S) throws(CPUException) {
        let address = effectiveAddress(base: i.b2, displacement: i.d2)
        if _slowPath(address & 7 != 0) { throw .program(.specification) }
        let provided = Int(gpr[0] & 0xFF) + 1
        let needed = (model.facilities.max() ?? 0) / 64 + 1
        let count = min(provided, needed)
        try checkAccess(address, length: UInt64(count * 8), .store)
        let list = model.facilityList(doublewords: count)
        for index in 0..<count { try store64((address &+ UInt64(index * 8)) & addressMask, list[index]) }
        gpr[0] = (gpr[0] & ~0xFF) | UInt64(needed - 1)
        cc = needed <= provided ? 0 : 3
    }
}
