import Testing
@testable import S390CPU

/// IPM/SPM/EPSW, SVC, prefetch, clock stores and STFLE.
@Suite struct ProgramStateTests {
    static let mode64 = CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing

    func machine(cc: UInt64 = 0, programMask: UInt64 = 0) -> TestMachine {
        let m = TestMachine()
        m.cpu.psw = CPU.PSW(mask: ProgramStateTests.mode64 | cc << 44 | programMask << 40, address: TestMachine.codeAddress)
        return m
    }

    @Test func ipmInsertsCCAndProgramMask() {
        let m = machine(cc: 2, programMask: 0xA)
        m.cpu.gpr[2] = .max
        m.run([0xB2, 0x22, 0x00, 0x20])
        #expect(m.cpu.gpr[2] == 0xFFFF_FFFF_2AFF_FFFF)
    }

    @Test func spmSetsCCAndProgramMaskAndRoundTrips() {
        let m = machine()
        m.cpu.gpr[2] = 0xFFFF_FFFF_DDAB_CDEF   // bits 32-33 (11) ignored; CC 01; mask 1101
        m.run([0x04, 0x20, 0xB2, 0x22, 0x00, 0x30])   // SPM 2 ; IPM 3
        #expect(m.cc == 1)
        #expect(m.cpu.psw.mask & CPU.PSW.programMask == 0xD << 40)
        #expect(m.cpu.gpr[3] & 0xFF00_0000 == 0x1D00_0000)
    }

    @Test func epswExtractsBothHalves() {
        let m = machine(cc: 1)
        m.cpu.gpr[2] = 0xAAAA_AAAA_FFFF_FFFF; m.cpu.gpr[3] = 0xBBBB_BBBB_0000_0000; m.cpu.gpr[0] = 0x1234
        m.run([0xB9, 0x8D, 0x00, 0x23, 0xB9, 0x8D, 0x00, 0x40])   // EPSW 2,3 ; EPSW 4,0
        #expect(m.cpu.gpr[2] == 0xAAAA_AAAA_0000_1001)
        #expect(m.cpu.gpr[3] == 0xBBBB_BBBB_8000_0000)
        #expect(m.cpu.gpr[4] == 0x0000_1001 && m.cpu.gpr[0] == 0x1234)
    }

    /// SVC new PSW: a disabled wait at 0x40000, so the run stops after the interruption.
    func svcMachine() -> TestMachine {
        let m = machine()
        m.store64(0x1C0, CPU.PSW.wait | ProgramStateTests.mode64)
        m.store64(0x1C8, 0x40000)
        return m
    }

    @Test func svcDeliversCodeAndILC() {
        let m = svcMachine()
        m.run([0x0A, 0x05])
        #expect(m.cpu.pswAddress == 0x40000)
        #expect(m.load16(0x88) == 2 && m.load16(0x8A) == 5)
        #expect(m.load64(0x148) == 0x10002)
    }

    @Test func svcUnderExecuteHasTheExecuteILC() {
        let m = svcMachine()
        m.load([0x0A, 0x00], at: 0x30000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x17
        m.run([0x44, 0x20, 0x10, 0x00])   // EX 2,0(1)
        #expect(m.load16(0x88) == 4 && m.load16(0x8A) == 0x17)
        #expect(m.load64(0x148) == 0x10004)

        let r = svcMachine()
        r.cpu.gpr[2] = 0x21
        r.run([0xC6, 0x20, 0x00, 0x00, 0x00, 0x04, 0x07, 0x00, 0x0A, 0x00], instructions: 1)   // EXRL 2,+8 ; BCR 0,0 ; SVC 0
        #expect(r.load16(0x88) == 6 && r.load16(0x8A) == 0x21)
        #expect(r.load64(0x148) == 0x10006)
    }

    @Test func prefetchIsANoOpEvenOutsideStorage() {
        let m = machine(cc: 3)
        m.cpu.gpr[1] = 0xFFFF_FFFF_FFFF_0000
        m.run([0xE3, 0x10, 0x10, 0x00, 0x00, 0x36, 0xC6, 0x12, 0x7F, 0xFF, 0xFF, 0xFF])   // PFD ; PFDRL
        #expect(!m.interrupted && m.cc == 3 && m.cpu.pswAddress == 0x1000C)
    }

    @Test func stckStoresIncreasingClockValues() {
        let m = machine(cc: 3)
        m.cpu.gpr[1] = 0x30001   // no alignment requirement
        let before = TODClock.hostTOD()
        m.run([0xB2, 0x05, 0x10, 0x00, 0xB2, 0x05, 0x10, 0x08])
        let after = TODClock.hostTOD()
        let first = m.load64(0x30001), second = m.load64(0x30009)
        #expect(m.cc == 0)
        #expect(first >= before && second <= after + 16)
        #expect(second > first)
    }

    @Test func stckfStoresClock() {
        let m = machine(cc: 3)
        m.cpu.gpr[1] = 0x30000
        let before = TODClock.hostTOD()
        m.run([0xB2, 0x7C, 0x10, 0x00])
        #expect(m.cc == 0 && m.load64(0x30000) >= before && m.load64(0x30000) <= TODClock.hostTOD())
    }

    @Test func stckeLayout() {
        let m = machine(cc: 3)
        m.cpu.todProgrammableRegister = 0xBEEF
        m.cpu.gpr[1] = 0x30000
        let before = TODClock.hostTOD()
        m.run([0xB2, 0x78, 0x10, 0x00])
        let after = TODClock.hostTOD()
        #expect(m.cc == 0)
        #expect(m.load8(0x30000) == 0)
        let tod = m.load64(0x30001)
        #expect(tod >= before && tod <= after + 16)
        #expect((9...12).allSatisfy { m.load8(0x30000 + UInt64($0)) == 0 } && m.load8(0x3000D) == 1)
        #expect(m.load16(0x3000E) == 0xBEEF)
    }

    @Test func stfleTruncatedAndComplete() {
        let m = machine()
        m.cpu.gpr[0] = 0xFFFF_FFFF_FFFF_FF00   // one doubleword provided
        m.store64(0x30008, 0xAAAA_AAAA_AAAA_AAAA)
        m.cpu.gpr[1] = 0x30000
        m.run([0xB2, 0xB0, 0x10, 0x00])
        // The model's bits 0-4, 7 give 0xF9 in the first byte; bit 138 needs three doublewords.
        #expect(m.cc == 3 && m.cpu.gpr[0] == 0xFFFF_FFFF_FFFF_FF02)
        #expect(m.load8(0x30000) == 0xF9 && m.load64(0x30008) == 0xAAAA_AAAA_AAAA_AAAA)

        let c = machine()
        c.cpu.gpr[0] = 3; c.cpu.gpr[1] = 0x30000
        c.run([0xB2, 0xB0, 0x10, 0x00])
        #expect(c.cc == 0 && c.cpu.gpr[0] == 2)
        #expect(c.load64(0x30010) == 1 << (63 - 10))   // bit 138 is bit 10 of doubleword 2
    }

    @Test func stfleNeedsDoublewordAlignment() {
        let m = machine()
        m.cpu.gpr[1] = 0x30004
        m.run([0xB2, 0xB0, 0x10, 0x00])
        #expect(m.interrupted && m.programInterruptionCode == 0x06)
    }
}
