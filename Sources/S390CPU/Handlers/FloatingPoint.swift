// Floating-point register moves, loads and stores, the FPC, and a little BFP (PoP chapters 9
// and 19). FPRs are 64 bits; the short format is the left 32 bits (the right half is kept).
//
// AFP-register control (CR0 bit 45): when off, only FPRs 0, 2, 4, 6 exist (others: data
// exception DXC 1) and BFP and FPC instructions are unavailable (DXC 2).
//
// BFP arithmetic uses host IEEE doubles, which round to nearest-even: the FPC rounding mode is
// honoured only by the conversions to fixed point. IEEE invalid-operation and division-by-zero
// are reported (flag, or a trap with DXC 0x80/0x40 when the FPC mask enables it); overflow,
// underflow and inexact are not.

extension CPU {
    private static let afpControl: UInt64 = 0x40000   // CR0 bit 45
    /// FPC bits that must be zero, as QEMU's SFPC check (bits 6-7, 14-15, 24, 28).
    private static let fpcReservedBits: UInt32 = 0x0303_0088
    private static let fpcInvalidMask: UInt32 = 0x8000_0000, fpcInvalidFlag: UInt32 = 0x0080_0000
    private static let fpcDivideMask: UInt32 = 0x4000_0000, fpcDivideFlag: UInt32 = 0x0040_0000
    private static let fpcInexactFlag: UInt32 = 0x0008_0000

    @inline(__always) private func dataException(_ dxc: UInt8) -> CPUException {
        exceptionDXC = dxc
        return .program(.data)
    }

    /// DXC 1 when `r` is an additional FP register and the AFP-register control is off.
    @inline(__always) private func requireFPR(_ r: Int) throws(CPUException) {
        if _slowPath(r & 9 != 0 && cr[0] & CPU.afpControl == 0) { throw dataException(1) }
    }
    /// DXC 2 for any BFP or FPC instruction when the AFP-register control is off.
    @inline(__always) private func requireBFP() throws(CPUException) {
        if _slowPath(cr[0] & CPU.afpControl == 0) { throw dataException(2) }
    }

    // MARK: Loads, stores, register moves

    @inline(__always) private func loadLong(_ r1: Int, _ address: UInt64) throws(CPUException) {
        try requireFPR(r1)
        fpr[r1] = try load64(address)
    }
    @inline(__always) private func loadShort(_ r1: Int, _ address: UInt64) throws(CPUException) {
        try requireFPR(r1)
        fpr[r1] = UInt64(try load32(address)) << 32 | fpr[r1] & 0xFFFF_FFFF
    }
    @inline(__always) private func storeLong(_ r1: Int, _ address: UInt64) throws(CPUException) {
        try requireFPR(r1)
        try store64(address, fpr[r1])
    }
    @inline(__always) private func storeShort(_ r1: Int, _ address: UInt64) throws(CPUException) {
        try requireFPR(r1)
        try store32(address, UInt32(truncatingIfNeeded: fpr[r1] >> 32))
    }
    @inline(__always) func ld(_ i: RX) throws(CPUException) { try loadLong(i.r1, operand2Address(i)) }
    @inline(__always) func ldy(_ i: RXY) throws(CPUException) { try loadLong(i.r1, operand2Address(i)) }
    @inline(__always) func le(_ i: RX) throws(CPUException) { try loadShort(i.r1, operand2Address(i)) }
    @inline(__always) func ley(_ i: RXY) throws(CPUException) { try loadShort(i.r1, operand2Address(i)) }
    @inline(__always) func std(_ i: RX) throws(CPUException) { try storeLong(i.r1, operand2Address(i)) }
    @inline(__always) func stdy(_ i: RXY) throws(CPUException) { try storeLong(i.r1, operand2Address(i)) }
    @inline(__always) func ste(_ i: RX) throws(CPUException) { try storeShort(i.r1, operand2Address(i)) }
    @inline(__always) func stey(_ i: RXY) throws(CPUException) { try storeShort(i.r1, operand2Address(i)) }

    @inline(__always) func ldr(_ i: RR) throws(CPUException) {
        try requireFPR(i.r1); try requireFPR(i.r2)
        fpr[i.r1] = fpr[i.r2]
    }
    @inline(__always) func ler(_ i: RR) throws(CPUException) {
        try requireFPR(i.r1); try requireFPR(i.r2)
        fpr[i.r1] = fpr[i.r2] & 0xFFFF_FFFF_0000_0000 | fpr[i.r1] & 0xFFFF_FFFF
    }
    @inline(__always) func lzdr(_ i: RRE) throws(CPUException) { try requireFPR(i.r1); fpr[i.r1] = 0 }
    @inline(__always) func lzer(_ i: RRE) throws(CPUException) { try requireFPR(i.r1); fpr[i.r1] &= 0xFFFF_FFFF }
    @inline(__always) func ldgr(_ i: RRE) throws(CPUException) { try requireFPR(i.r1); fpr[i.r1] = gpr[i.r2] }
    @inline(__always) func lgdr(_ i: RRE) throws(CPUException) { try requireFPR(i.r2); gpr[i.r1] = fpr[i.r2] }

    // MARK: Floating-point-control register

    /// Installs a new FPC value, refusing reserved bits and rounding modes 4-6 (specification).
    @inline(__always) private func setFPC(_ value: UInt32) throws(CPUException) {
        if _slowPath(value & CPU.fpcReservedBits != 0 || (4...6).contains(value & 7)) { throw .program(.specification) }
        fpc = value
    }
    @inline(__always) func lfpc(_ i: S) throws(CPUException) {
        try requireBFP()
        try setFPC(try load32(effectiveAddress(base: i.b2, displacement: i.d2)))
    }
    @inline(__always) func stfpc(_ i: S) throws(CPUException) {
        try requireBFP()
        try store32(effectiveAddress(base: i.b2, displacement: i.d2), fpc)
    }
    @inline(__always) func sfpc(_ i: RRE) throws(CPUException) {
        try requireBFP()
        try setFPC(UInt32(truncatingIfNeeded: gpr[i.r1]))
    }
    @inline(__always) func efpc(_ i: RRE) throws(CPUException) {
        try requireBFP()
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(fpc)
    }

    // MARK: BFP long

    @inline(__always) private func isSignaling(_ v: Double) -> Bool { v.isSignalingNaN }

    /// An IEEE exception: a trap (suppressing, DXC) when its FPC mask bit is on, else the flag.
    @inline(__always) private func ieeeException(mask: UInt32, flag: UInt32, dxc: UInt8) throws(CPUException) {
        if fpc & mask != 0 { throw dataException(dxc) }
        fpc |= flag
    }
    @inline(__always) private func invalidOperation() throws(CPUException) {
        try ieeeException(mask: CPU.fpcInvalidMask, flag: CPU.fpcInvalidFlag, dxc: 0x80)
    }

    /// CC for a BFP result: 0 zero, 1 negative, 2 positive, 3 NaN.
    @inline(__always) private func bfpResultCC(_ v: Double) -> UInt8 {
        v.isNaN ? 3 : v == 0 ? 0 : v < 0 ? 1 : 2
    }

    /// COMPARE (long BFP): CC 0 equal, 1 low, 2 high, 3 unordered; SNaNs are invalid operations.
    @inline(__always) private func compareBFPLong(_ r1: Int, _ bits: UInt64) throws(CPUException) {
        let a = Double(bitPattern: fpr[r1]), b = Double(bitPattern: bits)
        if isSignaling(a) || isSignaling(b) { try invalidOperation() }
        cc = a.isNaN || b.isNaN ? 3 : a == b ? 0 : a < b ? 1 : 2
    }

    private enum BFPOperation { case add, subtract, multiply, divide }

    /// One long-BFP arithmetic operation into R1. Add and subtract set the result CC.
    @inline(__always) private func arithmeticLong(_ r1: Int, _ bits: UInt64, _ op: BFPOperation) throws(CPUException) {
        let a = Double(bitPattern: fpr[r1]), b = Double(bitPattern: bits)
        if isSignaling(a) || isSignaling(b) {
            try invalidOperation()
        }
        let result: Double
        switch op {
        case .add: result = a + b
        case .subtract: result = a - b
        case .multiply: result = a * b
        case .divide:
            if b == 0 && !a.isNaN && a != 0 {
                try ieeeException(mask: CPU.fpcDivideMask, flag: CPU.fpcDivideFlag, dxc: 0x40)
            }
            result = a / b
        }
        // A NaN from non-NaN operands (inf - inf, 0 * inf, 0 / 0, inf / inf) is invalid.
        if result.isNaN && !a.isNaN && !b.isNaN { try invalidOperation() }
        fpr[r1] = result.bitPattern
        if op == .add || op == .subtract { cc = bfpResultCC(result) }
    }

    @inline(__always) func cdbr(_ i: RRE) throws(CPUException) { try requireBFP(); try compareBFPLong(i.r1, fpr[i.r2]) }
    @inline(__always) func cdb(_ i: RXE) throws(CPUException) {
        try requireBFP()
        try compareBFPLong(i.r1, try load64(effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)))
    }
    @inline(__always) func ddb(_ i: RXE) throws(CPUException) {
        try requireBFP()
        try arithmeticLong(i.r1, try load64(effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2)), .divide)
    }
    @inline(__always) func ddbr(_ i: RRE) throws(CPUException) { try requireBFP(); try arithmeticLong(i.r1, fpr[i.r2], .divide) }
    @inline(__always) func adbr(_ i: RRE) throws(CPUException) { try requireBFP(); try arithmeticLong(i.r1, fpr[i.r2], .add) }
    @inline(__always) func sdbr(_ i: RRE) throws(CPUException) { try requireBFP(); try arithmeticLong(i.r1, fpr[i.r2], .subtract) }
    @inline(__always) func mdbr(_ i: RRE) throws(CPUException) { try requireBFP(); try arithmeticLong(i.r1, fpr[i.r2], .multiply) }

    /// LOAD AND TEST: an SNaN is invalid and loads quieted.
    @inline(__always) func ltdbr(_ i: RRE) throws(CPUException) {
        try requireBFP()
        var bits = fpr[i.r2]
        if isSignaling(Double(bitPattern: bits)) {
            try invalidOperation()
            bits |= 0x0008_0000_0000_0000
        }
        fpr[i.r1] = bits
        cc = bfpResultCC(Double(bitPattern: bits))
    }
    /// LOAD COMPLEMENT: the sign bit inverted, NaNs included, no exceptions.
    @inline(__always) func lcdbr(_ i: RRE) throws(CPUException) {
        try requireBFP()
        let bits = fpr[i.r2] ^ 0x8000_0000_0000_0000
        fpr[i.r1] = bits
        cc = bfpResultCC(Double(bitPattern: bits))
    }

    /// CONVERT FROM FIXED: 32-bit is exact; 64-bit rounds (to nearest, the host's mode).
    @inline(__always) func cdfbr(_ i: RRE) throws(CPUException) {
        try requireBFP()
        fpr[i.r1] = Double(Int32(truncatingIfNeeded: gpr[i.r2])).bitPattern
    }
    @inline(__always) func cdgbr(_ i: RRE) throws(CPUException) {
        try requireBFP()
        fpr[i.r1] = Double(Int64(bitPattern: gpr[i.r2])).bitPattern
    }

    /// CONVERT TO FIXED with the M3 rounding method (0 = FPC mode, 1 = nearest ties away,
    /// 3 = prepare for shorter precision, 4 = nearest even, 5 = toward 0, 6 = up, 7 = down;
    /// 2 is a specification exception). CC from the source: 0 zero, 1 negative, 2 positive,
    /// 3 NaN or out of range (invalid operation: the maximum negative number, or a trap).
    @inline(__always) private func convertToFixed(_ i: RRF, bits: Int) throws(CPUException) {
        try requireBFP()
        let m3 = i.m3
        if _slowPath(m3 == 2 || m3 > 7) { throw .program(.specification) }
        let value = Double(bitPattern: fpr[i.r2])
        var method = m3
        if method == 0 {
            switch fpc & 7 { case 0: method = 4; case 1: method = 5; case 2: method = 6; case 3: method = 7; default: method = 3 }
        }
        let rule: FloatingPointRoundingRule
        switch method {
        case 1: rule = .toNearestOrAwayFromZero
        case 4: rule = .toNearestOrEven
        case 6: rule = .up
        case 7: rule = .down
        default: rule = .towardZero   // 5, and 3 (then forced odd when inexact)
        }
        let rounded = value.rounded(rule)
        let limit = Double(sign: .plus, exponent: bits - 1, significand: 1)   // 2^(bits-1)
        if value.isNaN || rounded >= limit || rounded < -limit {
            try invalidOperation()
            let minimum: UInt64 = 1 << UInt64(bits - 1)
            gpr[i.r1] = bits == 64 ? minimum : (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | minimum
            cc = 3
            return
        }
        var result = Int64(rounded)
        if rounded != value {
            if method == 3 && result & 1 == 0 { result += value < 0 ? -1 : 1 }   // odd magnitude
            fpc |= CPU.fpcInexactFlag
        }
        gpr[i.r1] = bits == 64 ? UInt64(bitPattern: result)
                               : (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(truncatingIfNeeded: result))
        cc = value == 0 ? 0 : value < 0 ? 1 : 2
    }
    @inline(__always) func cfdbr(_ i: RRF) throws(CPUException) { try convertToFixed(i, bits: 32) }
    @inline(__always) func cgdbr(_ i: RRF) throws(CPUException) { try convertToFixed(i, bits: 64) }
}
