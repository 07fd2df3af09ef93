import Testing
@testable import S390CPU

/// "b9 80 00 12" -> bytes.
private func logicalCode(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// A machine with r3 = 0x7F00 so that 0x100(r3) addresses 0x8000.
private func logicalMachine(fixedPointOverflowEnabled: Bool = false) -> TestMachine {
    let m = TestMachine()
    if fixedPointOverflowEnabled {
        m.cpu.loadPSW(CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing | 0x0000_0800_0000_0000,
                              address: TestMachine.codeAddress))
    }
    m.cpu.gpr[3] = 0x7F00
    return m
}

/// Runs `code` again from the start of the code area.
private func rerun(_ m: TestMachine, _ code: String) {
    m.cpu.pswAddress = TestMachine.codeAddress
    m.run(logicalCode(code))
}

/// RIE-f rotate-then-operate instruction bytes.
private func rief(_ opcode: UInt8, i3: UInt8, i4: UInt8, i5: UInt8) -> String {
    "ec 12 " + [i3, i4, i5, opcode].map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
}

@Suite struct LogicalTests {
    // MARK: AND / OR / EXCLUSIVE OR

    @Test func registerAndStorageForms() {
        let m = logicalMachine()
        m.store64(0x8000, 0x0F0F_0F0F_FFFF_0000)
        let cases: [(String, UInt64, UInt8)] = [
            ("14 12", 0xFFFF_FFFF_0000_0000, 0),               // NR
            ("b9 80 00 12", 0x0F0F_0F0F_0000_0000, 1),         // NGR
            ("54 10 31 00", 0xFFFF_FFFF_0000_0000, 0),         // N
            ("e3 10 31 00 00 54", 0xFFFF_FFFF_0000_0000, 0),   // NY
            ("e3 10 31 00 00 80", 0x0F0F_0F0F_F0F0_0000, 1),   // NG
            ("b9 f4 40 12", 0xFFFF_FFFF_000F_000F, 1),         // NRK r1 = r2 & r4
            ("b9 e4 40 12", 0x000F_000F_000F_000F, 1),         // NGRK
            ("16 12", 0xFFFF_FFFF_FFFF_FFFF, 1),               // OR
            ("b9 81 00 12", 0xFFFF_FFFF_FFFF_FFFF, 1),         // OGR
            ("56 10 31 00", 0xFFFF_FFFF_FFFF_FFFF, 1),         // O
            ("e3 10 31 00 00 56", 0xFFFF_FFFF_FFFF_FFFF, 1),   // OY
            ("e3 10 31 00 00 81", 0xFFFF_FFFF_FFFF_F0F0, 1),   // OG
            ("b9 f6 40 12", 0xFFFF_FFFF_0FFF_0FFF, 1),         // ORK
            ("b9 e6 40 12", 0x0FFF_0FFF_0FFF_0FFF, 1),         // OGRK
            ("17 12", 0xFFFF_FFFF_FFFF_FFFF, 1),               // XR
            ("b9 82 00 12", 0xF0F0_F0F0_FFFF_FFFF, 1),         // XGR
            ("57 10 31 00", 0xFFFF_FFFF_FFFF_FFFF, 1),         // X
            ("e3 10 31 00 00 57", 0xFFFF_FFFF_FFFF_FFFF, 1),   // XY
            ("e3 10 31 00 00 82", 0xF0F0_F0F0_0F0F_F0F0, 1),   // XG
            ("b9 f7 40 12", 0xFFFF_FFFF_0FF0_0FF0, 1),         // XRK
            ("b9 e7 40 12", 0x0FF0_0FF0_0FF0_0FF0, 1),         // XGRK
        ]
        for (code, expected, cc) in cases {
            m.cpu.gpr[1] = 0xFFFF_FFFF_F0F0_F0F0
            m.cpu.gpr[2] = 0x0F0F_0F0F_0F0F_0F0F
            m.cpu.gpr[4] = 0x00FF_00FF_00FF_00FF
            rerun(m, code)
            #expect(m.cpu.gpr[1] == expected, "\(code)")
            #expect(m.cc == cc, "\(code)")
        }
    }

    @Test func zeroResultsKeepHighHalf() {
        let m = logicalMachine()
        m.cpu.gpr[1] = 0x1234_5678_9ABC_DEF0
        m.run(logicalCode("17 11"))                      // XR r1,r1
        #expect(m.cpu.gpr[1] == 0x1234_5678_0000_0000)
        #expect(m.cc == 0)
        rerun(m, "b9 82 00 11")                          // XGR r1,r1
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.cc == 0)
        m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0000
        rerun(m, "16 12")                                // OR 0 | 0
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.cc == 0)
    }

    @Test func storageImmediates() {
        let m = logicalMachine()
        let cases: [(String, UInt8, UInt8)] = [
            ("94 0f 31 00", 0x00, 0),                         // NI
            ("eb 0f 31 00 00 54", 0x00, 0),                   // NIY
            ("94 3c 31 00", 0x30, 1),                         // NI
            ("96 0f 31 00", 0xFF, 1),                         // OI
            ("eb 0f 31 00 00 56", 0xFF, 1),                   // OIY
            ("96 00 31 00", 0xF0, 1),                         // OI 0
            ("97 0f 31 00", 0xFF, 1),                         // XI
            ("eb f0 31 00 00 57", 0x00, 0),                   // XIY
        ]
        for (code, expected, cc) in cases {
            m.load([0xF0, 0xEE], at: 0x8000)
            rerun(m, code)
            #expect(m.load8(0x8000) == expected, "\(code)")
            #expect(m.load8(0x8001) == 0xEE)
            #expect(m.cc == cc, "\(code)")
        }
    }

    @Test func storageImmediateAddressing() {
        let m = logicalMachine()
        m.cpu.gpr[3] = 0x20_0000
        m.run(logicalCode("96 0f 31 00"))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x05)
    }

    @Test func registerImmediates() {
        let m = logicalMachine()
        let cases: [(String, UInt64, UInt8)] = [
            ("c0 1a 00 00 ff ff", 0x0000_5678_9ABC_DEF0, 1),  // NIHF
            ("c0 1b 00 00 ff ff", 0x1234_5678_0000_DEF0, 1),  // NILF
            ("a5 14 00 00", 0x0000_5678_9ABC_DEF0, 0),        // NIHH 0: the field is zero
            ("a5 15 00 f0", 0x1234_0070_9ABC_DEF0, 1),        // NIHL
            ("a5 16 00 f0", 0x1234_5678_00B0_DEF0, 1),        // NILH
            ("a5 17 00 f0", 0x1234_5678_9ABC_00F0, 1),        // NILL
            ("a5 17 00 0f", 0x1234_5678_9ABC_0000, 0),        // NILL to zero
            ("c0 1c 00 00 ff ff", 0x1234_FFFF_9ABC_DEF0, 1),  // OIHF
            ("c0 1d 00 00 ff ff", 0x1234_5678_9ABC_FFFF, 1),  // OILF
            ("a5 18 00 f0", 0x12F4_5678_9ABC_DEF0, 1),        // OIHH
            ("a5 19 00 f0", 0x1234_56F8_9ABC_DEF0, 1),        // OIHL
            ("a5 1a 00 f0", 0x1234_5678_9AFC_DEF0, 1),        // OILH
            ("a5 1b 00 f0", 0x1234_5678_9ABC_DEF0, 1),        // OILL
            ("c0 16 00 00 ff ff", 0x1234_A987_9ABC_DEF0, 1),  // XIHF
            ("c0 17 00 00 ff ff", 0x1234_5678_9ABC_210F, 1),  // XILF
            ("c0 17 9a bc de f0", 0x1234_5678_0000_0000, 0),  // XILF to zero
        ]
        for (code, expected, cc) in cases {
            m.cpu.gpr[1] = 0x1234_5678_9ABC_DEF0
            rerun(m, code)
            #expect(m.cpu.gpr[1] == expected, "\(code)")
            #expect(m.cc == cc, "\(code)")
        }
    }

    // MARK: TEST UNDER MASK

    @Test(arguments: [(UInt8(0xF0), UInt8(3)), (0x0F, 0), (0x18, 1), (0x00, 0), (0x80, 3), (0x81, 1)])
    func testUnderMaskStorage(mask: UInt8, cc: UInt8) {
        let m = logicalMachine()
        m.load([0xF0], at: 0x8000)
        m.run([0x91, mask, 0x31, 0x00])                  // TM
        #expect(m.cc == cc)
        m.cpu.conditionCode = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xEB, mask, 0x31, 0x00, 0x00, 0x51])     // TMY
        #expect(m.cc == cc)
        #expect(m.load8(0x8000) == 0xF0)
    }

    @Test func testUnderMaskRegister() {
        let m = logicalMachine()
        let cases: [(String, UInt8)] = [
            ("a7 12 80 03", 2),   // TMHH: 0x8001 & 0x8003 mixed, leftmost selected bit one
            ("a7 13 80 03", 1),   // TMHL: 0x0003 & 0x8003 mixed, leftmost selected bit zero
            ("a7 10 80 03", 0),   // TMLH: 0x4000 & 0x8003 = 0
            ("a7 11 80 01", 3),   // TMLL: 0x8001 all selected ones
            ("a7 11 00 00", 0),   // mask zero
            ("a7 11 00 03", 1),   // TMLL: 0x0001 & 0x0003, leftmost selected (0x0002) zero
        ]
        for (code, cc) in cases {
            m.cpu.gpr[1] = 0x8001_0003_4000_8001
            rerun(m, code)
            #expect(m.cc == cc, "\(code)")
            #expect(m.cpu.gpr[1] == 0x8001_0003_4000_8001)
        }
    }

    // MARK: Shifts

    @Test(arguments: [(UInt64(1), UInt64(0xAAAA_AAAA_0000_0002)), (32, 0xAAAA_AAAA_0000_0000), (65, 0xAAAA_AAAA_0000_0002),
                      (0, 0xAAAA_AAAA_8000_0001)])
    func shiftLeftSingleLogical(amount: UInt64, expected: UInt64) {
        let m = logicalMachine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_8000_0001
        m.cpu.gpr[5] = amount
        m.cpu.conditionCode = 2
        m.run(logicalCode("89 10 50 00"))                // SLL r1,0(r5)
        #expect(m.cpu.gpr[1] == expected)
        #expect(m.cc == 2)
    }

    @Test func shiftRightSingleLogical() {
        let m = logicalMachine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_8000_0001
        m.cpu.gpr[5] = 31
        m.run(logicalCode("88 10 50 00"))                // SRL
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0001)
        m.cpu.gpr[3] = 0x8000_0000_0000_0001
        m.cpu.gpr[5] = 63
        rerun(m, "eb 13 50 00 00 0c")                    // SRLG r1,r3
        #expect(m.cpu.gpr[1] == 1)
        m.cpu.gpr[5] = 4
        rerun(m, "eb 13 50 00 00 0d")                    // SLLG
        #expect(m.cpu.gpr[1] == 0x10)
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.gpr[3] = 0x5555_5555_8000_0001
        rerun(m, "eb 13 50 00 00 df")                    // SLLK
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0010)
        rerun(m, "eb 13 50 00 00 de")                    // SRLK
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0800_0000)
        #expect(m.cpu.gpr[3] == 0x5555_5555_8000_0001)
    }

    @Test(arguments: [(UInt32(0x4000_0000), UInt64(1), UInt32(0x0000_0000), UInt8(3)),
                      (0xFFFF_FFFF, 31, 0x8000_0000, 1),
                      (0xFFFF_FFFF, 32, 0x8000_0000, 3),
                      (3, 2, 12, 2),
                      (0xC000_0000, 1, 0x8000_0000, 1),
                      (0, 63, 0, 0),
                      (0x8000_0001, 1, 0x8000_0002, 3),
                      (1, 30, 0x4000_0000, 2),
                      (1, 31, 0, 3),
                      (0xFFFF_FFFE, 0, 0xFFFF_FFFE, 1)])
    func shiftLeftSingleArithmetic(value: UInt32, amount: UInt64, expected: UInt32, cc: UInt8) {
        let m = logicalMachine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_0000_0000 | UInt64(value)
        m.cpu.gpr[5] = amount
        m.run(logicalCode("8b 10 50 00"))                // SLA
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0000 | UInt64(expected))
        #expect(m.cc == cc)
        #expect(!m.interrupted)
        m.cpu.gpr[1] = 0xBBBB_BBBB_BBBB_BBBB
        m.cpu.gpr[3] = 0x5555_5555_0000_0000 | UInt64(value)
        rerun(m, "eb 13 50 00 00 dd")                    // SLAK r1,r3
        #expect(m.cpu.gpr[1] == 0xBBBB_BBBB_0000_0000 | UInt64(expected))
        #expect(m.cc == cc)
    }

    @Test func shiftLeftArithmeticOverflowInterrupts() {
        let m = logicalMachine(fixedPointOverflowEnabled: true)
        m.cpu.gpr[1] = 0x4000_0000
        m.cpu.gpr[5] = 1
        m.run(logicalCode("8b 10 50 00"))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x08)
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.programOldPSW.address == TestMachine.codeAddress + 4)
    }

    @Test func shiftLeftArithmetic64() {
        let m = logicalMachine()
        let cases: [(UInt64, UInt64, UInt64, UInt8)] = [
            (0x4000_0000_0000_0000, 1, 0, 3),
            (.max, 63, 0x8000_0000_0000_0000, 1),
            (5, 1, 10, 2),
            (0x0000_0000_4000_0000, 1, 0x0000_0000_8000_0000, 2),
            (1, 63, 0, 3),
        ]
        for (value, amount, expected, cc) in cases {
            m.cpu.gpr[3] = value
            m.cpu.gpr[5] = amount
            rerun(m, "eb 13 50 00 00 0b")                // SLAG
            #expect(m.cpu.gpr[1] == expected, "\(value) << \(amount)")
            #expect(m.cc == cc, "\(value) << \(amount)")
        }
    }

    @Test func shiftRightArithmetic() {
        let m = logicalMachine()
        let cases: [(UInt32, UInt64, UInt32, UInt8)] = [
            (0x8000_0000, 63, 0xFFFF_FFFF, 1),
            (0x7FFF_FFFF, 31, 0, 0),
            (0x7FFF_FFFF, 4, 0x07FF_FFFF, 2),
            (0x8000_0000, 4, 0xF800_0000, 1),
        ]
        for (value, amount, expected, cc) in cases {
            m.cpu.gpr[1] = 0xAAAA_AAAA_0000_0000 | UInt64(value)
            m.cpu.gpr[5] = amount
            rerun(m, "8a 10 50 00")                      // SRA
            #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0000 | UInt64(expected))
            #expect(m.cc == cc)
            m.cpu.gpr[1] = 0xBBBB_BBBB_BBBB_BBBB
            m.cpu.gpr[3] = UInt64(value)
            rerun(m, "eb 13 50 00 00 dc")                // SRAK
            #expect(m.cpu.gpr[1] == 0xBBBB_BBBB_0000_0000 | UInt64(expected))
            #expect(m.cc == cc)
        }
        m.cpu.gpr[3] = 0x8000_0000_0000_0000
        m.cpu.gpr[5] = 63
        rerun(m, "eb 13 50 00 00 0a")                    // SRAG
        #expect(m.cpu.gpr[1] == .max)
        #expect(m.cc == 1)
    }

    @Test func shiftDouble() {
        let m = logicalMachine()
        func setPair() {
            m.cpu.gpr[2] = 0xAAAA_AAAA_8000_0001
            m.cpu.gpr[3] = 0xBBBB_BBBB_8000_0000
        }
        m.cpu.gpr[5] = 1
        setPair()
        m.cpu.conditionCode = 2
        m.run(logicalCode("8d 20 50 00"))                // SLDL r2
        #expect(m.cpu.gpr[2] == 0xAAAA_AAAA_0000_0003 && m.cpu.gpr[3] == 0xBBBB_BBBB_0000_0000)
        #expect(m.cc == 2)
        setPair()
        rerun(m, "8c 20 50 00")                          // SRDL
        #expect(m.cpu.gpr[2] == 0xAAAA_AAAA_4000_0000 && m.cpu.gpr[3] == 0xBBBB_BBBB_C000_0000)
        setPair()
        rerun(m, "8f 20 50 00")                          // SLDA: bit 1 unlike the sign
        #expect(m.cpu.gpr[2] == 0xAAAA_AAAA_8000_0003 && m.cpu.gpr[3] == 0xBBBB_BBBB_0000_0000)
        #expect(m.cc == 3)
        m.cpu.gpr[2] = 0
        m.cpu.gpr[3] = 0x4000_0000
        rerun(m, "8f 20 50 00")                          // SLDA into the other word
        #expect(m.cpu.gpr[2] == 0 && m.cpu.gpr[3] == 0x8000_0000)
        #expect(m.cc == 2)
        m.cpu.gpr[2] = 0x8000_0000
        m.cpu.gpr[3] = 0
        m.cpu.gpr[5] = 63
        rerun(m, "8e 20 50 00")                          // SRDA
        #expect(m.cpu.gpr[2] == 0xFFFF_FFFF && m.cpu.gpr[3] == 0xFFFF_FFFF)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0
        m.cpu.gpr[3] = 0x10
        m.cpu.gpr[5] = 5
        rerun(m, "8e 20 50 00")                          // SRDA to zero
        #expect(m.cc == 0)
    }

    @Test(arguments: ["8d 30 50 00", "8c 30 50 00", "8f 30 50 00", "8e 30 50 00"])
    func shiftDoubleOddRegisterIsSpecification(code: String) {
        let m = logicalMachine()
        m.cpu.gpr[3] = 0x1234
        m.cpu.gpr[4] = 0x5678
        m.cpu.gpr[5] = 1
        m.run(logicalCode(code))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x06)
        #expect(m.cpu.gpr[3] == 0x1234 && m.cpu.gpr[4] == 0x5678)
    }

    // MARK: Rotates

    @Test func rotateLeft() {
        let m = logicalMachine()
        let cases: [(UInt64, UInt64)] = [(1, 0x0000_0003), (32, 0x8000_0001), (36, 0x0000_0018), (0, 0x8000_0001)]
        for (amount, expected) in cases {
            m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
            m.cpu.gpr[3] = 0x5555_5555_8000_0001
            m.cpu.gpr[5] = amount
            rerun(m, "eb 13 50 00 00 1d")                // RLL
            #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0000 | expected, "RLL \(amount)")
        }
        m.cpu.gpr[3] = 0x8000_0000_0000_0001
        m.cpu.gpr[5] = 4
        rerun(m, "eb 13 50 00 00 1c")                    // RLLG
        #expect(m.cpu.gpr[1] == 0x18)
        m.cpu.gpr[5] = 0
        rerun(m, "eb 13 50 00 00 1c")
        #expect(m.cpu.gpr[1] == 0x8000_0000_0000_0001)
    }

    // MARK: Rotate then insert / AND / OR / XOR selected bits

    @Test func rotateThenInsertSelectedBits() {
        let m = logicalMachine()
        let cases: [(UInt64, UInt64, UInt8, UInt8, UInt8, UInt64, UInt8)] = [
            // r1 before, r2, I3, I4, I5, r1 after, cc
            (.max, 0x1234_5678_9ABC_DEF0, 32, 0x80 | 63, 0, 0x0000_0000_9ABC_DEF0, 2),   // zero-extend low word
            (.max, 0, 56, 63, 0, 0xFFFF_FFFF_FFFF_FF00, 1),                              // insert, keep the rest
            (0x1234, .max, 62, 0x80 | 1, 0, 0xC000_0000_0000_0003, 1),                  // wrap-around range
            (0x1234, 0xFF, 0, 0x80 | 7, 56, 0xFF00_0000_0000_0000, 1),                  // rotate left 56
            (0x1234, 0xFF, 0, 0x80 | 7, 0, 0, 0),                                        // zero result
            (0x1234, 0xF0, 60, 0x80 | 63, 0xC0 | 60, 0x0F, 2),                           // I5 bits 0-1 ignored
        ]
        for (before, source, i3, i4, i5, expected, cc) in cases {
            m.cpu.gpr[1] = before
            m.cpu.gpr[2] = source
            rerun(m, rief(0x55, i3: i3, i4: i4, i5: i5))
            #expect(m.cpu.gpr[1] == expected, "RISBG \(i3),\(i4),\(i5)")
            #expect(m.cc == cc, "RISBG \(i3),\(i4),\(i5)")
            m.cpu.gpr[1] = before
            m.cpu.conditionCode = 3
            rerun(m, rief(0x59, i3: i3, i4: i4, i5: i5))
            #expect(m.cpu.gpr[1] == expected, "RISBGN \(i3),\(i4),\(i5)")
            #expect(m.cc == 3, "RISBGN sets no CC")
        }
    }

    @Test func rotateThenOperateOnSelectedBits() {
        let m = logicalMachine()
        let cases: [(UInt8, UInt64, UInt64, UInt8, UInt8, UInt8, UInt64, UInt8)] = [
            // opcode, r1 before, r2, I3, I4, I5, r1 after, cc
            (0x54, .max, 0x0F00_0000_0000_0000, 0, 7, 0, 0x0FFF_FFFF_FFFF_FFFF, 1),      // RNSBG
            (0x54, .max, 0x0F00_0000_0000_0000, 0x80, 7, 0, .max, 1),                    // RNSBG test only
            (0x54, .max, 0, 0, 7, 0, 0x00FF_FFFF_FFFF_FFFF, 0),                          // RNSBG selected zero
            (0x56, 0, 0xFF, 0, 7, 56, 0xFF00_0000_0000_0000, 1),                         // ROSBG with rotation
            (0x56, 0x0100_0000_0000_0000, 0, 0, 7, 0, 0x0100_0000_0000_0000, 1),         // ROSBG: R1's own bits count
            (0x56, 0x0000_0000_0000_00FF, 0, 0, 7, 0, 0xFF, 0),                          // ROSBG: unselected bits don't
            (0x57, 0x1234_5678_9ABC_DEF0, 0x1234_5678_9ABC_DEF0, 0, 63, 0, 0, 0),        // RXSBG all bits
            (0x57, .max, .max, 0, 7, 0, 0x00FF_FFFF_FFFF_FFFF, 0),                       // RXSBG selected zero
            (0x57, 0, .max, 0x80 | 8, 15, 0, 0, 1),                                      // RXSBG test only
        ]
        for (opcode, before, source, i3, i4, i5, expected, cc) in cases {
            m.cpu.gpr[1] = before
            m.cpu.gpr[2] = source
            rerun(m, rief(opcode, i3: i3, i4: i4, i5: i5))
            #expect(m.cpu.gpr[1] == expected, "\(opcode) \(i3),\(i4),\(i5)")
            #expect(m.cc == cc, "\(opcode) \(i3),\(i4),\(i5)")
        }
    }

    // MARK: POPULATION COUNT, FIND LEFTMOST ONE

    @Test func populationCount() {
        let m = logicalMachine()
        m.cpu.gpr[2] = 0x0103_070F_FF00_0080
        m.run(logicalCode("b9 e1 00 12"))
        #expect(m.cpu.gpr[1] == 0x0102_0304_0800_0001)
        #expect(m.cc == 1)
        rerun(m, "b9 e1 80 12")                          // M3 bit 0: total (misc-instruction-extensions 3)
        #expect(m.cpu.gpr[1] == 19)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0
        m.cpu.gpr[1] = 0x1234
        rerun(m, "b9 e1 00 12")
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.cc == 0)
    }

    @Test func findLeftmostOne() {
        let m = logicalMachine()
        let cases: [(UInt64, UInt64, UInt64, UInt8)] = [
            (0x0000_1000_0000_0001, 19, 1, 2),
            (0, 64, 0, 0),
            (0x8000_0000_0000_0000, 0, 0, 2),
            (1, 63, 0, 2),
        ]
        for (value, position, rest, cc) in cases {
            m.cpu.gpr[4] = value
            rerun(m, "b9 83 00 24")                      // FLOGR r2,r4
            #expect(m.cpu.gpr[2] == position && m.cpu.gpr[3] == rest, "\(value)")
            #expect(m.cc == cc)
            #expect(m.cpu.gpr[4] == value)
        }
        m.cpu.gpr[3] = 0xF0
        rerun(m, "b9 83 00 23")                          // FLOGR r2,r3: R2 is the odd register
        #expect(m.cpu.gpr[2] == 56 && m.cpu.gpr[3] == 0x70)
        m.cpu.gpr[3] = 0x55
        m.cpu.gpr[4] = 0x66
        rerun(m, "b9 83 00 34")                          // odd R1
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x06)
        #expect(m.cpu.gpr[3] == 0x55 && m.cpu.gpr[4] == 0x66)
    }
}
