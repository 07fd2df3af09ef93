import Testing
@testable import S390CPU

/// Instruction encoders for the comparison tests (formats as in PoP chapter 5).
private enum CompareEncoding {
    static func rr(_ op: UInt8, _ r1: UInt8, _ r2: UInt8) -> [UInt8] { [op, r1 << 4 | r2] }
    static func rre(_ op: UInt16, _ r1: UInt8, _ r2: UInt8) -> [UInt8] { [UInt8(op >> 8), UInt8(op & 0xFF), 0, r1 << 4 | r2] }
    /// RRF-c: M3 in bits 16-19.
    static func rrf(_ op: UInt16, _ r1: UInt8, _ r2: UInt8, m3: UInt8) -> [UInt8] { [UInt8(op >> 8), UInt8(op & 0xFF), m3 << 4, r1 << 4 | r2] }
    static func rx(_ op: UInt8, _ r1: UInt8, _ x2: UInt8, _ b2: UInt8, _ d2: UInt16) -> [UInt8] {
        [op, r1 << 4 | x2, b2 << 4 | UInt8(d2 >> 8), UInt8(d2 & 0xFF)]
    }
    static func rxy(_ op: UInt16, _ r1: UInt8, _ x2: UInt8, _ b2: UInt8, _ d2: UInt16) -> [UInt8] {
        [UInt8(op >> 8), r1 << 4 | x2, b2 << 4 | UInt8(d2 >> 8), UInt8(d2 & 0xFF), 0, UInt8(op & 0xFF)]
    }
    static func rs(_ op: UInt8, _ r1: UInt8, _ r3: UInt8, _ b2: UInt8, _ d2: UInt16) -> [UInt8] {
        [op, r1 << 4 | r3, b2 << 4 | UInt8(d2 >> 8), UInt8(d2 & 0xFF)]
    }
    static func rsy(_ op: UInt16, _ r1: UInt8, _ r3: UInt8, _ b2: UInt8, _ d2: UInt16) -> [UInt8] {
        [UInt8(op >> 8), r1 << 4 | r3, b2 << 4 | UInt8(d2 >> 8), UInt8(d2 & 0xFF), 0, UInt8(op & 0xFF)]
    }
    static func ri(_ op: UInt16, _ r1: UInt8, _ i2: Int16) -> [UInt8] {
        let i = UInt16(bitPattern: i2)
        return [UInt8(op >> 4), r1 << 4 | UInt8(op & 0xF), UInt8(i >> 8), UInt8(i & 0xFF)]
    }
    static func ril(_ op: UInt16, _ r1: UInt8, _ i2: UInt32) -> [UInt8] {
        [UInt8(op >> 4), r1 << 4 | UInt8(op & 0xF), UInt8(i2 >> 24), UInt8((i2 >> 16) & 0xFF), UInt8((i2 >> 8) & 0xFF), UInt8(i2 & 0xFF)]
    }
    static func si(_ op: UInt8, _ i2: UInt8, _ b1: UInt8, _ d1: UInt16) -> [UInt8] { [op, i2, b1 << 4 | UInt8(d1 >> 8), UInt8(d1 & 0xFF)] }
    static func siy(_ op: UInt16, _ i2: UInt8, _ b1: UInt8, _ d1: UInt16) -> [UInt8] {
        [UInt8(op >> 8), i2, b1 << 4 | UInt8(d1 >> 8), UInt8(d1 & 0xFF), 0, UInt8(op & 0xFF)]
    }
    static func sil(_ op: UInt16, _ b1: UInt8, _ d1: UInt16, _ i2: UInt16) -> [UInt8] {
        [UInt8(op >> 8), UInt8(op & 0xFF), b1 << 4 | UInt8(d1 >> 8), UInt8(d1 & 0xFF), UInt8(i2 >> 8), UInt8(i2 & 0xFF)]
    }
    static func rieA(_ op: UInt16, _ r1: UInt8, _ i2: UInt16, m3: UInt8) -> [UInt8] {
        [UInt8(op >> 8), r1 << 4, UInt8(i2 >> 8), UInt8(i2 & 0xFF), m3 << 4, UInt8(op & 0xFF)]
    }
    static func rieB(_ op: UInt16, _ r1: UInt8, _ r2: UInt8, m3: UInt8, _ i4: Int16) -> [UInt8] {
        let i = UInt16(bitPattern: i4)
        return [UInt8(op >> 8), r1 << 4 | r2, UInt8(i >> 8), UInt8(i & 0xFF), m3 << 4, UInt8(op & 0xFF)]
    }
    static func rieC(_ op: UInt16, _ r1: UInt8, m3: UInt8, _ i4: Int16, _ i2: UInt8) -> [UInt8] {
        let i = UInt16(bitPattern: i4)
        return [UInt8(op >> 8), r1 << 4 | m3, UInt8(i >> 8), UInt8(i & 0xFF), i2, UInt8(op & 0xFF)]
    }
    static func rrs(_ op: UInt16, _ r1: UInt8, _ r2: UInt8, m3: UInt8, _ b4: UInt8, _ d4: UInt16) -> [UInt8] {
        [UInt8(op >> 8), r1 << 4 | r2, b4 << 4 | UInt8(d4 >> 8), UInt8(d4 & 0xFF), m3 << 4, UInt8(op & 0xFF)]
    }
    static func ris(_ op: UInt16, _ r1: UInt8, m3: UInt8, _ b4: UInt8, _ d4: UInt16, _ i2: UInt8) -> [UInt8] {
        [UInt8(op >> 8), r1 << 4 | m3, b4 << 4 | UInt8(d4 >> 8), UInt8(d4 & 0xFF), i2, UInt8(op & 0xFF)]
    }
}
private typealias E = CompareEncoding

private let dataAddress: UInt64 = 0x30000

/// Runs `code` on a fresh machine after `setup`, starting with CC 3 so every comparison must set it.
private func compare(_ code: [UInt8], _ setup: (TestMachine) -> Void) -> TestMachine {
    let m = TestMachine()
    m.cpu.gpr[4] = dataAddress
    setup(m)
    m.cpu.conditionCode = 3
    m.run(code)
    return m
}

@Suite struct CompareTests {
    // MARK: Signed

    @Test func compareRegisters() {
        // CR looks only at bits 32-63, signed.
        #expect(compare(E.rr(0x19, 1, 2)) { $0.cpu.gpr[1] = 0xFFFF_FFFF_0000_0005; $0.cpu.gpr[2] = 5 }.cc == 0)
        #expect(compare(E.rr(0x19, 1, 2)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 1 }.cc == 1)
        #expect(compare(E.rr(0x19, 1, 2)) { $0.cpu.gpr[1] = 0x7FFF_FFFF; $0.cpu.gpr[2] = 0x8000_0000 }.cc == 2)
        #expect(compare(E.rre(0xB920, 1, 2)) { $0.cpu.gpr[1] = 0x1_0000_0000; $0.cpu.gpr[2] = 5 }.cc == 2)
        #expect(compare(E.rre(0xB920, 1, 2)) { $0.cpu.gpr[1] = UInt64.max; $0.cpu.gpr[2] = 0 }.cc == 1)
        // CGFR: R2 bits 32-63 sign-extended.
        #expect(compare(E.rre(0xB930, 1, 2)) { $0.cpu.gpr[1] = UInt64.max; $0.cpu.gpr[2] = 0xFFFF_FFFF }.cc == 0)
        #expect(compare(E.rre(0xB930, 1, 2)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 0xFFFF_FFFF }.cc == 2)
    }

    @Test func compareStorage() {
        let setup: (TestMachine) -> Void = {
            $0.store32(dataAddress, 0xFFFF_FFFE)                 // -2
            $0.store64(dataAddress + 8, 0x8000_0000_0000_0000)
            $0.load([0x80, 0x00], at: dataAddress + 16)          // halfword -32768
        }
        #expect(compare(E.rx(0x59, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFE }.cc == 0)    // C
        #expect(compare(E.rxy(0xE359, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 1 }.cc == 2)           // CY
        #expect(compare(E.rxy(0xE320, 1, 0, 4, 8)) { setup($0); $0.cpu.gpr[1] = 0x8000_0000_0000_0000 }.cc == 0) // CG
        #expect(compare(E.rxy(0xE320, 1, 0, 4, 8)) { setup($0); $0.cpu.gpr[1] = 0 }.cc == 2)
        #expect(compare(E.rxy(0xE330, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFE }.cc == 2) // CGF: vs -2
        #expect(compare(E.rxy(0xE330, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = UInt64(bitPattern: -3) }.cc == 1)
        #expect(compare(E.rx(0x49, 1, 0, 4, 16)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_8000 }.cc == 0)   // CH
        #expect(compare(E.rxy(0xE379, 1, 0, 4, 16)) { setup($0); $0.cpu.gpr[1] = 0x8000 }.cc == 2)     // CHY
        #expect(compare(E.rxy(0xE334, 1, 0, 4, 16)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_8000 }.cc == 2) // CGH
        #expect(compare(E.rxy(0xE334, 1, 0, 4, 16)) { setup($0); $0.cpu.gpr[1] = UInt64(bitPattern: -32768) }.cc == 0)
    }

    @Test func compareImmediate() {
        #expect(compare(E.ri(0xA7E, 1, -1)) { $0.cpu.gpr[1] = 0x0000_0001_FFFF_FFFF }.cc == 0)        // CHI
        #expect(compare(E.ri(0xA7E, 1, 1)) { $0.cpu.gpr[1] = 0x8000_0000 }.cc == 1)
        #expect(compare(E.ri(0xA7F, 1, -1)) { $0.cpu.gpr[1] = 0xFFFF_FFFF }.cc == 2)                  // CGHI
        #expect(compare(E.ril(0xC2D, 1, 0x8000_0000)) { $0.cpu.gpr[1] = 0x8000_0000 }.cc == 0)        // CFI
        #expect(compare(E.ril(0xC2D, 1, 0x8000_0000)) { $0.cpu.gpr[1] = 0 }.cc == 2)
        #expect(compare(E.ril(0xC2C, 1, 0x8000_0000)) { $0.cpu.gpr[1] = 0x8000_0000 }.cc == 2)        // CGFI
        #expect(compare(E.ril(0xC2C, 1, 0x8000_0000)) { $0.cpu.gpr[1] = UInt64(bitPattern: -0x8000_0001) }.cc == 1)
    }

    @Test func compareStorageWithImmediate() {
        let setup: (TestMachine) -> Void = {
            $0.load([0xFF, 0xFE], at: dataAddress)                   // halfword -2 / 0xFFFE
            $0.store32(dataAddress + 4, 0xFFFF_FFFE)
            $0.store64(dataAddress + 8, UInt64(bitPattern: -2))
        }
        #expect(compare(E.sil(0xE554, 4, 0, 0xFFFE)) { setup($0) }.cc == 0)   // CHHSI -2 vs -2
        #expect(compare(E.sil(0xE554, 4, 0, 0x0001)) { setup($0) }.cc == 1)
        #expect(compare(E.sil(0xE55C, 4, 4, 0xFFFD)) { setup($0) }.cc == 2)   // CHSI -2 vs -3
        #expect(compare(E.sil(0xE558, 4, 8, 0xFFFE)) { setup($0) }.cc == 0)   // CGHSI
        #expect(compare(E.sil(0xE555, 4, 0, 0x0001)) { setup($0) }.cc == 2)   // CLHHSI 0xFFFE vs 1
        #expect(compare(E.sil(0xE55D, 4, 4, 0xFFFF)) { setup($0) }.cc == 2)   // CLFHSI vs 0x0000FFFF
        #expect(compare(E.sil(0xE559, 4, 8, 0xFFFE)) { setup($0) }.cc == 2)   // CLGHSI vs 0xFFFE
        #expect(compare(E.si(0x95, 0x80, 4, 1)) { setup($0) }.cc == 2)        // CLI 0xFE vs 0x80
        #expect(compare(E.siy(0xEB55, 0xFF, 4, 1)) { setup($0) }.cc == 1)     // CLIY 0xFE vs 0xFF
        #expect(compare(E.siy(0xEB55, 0xFE, 4, 1)) { setup($0) }.cc == 0)
    }

    @Test func compareRelativeLong() {
        // The code is at 0x10000; operands at 0x10000 + 2 * I2.
        let setup: (TestMachine) -> Void = {
            $0.store64(TestMachine.codeAddress + 0x100, 0xFFFF_FFFF_8000_0000)
            $0.load([0x80, 0x01], at: TestMachine.codeAddress + 0x110)
        }
        #expect(compare(E.ril(0xC6D, 1, 0x80)) { setup($0); $0.cpu.gpr[1] = 0x7FFF_FFFF }.cc == 2)   // CRL vs -1
        #expect(compare(E.ril(0xC6D, 1, 0x82)) { setup($0); $0.cpu.gpr[1] = 0x8000_0000 }.cc == 0)   // CRL vs -2^31
        #expect(compare(E.ril(0xC68, 1, 0x80)) { setup($0); $0.cpu.gpr[1] = 0 }.cc == 2)             // CGRL vs negative
        #expect(compare(E.ril(0xC6C, 1, 0x82)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFF_8000_0000 }.cc == 0) // CGFRL
        #expect(compare(E.ril(0xC65, 1, 0x88)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_8001 }.cc == 0)   // CHRL
        #expect(compare(E.ril(0xC64, 1, 0x88)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_8001 }.cc == 2)   // CGHRL
        #expect(compare(E.ril(0xC6F, 1, 0x82)) { setup($0); $0.cpu.gpr[1] = 0x7FFF_FFFF }.cc == 1)   // CLRL
        #expect(compare(E.ril(0xC6A, 1, 0x80)) { setup($0); $0.cpu.gpr[1] = UInt64.max }.cc == 2)    // CLGRL
        #expect(compare(E.ril(0xC6E, 1, 0x80)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFF }.cc == 0)   // CLGFRL
        #expect(compare(E.ril(0xC67, 1, 0x88)) { setup($0); $0.cpu.gpr[1] = 0x8001 }.cc == 0)        // CLHRL
        #expect(compare(E.ril(0xC66, 1, 0x88)) { setup($0); $0.cpu.gpr[1] = 0x8000 }.cc == 1)        // CLGHRL
    }

    @Test func compareRelativeLongAlignment() {
        // Word operands must be word-aligned, doubleword operands doubleword-aligned.
        for code in [E.ril(0xC6D, 1, 0x81), E.ril(0xC68, 1, 0x82), E.ril(0xC6C, 1, 0x83), E.ril(0xC6F, 1, 0x81),
                     E.ril(0xC6A, 1, 0x86), E.ril(0xC6E, 1, 0x81)] {
            let m = compare(code) { _ in }
            #expect(m.interrupted)
            #expect(m.programInterruptionCode == 0x06)
            #expect((m.programOldPSW.mask >> 44) & 3 == 3)
        }
        #expect(!compare(E.ril(0xC65, 1, 0x81)) { _ in }.interrupted)   // CHRL: halfwords are always aligned
    }

    // MARK: Logical

    @Test func compareLogical() {
        #expect(compare(E.rr(0x15, 1, 2)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 0x1_0000_0001 }.cc == 2)  // CLR
        #expect(compare(E.rr(0x15, 1, 2)) { $0.cpu.gpr[1] = 0x5_0000_0001; $0.cpu.gpr[2] = 1 }.cc == 0)
        #expect(compare(E.rre(0xB921, 1, 2)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = UInt64.max }.cc == 1)           // CLGR
        #expect(compare(E.rre(0xB931, 1, 2)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = UInt64.max }.cc == 0)  // CLGFR
        #expect(compare(E.rre(0xB931, 1, 2)) { $0.cpu.gpr[1] = 0x1_0000_0000; $0.cpu.gpr[2] = UInt64.max }.cc == 2)
        let setup: (TestMachine) -> Void = { $0.store32(dataAddress, 0x8000_0000); $0.store64(dataAddress + 8, 0x8000_0000_0000_0000) }
        #expect(compare(E.rx(0x55, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x7FFF_FFFF }.cc == 1)            // CL
        #expect(compare(E.rxy(0xE355, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x8000_0001 }.cc == 2)         // CLY
        #expect(compare(E.rxy(0xE321, 1, 0, 4, 8)) { setup($0); $0.cpu.gpr[1] = 0x7FFF_FFFF_FFFF_FFFF }.cc == 1) // CLG
        #expect(compare(E.rxy(0xE331, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x8000_0000 }.cc == 0)         // CLGF
        #expect(compare(E.ril(0xC2F, 1, 0xFFFF_FFFF)) { $0.cpu.gpr[1] = 0x7_FFFF_FFFF }.cc == 0)               // CLFI
        #expect(compare(E.ril(0xC2E, 1, 0xFFFF_FFFF)) { $0.cpu.gpr[1] = 0x1_0000_0000 }.cc == 2)               // CLGFI
        #expect(compare(E.ril(0xC2E, 1, 0x8000_0000)) { $0.cpu.gpr[1] = 0x7FFF_FFFF }.cc == 1)
    }

    @Test func compareLogicalUnderMask() {
        let setup: (TestMachine) -> Void = { $0.load([0x22, 0x44, 0x99], at: dataAddress) }
        // CLM mask 0101 selects bytes 1 and 3 of bits 32-63: 0x22, 0x44.
        #expect(compare(E.rs(0xBD, 1, 0b0101, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFF_0022_0044 }.cc == 0)
        #expect(compare(E.rs(0xBD, 1, 0b0101, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x0023_0000 }.cc == 2)
        #expect(compare(E.rs(0xBD, 1, 0b1110, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x2244_9A00 }.cc == 2)
        #expect(compare(E.rsy(0xEB21, 1, 0b1110, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x2244_9800 }.cc == 1)   // CLMY
        // CLMH compares bits 0-31.
        #expect(compare(E.rsy(0xEB20, 1, 0b1001, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x2200_0044_0000_0000 }.cc == 0)
        #expect(compare(E.rsy(0xEB20, 1, 0b1001, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0x0000_0044_2200_0044 }.cc == 1)
        // A zero mask gives CC 0, but one byte is still accessed.
        #expect(compare(E.rs(0xBD, 1, 0, 4, 0)) { setup($0); $0.cpu.gpr[1] = 0xFFFF_FFFF }.cc == 0)
        let m = compare(E.rs(0xBD, 1, 0, 4, 0)) { $0.cpu.gpr[4] = 0x20_0000 }
        #expect(m.interrupted); #expect(m.programInterruptionCode == 0x05)
    }

    // MARK: Compare and branch

    @Test func compareAndBranchRelative() {
        let target = TestMachine.codeAddress + 0x40
        func run(_ code: [UInt8], _ setup: (TestMachine) -> Void) -> Bool {
            let m = TestMachine()
            setup(m)
            m.cpu.conditionCode = 3
            m.run(code, instructions: 1)
            #expect(!m.interrupted)
            #expect(m.cc == 3)
            return m.cpu.pswAddress == target
        }
        // CRJ: mask 8 equal, 4 low, 2 high (bit 1 ignored); the CC is unchanged.
        #expect(run(E.rieB(0xEC76, 1, 2, m3: 8, 0x20)) { $0.cpu.gpr[1] = 0x1_0000_0005; $0.cpu.gpr[2] = 5 })
        #expect(run(E.rieB(0xEC76, 1, 2, m3: 4, 0x20)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 0 })
        #expect(!run(E.rieB(0xEC76, 1, 2, m3: 2, 0x20)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 0 })
        #expect(!run(E.rieB(0xEC76, 1, 2, m3: 1, 0x20)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = 0 })
        #expect(run(E.rieB(0xEC64, 1, 2, m3: 2, 0x20)) { $0.cpu.gpr[1] = 0x1_0000_0000; $0.cpu.gpr[2] = 5 })   // CGRJ
        #expect(run(E.rieB(0xEC77, 1, 2, m3: 2, 0x20)) { $0.cpu.gpr[1] = 0xFFFF_FFFF; $0.cpu.gpr[2] = 0 })     // CLRJ
        #expect(run(E.rieB(0xEC65, 1, 2, m3: 4, 0x20)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = UInt64.max })      // CLGRJ
        // CIJ: I2 is a signed byte; CLIJ: unsigned.
        #expect(run(E.rieC(0xEC7E, 1, m3: 8, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0xFFFF_FFFD })
        #expect(run(E.rieC(0xEC7E, 1, m3: 4, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0xFFFF_FFFC })
        #expect(run(E.rieC(0xEC7C, 1, m3: 8, 0x20, 0xFD)) { $0.cpu.gpr[1] = UInt64(bitPattern: -3) })         // CGIJ
        #expect(!run(E.rieC(0xEC7C, 1, m3: 8, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0xFFFF_FFFD })
        #expect(!run(E.rieC(0xEC7F, 1, m3: 4, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0xFFFF_FFFD })                    // CLIJ: 0xFFFFFFFD > 253
        #expect(run(E.rieC(0xEC7F, 1, m3: 8, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0x1_0000_00FD })
        #expect(run(E.rieC(0xEC7D, 1, m3: 2, 0x20, 0xFD)) { $0.cpu.gpr[1] = 0x1_0000_0000 })                  // CLGIJ
    }

    @Test func compareAndBranchBackward() {
        let m = TestMachine()
        m.cpu.gpr[1] = 1; m.cpu.gpr[2] = 1
        m.run(E.rieB(0xEC76, 1, 2, m3: 8, -8), instructions: 1)
        #expect(m.cpu.pswAddress == TestMachine.codeAddress - 16)
    }

    @Test func compareAndBranchToBaseDisplacement() {
        let target: UInt64 = 0x12344
        func run(_ code: [UInt8], _ setup: (TestMachine) -> Void) -> Bool {
            let m = TestMachine()
            m.cpu.gpr[5] = 0x12300
            setup(m)
            m.cpu.conditionCode = 1
            m.run(code, instructions: 1)
            #expect(m.cc == 1)
            return m.cpu.pswAddress == target
        }
        #expect(run(E.rrs(0xECF6, 1, 2, m3: 2, 5, 0x44)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = 0xFFFF_FFFF })        // CRB
        #expect(!run(E.rrs(0xECF6, 1, 2, m3: 4, 5, 0x44)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = 0xFFFF_FFFF })
        #expect(run(E.rrs(0xECE4, 1, 2, m3: 4, 5, 0x44)) { $0.cpu.gpr[1] = UInt64.max; $0.cpu.gpr[2] = 0 })          // CGRB
        #expect(run(E.rrs(0xECF7, 1, 2, m3: 4, 5, 0x44)) { $0.cpu.gpr[1] = 1; $0.cpu.gpr[2] = 0xFFFF_FFFF })        // CLRB
        #expect(run(E.rrs(0xECE5, 1, 2, m3: 8, 5, 0x44)) { $0.cpu.gpr[1] = 7; $0.cpu.gpr[2] = 7 })                  // CLGRB
        #expect(run(E.ris(0xECFE, 1, m3: 4, 5, 0x44, 0x80)) { $0.cpu.gpr[1] = 0xFFFF_FF00 })                       // CIB: vs -128
        #expect(run(E.ris(0xECFC, 1, m3: 2, 5, 0x44, 0x80)) { $0.cpu.gpr[1] = 0 })                                 // CGIB
        #expect(run(E.ris(0xECFF, 1, m3: 4, 5, 0x44, 0x80)) { $0.cpu.gpr[1] = 0x7F })                              // CLIB: vs 128
        #expect(run(E.ris(0xECFD, 1, m3: 8, 5, 0x44, 0x80)) { $0.cpu.gpr[1] = 0x80 })                              // CLGIB
        #expect(!run(E.ris(0xECFD, 1, m3: 8, 5, 0x44, 0x80)) { $0.cpu.gpr[1] = 0x1_0000_0080 })
    }

    // MARK: Compare and trap

    @Test func compareAndTrap() {
        // (code, R1, R2, traps)
        let cases: [([UInt8], UInt64, UInt64, Bool)] = [
            (E.rrf(0xB972, 1, 2, m3: 8), 0x1_0000_0005, 5, true),            // CRT equal
            (E.rrf(0xB972, 1, 2, m3: 6), 5, 5, false),
            (E.rrf(0xB972, 1, 2, m3: 4), 0xFFFF_FFFF, 0, true),              // low (signed)
            (E.rrf(0xB960, 1, 2, m3: 2), 0xFFFF_FFFF, 0, true),              // CGRT high
            (E.rrf(0xB973, 1, 2, m3: 2), 0xFFFF_FFFF, 0, true),              // CLRT high (logical)
            (E.rrf(0xB973, 1, 2, m3: 1), 0xFFFF_FFFF, 0, false),             // mask bit 3 is ignored
            (E.rrf(0xB961, 1, 2, m3: 4), 0, UInt64.max, true),               // CLGRT
            (E.rieA(0xEC72, 1, 0xFFFF, m3: 8), 0xFFFF_FFFF, 0, true),        // CIT vs -1
            (E.rieA(0xEC72, 1, 0xFFFF, m3: 8), 0xFFFF, 0, false),
            (E.rieA(0xEC70, 1, 0x8000, m3: 2), 0, 0, true),                  // CGIT vs -32768
            (E.rieA(0xEC73, 1, 0xFFFF, m3: 8), 0xFFFF, 0, true),             // CLFIT vs 65535
            (E.rieA(0xEC73, 1, 0x8000, m3: 4), 0x7FFF, 0, true),
            (E.rieA(0xEC71, 1, 0xFFFF, m3: 2), 0x1_0000_0000, 0, true),      // CLGIT
            (E.rieA(0xEC71, 1, 0xFFFF, m3: 12), 0x1_0000_0000, 0, false),
        ]
        for (code, r1, r2, traps) in cases {
            let m = TestMachine()
            m.cpu.gpr[1] = r1; m.cpu.gpr[2] = r2
            m.cpu.conditionCode = 1
            m.run(code)
            #expect(m.interrupted == traps)
            if traps {
                #expect(m.programInterruptionCode == 0x07)
                #expect(m.load32(0x90) == 0xFF)                          // DXC 0xFF at real 0x90-0x93
                #expect(m.programOldPSW.address == TestMachine.codeAddress + UInt64(code.count))
                #expect((m.programOldPSW.mask >> 44) & 3 == 1)           // the CC is not changed
            } else {
                #expect(m.cc == 1)
                #expect(m.cpu.pswAddress == TestMachine.codeAddress + UInt64(code.count))
            }
        }
    }
}
