import Testing
@testable import S390CPU

/// FPR loads/stores/moves, the FPC, and the long-BFP subset.
@Suite struct FloatingPointTests {
    /// A machine with the AFP-register control (CR0 bit 45) on, as the guests run.
    func machine(afp: Bool = true) -> TestMachine {
        let m = TestMachine()
        if afp { m.cpu.cr[0] |= 0x40000 }
        return m
    }
    func bits(_ d: Double) -> UInt64 { d.bitPattern }
    func dataException(_ m: TestMachine, dxc: UInt32) -> Bool {
        m.interrupted && m.programInterruptionCode == 0x07 && m.load32(0x90) == dxc   // DXC in byte 0x93
    }

    // MARK: Loads, stores, moves

    @Test func longAndShortLoadsAndStores() {
        let m = machine()
        m.store64(0x30000, 0x4008_0000_0000_0000)
        m.store32(0x30008, 0x4040_0000)
        m.cpu.fpr[2] = 0x1111_1111_2222_2222
        m.cpu.gpr[1] = 0x30000
        // LD 3,0(1) ; LE 2,8(1) ; STD 3,16(1) ; STE 2,24(1) ; LDY 4,0(1) ; STEY 4,28(1)
        m.run([0x68, 0x30, 0x10, 0x00, 0x78, 0x20, 0x10, 0x08, 0x60, 0x30, 0x10, 0x10, 0x70, 0x20, 0x10, 0x18,
               0xED, 0x40, 0x10, 0x00, 0x00, 0x65, 0xED, 0x40, 0x10, 0x1C, 0x00, 0x66])
        #expect(m.cpu.fpr[3] == 0x4008_0000_0000_0000)
        #expect(m.cpu.fpr[2] == 0x4040_0000_2222_2222)   // short load keeps the right half
        #expect(m.load64(0x30010) == 0x4008_0000_0000_0000)
        #expect(m.load32(0x30018) == 0x4040_0000)
        #expect(m.cpu.fpr[4] == 0x4008_0000_0000_0000 && m.load32(0x3001C) == 0x4008_0000)
    }

    @Test func registerMoves() {
        let m = machine()
        m.cpu.fpr[4] = 0xAAAA_AAAA_BBBB_BBBB; m.cpu.fpr[2] = 0x1111_1111_2222_2222
        m.cpu.fpr[6] = 0x3333_3333_4444_4444; m.cpu.fpr[8] = 0x5555_5555_6666_6666
        // LER 2,4 ; LDR 1,4 ; LZER 6 ; LZDR 8
        m.run([0x38, 0x24, 0x28, 0x14, 0xB3, 0x74, 0x00, 0x60, 0xB3, 0x75, 0x00, 0x80])
        #expect(m.cpu.fpr[2] == 0xAAAA_AAAA_2222_2222)
        #expect(m.cpu.fpr[1] == 0xAAAA_AAAA_BBBB_BBBB)
        #expect(m.cpu.fpr[6] == 0x0000_0000_4444_4444)
        #expect(m.cpu.fpr[8] == 0)
    }

    @Test func ldgrAndLgdr() {
        let m = machine()
        m.cpu.gpr[3] = 0x0123_4567_89AB_CDEF
        m.run([0xB3, 0xC1, 0x00, 0x13, 0xB3, 0xCD, 0x00, 0x51])   // LDGR 1,3 ; LGDR 5,1
        #expect(m.cpu.fpr[1] == 0x0123_4567_89AB_CDEF && m.cpu.gpr[5] == 0x0123_4567_89AB_CDEF)
    }

    @Test func afpRegistersNeedTheControl() {
        let m = machine(afp: false)
        m.cpu.gpr[3] = 7
        m.run([0xB3, 0xC1, 0x00, 0x23, 0xB3, 0xC1, 0x00, 0x13])   // LDGR 2,3 works ; LDGR 1,3 fails
        #expect(m.cpu.fpr[2] == 7 && m.cpu.fpr[1] == 0)
        #expect(dataException(m, dxc: 1))
        #expect(m.cpu.fpc == 0)   // with AFP off the DXC does not go to the FPC

        let l = machine(afp: false)
        l.cpu.gpr[1] = 0x30000
        l.run([0x68, 0x80, 0x10, 0x00])   // LD 8
        #expect(dataException(l, dxc: 1))
    }

    @Test func bfpNeedsTheControl() {
        for code: [UInt8] in [[0xB3, 0x1A, 0x00, 0x24], [0xB3, 0x8C, 0x00, 0x20], [0xB2, 0x9C, 0x10, 0x00]] {
            let m = machine(afp: false)
            m.cpu.gpr[1] = 0x30000
            m.run(code)   // ADBR 2,4 / EFPC / STFPC
            #expect(dataException(m, dxc: 2))
        }
    }

    // MARK: FPC

    @Test func fpcRoundTrip() {
        let m = machine()
        m.cpu.gpr[1] = 0x30000
        m.store32(0x30000, 0xF800_0001)                  // all masks, round toward zero
        m.cpu.gpr[2] = 0xFFFF_FFFF_0000_0003
        // LFPC 0(1) ; STFPC 4(1) ; SFPC 2 ; EFPC 3
        m.run([0xB2, 0x9D, 0x10, 0x00, 0xB2, 0x9C, 0x10, 0x04, 0xB3, 0x84, 0x00, 0x20, 0xB3, 0x8C, 0x00, 0x30])
        #expect(m.load32(0x30004) == 0xF800_0001)
        #expect(m.cpu.fpc == 3 && m.cpu.gpr[3] == 3)
    }

    @Test func invalidFPCIsSpecification() {
        for value: UInt64 in [0x0000_0004, 0x0000_0005, 0x0000_0006, 0x0100_0000, 0x0001_0000, 0x0000_0080, 0x0000_0008] {
            let m = machine()
            m.cpu.fpc = 1
            m.cpu.gpr[2] = value
            m.run([0xB3, 0x84, 0x00, 0x20])
            #expect(m.interrupted && m.programInterruptionCode == 0x06)
            #expect(m.cpu.fpc == 1)
        }
        let ok = machine()
        ok.cpu.gpr[2] = 0x0000_0007   // prepare for shorter precision (floating-point extension)
        ok.run([0xB3, 0x84, 0x00, 0x20])
        #expect(!ok.interrupted && ok.cpu.fpc == 7)
    }

    // MARK: BFP

    @Test func divideAndCompareAsSelftest() {
        let m = machine()
        m.cpu.gpr[1] = 0x30000
        m.store64(0x30000, bits(2.0)); m.store64(0x30008, bits(1.5))
        m.cpu.fpr[2] = bits(3.0)
        m.run([0xED, 0x20, 0x10, 0x00, 0x00, 0x1D, 0xED, 0x20, 0x10, 0x08, 0x00, 0x19])   // DDB 2,0(1) ; CDB 2,8(1)
        #expect(m.cpu.fpr[2] == bits(1.5) && m.cc == 0)
    }

    @Test func compareConditionCodes() {
        for (a, b, expected) in [(1.0, 2.0, UInt8(1)), (2.0, 1.0, 2), (-0.0, 0.0, 0), (Double.nan, 1.0, 3)] {
            let m = machine()
            m.cpu.fpr[2] = bits(a); m.cpu.fpr[4] = bits(b)
            m.run([0xB3, 0x19, 0x00, 0x24])
            #expect(m.cc == expected)
        }
    }

    @Test func addSubtractMultiply() {
        let m = machine()
        m.cpu.fpr[2] = bits(1.5); m.cpu.fpr[4] = bits(-4.0)
        m.run([0xB3, 0x1A, 0x00, 0x24])   // ADBR
        #expect(m.cpu.fpr[2] == bits(-2.5) && m.cc == 1)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xB3, 0x1B, 0x00, 0x24])   // SDBR: -2.5 - -4 = 1.5
        #expect(m.cpu.fpr[2] == bits(1.5) && m.cc == 2)
        m.cpu.fpr[4] = bits(1.5)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xB3, 0x1B, 0x00, 0x24])   // zero
        #expect(m.cpu.fpr[2] == bits(0) && m.cc == 0)
        m.cpu.fpr[2] = bits(3); m.cpu.fpr[4] = bits(-2)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xB3, 0x1C, 0x00, 0x24])   // MDBR leaves the CC
        #expect(m.cpu.fpr[2] == bits(-6) && m.cc == 0)
    }

    @Test func invalidOperationFlagsOrTraps() {
        let m = machine()
        m.cpu.fpr[2] = bits(.infinity); m.cpu.fpr[4] = bits(-.infinity)
        m.run([0xB3, 0x1A, 0x00, 0x24])   // inf + -inf
        #expect(m.cc == 3 && Double(bitPattern: m.cpu.fpr[2]).isNaN && m.cpu.fpc & 0x0080_0000 != 0)

        let t = machine()
        t.cpu.fpc = 0x8000_0000   // invalid-operation mask
        t.cpu.fpr[2] = bits(.infinity); t.cpu.fpr[4] = bits(-.infinity)
        t.run([0xB3, 0x1A, 0x00, 0x24])
        #expect(dataException(t, dxc: 0x80))
        #expect(t.cpu.fpr[2] == bits(.infinity))   // suppressed
        #expect(t.cpu.fpc & 0xFF00 == 0x8000)       // DXC also in the FPC with AFP on
    }

    @Test func divideByZero() {
        let m = machine()
        m.cpu.fpr[2] = bits(1); m.cpu.fpr[4] = bits(0)
        m.run([0xB3, 0x1D, 0x00, 0x24])
        #expect(m.cpu.fpr[2] == bits(.infinity) && m.cpu.fpc & 0x0040_0000 != 0)
        let t = machine()
        t.cpu.fpc = 0x4000_0000
        t.cpu.fpr[2] = bits(1); t.cpu.fpr[4] = bits(0)
        t.run([0xB3, 0x1D, 0x00, 0x24])
        #expect(dataException(t, dxc: 0x40) && t.cpu.fpr[2] == bits(1))
    }

    @Test func loadAndTestAndComplement() {
        let m = machine()
        m.cpu.fpr[4] = bits(-3)
        m.run([0xB3, 0x12, 0x00, 0x24, 0xB3, 0x13, 0x00, 0x64])   // LTDBR 2,4 ; LCDBR 6,4
        #expect(m.cpu.fpr[2] == bits(-3) && m.cpu.fpr[6] == bits(3) && m.cc == 2)
        let z = machine()
        z.cpu.fpr[4] = bits(0)
        z.run([0xB3, 0x13, 0x00, 0x24])
        #expect(z.cpu.fpr[2] == bits(-0.0) && z.cc == 0)
        let n = machine()
        n.cpu.fpr[4] = 0x7FF8_0000_0000_0000
        n.run([0xB3, 0x12, 0x00, 0x24])
        #expect(n.cc == 3 && n.cpu.fpc == 0)   // a quiet NaN is no exception
    }

    @Test func convertFromFixed() {
        let m = machine()
        m.cpu.gpr[3] = 0x1234_5678_FFFF_FFFB   // low word -5
        m.cpu.gpr[4] = UInt64(bitPattern: -(1 << 40))
        m.run([0xB3, 0x95, 0x00, 0x23, 0xB3, 0xA5, 0x00, 0x64])   // CDFBR 2,3 ; CDGBR 6,4
        #expect(m.cpu.fpr[2] == bits(-5) && m.cpu.fpr[6] == bits(-1_099_511_627_776))
    }

    func cfdbr(_ value: Double, m3: UInt8, fpc: UInt32 = 0, long: Bool = false) -> (UInt64, UInt8, TestMachine) {
        let m = machine()
        m.cpu.fpc = fpc
        m.cpu.fpr[2] = bits(value)
        m.cpu.gpr[3] = 0xAAAA_AAAA_0000_0000
        m.run([0xB3, long ? 0xA9 : 0x99, m3 << 4, 0x32])
        return (m.cpu.gpr[3], m.cc, m)
    }

    @Test func convertToFixedRoundingMethods() {
        #expect(cfdbr(2.5, m3: 5).0 == 0xAAAA_AAAA_0000_0002)    // toward zero
        #expect(cfdbr(2.5, m3: 4).0 == 0xAAAA_AAAA_0000_0002)    // nearest even
        #expect(cfdbr(2.5, m3: 1).0 == 0xAAAA_AAAA_0000_0003)    // nearest, ties away
        #expect(cfdbr(2.1, m3: 6).0 == 0xAAAA_AAAA_0000_0003)    // toward +inf
        #expect(cfdbr(-2.5, m3: 7).0 == 0xAAAA_AAAA_FFFF_FFFD)   // toward -inf: -3
        #expect(cfdbr(2.5, m3: 0).0 == 0xAAAA_AAAA_0000_0002)    // FPC mode 0: nearest even
        #expect(cfdbr(2.7, m3: 0, fpc: 1).0 == 0xAAAA_AAAA_0000_0002)   // FPC mode 1: toward zero
        #expect(cfdbr(2.2, m3: 3).0 == 0xAAAA_AAAA_0000_0003)    // prepare for shorter precision: odd
        #expect(cfdbr(-2.5, m3: 5).1 == 1 && cfdbr(0.0, m3: 5).1 == 0 && cfdbr(7, m3: 5).1 == 2)
        #expect(cfdbr(-0.25, m3: 5).1 == 1)   // the CC follows the source, not the result
    }

    @Test func convertToFixedSpecialCases() {
        let nan = cfdbr(.nan, m3: 5)
        #expect(nan.0 == 0xAAAA_AAAA_8000_0000 && nan.1 == 3 && nan.2.cpu.fpc & 0x0080_0000 != 0)
        #expect(cfdbr(3e9, m3: 5).0 == 0xAAAA_AAAA_8000_0000 && cfdbr(3e9, m3: 5).1 == 3)
        #expect(cfdbr(-2147483648.0, m3: 5).0 == 0xAAAA_AAAA_8000_0000 && cfdbr(-2147483648.0, m3: 5).1 == 1)
        #expect(cfdbr(-2147483648.5, m3: 7).1 == 3)
        let big = cfdbr(1e19, m3: 5, long: true)
        #expect(big.0 == 0x8000_0000_0000_0000 && big.1 == 3)
        let g = cfdbr(-1e18, m3: 0, long: true)
        #expect(g.0 == UInt64(bitPattern: -1_000_000_000_000_000_000) && g.1 == 1)
        let spec = cfdbr(1, m3: 2)
        #expect(spec.2.interrupted && spec.2.programInterruptionCode == 0x06)
    }
}
