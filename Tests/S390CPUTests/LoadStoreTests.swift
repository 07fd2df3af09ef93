import Testing
@testable import S390CPU

/// "b9 04 00 12" -> bytes.
private func loadStoreCode(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Operands at 0x8000 are addressed as 0x100(r3) with r3 = 0x7F00.
private let dataAddress: UInt64 = 0x8000

private func machine(fixedPointOverflowEnabled: Bool = false) -> TestMachine {
    let m = TestMachine()
    if fixedPointOverflowEnabled {
        m.cpu.loadPSW(CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing | 0x0000_0800_0000_0000,
                              address: TestMachine.codeAddress))
    }
    m.cpu.gpr[3] = dataAddress - 0x100
    return m
}

private func storeBytes(_ m: TestMachine, _ bytes: [UInt8], at address: UInt64 = dataAddress) { m.load(bytes, at: address) }

@Suite struct LoadStoreTests {
    // MARK: Register loads

    @Test func loadRegisterKeepsHighHalf() {
        let m = machine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_BBBB_BBBB
        m.cpu.gpr[2] = 0x1111_1111_2222_2222
        m.run(loadStoreCode("18 12"))                    // LR
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_2222_2222)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 04 00 12"))              // LGR
        #expect(m.cpu.gpr[1] == 0x1111_1111_2222_2222)
        m.cpu.gpr[2] = 0x1234_5678_8000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 14 00 12"))              // LGFR
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF_8000_0000)
    }

    @Test(arguments: [(UInt64(0xFFFF_FFFF_0000_0000), UInt64(0x5555_5555_0000_0000), UInt8(0)),
                      (0x0000_0000_8000_0000, 0x5555_5555_8000_0000, 1),
                      (0xFFFF_FFFF_0000_0007, 0x5555_5555_0000_0007, 2)])
    func loadAndTest32(source: UInt64, expected: UInt64, cc: UInt8) {
        let m = machine()
        m.cpu.gpr[1] = 0x5555_5555_5555_5555
        m.cpu.gpr[2] = source
        m.run(loadStoreCode("12 12"))                    // LTR
        #expect(m.cpu.gpr[1] == expected)
        #expect(m.cc == cc)
    }

    @Test func loadAndTest64() {
        let m = machine()
        m.cpu.gpr[2] = 0x0000_0001_0000_0000
        m.run(loadStoreCode("b9 02 00 12"))              // LTGR: positive
        #expect(m.cpu.gpr[1] == 0x0000_0001_0000_0000)
        #expect(m.cc == 2)
        m.cpu.gpr[2] = 0x0000_0001_FFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 12 00 12"))              // LTGFR: low word -1
        #expect(m.cpu.gpr[1] == .max)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 12 00 12"))              // LTGFR: low word 0
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.cc == 0)
    }

    @Test func loadComplement() {
        let m = machine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.gpr[2] = 5
        m.run(loadStoreCode("13 12"))                    // LCR 5
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_FFFF_FFFB)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("13 12"))                    // LCR 0
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0000)
        #expect(m.cc == 0)
        m.cpu.gpr[2] = 0x8000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("13 12"))                    // LCR max negative, overflow masked
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8000_0000)
        #expect(m.cc == 3)
        #expect(!m.interrupted)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 13 00 12"))              // LCGFR of -2^31: fits in 64 bits
        #expect(m.cpu.gpr[1] == 0x0000_0000_8000_0000)
        #expect(m.cc == 2)
        m.cpu.gpr[2] = 0x8000_0000_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 03 00 12"))              // LCGR max negative
        #expect(m.cpu.gpr[1] == 0x8000_0000_0000_0000)
        #expect(m.cc == 3)
        m.cpu.gpr[2] = 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 03 00 12"))              // LCGR 1
        #expect(m.cpu.gpr[1] == .max)
        #expect(m.cc == 1)
    }

    @Test func loadComplementOverflowInterrupts() {
        let m = machine(fixedPointOverflowEnabled: true)
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.gpr[2] = 0x8000_0000
        m.run(loadStoreCode("13 12"))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x08)
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8000_0000)   // the result is stored
        #expect(m.programOldPSW.mask & CPU.PSW.conditionCode == 3 << 44)
        #expect(m.programOldPSW.address == TestMachine.codeAddress + 2)
    }

    @Test func loadPositiveAndNegative() {
        let m = machine()
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.gpr[2] = 0xFFFF_FFFB                      // -5
        m.run(loadStoreCode("10 12"))                    // LPR
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0000_0005)
        #expect(m.cc == 2)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("11 12"))                    // LNR -5 stays -5
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_FFFF_FFFB)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 5
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("11 12"))                    // LNR 5
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_FFFF_FFFB)
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("11 12"))                    // LNR 0
        #expect(m.cc == 0)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("10 12"))                    // LPR 0
        #expect(m.cc == 0)
        m.cpu.gpr[2] = 0x8000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("11 12"))                    // LNR max negative: no overflow
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8000_0000)
        #expect(m.cc == 1)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("10 12"))                    // LPR max negative: overflow
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8000_0000)
        #expect(m.cc == 3)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 10 00 12"))              // LPGFR -2^31 -> +2^31
        #expect(m.cpu.gpr[1] == 0x8000_0000)
        #expect(m.cc == 2)
        m.cpu.gpr[2] = 0x8000_0000_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 00 00 12"))              // LPGR max negative
        #expect(m.cpu.gpr[1] == 0x8000_0000_0000_0000)
        #expect(m.cc == 3)
        m.cpu.gpr[2] = 7
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 01 00 12"))              // LNGR 7
        #expect(m.cpu.gpr[1] == UInt64(bitPattern: -7))
        #expect(m.cc == 1)
        m.cpu.gpr[2] = 0xFFFF_FFFF_FFFF_FFF9
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 11 00 12"))              // LNGFR -7
        #expect(m.cpu.gpr[1] == UInt64(bitPattern: -7))
    }

    @Test func loadPositiveOverflowInterrupts() {
        let m = machine(fixedPointOverflowEnabled: true)
        m.cpu.gpr[2] = 0x8000_0000_0000_0000
        m.run(loadStoreCode("b9 00 00 12"))              // LPGR
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x08)
        #expect(m.cpu.gpr[1] == 0x8000_0000_0000_0000)
    }

    // MARK: Storage loads

    @Test func wordAndDoublewordLoads() {
        let m = machine()
        storeBytes(m, [0x81, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.run(loadStoreCode("58 10 31 00"))              // L
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8123_4567)
        m.cpu.gpr[1] = 0
        m.cpu.gpr[2] = 0x108
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 12 3f f8 ff 58"))        // LY -8(r2,r3): 0x7F00 + 0x108 - 8
        #expect(m.cpu.gpr[1] == 0x0000_0000_8123_4567)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 04"))        // LG
        #expect(m.cpu.gpr[1] == 0x8123_4567_89AB_CDEF)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 14"))        // LGF
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF_8123_4567)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 16"))        // LLGF
        #expect(m.cpu.gpr[1] == 0x8123_4567)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 17"))        // LLGT
        #expect(m.cpu.gpr[1] == 0x0123_4567)
    }

    @Test func loadAndTestFromStorage() {
        let m = machine()
        storeBytes(m, [0x81, 0x23, 0x45, 0x67, 0x00, 0x00, 0x00, 0x00])
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.run(loadStoreCode("e3 10 31 00 00 12"))        // LT
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_8123_4567)
        #expect(m.cc == 1)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 02"))        // LTG
        #expect(m.cpu.gpr[1] == 0x8123_4567_0000_0000)
        #expect(m.cc == 1)
        storeBytes(m, [0x00, 0x00, 0x00, 0x00])
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 32"))        // LTGF 0
        #expect(m.cpu.gpr[1] == 0)
        #expect(m.cc == 0)
        storeBytes(m, [0x00, 0x00, 0x01, 0x00])
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 10 31 00 00 32"))        // LTGF positive
        #expect(m.cpu.gpr[1] == 0x100)
        #expect(m.cc == 2)
    }

    @Test func halfwordAndByteLoads() {
        let m = machine()
        storeBytes(m, [0x81, 0x23])
        let base: UInt64 = 0xAAAA_AAAA_AAAA_AAAA
        let cases: [(String, UInt64)] = [
            ("48 10 31 00", 0xAAAA_AAAA_FFFF_8123),        // LH
            ("e3 10 31 00 00 78", 0xAAAA_AAAA_FFFF_8123),  // LHY
            ("e3 10 31 00 00 15", 0xFFFF_FFFF_FFFF_8123),  // LGH
            ("e3 10 31 00 00 76", 0xAAAA_AAAA_FFFF_FF81),  // LB
            ("e3 10 31 00 00 77", 0xFFFF_FFFF_FFFF_FF81),  // LGB
            ("e3 10 31 00 00 94", 0xAAAA_AAAA_0000_0081),  // LLC
            ("e3 10 31 00 00 90", 0x0000_0000_0000_0081),  // LLGC
            ("e3 10 31 00 00 95", 0xAAAA_AAAA_0000_8123),  // LLH
            ("e3 10 31 00 00 91", 0x0000_0000_0000_8123),  // LLGH
            ("43 10 31 00", 0xAAAA_AAAA_AAAA_AA81),        // IC
            ("e3 10 31 00 00 73", 0xAAAA_AAAA_AAAA_AA81),  // ICY
        ]
        for (code, expected) in cases {
            m.cpu.gpr[1] = base
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect(m.cpu.gpr[1] == expected, "\(code)")
        }
    }

    @Test func halfwordAndByteRegisterLoads() {
        let m = machine()
        let cases: [(String, UInt64)] = [
            ("b9 27 00 12", 0xAAAA_AAAA_FFFF_8123),        // LHR
            ("b9 07 00 12", 0xFFFF_FFFF_FFFF_8123),        // LGHR
            ("b9 26 00 12", 0xAAAA_AAAA_0000_0023),        // LBR (0x23 positive)
            ("b9 06 00 12", 0x0000_0000_0000_0023),        // LGBR
            ("b9 94 00 12", 0xAAAA_AAAA_0000_0023),        // LLCR
            ("b9 84 00 12", 0x0000_0000_0000_0023),        // LLGCR
            ("b9 95 00 12", 0xAAAA_AAAA_0000_8123),        // LLHR
            ("b9 85 00 12", 0x0000_0000_0000_8123),        // LLGHR
            ("b9 16 00 12", 0x0000_0000_F000_8123),        // LLGFR
            ("b9 17 00 12", 0x0000_0000_7000_8123),        // LLGTR
        ]
        for (code, expected) in cases {
            m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
            m.cpu.gpr[2] = 0x5555_5555_F000_8123
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect(m.cpu.gpr[1] == expected, "\(code)")
        }
        m.cpu.gpr[2] = 0xF0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b9 06 00 12"))              // LGBR of a negative byte
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF_FFFF_FFF0)
    }

    // MARK: Addresses and immediates

    @Test func loadAddressIn64BitMode() {
        let m = machine()
        m.cpu.gpr[2] = 0x1_0000_0000
        m.cpu.gpr[3] = 0x10
        m.run(loadStoreCode("41 12 31 00"))              // LA 0x100(r2,r3)
        #expect(m.cpu.gpr[1] == 0x1_0000_0110)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 12 3f ff ff 71"))        // LAY -1(r2,r3)
        #expect(m.cpu.gpr[1] == 0x1_0000_000F)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("c0 10 00 00 00 80"))        // LARL .+0x100
        #expect(m.cpu.gpr[1] == TestMachine.codeAddress + 0x100)
    }

    @Test func loadAddressIn31And24BitModes() {
        let m = machine()
        m.cpu.loadPSW(CPU.PSW(mask: CPU.PSW.basicAddressing, address: TestMachine.codeAddress))
        m.cpu.gpr[1] = .max
        m.cpu.gpr[2] = 0x7FFF_FFFF
        m.cpu.gpr[3] = 0x10
        m.run(loadStoreCode("41 12 31 00"))              // 0x8000010F wraps to 0x10F; bit 32 zero
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF_0000_010F)
        m.cpu.loadPSW(CPU.PSW(mask: 0, address: TestMachine.codeAddress))
        m.cpu.gpr[1] = .max
        m.cpu.gpr[2] = 0x12FF_FFFF
        m.run(loadStoreCode("41 12 31 00"))              // 24-bit: bits 32-39 zero
        #expect(m.cpu.gpr[1] == 0xFFFF_FFFF_0000_010F)
    }

    @Test func immediateLoadsAndInserts() {
        let m = machine()
        let cases: [(String, UInt64)] = [
            ("a7 18 ff fe", 0xAAAA_AAAA_FFFF_FFFE),        // LHI -2
            ("a7 19 ff fe", 0xFFFF_FFFF_FFFF_FFFE),        // LGHI -2
            ("c0 11 ff ff ff fe", 0xFFFF_FFFF_FFFF_FFFE),  // LGFI -2
            ("c0 1e 12 34 56 78", 0x1234_5678_0000_0000),  // LLIHF
            ("c0 1f 12 34 56 78", 0x0000_0000_1234_5678),  // LLILF
            ("a5 1c 12 34", 0x1234_0000_0000_0000),        // LLIHH
            ("a5 1d 12 34", 0x0000_1234_0000_0000),        // LLIHL
            ("a5 1e 12 34", 0x0000_0000_1234_0000),        // LLILH
            ("a5 1f 12 34", 0x0000_0000_0000_1234),        // LLILL
            ("c0 18 12 34 56 78", 0x1234_5678_AAAA_AAAA),  // IIHF
            ("c0 19 12 34 56 78", 0xAAAA_AAAA_1234_5678),  // IILF
            ("a5 10 12 34", 0x1234_AAAA_AAAA_AAAA),        // IIHH
            ("a5 11 12 34", 0xAAAA_1234_AAAA_AAAA),        // IIHL
            ("a5 12 12 34", 0xAAAA_AAAA_1234_AAAA),        // IILH
            ("a5 13 12 34", 0xAAAA_AAAA_AAAA_1234),        // IILL
        ]
        for (code, expected) in cases {
            m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
            m.cpu.conditionCode = 2
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect(m.cpu.gpr[1] == expected, "\(code)")
            #expect(m.cc == 2, "\(code) leaves the CC alone")
        }
    }

    // MARK: Insert / store characters under mask

    @Test(arguments: [([UInt8(0x80), 0x01], UInt64(0xAAAA_AAAA_AA80_AA01), UInt8(1)),
                      ([0x00, 0x00], 0xAAAA_AAAA_AA00_AA00, 0),
                      ([0x01, 0x00], 0xAAAA_AAAA_AA01_AA00, 2)])
    func insertCharactersUnderMask(bytes: [UInt8], expected: UInt64, cc: UInt8) {
        let m = machine()
        storeBytes(m, bytes + [0xEE])
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.run(loadStoreCode("bf 15 31 00"))              // ICM r1,0101b
        #expect(m.cpu.gpr[1] == expected)
        #expect(m.cc == cc)
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 15 31 00 00 81"))        // ICMY
        #expect(m.cpu.gpr[1] == expected)
        #expect(m.cc == cc)
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 15 31 00 00 80"))        // ICMH: bits 0-31
        #expect(m.cpu.gpr[1] == (expected << 32) | 0xAAAA_AAAA)
        #expect(m.cc == cc)
    }

    @Test func insertCharactersFullMaskAndZeroMask() {
        let m = machine()
        storeBytes(m, [0x7F, 0xFF, 0xFF, 0xFF])
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.run(loadStoreCode("bf 1f 31 00"))              // ICM mask 1111
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_7FFF_FFFF)
        #expect(m.cc == 2)
        m.cpu.conditionCode = 1
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("bf 10 31 00"))              // ICM mask 0
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_7FFF_FFFF)
        #expect(m.cc == 0)
        // Mask 0 still recognizes access exceptions for one byte.
        m.cpu.gpr[3] = 0x20_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("bf 10 31 00"))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x05)
    }

    @Test func storeCharactersUnderMask() {
        let m = machine()
        storeBytes(m, [0xEE, 0xEE, 0xEE])
        m.cpu.gpr[1] = 0x5566_7788_1122_3344
        m.run(loadStoreCode("be 1a 31 00"))              // STCM mask 1010
        #expect(m.load8(0x8000) == 0x11 && m.load8(0x8001) == 0x33 && m.load8(0x8002) == 0xEE)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 1a 31 00 00 2c"))        // STCMH mask 1010
        #expect(m.load8(0x8000) == 0x55 && m.load8(0x8001) == 0x77 && m.load8(0x8002) == 0xEE)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 1f 31 00 00 2d"))        // STCMY mask 1111
        #expect(m.load32(0x8000) == 0x1122_3344)
        // Crossing the end of storage: nothing is stored.
        storeBytes(m, [0xEE], at: 0xFFFFF)
        m.cpu.gpr[3] = 0xFFFFF - 0x100
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("be 1a 31 00"))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x05)
        #expect(m.load8(0xFFFFF) == 0xEE)
    }

    // MARK: Stores

    @Test func stores() {
        let m = machine()
        m.cpu.gpr[1] = 0x1122_3344_5566_7788
        let cases: [(String, [UInt8])] = [
            ("50 10 31 00", [0x55, 0x66, 0x77, 0x88, 0xEE]),                           // ST
            ("e3 10 31 00 00 50", [0x55, 0x66, 0x77, 0x88, 0xEE]),                     // STY
            ("e3 10 31 00 00 24", [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xEE]), // STG
            ("40 10 31 00", [0x77, 0x88, 0xEE]),                                       // STH
            ("e3 10 31 00 00 70", [0x77, 0x88, 0xEE]),                                 // STHY
            ("42 10 31 00", [0x88, 0xEE]),                                             // STC
            ("e3 10 31 00 00 72", [0x88, 0xEE]),                                       // STCY
            ("e3 10 31 00 00 3e", [0x88, 0x77, 0x66, 0x55, 0xEE]),                     // STRV
            ("e3 10 31 00 00 2f", [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xEE]), // STRVG
            ("e3 10 31 00 00 3f", [0x88, 0x77, 0xEE]),                                 // STRVH
        ]
        for (code, expected) in cases {
            storeBytes(m, [UInt8](repeating: 0xEE, count: 9))
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect((0..<expected.count).map { m.load8(dataAddress + UInt64($0)) } == expected, "\(code)")
        }
    }

    @Test func moveImmediates() {
        let m = machine()
        m.run(loadStoreCode("92 ab 31 00"))              // MVI
        #expect(m.load8(0x8000) == 0xAB)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb cd 31 00 00 52"))        // MVIY
        #expect(m.load8(0x8000) == 0xCD)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e5 48 31 00 ff fe"))        // MVGHI -2
        #expect(m.load64(0x8000) == 0xFFFF_FFFF_FFFF_FFFE)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e5 4c 31 00 00 05"))        // MVHI 5
        #expect(m.load64(0x8000) == 0x0000_0005_FFFF_FFFE)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e5 44 31 00 80 00"))        // MVHHI
        #expect(m.load64(0x8000) == 0x8000_0005_FFFF_FFFE)
    }

    // MARK: Multiple

    @Test func loadMultipleWraps() {
        let m = machine()
        storeBytes(m, (0..<32).map { UInt8($0) })
        for r in [14, 15, 0, 1, 2] { m.cpu.gpr[r] = 0xAAAA_AAAA_AAAA_AAAA }
        m.run(loadStoreCode("98 e1 31 00"))              // LM 14,1
        #expect(m.cpu.gpr[14] == 0xAAAA_AAAA_0001_0203)
        #expect(m.cpu.gpr[15] == 0xAAAA_AAAA_0405_0607)
        #expect(m.cpu.gpr[0] == 0xAAAA_AAAA_0809_0A0B)
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_0C0D_0E0F)
        #expect(m.cpu.gpr[2] == 0xAAAA_AAAA_AAAA_AAAA)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 96"))        // LMH 14,1
        #expect(m.cpu.gpr[14] == 0x0001_0203_0001_0203)
        #expect(m.cpu.gpr[1] == 0x0C0D_0E0F_0C0D_0E0F)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 04"))        // LMG 14,1
        #expect(m.cpu.gpr[14] == 0x0001_0203_0405_0607)
        #expect(m.cpu.gpr[1] == 0x1819_1A1B_1C1D_1E1F)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.cpu.gpr[14] = 0
        m.run(loadStoreCode("eb e1 31 00 00 98"))        // LMY 14,1
        #expect(m.cpu.gpr[14] == 0x0000_0000_0001_0203)
    }

    @Test func loadMultipleFailingAccessChangesNothing() {
        let m = machine()
        m.cpu.gpr[3] = 0xFFFF8 - 0x100
        for r in [14, 15, 0, 1] { m.cpu.gpr[r] = 0x1234 }
        m.run(loadStoreCode("eb e1 31 00 00 04"))        // LMG crossing the end of storage
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x05)
        #expect([14, 15, 0, 1].allSatisfy { m.cpu.gpr[$0] == 0x1234 })
    }

    @Test func storeMultiple() {
        let m = machine()
        m.cpu.gpr[14] = 0x0001_0203_0405_0607
        m.cpu.gpr[15] = 0x0809_0A0B_0C0D_0E0F
        m.cpu.gpr[0] = 0x1011_1213_1415_1617
        m.cpu.gpr[1] = 0x1819_1A1B_1C1D_1E1F
        m.run(loadStoreCode("90 e1 31 00"))              // STM 14,1
        #expect(m.load64(0x8000) == 0x0405_0607_0C0D_0E0F)
        #expect(m.load64(0x8008) == 0x1415_1617_1C1D_1E1F)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 26"))        // STMH 14,1
        #expect(m.load64(0x8000) == 0x0001_0203_0809_0A0B)
        #expect(m.load64(0x8008) == 0x1011_1213_1819_1A1B)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 24"))        // STMG 14,1
        #expect(m.load64(0x8000) == 0x0001_0203_0405_0607)
        #expect(m.load64(0x8018) == 0x1819_1A1B_1C1D_1E1F)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 90"))        // STMY 14,1
        #expect(m.load64(0x8000) == 0x0405_0607_0C0D_0E0F)
        // Crossing the end of storage: nothing stored.
        m.store64(0xFFFF8, 0xEEEE_EEEE_EEEE_EEEE)
        m.cpu.gpr[3] = 0xFFFF8 - 0x100
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("90 e1 31 00"))
        #expect(m.programInterruptionCode == 0x05)
        #expect(m.load64(0xFFFF8) == 0xEEEE_EEEE_EEEE_EEEE)
    }

    // MARK: Relative long

    @Test func relativeLongLoadsAndStores() {
        let m = machine()
        let target = TestMachine.codeAddress + 0x100
        m.load([0x81, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF], at: target)
        let loads: [(String, UInt64)] = [
            ("c4 1d 00 00 00 80", 0xAAAA_AAAA_8123_4567),  // LRL
            ("c4 18 00 00 00 80", 0x8123_4567_89AB_CDEF),  // LGRL
            ("c4 1c 00 00 00 80", 0xFFFF_FFFF_8123_4567),  // LGFRL
            ("c4 1e 00 00 00 80", 0x0000_0000_8123_4567),  // LLGFRL
            ("c4 15 00 00 00 80", 0xAAAA_AAAA_FFFF_8123),  // LHRL
            ("c4 14 00 00 00 80", 0xFFFF_FFFF_FFFF_8123),  // LGHRL
            ("c4 12 00 00 00 80", 0xAAAA_AAAA_0000_8123),  // LLHRL
            ("c4 16 00 00 00 80", 0x0000_0000_0000_8123),  // LLGHRL
        ]
        for (code, expected) in loads {
            m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect(m.cpu.gpr[1] == expected, "\(code)")
        }
        m.cpu.gpr[1] = 0x1122_3344_5566_7788
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("c4 1b 00 00 00 80"))        // STGRL
        #expect(m.load64(target) == 0x1122_3344_5566_7788)
        m.cpu.gpr[1] = 0xAABB_CCDD
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("c4 1f 00 00 00 80"))        // STRL
        #expect(m.load64(target) == 0xAABB_CCDD_5566_7788)
        m.cpu.gpr[1] = 0xFFFF_9999
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("c4 17 00 00 00 81"))        // STHRL to target + 2
        #expect(m.load64(target) == 0xAABB_9999_5566_7788)
    }

    @Test(arguments: ["c4 1d 00 00 00 81", "c4 18 00 00 00 82", "c4 1c 00 00 00 81", "c4 1e 00 00 00 81",
                      "c4 1f 00 00 00 81", "c4 1b 00 00 00 82"])
    func relativeLongMisalignedIsSpecification(code: String) {
        let m = machine()
        m.cpu.gpr[1] = 0x1234
        m.load([UInt8](repeating: 0xEE, count: 16), at: TestMachine.codeAddress + 0x100)
        m.run(loadStoreCode(code))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x06)
        #expect(m.cpu.gpr[1] == 0x1234)
        #expect(m.load64(TestMachine.codeAddress + 0x100) == 0xEEEE_EEEE_EEEE_EEEE)
        #expect(m.load64(TestMachine.codeAddress + 0x108) == 0xEEEE_EEEE_EEEE_EEEE)
    }

    // MARK: On condition

    @Test func loadAndStoreOnCondition() {
        let m = machine()
        storeBytes(m, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
        m.cpu.gpr[2] = 0x5555_5555_6666_6666
        for (cc, taken) in [(UInt8(0), true), (1, false)] {
            let cases: [(String, UInt64)] = [
                ("b9 f2 80 12", 0xAAAA_AAAA_6666_6666),        // LOCR mask 8
                ("b9 e2 80 12", 0x5555_5555_6666_6666),        // LOCGR
                ("eb 18 31 00 00 f2", 0xAAAA_AAAA_1122_3344),  // LOC
                ("eb 18 31 00 00 e2", 0x1122_3344_5566_7788),  // LOCG
            ]
            for (code, expected) in cases {
                m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
                m.cpu.conditionCode = cc
                m.cpu.pswAddress = TestMachine.codeAddress
                m.run(loadStoreCode(code))
                #expect(m.cpu.gpr[1] == (taken ? expected : 0xAAAA_AAAA_AAAA_AAAA), "\(code) cc \(cc)")
                #expect(m.cc == cc)
            }
        }
        m.cpu.gpr[1] = 0x0102_0304_0506_0708
        m.cpu.conditionCode = 2
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 18 31 00 00 e3"))        // STOCG, not taken
        #expect(m.load64(0x8000) == 0x1122_3344_5566_7788)
        m.cpu.conditionCode = 0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 18 31 00 00 f3"))        // STOC, taken
        #expect(m.load64(0x8000) == 0x0506_0708_5566_7788)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb 18 31 00 00 e3"))        // STOCG, taken
        #expect(m.load64(0x8000) == 0x0102_0304_0506_0708)
    }

    // MARK: Quadword pairs

    @Test func loadAndStorePairQuadword() {
        let m = machine()
        m.store64(0x8000, 0x1111_2222_3333_4444)
        m.store64(0x8008, 0x5555_6666_7777_8888)
        m.run(loadStoreCode("e3 20 31 00 00 8f"))        // LPQ r2
        #expect(m.cpu.gpr[2] == 0x1111_2222_3333_4444)
        #expect(m.cpu.gpr[3] == 0x5555_6666_7777_8888)
        m.cpu.gpr[3] = 0x7F00 + 0x10
        m.cpu.gpr[4] = 0xAAAA_BBBB_CCCC_DDDD
        m.cpu.gpr[5] = 0x1234_5678_9ABC_DEF0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("e3 40 31 00 00 8e"))        // STPQ r4 to 0x8010
        #expect(m.load64(0x8010) == 0xAAAA_BBBB_CCCC_DDDD)
        #expect(m.load64(0x8018) == 0x1234_5678_9ABC_DEF0)
    }

    @Test(arguments: [("e3 30 31 00 00 8f", UInt64(0x7F00)),   // LPQ odd R1
                      ("e3 20 31 00 00 8f", 0x7F08),           // LPQ 8-byte aligned only
                      ("e3 30 31 00 00 8e", 0x7F00),           // STPQ odd R1
                      ("e3 20 31 00 00 8e", 0x7F08)])          // STPQ misaligned
    func pairQuadwordSpecification(code: String, base: UInt64) {
        let m = machine()
        m.store64(0x8000, 0x1111_2222_3333_4444)
        m.store64(0x8008, 0x5555_6666_7777_8888)
        m.cpu.gpr[2] = 0xAA
        m.cpu.gpr[3] = base
        m.run(loadStoreCode(code))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x06)
        #expect(m.cpu.gpr[2] == 0xAA && m.cpu.gpr[3] == base)
        #expect(m.load64(0x8000) == 0x1111_2222_3333_4444 && m.load64(0x8008) == 0x5555_6666_7777_8888)
    }

    // MARK: Reversed

    @Test func loadReversed() {
        let m = machine()
        storeBytes(m, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
        let cases: [(String, UInt64)] = [
            ("e3 10 31 00 00 1e", 0xAAAA_AAAA_4433_2211),  // LRV
            ("e3 10 31 00 00 0f", 0x8877_6655_4433_2211),  // LRVG
            ("e3 10 31 00 00 1f", 0xAAAA_AAAA_AAAA_2211),  // LRVH
            ("b9 1f 00 12", 0xAAAA_AAAA_DDCC_BBAA),        // LRVR
            ("b9 0f 00 12", 0xDDCC_BBAA_4433_2211),        // LRVGR
        ]
        for (code, expected) in cases {
            m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
            m.cpu.gpr[2] = 0x1122_3344_AABB_CCDD
            m.cpu.pswAddress = TestMachine.codeAddress
            m.run(loadStoreCode(code))
            #expect(m.cpu.gpr[1] == expected, "\(code)")
        }
    }

    // MARK: Access registers

    @Test func extractAndSetAccess() {
        let m = machine()
        m.cpu.ar[2] = 0x1234_5678
        m.cpu.gpr[1] = 0xAAAA_AAAA_AAAA_AAAA
        m.run(loadStoreCode("b2 4f 00 12"))              // EAR r1,a2
        #expect(m.cpu.gpr[1] == 0xAAAA_AAAA_1234_5678)
        m.cpu.gpr[2] = 0xFFFF_FFFF_8765_4321
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("b2 4e 00 12"))              // SAR a1,r2
        #expect(m.cpu.ar[1] == 0x8765_4321)
    }

    @Test func loadAndStoreAccessMultiple() {
        let m = machine()
        storeBytes(m, (0..<16).map { UInt8($0) })
        m.cpu.ar[2] = 0xEEEE_EEEE
        m.run(loadStoreCode("9a e1 31 00"))              // LAM a14,a1
        #expect(m.cpu.ar[14] == 0x0001_0203 && m.cpu.ar[15] == 0x0405_0607)
        #expect(m.cpu.ar[0] == 0x0809_0A0B && m.cpu.ar[1] == 0x0C0D_0E0F)
        #expect(m.cpu.ar[2] == 0xEEEE_EEEE)
        m.cpu.ar[14] = 0xA1A2_A3A4
        m.cpu.ar[1] = 0xB1B2_B3B4
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 9b"))        // STAMY a14,a1
        #expect(m.load32(0x8000) == 0xA1A2_A3A4 && m.load32(0x800C) == 0xB1B2_B3B4)
        m.cpu.ar[15] = 0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("eb e1 31 00 00 9a"))        // LAMY
        #expect(m.cpu.ar[15] == 0x0405_0607)
        m.cpu.ar[0] = 0xC1C2_C3C4
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run(loadStoreCode("9b e1 31 00"))              // STAM
        #expect(m.load32(0x8008) == 0xC1C2_C3C4)
    }

    @Test(arguments: ["9a e1 31 00", "9b e1 31 00", "eb e1 31 00 00 9a", "eb e1 31 00 00 9b"])
    func accessMultipleNeedsWordAlignment(code: String) {
        let m = machine()
        m.cpu.gpr[3] = 0x7F02
        m.cpu.ar[14] = 0x1234
        m.run(loadStoreCode(code))
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 0x06)
        #expect(m.cpu.ar[14] == 0x1234)
        #expect(m.load64(0x8000) == 0)
    }
}
