import Testing
@testable import S390CPU

/// Control instructions. Expected values follow the PoP and spec s390x-cpu.md 5.4, 7.1-7.8.
struct ControlTests {
    static let mode64 = CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing

    /// A machine whose PSW is in problem state (64-bit) at the code address.
    static func problemStateMachine() -> TestMachine {
        let m = TestMachine()
        m.cpu.loadPSW(CPU.PSW(mask: mode64 | CPU.PSW.problemState, address: TestMachine.codeAddress))
        return m
    }

    // MARK: LPSW / LPSWE

    @Test func lpsweLoadsValidPSW() {
        let m = TestMachine()
        m.store64(0x3000, Self.mode64 | 0x0000_2000_0000_0000)   // CC 2
        m.store64(0x3008, 0x12000)
        m.cpu.gpr[1] = 0x3000
        m.run([0xB2, 0xB2, 0x10, 0x00])
        #expect(!m.interrupted)
        #expect(m.cpu.psw == CPU.PSW(mask: Self.mode64 | 0x0000_2000_0000_0000, address: 0x12000))
        #expect(m.cc == 2)
    }

    /// Spec 5.4: the program-old PSW is the invalid PSW, either unchanged with ILC 0 or with its
    /// address advanced by the ILC.
    func expectInvalidPSW(_ m: TestMachine, _ invalid: CPU.PSW) {
        #expect(m.interrupted)
        #expect(m.programInterruptionCode == 6)
        let old = m.programOldPSW, ilc = UInt64(m.programInterruptionILC)
        #expect(old.mask == invalid.mask)
        #expect((ilc == 0 && old.address == invalid.address) || old.address == invalid.address &+ ilc)
    }

    @Test(arguments: [
        CPU.PSW(mask: CPU.PSW.fixed12, address: 0xDEAD_BEEE),                          // bit 12 one
        CPU.PSW(mask: mode64, address: 0x12001),                                        // odd address
        CPU.PSW(mask: CPU.PSW.extendedAddressing, address: 0x12000),                    // EA without BA
        CPU.PSW(mask: mode64 | 0x8000_0000_0000_0000, address: 0x12000),                // bit 0
        CPU.PSW(mask: mode64 | 0x0000_0000_0000_0001, address: 0x12000),                // bit 63
        CPU.PSW(mask: CPU.PSW.basicAddressing, address: 0x8000_0000),                   // 31-bit, address too wide
        CPU.PSW(mask: 0, address: 0x0100_0000),                                         // 24-bit, address too wide
    ])
    func lpsweInvalidPSW(_ invalid: CPU.PSW) {
        let m = TestMachine()
        m.store64(0x3000, invalid.mask)
        m.store64(0x3008, invalid.address)
        m.cpu.gpr[1] = 0x3000
        m.run([0xB2, 0xB2, 0x10, 0x00], instructions: 2)
        expectInvalidPSW(m, invalid)
    }

    @Test func lpsweUnalignedOperand() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x3004
        m.run([0xB2, 0xB2, 0x10, 0x00])
        #expect(m.programInterruptionCode == 6)
        #expect(m.programOldPSW == CPU.PSW(mask: Self.mode64, address: 0x10004))
    }

    @Test func lpsweWaitPSWStopsTheCPU() {
        let m = TestMachine()
        let wait = CPU.PSW(mask: Self.mode64 | CPU.PSW.wait, address: 0x4000)
        m.store64(0x3000, wait.mask)
        m.store64(0x3008, wait.address)
        m.cpu.gpr[1] = 0x3000
        #expect(m.run([0xB2, 0xB2, 0x10, 0x00]) == .wait)
        #expect(m.cpu.psw == wait)
    }

    @Test func lpsweIsPrivileged() {
        let m = Self.problemStateMachine()
        m.cpu.gpr[1] = 0x3000
        m.run([0xB2, 0xB2, 0x10, 0x00])
        #expect(m.programInterruptionCode == 2)
    }

    @Test func lpswConvertsShortPSW() {
        let m = TestMachine()
        // Short PSW: I/O mask, bit 12 one, CC 1, BA, address 0x12000.
        m.store64(0x3000, 0x0208_1000_8001_2000)
        m.cpu.gpr[1] = 0x3000
        m.run([0x82, 0x00, 0x10, 0x00])
        #expect(m.cpu.psw == CPU.PSW(mask: 0x0200_1000_8000_0000, address: 0x12000))
    }

    @Test func lpswShortPSWWithBit12ZeroIsInvalid() {
        let m = TestMachine()
        m.store64(0x3000, 0x0000_0000_8001_2000)
        m.cpu.gpr[1] = 0x3000
        m.run([0x82, 0x00, 0x10, 0x00], instructions: 2)
        expectInvalidPSW(m, CPU.PSW(mask: CPU.PSW.fixed12 | CPU.PSW.basicAddressing, address: 0x12000))
    }

    @Test func lpswUnaligned() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x3004
        m.run([0x82, 0x00, 0x10, 0x00])
        #expect(m.programInterruptionCode == 6)
    }

    // MARK: System mask

    @Test func ssmReplacesSystemMask() {
        let m = TestMachine()
        m.load([0x03], at: 0x3000)
        m.cpu.gpr[1] = 0x3000
        m.run([0x80, 0x00, 0x10, 0x00])
        #expect(!m.interrupted)
        #expect(m.cpu.psw.mask == Self.mode64 | CPU.PSW.io | CPU.PSW.external)
    }

    @Test func ssmSuppressedByCR0() {
        let m = TestMachine()
        m.cpu.cr[0] |= 0x4000_0000
        m.cpu.gpr[1] = 0x3000
        m.run([0x80, 0x00, 0x10, 0x00])
        #expect(m.programInterruptionCode == 0x13)
    }

    @Test func ssmInvalidMaskIsSpecification() {
        let m = TestMachine()
        m.load([0x80], at: 0x3000)
        m.cpu.gpr[1] = 0x3000
        m.run([0x80, 0x00, 0x10, 0x00], instructions: 2)
        #expect(m.programInterruptionCode == 6)
        #expect(m.programOldPSW.mask == Self.mode64 | 0x8000_0000_0000_0000)
    }

    @Test func stnsmAndStosm() {
        let m = TestMachine()
        m.cpu.loadPSW(CPU.PSW(mask: Self.mode64 | CPU.PSW.io | CPU.PSW.external, address: TestMachine.codeAddress))
        m.cpu.gpr[1] = 0x3000
        // STNSM 0(1),0xFE ; STOSM 1(1),0x04... keep DAT off: OR 0x00 then check stored bytes.
        m.run([0xAC, 0xFE, 0x10, 0x00, 0xAD, 0x01, 0x10, 0x01])
        #expect(m.load8(0x3000) == 0x03)
        #expect(m.load8(0x3001) == 0x02)
        #expect(m.cpu.psw.mask == Self.mode64 | CPU.PSW.io | CPU.PSW.external)
    }

    // MARK: Control registers

    @Test func lctlWrapsAndKeepsHighHalves() {
        let m = TestMachine()
        for index in 0..<4 { m.store32(0x3000 + UInt64(index) * 4, 0x1111_1111 &* UInt32(index + 1)) }
        for r in [14, 15, 0, 1] { m.cpu.cr[r] = 0xAAAA_AAAA_0000_0000 }
        m.cpu.gpr[1] = 0x3000
        m.run([0xB7, 0xE1, 0x10, 0x00])   // LCTL 14,1
        #expect(m.cpu.cr[14] == 0xAAAA_AAAA_1111_1111)
        #expect(m.cpu.cr[15] == 0xAAAA_AAAA_2222_2222)
        #expect(m.cpu.cr[0] == 0xAAAA_AAAA_3333_3333)
        #expect(m.cpu.cr[1] == 0xAAAA_AAAA_4444_4444)
    }

    @Test func lctlgAndStctg() {
        let m = TestMachine()
        m.store64(0x3000, 0x0000_0000_0000_0E00)
        m.store64(0x3008, 0x1234_5678_9ABC_D000)
        m.cpu.gpr[1] = 0x3000
        m.cpu.gpr[2] = 0x4000
        // LCTLG 0,1,0(1) ; STCTG 0,15,0(2)
        m.run([0xEB, 0x01, 0x10, 0x00, 0x00, 0x2F, 0xEB, 0x0F, 0x20, 0x00, 0x00, 0x25])
        #expect(m.cpu.cr[0] == 0xE00)
        #expect(m.cpu.cr[1] == 0x1234_5678_9ABC_D000)
        #expect(m.load64(0x4000) == 0xE00)
        #expect(m.load64(0x4008) == 0x1234_5678_9ABC_D000)
        #expect(m.load64(0x4000 + 14 * 8) == 0xC200_0000)
    }

    @Test func stctlStoresLowHalves() {
        let m = TestMachine()
        m.cpu.cr[15] = 0xFFFF_FFFF_0102_0304
        m.cpu.cr[0] = 0x0000_0000_0506_0708
        m.cpu.gpr[1] = 0x3000
        m.run([0xB6, 0xF0, 0x10, 0x00])   // STCTL 15,0
        #expect(m.load32(0x3000) == 0x0102_0304)
        #expect(m.load32(0x3004) == 0x0506_0708)
    }

    @Test(arguments: [[0xB7, 0x00, 0x10, 0x02] as [UInt8], [0xEB, 0x00, 0x10, 0x04, 0x00, 0x2F],
                      [0xB6, 0x00, 0x10, 0x01], [0xEB, 0x00, 0x10, 0x04, 0x00, 0x25]])
    func controlRegisterAlignment(_ code: [UInt8]) {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x3000
        m.run(code)
        #expect(m.programInterruptionCode == 6)
        #expect(m.cpu.cr[0] == 0xE0)
    }

    // MARK: Prefix and identity

    @Test func spxAndStpx() {
        let m = TestMachine()
        m.store32(0x3000, 0x0004_1FFF)   // low bits are ignored
        // Prefix 0x40000: the new lowcore must hold the program-new PSW for later tests; none here.
        m.cpu.gpr[1] = 0x3000
        m.cpu.gpr[2] = 0x3100
        m.run([0xB2, 0x10, 0x10, 0x00, 0xB2, 0x11, 0x20, 0x00])
        #expect(m.cpu.prefix == 0x40000)
        #expect(m.load32(0x3100) == 0x40000)
    }

    @Test func spxOutsideStorageIsAddressing() {
        let m = TestMachine()
        m.store32(0x3000, 0x7FFF_E000)
        m.cpu.gpr[1] = 0x3000
        m.run([0xB2, 0x10, 0x10, 0x00])
        #expect(m.programInterruptionCode == 5)
        #expect(m.cpu.prefix == 0)
    }

    @Test(arguments: [[0xB2, 0x10, 0x10, 0x02] as [UInt8], [0xB2, 0x11, 0x10, 0x01], [0xB2, 0x12, 0x10, 0x01],
                      [0xB2, 0x02, 0x10, 0x04], [0xB2, 0x04, 0x10, 0x04], [0xB2, 0x06, 0x10, 0x02],
                      [0xB2, 0x07, 0x10, 0x01], [0xB2, 0x08, 0x10, 0x04], [0xB2, 0x09, 0x10, 0x06]])
    func misalignedOperandsAreSpecification(_ code: [UInt8]) {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x3000
        m.run(code)
        #expect(m.programInterruptionCode == 6)
    }

    @Test func stapAndStidp() {
        let m = TestMachine()
        m.store32(0x3000, 0xFFFF_FFFF)
        m.cpu.gpr[1] = 0x3000
        m.cpu.gpr[2] = 0x3008
        m.run([0xB2, 0x12, 0x10, 0x00, 0xB2, 0x02, 0x20, 0x00])
        #expect(m.load16(0x3000) == 0)
        #expect(m.load16(0x3002) == 0xFFFF)
        #expect(m.load64(0x3008) == 0x0000_0000_8561_0000)
    }

    @Test func stapOutsideStorageIsAddressing() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x20_0000
        m.run([0xB2, 0x12, 0x10, 0x00])
        #expect(m.programInterruptionCode == 5)
    }

    @Test func stflStoresFirstFacilityWord() {
        let m = TestMachine()
        m.run([0xB2, 0xB1, 0x00, 0x00])
        // Bits 0-4, 7 | 9 | 16, 18, 19, 21, 22 | 24, 25, 27, 30, 31 of QEMU's list.
        #expect(m.load32(0xC8) == 0xF940_B6D3)
    }

    @Test func stflIsPrivileged() {
        let m = Self.problemStateMachine()
        m.run([0xB2, 0xB1, 0x00, 0x00])
        #expect(m.programInterruptionCode == 2)
    }

    // MARK: STSI

    func stsi(_ m: TestMachine, r0: UInt64, r1: UInt64, operand: UInt64 = 0x4000) {
        m.cpu.gpr[0] = r0
        m.cpu.gpr[1] = r1
        m.cpu.gpr[2] = operand
        m.run([0xB2, 0x7D, 0x20, 0x00])
    }

    @Test func stsiCurrentLevel() {
        let m = TestMachine()
        stsi(m, r0: 0xFFFF_FFFF_0000_0000, r1: 0)
        #expect(m.cpu.gpr[0] == 0xFFFF_FFFF_3000_0000)
        #expect(m.cc == 0)
    }

    @Test func stsi111IsQEMU() {
        let m = TestMachine()
        stsi(m, r0: 0x1000_0001, r1: 1)
        #expect(m.cc == 0)
        #expect(m.load32(0x4000 + 32) == 0xD8C5_D4E4)     // "QEMU"
        #expect(m.load32(0x4000 + 36) == 0x4040_4040)
        #expect(m.load32(0x4000 + 48) == 0xF8F5_F6F1)     // "8561"
        #expect(m.load32(0x4000 + 96) == 0xD8C5_D4E4)
    }

    @Test func stsi322DescribesTheVM() {
        let m = TestMachine()
        m.cpu.identity = MachineIdentity(cpuCount: 2, maxCPUs: 4, name: "kvm-unit-test", uuid: Array(1...16))
        m.load([UInt8](repeating: 0xEE, count: 16), at: 0x4000 + 4000)
        stsi(m, r0: 0x3000_0002, r1: 2)
        #expect(m.cc == 0)
        #expect(m.load8(0x4000 + 31) == 1)
        #expect(m.load16(0x4000 + 36) == 4)    // total
        #expect(m.load16(0x4000 + 38) == 2)    // configured
        #expect(m.load16(0x4000 + 40) == 0)    // standby
        #expect(m.load16(0x4000 + 42) == 2)    // reserved
        #expect(m.load64(0x4000 + 44) == 0x92A5_9460_A495_89A3)   // "kvm-unit" in EBCDIC
        #expect(m.load32(0x4000 + 56) == 0xD2E5_D461)              // "KVM/"
        #expect(m.load8(0x4000 + 75) == 2)
        #expect(m.load8(0x4000 + 80) == 1 && m.load8(0x4000 + 95) == 16)
        #expect(m.load64(0x4000 + 2048) == 0x6B76_6D2D_756E_6974)  // "kvm-unit" in ASCII
        #expect(m.load8(0x4000 + 2048 + 13) == 0)
        #expect(m.load8(0x4000 + 4000) == 0)   // the whole SYSIB page is stored
    }

    @Test(arguments: [(UInt64(0x7000_0000), UInt64(0)), (0x1000_0001, 0), (0x1000_0000, 1), (0x2000_0001, 1),
                      (0x3000_0002, 1), (0x3000_0001, 2), (0xF000_0000, 0)])
    func stsiInvalidSelectorsSetCC3(_ r0: UInt64, _ r1: UInt64) {
        let m = TestMachine()
        m.store64(0x4000, 0x1234)
        stsi(m, r0: r0, r1: r1)
        #expect(!m.interrupted)
        #expect(m.cc == 3)
        #expect(m.load64(0x4000) == 0x1234)
    }

    @Test(arguments: [(UInt64(0x1000_0101), UInt64(1), UInt64(0x4000)), (0x1000_0001, 0x1_0001, 0x4000),
                      (0x1000_0001, 1, 0x4800)])
    func stsiSpecification(_ r0: UInt64, _ r1: UInt64, _ operand: UInt64) {
        let m = TestMachine()
        stsi(m, r0: r0, r1: r1, operand: operand)
        #expect(m.programInterruptionCode == 6)
    }

    // MARK: Clocks

    @Test func sckSetsTheClock() {
        let m = TestMachine()
        let value: UInt64 = 0xD000_0000_0000_0000
        m.store64(0x3000, value)
        m.cpu.gpr[1] = 0x3000
        m.cpu.conditionCode = 3
        m.run([0xB2, 0x04, 0x10, 0x00])
        let now = m.cpu.clock.read()
        #expect(m.cc == 0)
        #expect(now >= value && now - value < 4096 * 1_000_000)   // within a second
    }

    @Test func clockComparatorAndCPUTimerRoundTrip() {
        let m = TestMachine()
        m.store64(0x3000, 0x1234_5678_9ABC_DEF0)
        m.store64(0x3010, 0x0000_0100_0000_0000)
        m.cpu.gpr[1] = 0x3000
        // SCKC 0(1) ; STCKC 8(1) ; SPT 16(1) ; STPT 24(1)
        m.run([0xB2, 0x06, 0x10, 0x00, 0xB2, 0x07, 0x10, 0x08, 0xB2, 0x08, 0x10, 0x10, 0xB2, 0x09, 0x10, 0x18])
        #expect(m.cpu.clockComparator == 0x1234_5678_9ABC_DEF0)
        #expect(m.load64(0x3008) == 0x1234_5678_9ABC_DEF0)
        let timer = m.load64(0x3018)
        #expect(timer <= 0x0000_0100_0000_0000 && 0x0000_0100_0000_0000 - timer < 4096 * 1_000_000)
    }

    @Test func sckpf() {
        let m = TestMachine()
        m.cpu.gpr[0] = 0xFFFF_FFFF_0000_1234
        m.run([0x01, 0x07])
        #expect(m.cpu.todProgrammableRegister == 0x1234)
        let n = TestMachine()
        n.cpu.gpr[0] = 0x0001_0000
        n.run([0x01, 0x07])
        #expect(n.programInterruptionCode == 6)
    }

    // MARK: PSW key

    @Test func spkaAndIpk() {
        let m = TestMachine()
        m.cpu.gpr[2] = 0xFFFF_FFFF_FFFF_FFFF
        m.run([0xB2, 0x0A, 0x00, 0x30, 0xB2, 0x0B, 0x00, 0x00])
        #expect(m.cpu.psw.mask == Self.mode64 | 0x0030_0000_0000_0000)
        #expect(m.cpu.gpr[2] == 0xFFFF_FFFF_FFFF_FF30)
    }

    @Test func spkaInProblemStateNeedsKeyMask() {
        let m = Self.problemStateMachine()
        m.run([0xB2, 0x0A, 0x00, 0x30])
        #expect(m.programInterruptionCode == 2)
        let n = Self.problemStateMachine()
        n.cpu.cr[3] = 0x1000_0000   // key 3 authorized
        n.run([0xB2, 0x0A, 0x00, 0x30])
        #expect(!n.interrupted)
        #expect(n.cpu.psw.mask & CPU.PSW.key == 0x0030_0000_0000_0000)
    }

    @Test func ipkInProblemStateNeedsExtractionAuthority() {
        let m = Self.problemStateMachine()
        m.run([0xB2, 0x0B, 0x00, 0x00])
        #expect(m.programInterruptionCode == 2)
        let n = Self.problemStateMachine()
        n.cpu.cr[0] |= 0x0800_0000
        n.run([0xB2, 0x0B, 0x00, 0x00])
        #expect(!n.interrupted)
    }

    // MARK: TEST BLOCK, TPROT, real-storage access, MVPG (real mode)

    @Test func testBlockClearsTheBlock() {
        let m = TestMachine()
        m.load([UInt8](repeating: 0xAA, count: 4096), at: 0x5000)
        m.cpu.gpr[2] = 0x5123
        m.cpu.conditionCode = 2
        m.run([0xB2, 0x2C, 0x00, 0x02])
        #expect(m.cc == 0)
        #expect(m.load64(0x5000) == 0 && m.load64(0x5FF8) == 0)
        #expect(m.load8(0x6000) == 0)
    }

    @Test func testBlockExceptions() {
        let m = TestMachine()
        m.cpu.cr[0] |= DATBits.cr0LowAddressProtection
        m.cpu.gpr[2] = 0x1000
        m.run([0xB2, 0x2C, 0x00, 0x02])
        #expect(m.programInterruptionCode == 4)
        let n = TestMachine()
        n.cpu.gpr[2] = 0x10_0000
        n.run([0xB2, 0x2C, 0x00, 0x02])
        #expect(n.programInterruptionCode == 5)
    }

    @Test func tprotRealMode() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x5000
        m.run([0xE5, 0x01, 0x10, 0x00, 0x00, 0x00])
        #expect(m.cc == 0)
        let n = TestMachine()
        n.cpu.cr[0] |= DATBits.cr0LowAddressProtection
        n.cpu.gpr[1] = 0x100
        n.run([0xE5, 0x01, 0x10, 0x00, 0x00, 0x00])
        #expect(n.cc == 1)
        let o = TestMachine()
        o.cpu.gpr[1] = 0x10_0000
        o.run([0xE5, 0x01, 0x10, 0x00, 0x00, 0x00])
        #expect(o.programInterruptionCode == 5)
    }

    @Test func realStorageLoadsAndStores() {
        let m = TestMachine()
        m.store64(0x5000, 0x0102_0304_0506_0708)
        m.cpu.gpr[2] = 0x5000
        m.cpu.gpr[4] = 0x5100
        m.cpu.gpr[3] = 0xFFFF_FFFF_FFFF_FFFF
        m.cpu.gpr[5] = 0xAAAA_BBBB_CCCC_DDDD
        // LURA 3,2 ; LURAG 6,2 ; STURA 5,4 ; STURG 5,... (R2 = 4 + 8 via r7)
        m.cpu.gpr[7] = 0x5108
        m.run([0xB2, 0x4B, 0x00, 0x32, 0xB9, 0x05, 0x00, 0x62, 0xB2, 0x46, 0x00, 0x54, 0xB9, 0x25, 0x00, 0x57])
        #expect(m.cpu.gpr[3] == 0xFFFF_FFFF_0102_0304)
        #expect(m.cpu.gpr[6] == 0x0102_0304_0506_0708)
        #expect(m.load32(0x5100) == 0xCCCC_DDDD)
        #expect(m.load64(0x5108) == 0xAAAA_BBBB_CCCC_DDDD)
    }

    @Test func realStorageExceptions() {
        let m = TestMachine()
        m.cpu.gpr[2] = 0x5002
        m.run([0xB2, 0x4B, 0x00, 0x32])
        #expect(m.programInterruptionCode == 6)
        let n = TestMachine()
        n.cpu.cr[0] |= DATBits.cr0LowAddressProtection
        n.cpu.gpr[2] = 0x100
        n.run([0xB9, 0x25, 0x00, 0x32])
        #expect(n.programInterruptionCode == 4)
        let o = TestMachine()
        o.cpu.gpr[2] = 0x10_0000
        o.run([0xB9, 0x05, 0x00, 0x32])
        #expect(o.programInterruptionCode == 5)
    }

    @Test func mvpgRealMode() {
        let m = TestMachine()
        for index in 0..<4096 { m.load([UInt8(truncatingIfNeeded: index)], at: 0x5000 + UInt64(index)) }
        m.cpu.gpr[1] = 0x6000
        m.cpu.gpr[2] = 0x5FFF   // the page is taken, not the byte
        m.cpu.conditionCode = 3
        m.run([0xB2, 0x54, 0x00, 0x12])
        #expect(m.cc == 0)
        #expect(m.load8(0x6000) == 0 && m.load8(0x6001) == 1 && m.load8(0x6FFF) == 0xFF)
    }

    @Test(arguments: [UInt64(0xC00), 0x1000])
    func mvpgSpecification(_ r0: UInt64) {
        let m = TestMachine()
        m.cpu.gpr[0] = r0
        m.cpu.gpr[1] = 0x6000
        m.cpu.gpr[2] = 0x5000
        m.run([0xB2, 0x54, 0x00, 0x12])
        #expect(m.programInterruptionCode == 6)
    }

    // MARK: Miscellaneous

    @Test func ecagPalbAndSacf() {
        let m = TestMachine()
        m.run([0xEB, 0x30, 0x00, 0x00, 0x00, 0x4C, 0xB2, 0x48, 0x00, 0x00])
        #expect(m.cpu.gpr[3] == .max)
        #expect(!m.interrupted)
        let n = TestMachine()
        n.run([0xB2, 0x79, 0x01, 0x00])   // SACF 256 with DAT off
        #expect(n.programInterruptionCode == 0x13)
        let o = TestMachine()
        o.run([0xB2, 0x79, 0x04, 0x00])
        #expect(o.programInterruptionCode == 6)
        let p = Self.problemStateMachine()
        p.run([0xB2, 0x79, 0x03, 0x00])
        #expect(p.programInterruptionCode == 2)
    }

    @Test(arguments: [[0x82, 0x00, 0x10, 0x00] as [UInt8], [0x80, 0x00, 0x10, 0x00], [0xAC, 0x00, 0x10, 0x00],
                      [0xB7, 0x00, 0x10, 0x00], [0xEB, 0x00, 0x10, 0x00, 0x00, 0x25], [0xB2, 0x10, 0x10, 0x00],
                      [0xB2, 0x7D, 0x10, 0x00], [0xB2, 0x04, 0x10, 0x00], [0xB2, 0x2C, 0x00, 0x02],
                      [0xE5, 0x01, 0x10, 0x00, 0x00, 0x00], [0xB2, 0x0D, 0x00, 0x00], [0xB2, 0x21, 0x00, 0x12],
                      [0xE3, 0x30, 0x10, 0x00, 0x00, 0x03], [0xB9, 0x25, 0x00, 0x32], [0x01, 0x07]])
    func privilegedInProblemState(_ code: [UInt8]) {
        let m = Self.problemStateMachine()
        m.cpu.gpr[1] = 0x3000
        m.run(code)
        #expect(m.programInterruptionCode == 2)
    }
}
