import Testing
@testable import S390CPU

/// Storage keys (ISKE/SSKE/RRBE), key-controlled and fetch protection on ordinary accesses,
/// TPROT's key argument, and low-address protection with DAT off (PoP 3-9 to 3-13).
struct StorageKeyTests {
    static let frame: UInt64 = 0x30000
    static let ssker1r2: [UInt8] = [0xB2, 0x2B, 0x00, 0x12]     // SSKE 1,2
    static let iske3r2: [UInt8] = [0xB2, 0x29, 0x00, 0x32]      // ISKE 3,2
    static let st1: [UInt8] = [0x50, 0x10, 0x20, 0x00]          // ST 1,0(2)
    static let l1: [UInt8] = [0x58, 0x10, 0x20, 0x00]           // L 1,0(2)

    /// A machine whose storage key for `frame` is `key`, running with PSW key `pswKey`.
    static func machine(key: UInt8, pswKey: UInt64) -> TestMachine {
        let m = TestMachine()
        m.cpu.gpr[1] = UInt64(key)
        m.cpu.gpr[2] = frame
        m.run(ssker1r2)
        var psw = m.cpu.psw
        psw.mask |= pswKey << 52
        psw.address = TestMachine.codeAddress
        m.cpu.loadPSW(psw)
        return m
    }

    @Test func setAndInsertKeyRoundTrip() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x3E   // ACC 3, F, R, C
        m.cpu.gpr[2] = Self.frame + 0x123
        m.cpu.gpr[3] = 0xFFFF_FFFF_FFFF_FF01
        m.run(Self.ssker1r2 + Self.iske3r2)
        #expect(m.cpu.gpr[3] == 0xFFFF_FFFF_FFFF_FF3E)
    }

    @Test func resetReferenceReportsOldBits() {
        let m = TestMachine()
        m.cpu.gpr[1] = 0x06   // R and C
        m.cpu.gpr[2] = Self.frame
        m.run(Self.ssker1r2 + [0xB2, 0x2A, 0x00, 0x02] + Self.iske3r2)   // RRBE 0,2 ; ISKE 3,2
        #expect(m.cc == 3)
        #expect(m.cpu.gpr[3] & 0xFF == 0x02)   // R cleared, C kept
    }

    @Test func storeWithMismatchedKeyIsProtection() {
        let m = Self.machine(key: 0x30, pswKey: 5)
        m.cpu.gpr[1] = 0xDEAD_BEEF
        m.run(Self.st1)
        #expect(m.interrupted && m.programInterruptionCode == 0x04)
        #expect(m.load32(Self.frame) == 0)
    }

    @Test func storeWithMatchingKeyOrKeyZeroSucceeds() {
        let matching = Self.machine(key: 0x50, pswKey: 5)
        matching.cpu.gpr[1] = 0x1234_5678
        matching.run(Self.st1)
        #expect(!matching.interrupted && matching.load32(Self.frame) == 0x1234_5678)
        let zero = Self.machine(key: 0x50, pswKey: 0)
        zero.cpu.gpr[1] = 0x9ABC_DEF0
        zero.run(Self.st1)
        #expect(!zero.interrupted && zero.load32(Self.frame) == 0x9ABC_DEF0)
    }

    @Test func fetchProtectionBlocksOnlyWithTheFBit() {
        let open = Self.machine(key: 0x30, pswKey: 5)
        open.run(Self.l1)
        #expect(!open.interrupted)
        let fetchProtected = Self.machine(key: 0x38, pswKey: 5)
        fetchProtected.run(Self.l1)
        #expect(fetchProtected.interrupted && fetchProtected.programInterruptionCode == 0x04)
    }

    @Test(arguments: [(UInt8(0x30), UInt64(0x30), UInt8(0)),   // matching access key
                      (0x30, 0x50, 1),                          // mismatch, not fetch protected
                      (0x38, 0x50, 2),                          // mismatch and fetch protected
                      (0x38, 0x00, 0)])                         // access key 0
    func tprotFollowsTheKey(storageKey: UInt8, accessKey: UInt64, expected: UInt8) {
        let m = Self.machine(key: storageKey, pswKey: 0)
        m.cpu.gpr[3] = accessKey
        m.run([0xE5, 0x01, 0x20, 0x00, 0x30, 0x00])   // TPROT 0(2),0(3)
        #expect(!m.interrupted)
        #expect(m.cc == expected)
    }

    @Test func lowAddressProtectionWithoutDAT() {
        let m = TestMachine()
        m.cpu.setControlRegister(0, m.cpu.cr[0] | 0x1000_0000)
        m.cpu.gpr[2] = 0x100
        m.run(Self.st1)
        #expect(m.interrupted && m.programInterruptionCode == 0x04)
        let above = TestMachine()
        above.cpu.setControlRegister(0, above.cpu.cr[0] | 0x1000_0000)
        above.cpu.gpr[2] = 0x200     // 512 and up is not protected
        above.run(Self.st1)
        #expect(!above.interrupted)
    }
}

/// A purge on one CPU (IPTE, IDTE, SSKE) reaches the others' cached translations.
struct TranslationPurgeTests {
    @Test func anotherCPUsPurgeDropsCachedTranslations() {
        let m = TestMachine()
        let other = CPU(address: 1, model: TestMachine.model, storage: m.cpu.storage, clock: m.cpu.clock,
                        floating: m.cpu.floating, storageKeys: m.cpu.storageKeys, translationEpoch: m.cpu.translationEpoch)
        m.cpu.translationBuffer.insert(0x5000, space: 0, real: 0x7000, writable: true)
        other.invalidateTranslationsEverywhere()
        m.run([0x07, 0x00])          // BCR 0,0: CPU 0 runs a block and notices the purge first
        #expect(m.cpu.translationBuffer.lookup(0x5000, space: 0, store: false) == nil)
    }
}
