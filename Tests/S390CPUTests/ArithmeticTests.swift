import Testing
@testable import S390CPU

/// Instruction encoders for the arithmetic tests (formats as in PoP chapter 5).
private enum ArithmeticEncoding {
    static func rr(_ op: UInt8, _ r1: UInt8, _ r2: UInt8) -> [UInt8] { [op, r1 << 4 | r2] }
    static func rre(_ op: UInt16, _ r1: UInt8, _ r2: UInt8) -> [UInt8] { [UInt8(op >> 8), UInt8(op & 0xFF), 0, r1 << 4 | r2] }
    /// RRF-a: R3 in bits 16-19.
    static func rrf(_ op: UInt16, _ r1: UInt8, _ r2: UInt8, _ r3: UInt8) -> [UInt8] { [UInt8(op >> 8), UInt8(op & 0xFF), r3 << 4, r1 << 4 | r2] }
    static func rx(_ op: UInt8, _ r1: UInt8, _ x2: UInt8, _ b2: UInt8, _ d2: UInt16) -> [UInt8] {
        [op, r1 << 4 | x2, b2 << 4 | UInt8(d2 >> 8), UInt8(d2 & 0xFF)]
    }
    static func rxy(_ op: UInt16, _ r1: UInt8, _ x2: UInt8, _ b2: UInt8, _ d2: Int32) -> [UInt8] {
        let d = UInt32(bitPattern: d2)
        return [UInt8(op >> 8), r1 << 4 | x2, b2 << 4 | UInt8((d >> 8) & 0xF), UInt8(d & 0xFF), UInt8((d >> 12) & 0xFF), UInt8(op & 0xFF)]
    }
    /// RI-a with a 12-bit opcode signature such as 0xA7A.
    static func ri(_ op: UInt16, _ r1: UInt8, _ i2: Int16) -> [UInt8] {
        let i = UInt16(bitPattern: i2)
        return [UInt8(op >> 4), r1 << 4 | UInt8(op & 0xF), UInt8(i >> 8), UInt8(i & 0xFF)]
    }
    static func ril(_ op: UInt16, _ r1: UInt8, _ i2: UInt32) -> [UInt8] {
        [UInt8(op >> 4), r1 << 4 | UInt8(op & 0xF), UInt8(i2 >> 24), UInt8((i2 >> 16) & 0xFF), UInt8((i2 >> 8) & 0xFF), UInt8(i2 & 0xFF)]
    }
    static func rieD(_ op: UInt16, _ r1: UInt8, _ r3: UInt8, _ i2: Int16) -> [UInt8] {
        let i = UInt16(bitPattern: i2)
        return [UInt8(op >> 8), r1 << 4 | r3, UInt8(i >> 8), UInt8(i & 0xFF), 0, UInt8(op & 0xFF)]
    }
    static func siy(_ op: UInt16, _ i2: Int8, _ b1: UInt8, _ d1: UInt16) -> [UInt8] {
        [UInt8(op >> 8), UInt8(bitPattern: i2), b1 << 4 | UInt8(d1 >> 8), UInt8(d1 & 0xFF), 0, UInt8(op & 0xFF)]
    }
}
private typealias E = ArithmeticEncoding

private let dataAddress: UInt64 = 0x30000
private let highHalf: UInt64 = 0xA5A5_A5A5_0000_0000

/// Sets the fixed-point-overflow mask (PSW bit 20) in the test machine's PSW.
private func enableFixedPointOverflow(_ m: TestMachine) {
    m.cpu.loadPSW(CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing | 0x0000_0800_0000_0000,
                          address: TestMachine.codeAddress))
}

@Suite struct ArithmeticTests {
    // MARK: Signed add

    @Test func addRegister32ConditionCodesAndHighHalf() {
        let cases: [(UInt32, UInt32, UInt32, UInt8)] = [
            (1, 2, 3, 2), (0xFFFF_FFFF, 1, 0, 0), (1, 0xFFFF_FFFD, 0xFFFF_FFFE, 1),
            (0x7FFF_FFFF, 1, 0x8000_0000, 3), (0x8000_0000, 0x8000_0000, 0, 3),
        ]
        for (a, b, sum, cc) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0000 | UInt64(b)
            m.run(E.rr(0x1A, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(sum))
            #expect(m.cc == cc)
            #expect(!m.interrupted)
        }
    }

    @Test func addOverflowInterruptsWhenMaskedOn() {
        let m = TestMachine()
        enableFixedPointOverflow(m)
        m.cpu.gpr[1] = 0x7FFF_FFFF; m.cpu.gpr[2] = 1
        m.run(E.rr(0x1A, 1, 2))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x08)
        #expect(m.cpu.gpr[1] == 0x8000_0000)           // the result is stored
        #expect((m.programOldPSW.mask >> 44) & 3 == 3)  // with CC 3
        #expect(m.programOldPSW.address == TestMachine.codeAddress + 2)
    }

    @Test func addRegister64() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x7FFF_FFFF_FFFF_FFFF; m.cpu.gpr[2] = 1
        m.run(E.rre(0xB908, 1, 2))
        #expect(m.cpu.gpr[1] == 0x8000_0000_0000_0000)
        #expect(m.cc == 3)

        let n = TestMachine()
        n.cpu.gpr[1] = 0x1_0000_0000; n.cpu.gpr[2] = 0x1234_5678_FFFF_FFFE   // AGFR: R2 bits 32-63 sign-extended (-2)
        n.run(E.rre(0xB918, 1, 2))
        #expect(n.cpu.gpr[1] == 0xFFFF_FFFE)
        #expect(n.cc == 2)
    }

    @Test func addStorageAndImmediateForms() {
        let m = TestMachine()
        m.store32(dataAddress, 0xFFFF_FFF0)   // -16
        m.store64(dataAddress + 8, 0x8000_0000_0000_0000)
        m.load([0xFF, 0xFE], at: dataAddress + 16)   // halfword -2
        m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[1] = highHalf | 16
        m.cpu.gpr[2] = 5
        m.cpu.gpr[3] = 0xFFFF_FFFF_FFFF_FFFF
        m.cpu.gpr[5] = 7
        m.cpu.gpr[6] = 100
        m.run(E.rx(0x5A, 1, 0, 4, 0))                     // A: 16 + -16 = 0
        #expect(m.cpu.gpr[1] == highHalf); #expect(m.cc == 0)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE37A, 2, 0, 4, 16))                // AHY: 5 + -2 = 3
        #expect(m.cpu.gpr[2] == 3); #expect(m.cc == 2)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE308, 3, 0, 4, 8))                 // AG: -1 + min = overflow
        #expect(m.cpu.gpr[3] == 0x7FFF_FFFF_FFFF_FFFF); #expect(m.cc == 3)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE318, 5, 0, 4, 0))                 // AGF: 7 + -16 = -9
        #expect(m.cpu.gpr[5] == UInt64(bitPattern: -9)); #expect(m.cc == 1)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x4A, 6, 0, 4, 16))                   // AH: 100 + -2
        #expect(m.cpu.gpr[6] == 98); #expect(m.cc == 2)

        let n = TestMachine()
        n.cpu.gpr[1] = highHalf | 5
        n.run(E.ri(0xA7A, 1, -6))                        // AHI
        #expect(n.cpu.gpr[1] == highHalf | 0xFFFF_FFFF); #expect(n.cc == 1)
        n.cpu.gpr[2] = 5
        n.cpu.pswAddress = TestMachine.codeAddress
        n.run(E.ri(0xA7B, 2, -6))                        // AGHI
        #expect(n.cpu.gpr[2] == UInt64.max); #expect(n.cc == 1)
        n.cpu.gpr[3] = highHalf | 0x7FFF_0000
        n.cpu.pswAddress = TestMachine.codeAddress
        n.run(E.ril(0xC29, 3, 0x0001_0000))              // AFI: overflow
        #expect(n.cpu.gpr[3] == highHalf | 0x8000_0000); #expect(n.cc == 3)
        n.cpu.gpr[4] = 0x1_0000_0000
        n.cpu.pswAddress = TestMachine.codeAddress
        n.run(E.ril(0xC28, 4, 0xFFFF_FFFF))              // AGFI: -1 sign-extended
        #expect(n.cpu.gpr[4] == 0xFFFF_FFFF); #expect(n.cc == 2)
    }

    @Test func addDistinctOperands() {
        let m = TestMachine()
        m.cpu.gpr[1] = highHalf; m.cpu.gpr[2] = 0x0000_0001_0000_0003; m.cpu.gpr[3] = 4
        m.run(E.rrf(0xB9F8, 1, 2, 3))                    // ARK: R1 = R2 + R3 (32-bit)
        #expect(m.cpu.gpr[1] == highHalf | 7); #expect(m.cc == 2)
        #expect(m.cpu.gpr[2] == 0x0000_0001_0000_0003)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rrf(0xB9E8, 1, 2, 3))                    // AGRK
        #expect(m.cpu.gpr[1] == 0x0000_0001_0000_0007)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rieD(0xECD8, 5, 3, -4))                  // AHIK: 4 + -4
        #expect(m.cpu.gpr[5] == 0); #expect(m.cc == 0)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rieD(0xECD9, 6, 3, -5))                  // AGHIK
        #expect(m.cpu.gpr[6] == UInt64.max); #expect(m.cc == 1)
    }

    @Test func addImmediateToStorage() {
        let m = TestMachine()
        m.cpu.gpr[3] = dataAddress
        m.store32(dataAddress + 8, 1)
        m.run(E.siy(0xEB6A, -1, 3, 8))                   // ASI: 1 + -1
        #expect(m.load32(dataAddress + 8) == 0); #expect(m.cc == 0)
        m.store32(dataAddress + 9, 0x7FFF_FFFF)           // unaligned operand
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.siy(0xEB6A, 1, 3, 9))
        #expect(m.load32(dataAddress + 9) == 0x8000_0000); #expect(m.cc == 3)
        m.store64(dataAddress + 16, 5)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.siy(0xEB7A, -128, 3, 16))                // AGSI
        #expect(m.load64(dataAddress + 16) == UInt64(bitPattern: -123)); #expect(m.cc == 1)

        let n = TestMachine()
        enableFixedPointOverflow(n)
        n.cpu.gpr[3] = dataAddress
        n.store64(dataAddress, 0x8000_0000_0000_0000)
        n.run(E.siy(0xEB7A, -1, 3, 0))                   // AGSI overflow: stored, then interruption
        #expect(n.interrupted); #expect(n.programInterruptionCode == 0x08)
        #expect(n.load64(dataAddress) == 0x7FFF_FFFF_FFFF_FFFF)
    }

    @Test func addLogicalImmediateToStorage() {
        let m = TestMachine()
        m.cpu.gpr[3] = dataAddress
        m.store32(dataAddress, 5)
        m.run(E.siy(0xEB6E, -1, 3, 0))                   // ALSI: 5 + 0xFFFFFFFF = 4, carry
        #expect(m.load32(dataAddress) == 4); #expect(m.cc == 3)
        m.store32(dataAddress, 0xFFFF_FFFF)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.siy(0xEB6E, 1, 3, 0))                    // zero with carry
        #expect(m.load32(dataAddress) == 0); #expect(m.cc == 2)
        m.store64(dataAddress + 8, 0)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.siy(0xEB7E, -2, 3, 8))                   // ALGSI: 0 + (2^64 - 2), no carry
        #expect(m.load64(dataAddress + 8) == 0xFFFF_FFFF_FFFF_FFFE); #expect(m.cc == 1)
    }

    @Test func addToStorageAddressingExceptionChangesNothing() {
        let m = TestMachine()
        m.cpu.gpr[3] = 0x20_0000                          // beyond 1 MiB
        m.cpu.conditionCode = 1
        m.run(E.siy(0xEB6A, 1, 3, 0))
        #expect(m.interrupted); #expect(m.programInterruptionCode == 0x05)
        #expect((m.programOldPSW.mask >> 44) & 3 == 1)
    }

    // MARK: Add logical

    @Test func addLogicalRegister32() {
        let cases: [(UInt32, UInt32, UInt32, UInt8)] = [
            (0, 0, 0, 0), (1, 1, 2, 1), (0xFFFF_FFFF, 1, 0, 2), (0xFFFF_FFFF, 2, 1, 3),
        ]
        for (a, b, sum, cc) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = UInt64(b)
            m.run(E.rr(0x1E, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(sum))
            #expect(m.cc == cc)
        }
    }

    @Test func addLogicalOtherForms() {
        let m = TestMachine()
        m.cpu.gpr[1] = UInt64.max; m.cpu.gpr[2] = 1
        m.run(E.rre(0xB90A, 1, 2))                       // ALGR: carry, zero
        #expect(m.cpu.gpr[1] == 0); #expect(m.cc == 2)
        m.cpu.gpr[1] = 0xFFFF_FFFF; m.cpu.gpr[2] = 0xFFFF_FFFF_FFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB91A, 1, 2))                       // ALGFR: R2 bits 32-63 zero-extended
        #expect(m.cpu.gpr[1] == 0x1_FFFF_FFFE); #expect(m.cc == 1)
        m.store32(dataAddress, 0x8000_0000)
        m.cpu.gpr[4] = dataAddress; m.cpu.gpr[5] = highHalf | 0x8000_0001
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x5E, 5, 0, 4, 0))                    // AL
        #expect(m.cpu.gpr[5] == highHalf | 1); #expect(m.cc == 3)
        m.cpu.gpr[6] = 0xFFFF_FFFF_0000_0001
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE31A, 6, 0, 4, 0))                 // ALGF
        #expect(m.cpu.gpr[6] == 0xFFFF_FFFF_8000_0001); #expect(m.cc == 1)
        m.cpu.gpr[7] = highHalf | 0xFFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC2B, 7, 0xFFFF_FFFF))              // ALFI
        #expect(m.cpu.gpr[7] == highHalf | 0xFFFF_FFFE); #expect(m.cc == 3)
        m.cpu.gpr[8] = 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC2A, 8, 0xFFFF_FFFF))              // ALGFI: zero-extended immediate
        #expect(m.cpu.gpr[8] == 0x1_0000_0000); #expect(m.cc == 1)
        m.cpu.gpr[2] = 7; m.cpu.gpr[3] = highHalf | 5; m.cpu.gpr[1] = highHalf
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rieD(0xECDA, 1, 3, -1))                  // ALHSIK: 5 + 0xFFFFFFFF
        #expect(m.cpu.gpr[1] == highHalf | 4); #expect(m.cc == 3)
        m.cpu.gpr[3] = 5
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rieD(0xECDB, 1, 3, -6))                  // ALGHSIK: 5 + (2^64 - 6), no carry
        #expect(m.cpu.gpr[1] == UInt64.max); #expect(m.cc == 1)
        m.cpu.gpr[2] = 0x8000_0000; m.cpu.gpr[3] = 0x8000_0000; m.cpu.gpr[1] = highHalf | 9
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rrf(0xB9FA, 1, 2, 3))                    // ALRK
        #expect(m.cpu.gpr[1] == highHalf); #expect(m.cc == 2)
    }

    @Test func addLogicalWithCarry() {
        // (first, second, CC in, result, CC out)
        let cases: [(UInt32, UInt32, UInt8, UInt32, UInt8)] = [
            (1, 1, 2, 3, 1), (1, 1, 1, 2, 1), (0xFFFF_FFFF, 0, 3, 0, 2), (0xFFFF_FFFF, 0, 0, 0xFFFF_FFFF, 1), (0, 0, 0, 0, 0),
        ]
        for (a, b, ccIn, sum, ccOut) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = UInt64(b)
            m.cpu.conditionCode = ccIn
            m.run(E.rre(0xB998, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(sum))
            #expect(m.cc == ccOut)
        }
        let m = TestMachine()
        m.cpu.gpr[1] = UInt64.max; m.cpu.gpr[2] = UInt64.max
        m.cpu.conditionCode = 2
        m.run(E.rre(0xB988, 1, 2))                       // ALCGR: 2^64-1 + 2^64-1 + 1
        #expect(m.cpu.gpr[1] == UInt64.max); #expect(m.cc == 3)
        m.store64(dataAddress, 1); m.cpu.gpr[4] = dataAddress; m.cpu.gpr[3] = UInt64.max
        m.cpu.conditionCode = 0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE388, 3, 0, 4, 0))                 // ALCG, no carry in
        #expect(m.cpu.gpr[3] == 0); #expect(m.cc == 2)
        m.store32(dataAddress + 8, 0x10); m.cpu.gpr[5] = highHalf | 0x20
        m.cpu.conditionCode = 3
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE398, 5, 0, 4, 8))                 // ALC, carry in
        #expect(m.cpu.gpr[5] == highHalf | 0x31); #expect(m.cc == 1)
    }

    // MARK: Subtract

    @Test func subtractSigned() {
        let cases: [(UInt32, UInt32, UInt32, UInt8)] = [
            (5, 3, 2, 2), (3, 5, 0xFFFF_FFFE, 1), (7, 7, 0, 0), (0x8000_0000, 1, 0x7FFF_FFFF, 3), (0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, 3),
        ]
        for (a, b, difference, cc) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = UInt64(b)
            m.run(E.rr(0x1B, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(difference))
            #expect(m.cc == cc)
        }
        let m = TestMachine()
        m.cpu.gpr[1] = 0x8000_0000_0000_0000; m.cpu.gpr[2] = 1
        m.run(E.rre(0xB909, 1, 2))                       // SGR overflow
        #expect(m.cpu.gpr[1] == 0x7FFF_FFFF_FFFF_FFFF); #expect(m.cc == 3)
        m.cpu.gpr[1] = 0; m.cpu.gpr[2] = 0x0000_0001_FFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB919, 1, 2))                       // SGFR: 0 - (-1)
        #expect(m.cpu.gpr[1] == 1); #expect(m.cc == 2)
        m.store32(dataAddress, 10); m.load([0x00, 0x03], at: dataAddress + 4)
        m.cpu.gpr[4] = dataAddress; m.cpu.gpr[3] = highHalf | 4
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x5B, 3, 0, 4, 0))                    // S: 4 - 10
        #expect(m.cpu.gpr[3] == highHalf | 0xFFFF_FFFA); #expect(m.cc == 1)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE37B, 3, 0, 4, 4))                 // SHY: -6 - 3
        #expect(m.cpu.gpr[3] == highHalf | 0xFFFF_FFF7); #expect(m.cc == 1)
        m.cpu.gpr[5] = 9; m.cpu.gpr[6] = 9; m.cpu.gpr[7] = highHalf | 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rrf(0xB9F9, 7, 5, 6))                    // SRK: R1 = R2 - R3
        #expect(m.cpu.gpr[7] == highHalf); #expect(m.cc == 0)
    }

    @Test func subtractOverflowInterruption() {
        let m = TestMachine()
        enableFixedPointOverflow(m)
        m.cpu.gpr[1] = 0x8000_0000; m.cpu.gpr[2] = 1
        m.run(E.rr(0x1B, 1, 2))
        #expect(m.interrupted); #expect(m.programInterruptionCode == 0x08)
        #expect(m.cpu.gpr[1] == 0x7FFF_FFFF)
    }

    @Test func subtractLogical() {
        // CC 1 nonzero with borrow, 2 zero without borrow, 3 nonzero without borrow.
        let cases: [(UInt32, UInt32, UInt32, UInt8)] = [(5, 3, 2, 3), (3, 3, 0, 2), (3, 5, 0xFFFF_FFFE, 1), (0, 0, 0, 2)]
        for (a, b, difference, cc) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = UInt64(b)
            m.run(E.rr(0x1F, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(difference))
            #expect(m.cc == cc)
        }
        let m = TestMachine()
        m.cpu.gpr[1] = 0; m.cpu.gpr[2] = 1
        m.run(E.rre(0xB90B, 1, 2))                       // SLGR borrow
        #expect(m.cpu.gpr[1] == UInt64.max); #expect(m.cc == 1)
        m.cpu.gpr[1] = 0x1_0000_0000; m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0001
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB91B, 1, 2))                       // SLGFR: zero-extended 1
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF); #expect(m.cc == 3)
        m.cpu.gpr[3] = highHalf | 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC25, 3, 2))                        // SLFI
        #expect(m.cpu.gpr[3] == highHalf); #expect(m.cc == 2)
        m.cpu.gpr[3] = 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC24, 3, 0xFFFF_FFFF))              // SLGFI
        #expect(m.cpu.gpr[3] == UInt64(bitPattern: 2 - 0x1_0000_0000)); #expect(m.cc == 1)
        m.store64(dataAddress, 0x10); m.cpu.gpr[4] = dataAddress; m.cpu.gpr[5] = 0x30
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE30B, 5, 0, 4, 0))                 // SLG
        #expect(m.cpu.gpr[5] == 0x20); #expect(m.cc == 3)
        m.cpu.gpr[6] = 1; m.cpu.gpr[7] = 2; m.cpu.gpr[8] = highHalf
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rrf(0xB9FB, 8, 6, 7))                    // SLRK: R1 = R2 - R3
        #expect(m.cpu.gpr[8] == highHalf | 0xFFFF_FFFF); #expect(m.cc == 1)
    }

    @Test func subtractLogicalWithBorrow() {
        // (first, second, CC in, result, CC out); CC 0 or 1 in means a borrow.
        let cases: [(UInt32, UInt32, UInt8, UInt32, UInt8)] = [
            (3, 3, 1, 0xFFFF_FFFF, 1), (3, 3, 3, 0, 2), (5, 3, 2, 2, 3), (0, 0xFFFF_FFFF, 0, 0, 0),
        ]
        for (a, b, ccIn, difference, ccOut) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = highHalf | UInt64(a); m.cpu.gpr[2] = UInt64(b)
            m.cpu.conditionCode = ccIn
            m.run(E.rre(0xB999, 1, 2))
            #expect(m.cpu.gpr[1] == highHalf | UInt64(difference))
            #expect(m.cc == ccOut)
        }
        let m = TestMachine()
        m.cpu.gpr[1] = 0; m.cpu.gpr[2] = 0
        m.cpu.conditionCode = 1
        m.run(E.rre(0xB989, 1, 2))                       // SLBGR: 0 - 0 - 1
        #expect(m.cpu.gpr[1] == UInt64.max); #expect(m.cc == 1)
        m.store32(dataAddress, 1); m.store64(dataAddress + 8, 1); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[5] = highHalf | 2
        m.cpu.conditionCode = 0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE399, 5, 0, 4, 0))                 // SLB: 2 - 1 - 1
        #expect(m.cpu.gpr[5] == highHalf); #expect(m.cc == 2)
        m.cpu.gpr[6] = 5
        m.cpu.conditionCode = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE389, 6, 0, 4, 8))                 // SLBG, no borrow in
        #expect(m.cpu.gpr[6] == 4); #expect(m.cc == 3)
    }

    // MARK: Multiply

    @Test func multiplyPairSigned() {
        let m = TestMachine()
        m.cpu.gpr[2] = highHalf | 0x1234; m.cpu.gpr[3] = 0x5555_5555_FFFF_FFFE; m.cpu.gpr[5] = 3
        m.cpu.conditionCode = 1
        m.run(E.rr(0x1C, 2, 5))                          // MR: -2 * 3 = -6 in the pair
        #expect(m.cpu.gpr[2] == highHalf | 0xFFFF_FFFF)
        #expect(m.cpu.gpr[3] == 0x5555_5555_FFFF_FFFA)
        #expect(m.cc == 1)                               // CC unchanged
        m.store32(dataAddress, 0x8000_0000); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[3] = 0x8000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x5C, 2, 0, 4, 0))                    // M: (-2^31)^2 = 2^62
        #expect(m.cpu.gpr[2] == highHalf | 0x4000_0000); #expect(m.cpu.gpr[3] == 0)
        m.cpu.gpr[3] = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE35C, 2, 0, 4, 0))                 // MFY
        #expect(m.cpu.gpr[2] == highHalf | 0xFFFF_FFFF); #expect(m.cpu.gpr[3] == 0)
    }

    @Test func multiplyPairLogical() {
        let m = TestMachine()
        m.cpu.gpr[2] = highHalf; m.cpu.gpr[3] = 0xFFFF_FFFF; m.cpu.gpr[5] = 0xFFFF_FFFF
        m.run(E.rre(0xB996, 2, 5))                       // MLR
        #expect(m.cpu.gpr[2] == highHalf | 0xFFFF_FFFE); #expect(m.cpu.gpr[3] == 1)
        m.cpu.gpr[3] = UInt64.max; m.cpu.gpr[5] = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB986, 2, 5))                       // MLGR
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == 0xFFFF_FFFF_FFFF_FFFE)
        m.store32(dataAddress, 0x10); m.store64(dataAddress + 8, 0x1_0000_0000); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[3] = 0x1_1000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE396, 2, 0, 4, 0))                 // ML: 0x10000000 * 0x10
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == 0x1_0000_0000)
        m.cpu.gpr[3] = 0x1_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE386, 2, 0, 4, 8))                 // MLG: 2^32 * 2^32
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == 0)
    }

    @Test func multiplyPairNeedsEvenRegister() {
        for code in [E.rr(0x1C, 3, 5), E.rre(0xB996, 1, 5), E.rre(0xB986, 7, 2), E.rx(0x5C, 1, 0, 0, 0)] {
            let m = TestMachine()
            m.cpu.gpr[3] = 7; m.cpu.gpr[4] = 9
            m.run(code)
            #expect(m.interrupted); #expect(m.programInterruptionCode == 0x06)
            #expect(m.cpu.gpr[3] == 7 && m.cpu.gpr[4] == 9)
        }
    }

    @Test func multiplySingle() {
        let m = TestMachine()
        m.cpu.gpr[1] = highHalf | 0x8000_0000; m.cpu.gpr[2] = 0xFFFF_FFFF
        m.cpu.conditionCode = 2
        m.run(E.rre(0xB252, 1, 2))                       // MSR: overflow ignored, CC unchanged
        #expect(m.cpu.gpr[1] == highHalf | 0x8000_0000); #expect(m.cc == 2); #expect(!m.interrupted)
        m.cpu.gpr[1] = 0x1_0000_0001; m.cpu.gpr[2] = 0xFFFF_FFFF_FFFF_FFFD
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB90C, 1, 2))                       // MSGR: wraps
        #expect(m.cpu.gpr[1] == UInt64(bitPattern: -0x3_0000_0003))
        m.cpu.gpr[1] = 10; m.cpu.gpr[2] = 0x7_FFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB91C, 1, 2))                       // MSGFR: R2 low word is -1
        #expect(m.cpu.gpr[1] == UInt64(bitPattern: -10))
        m.load([0xFF, 0xFE], at: dataAddress); m.store32(dataAddress + 4, 0xFFFF_FFFF); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[5] = highHalf | 7
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x4C, 5, 0, 4, 0))                    // MH: 7 * -2
        #expect(m.cpu.gpr[5] == highHalf | 0xFFFF_FFF2)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x71, 5, 0, 4, 4))                    // MS: -14 * -1
        #expect(m.cpu.gpr[5] == highHalf | 14)
        m.cpu.gpr[6] = 3
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE31C, 6, 0, 4, 4))                 // MSGF
        #expect(m.cpu.gpr[6] == UInt64(bitPattern: -3))
        m.cpu.gpr[7] = highHalf | 3
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ri(0xA7C, 7, -5))                        // MHI
        #expect(m.cpu.gpr[7] == highHalf | 0xFFFF_FFF1)
        m.cpu.gpr[8] = 3
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ri(0xA7D, 8, -5))                        // MGHI
        #expect(m.cpu.gpr[8] == UInt64(bitPattern: -15))
        m.cpu.gpr[9] = highHalf | 0x10000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC21, 9, 0x10000))                  // MSFI: 2^32 truncated to 0
        #expect(m.cpu.gpr[9] == highHalf)
        m.cpu.gpr[9] = 0x10000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.ril(0xC20, 9, 0xFFFF_0000))              // MSGFI: 2^16 * -2^16
        #expect(m.cpu.gpr[9] == UInt64(bitPattern: -0x1_0000_0000))
        #expect(m.cc == 2)
    }

    // MARK: Divide

    @Test func divideSignedPair() {
        let m = TestMachine()
        m.cpu.gpr[2] = highHalf | 0xFFFF_FFFF; m.cpu.gpr[3] = 0x5555_5555_FFFF_FFF9; m.cpu.gpr[5] = 2
        m.cpu.conditionCode = 1
        m.run(E.rr(0x1D, 2, 5))                          // DR: -7 / 2 = -3 remainder -1
        #expect(m.cpu.gpr[2] == highHalf | 0xFFFF_FFFF)
        #expect(m.cpu.gpr[3] == 0x5555_5555_FFFF_FFFD)
        #expect(m.cc == 1)
        m.store32(dataAddress, 0xFFFF_FFFD); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[2] = 0; m.cpu.gpr[3] = 100
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rx(0x5D, 2, 0, 4, 0))                    // D: 100 / -3 = -33 remainder 1
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == 0xFFFF_FFDF)
    }

    @Test func divideExceptions() {
        // (code, R2 value, R3 value, divisor in R5, expected interruption code)
        let cases: [([UInt8], UInt64, UInt64, UInt64, UInt16)] = [
            (E.rr(0x1D, 2, 5), 0, 10, 0, 0x09),                               // DR by zero
            (E.rr(0x1D, 2, 5), 1, 0, 1, 0x09),                                // DR quotient 2^32
            (E.rr(0x1D, 2, 5), 0xFFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x09), // -2^31 / -1 = 2^31 too large
            (E.rr(0x1D, 3, 5), 0, 10, 2, 0x06),                               // DR odd R1
            (E.rre(0xB997, 2, 5), 2, 0, 2, 0x09),                             // DLR quotient 2^32
            (E.rre(0xB997, 2, 5), 0, 5, 0, 0x09),                             // DLR by zero
            (E.rre(0xB987, 2, 5), 2, 0, 2, 0x09),                             // DLGR quotient 2^64
            (E.rre(0xB987, 2, 5), 0, 5, 0, 0x09),                             // DLGR by zero
            (E.rre(0xB987, 3, 5), 0, 5, 1, 0x06),                             // DLGR odd R1
            (E.rre(0xB90D, 2, 5), 0, 0x8000_0000_0000_0000, UInt64.max, 0x09), // DSGR min / -1
            (E.rre(0xB90D, 2, 5), 0, 5, 0, 0x09),                             // DSGR by zero
            (E.rre(0xB91D, 2, 5), 0, 0x8000_0000_0000_0000, 0xFFFF_FFFF, 0x09), // DSGFR min / -1
            (E.rre(0xB90D, 1, 5), 0, 5, 1, 0x06),                             // DSGR odd R1
        ]
        for (code, high, low, divisor, interruption) in cases {
            let m = TestMachine()
            m.cpu.gpr[2] = high; m.cpu.gpr[3] = low; m.cpu.gpr[5] = divisor; m.cpu.gpr[4] = 0xAB
            m.cpu.conditionCode = 2
            m.run(code)
            #expect(m.interrupted)
            #expect(m.programInterruptionCode == interruption)
            #expect(m.cpu.gpr[2] == high && m.cpu.gpr[3] == low && m.cpu.gpr[4] == 0xAB)
            #expect((m.programOldPSW.mask >> 44) & 3 == 2)
        }
    }

    @Test func divideLogical() {
        let m = TestMachine()
        m.cpu.gpr[2] = highHalf | 1; m.cpu.gpr[3] = 0x7777_7777_0000_0005; m.cpu.gpr[5] = 0xFFFF_FFFF_0000_0002
        m.run(E.rre(0xB997, 2, 5))                       // DLR: 0x1_00000005 / 2
        #expect(m.cpu.gpr[2] == highHalf | 1); #expect(m.cpu.gpr[3] == 0x7777_7777_8000_0002)
        m.cpu.gpr[2] = 1; m.cpu.gpr[3] = 1; m.cpu.gpr[5] = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB987, 2, 5))                       // DLGR: (2^64 + 1) / 2
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == 0x8000_0000_0000_0000)
        m.store32(dataAddress, 0xFFFF_FFFF); m.store64(dataAddress + 8, UInt64.max); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[2] = 0xFFFF_FFFE; m.cpu.gpr[3] = 0xFFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE397, 2, 0, 4, 0))                 // DL: (2^64 - 2^32 - 1) / (2^32 - 1)
        #expect(m.cpu.gpr[2] == 0xFFFF_FFFE); #expect(m.cpu.gpr[3] == 0xFFFF_FFFF)
        m.cpu.gpr[2] = 0; m.cpu.gpr[3] = UInt64.max
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE387, 2, 0, 4, 8))                 // DLG
        #expect(m.cpu.gpr[2] == 0); #expect(m.cpu.gpr[3] == 1)
    }

    @Test func divideSingle() {
        let m = TestMachine()
        m.cpu.gpr[2] = 0x1234; m.cpu.gpr[3] = UInt64(bitPattern: -7); m.cpu.gpr[5] = 2
        m.run(E.rre(0xB90D, 2, 5))                       // DSGR: the dividend is R1+1 only
        #expect(m.cpu.gpr[2] == UInt64(bitPattern: -1)); #expect(m.cpu.gpr[3] == UInt64(bitPattern: -3))
        m.cpu.gpr[3] = 7; m.cpu.gpr[5] = 0x5_FFFF_FFFE
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB91D, 2, 5))                       // DSGFR: divisor -2
        #expect(m.cpu.gpr[2] == 1); #expect(m.cpu.gpr[3] == UInt64(bitPattern: -3))
        m.store64(dataAddress, UInt64(bitPattern: -10)); m.store32(dataAddress + 8, 4); m.cpu.gpr[4] = dataAddress
        m.cpu.gpr[3] = 95
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE30D, 2, 0, 4, 0))                 // DSG: 95 / -10
        #expect(m.cpu.gpr[2] == 5); #expect(m.cpu.gpr[3] == UInt64(bitPattern: -9))
        m.cpu.gpr[3] = UInt64(bitPattern: -95)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rxy(0xE31D, 2, 0, 4, 8))                 // DSGF: -95 / 4
        #expect(m.cpu.gpr[2] == UInt64(bitPattern: -3)); #expect(m.cpu.gpr[3] == UInt64(bitPattern: -23))
        m.cpu.gpr[3] = 0x8000_0000_0000_0000; m.cpu.gpr[5] = 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(E.rre(0xB90D, 2, 5))                       // min / 1 is fine
        #expect(m.cpu.gpr[2] == 0); #expect(m.cpu.gpr[3] == 0x8000_0000_0000_0000); #expect(!m.interrupted)
    }

    @Test func divideStorageOperandAddressing() {
        let m = TestMachine()
        m.cpu.gpr[4] = 0x20_0000                          // the operand is not addressable: addressing wins
        m.run(E.rxy(0xE30D, 2, 0, 4, 0))
        #expect(m.interrupted); #expect(m.programInterruptionCode == 0x05)
    }
}
