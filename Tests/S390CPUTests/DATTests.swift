import Testing
@testable import S390CPU

/// Dynamic address translation over real tables built in the test machine's storage
/// (PoP chapter 3, spec 7.4). Layout:
///   segment table 0x80000 (512 entries, ASCE TL 0), page table 0x84000 for segment 0,
///   a second page table 0x84800 for segment 2;
///   region-first/-second/-third tables at 0x88000/0x8C000/0x90000 for the 5-level ASCE.
/// Segment 0 maps virtual 0-1 MiB to the same real pages, except:
///   0x30000 -> real 0x50000, 0x31000 invalid, 0x32000 DAT-protected, 0x33000 PTE bit 52 set.
/// Segment 1 is invalid; segment 2 maps 0x200000 -> real 0x60000; segment 3 has its page
/// table outside storage; segment 4 has a wrong table type.
struct DATTests {
    static let segmentTable: UInt64 = 0x80000
    static let pageTable: UInt64 = 0x84000
    static let regionFirst: UInt64 = 0x88000, regionSecond: UInt64 = 0x8C000, regionThird: UInt64 = 0x90000
    static let segmentASCE: UInt64 = segmentTable                       // DT 00, TL 0
    static let regionFirstASCE: UInt64 = regionFirst | 0xC | 3          // DT 11, TL 3
    static let dat64 = CPU.PSW.dat | CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing

    static func machine(asce: UInt64 = segmentASCE, psw: UInt64 = dat64) -> TestMachine {
        let m = TestMachine()
        for index in 0..<2048 { m.store64(segmentTable + UInt64(index) * 8, 0x20) }   // invalid
        m.store64(segmentTable, pageTable)
        for page in 0..<256 { m.store64(pageTable + UInt64(page) * 8, UInt64(page) << 12) }
        m.store64(pageTable + 0x30 * 8, 0x50000)
        m.store64(pageTable + 0x31 * 8, 0x31000 | DATBits.pageInvalid)
        m.store64(pageTable + 0x32 * 8, 0x32000 | DATBits.protection)
        m.store64(pageTable + 0x33 * 8, 0x33000 | DATBits.pageZeroBit)
        m.store64(segmentTable + 2 * 8, pageTable + 0x800)
        for page in 0..<256 { m.store64(pageTable + 0x800 + UInt64(page) * 8, DATBits.pageInvalid) }
        m.store64(pageTable + 0x800, 0x60000)
        m.store64(segmentTable + 3 * 8, 0x4000_0000)      // page table far outside the 1 MiB
        m.store64(segmentTable + 4 * 8, pageTable | 0x4)  // TT 01 in a segment entry
        // Region tables: entry 0 of each valid, all others invalid (with the right TT).
        for (table, type) in [(regionFirst, UInt64(3)), (regionSecond, 2), (regionThird, 1)] {
            for index in 0..<2048 { m.store64(table + UInt64(index) * 8, 0x20 | type << 2 | 3) }
        }
        m.store64(regionFirst, regionSecond | 0xC | 3)
        m.store64(regionSecond, regionThird | 0x8 | 3)
        m.store64(regionThird, segmentTable | 0x4 | 0)   // TF 0, TL 0: segment indexes 0-511
        m.cpu.cr[1] = asce
        m.cpu.loadPSW(CPU.PSW(mask: psw, address: TestMachine.codeAddress))
        return m
    }

    /// LG 3,0(1) with R1 = `address`.
    static func load(_ m: TestMachine, _ address: UInt64) {
        m.cpu.gpr[1] = address
        m.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x04])
    }

    @Test(arguments: [segmentASCE, regionFirstASCE])
    func translatesThroughTables(_ asce: UInt64) {
        let m = Self.machine(asce: asce)
        m.store64(0x50008, 0x1122_3344_5566_7788)
        Self.load(m, 0x30008)
        #expect(!m.interrupted)
        #expect(m.cpu.gpr[3] == 0x1122_3344_5566_7788)
    }

    @Test func storesGoToTheRealPage() {
        let m = Self.machine()
        m.cpu.gpr[1] = 0x200010
        m.cpu.gpr[3] = 0xCAFE
        m.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x24])   // STG 3,0(1)
        #expect(m.load64(0x60010) == 0xCAFE)
    }

    /// Nullifying translation exceptions leave the old PSW at the instruction; TEID = page |
    /// fetch indication (bit 52) | primary space.
    @Test(arguments: [
        (UInt64(0x31008), UInt16(0x11)),          // page invalid
        (0x10_0000, 0x10),                        // segment invalid
        (0x2000_0000, 0x10),                      // segment index beyond the ASCE's table length
        (0x8000_0000, 0x38),                      // beyond a segment-table ASCE's reach
    ])
    func translationExceptions(_ address: UInt64, _ code: UInt16) {
        let m = Self.machine()
        m.cpu.gpr[3] = 0x77
        Self.load(m, address)
        #expect(m.programInterruptionCode == code)
        #expect(m.programOldPSW.address == TestMachine.codeAddress)
        #expect(m.load64(0xA8) == (address & ~0xFFF) | 0x800)
        #expect(m.cpu.gpr[3] == 0x77)
    }

    @Test(arguments: [(UInt64(0x33000), UInt16(0x12)), (0x40_0000, 0x12), (0x30_0000, 0x05)])
    func specificationAndAddressing(_ address: UInt64, _ code: UInt16) {
        let m = Self.machine()
        Self.load(m, address)
        #expect(m.programInterruptionCode == code)
        #expect(m.programOldPSW.address == TestMachine.codeAddress + 6)   // suppressed: next
    }

    @Test(arguments: [
        (UInt64(1) << 53, UInt16(0x39)),            // region-first entry 1 invalid
        (UInt64(0x200) << 42, UInt16(0x3A)),                // region-second entry 0x200 invalid
        (UInt64(1) << 31, UInt16(0x3B)),                    // region-third entry 1 invalid
        (UInt64(0x200) << 20, UInt16(0x10)),                // segment index 512 beyond the R3 entry's TL 0
    ])
    func regionExceptions(_ address: UInt64, _ code: UInt16) {
        let m = Self.machine(asce: Self.regionFirstASCE)
        Self.load(m, address)
        #expect(m.programInterruptionCode == code)
        #expect(m.programOldPSW.address == TestMachine.codeAddress)
        #expect(m.load64(0xA8) == (address & ~0xFFF) | 0x800)
    }

    @Test func regionTableLengthAndType() {
        // ASCE TL 0 with a region-first index of 512 or more.
        let m = Self.machine(asce: Self.regionFirst | 0xC)
        Self.load(m, UInt64(0x200) << 53)
        #expect(m.programInterruptionCode == 0x39)
        // A region-second ASCE with a nonzero region-first index.
        let n = Self.machine(asce: Self.regionSecond | 0x8 | 3)
        Self.load(n, UInt64(1) << 53)
        #expect(n.programInterruptionCode == 0x38)
        // A region-first entry whose TT says region-second (the instruction fetch walks it too).
        let o = Self.machine(asce: Self.regionFirstASCE)
        o.store64(Self.regionFirst, Self.regionSecond | 0x8 | 3)
        Self.load(o, 0x30000)
        #expect(o.programInterruptionCode == 0x12)
        // A region-first entry with TF 1: region-second index 0 is below it.
        let p = Self.machine(asce: Self.regionFirstASCE)
        p.store64(Self.regionFirst, Self.regionSecond | 0x40 | 0xC | 3)
        Self.load(p, 0x30000)
        #expect(p.programInterruptionCode == 0x3A)
    }

    @Test func realSpaceASCE() {
        let m = Self.machine(asce: 0x20)
        m.store64(0x30000, 42)
        Self.load(m, 0x30000)
        #expect(m.cpu.gpr[3] == 42)
    }

    @Test func datProtection() {
        let m = Self.machine()
        m.store64(0x32000, 5)
        Self.load(m, 0x32000)   // fetch is allowed
        #expect(m.cpu.gpr[3] == 5)
        let n = Self.machine()
        n.cpu.gpr[1] = 0x32000
        n.cpu.gpr[3] = 9
        n.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x24])   // STG
        #expect(n.programInterruptionCode == 4)
        #expect(n.load64(0xA8) == 0x32000 | 0x400 | 0x4)
        #expect(n.load64(0x32000) == 0)
    }

    @Test func segmentProtection() {
        let m = Self.machine()
        m.store64(Self.segmentTable + 2 * 8, (Self.pageTable + 0x800) | DATBits.protection)
        m.cpu.gpr[1] = 0x200000
        m.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x24])
        #expect(m.programInterruptionCode == 4)
    }

    @Test func lowAddressProtectionWithDAT() {
        let m = Self.machine()
        m.cpu.cr[0] |= DATBits.cr0LowAddressProtection
        m.cpu.gpr[1] = 0x1100
        m.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x24])
        #expect(m.programInterruptionCode == 4)
        #expect(m.load64(0xA8) == 0x1000 | 0x400)
        // A private ASCE is exempt.
        let n = Self.machine(asce: Self.segmentASCE | DATBits.ascePrivate)
        n.cpu.cr[0] |= DATBits.cr0LowAddressProtection
        n.cpu.gpr[1] = 0x1100
        n.cpu.gpr[3] = 3
        n.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x24])
        #expect(!n.interrupted)
        #expect(n.load64(0x1100) == 3)
    }

    @Test func secondarySpaceDataPrimaryInstructions() {
        // Secondary space: a real-space ASCE whose pages differ from primary's mapping at 0x30000.
        let m = Self.machine(psw: Self.dat64 | 0x0000_8000_0000_0000)
        m.cpu.cr[7] = 0x20
        m.store64(0x30000, 1)
        m.store64(0x50000, 2)
        Self.load(m, 0x30000)
        #expect(m.cpu.gpr[3] == 1)
        #expect(!m.interrupted)
    }

    @Test func homeSpaceTEID() {
        let m = Self.machine(psw: Self.dat64 | CPU.PSW.addressSpace)
        m.cpu.cr[13] = Self.segmentASCE
        Self.load(m, 0x31000)
        #expect(m.programInterruptionCode == 0x11)
        #expect(m.load64(0xA8) == 0x31000 | 0x800 | 3)
    }

    // MARK: LRA / LRAG

    func lrag(_ m: TestMachine, _ address: UInt64) {
        m.cpu.gpr[1] = address
        m.cpu.gpr[3] = 0xFFFF_FFFF_FFFF_FFFF
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xE3, 0x30, 0x10, 0x00, 0x00, 0x03])
    }

    @Test func lragConditionCodes() {
        let m = Self.machine()
        lrag(m, 0x30123)
        #expect(m.cc == 0 && m.cpu.gpr[3] == 0x50123)
        lrag(m, 0x31000)
        #expect(m.cc == 2 && m.cpu.gpr[3] == Self.pageTable + 0x31 * 8)
        lrag(m, 0x10_0000)
        #expect(m.cc == 1 && m.cpu.gpr[3] == Self.segmentTable + 8)
        lrag(m, 0x2000_0000)
        #expect(m.cc == 3 && m.cpu.gpr[3] == 0xFFFF_FFFF_8000_0010)
        lrag(m, 0x32000)   // DAT protection does not matter
        #expect(m.cc == 0 && m.cpu.gpr[3] == 0x32000)
        #expect(!m.interrupted)
    }

    @Test func lragRegionEntryInvalidAndDATOff() {
        let m = Self.machine(asce: Self.regionFirstASCE)
        lrag(m, UInt64(1) << 53)
        #expect(m.cc == 3 && m.cpu.gpr[3] == Self.regionFirst + 8)
        // DAT off: LRA still translates.
        let n = Self.machine(psw: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing)
        lrag(n, 0x30000)
        #expect(n.cc == 0 && n.cpu.gpr[3] == 0x50000)
        // Translation specification is an exception.
        let o = Self.machine()
        lrag(o, 0x33000)
        #expect(o.programInterruptionCode == 0x12)
    }

    @Test func lraIn31BitModeKeepsHighHalf() {
        let m = Self.machine(psw: CPU.PSW.dat | CPU.PSW.basicAddressing)
        m.cpu.gpr[1] = 0x30010
        m.cpu.gpr[3] = 0xAAAA_AAAA_FFFF_FFFF
        m.run([0xB1, 0x30, 0x10, 0x00])
        #expect(m.cc == 0)
        #expect(m.cpu.gpr[3] == 0xAAAA_AAAA_0005_0010)
    }

    // MARK: IPTE / IDTE / PTLB

    @Test func ipteInvalidatesThePage() {
        let m = Self.machine()
        m.cpu.gpr[1] = Self.pageTable
        m.cpu.gpr[2] = 0x30000
        m.cpu.gpr[4] = 0x30000
        // IPTE 1,2 ; LG 3,0(4)
        m.run([0xB2, 0x21, 0x00, 0x12, 0xE3, 0x30, 0x40, 0x00, 0x00, 0x04])
        #expect(m.load64(Self.pageTable + 0x30 * 8) == 0x50000 | DATBits.pageInvalid)
        #expect(m.programInterruptionCode == 0x11)
        #expect(m.programOldPSW.address == TestMachine.codeAddress + 4)
    }

    @Test func idteInvalidatesSegmentEntries() {
        let m = Self.machine()
        m.cpu.gpr[1] = Self.segmentASCE
        m.cpu.gpr[2] = 0x200000 | 1   // segment 2 and the next one
        m.run([0xB9, 0x8E, 0x00, 0x12])
        #expect(m.load64(Self.segmentTable + 2 * 8) == (Self.pageTable + 0x800) | 0x20)
        #expect(m.load64(Self.segmentTable + 3 * 8) == 0x4000_0020)
        #expect(m.load64(Self.segmentTable + 4 * 8) == Self.pageTable | 0x4)
        let n = Self.machine()
        n.cpu.gpr[2] = 0x1000   // bits 44-51 must be zero
        n.run([0xB9, 0x8E, 0x00, 0x12])
        #expect(n.programInterruptionCode == 6)
    }

    @Test func ptlbIsHarmless() {
        let m = Self.machine()
        m.run([0xB2, 0x0D, 0x00, 0x00])
        #expect(!m.interrupted)
    }

    // MARK: TPROT and MVPG with DAT

    @Test(arguments: [(UInt64(0x30000), UInt8(0)), (0x32000, 1), (0x31000, 3), (0x10_0000, 3)])
    func tprotWithDAT(_ address: UInt64, _ condition: UInt8) {
        let m = Self.machine()
        m.cpu.gpr[1] = address
        m.run([0xE5, 0x01, 0x10, 0x00, 0x00, 0x00])
        #expect(!m.interrupted)
        #expect(m.cc == condition)
    }

    @Test func tprotAddressingInTheWalk() {
        let m = Self.machine()
        m.cpu.gpr[1] = 0x30_0000
        m.run([0xE5, 0x01, 0x10, 0x00, 0x00, 0x00])
        #expect(m.programInterruptionCode == 5)
    }

    @Test func mvpgConditionCodeOption() {
        let m = Self.machine()
        m.cpu.gpr[0] = 0x100
        m.cpu.gpr[1] = 0x30000
        m.cpu.gpr[2] = 0x31000   // source invalid
        m.run([0xB2, 0x54, 0x00, 0x12])
        #expect(m.cc == 2)
        let n = Self.machine()
        n.cpu.gpr[0] = 0x100
        n.cpu.gpr[1] = 0x31000   // destination invalid
        n.cpu.gpr[2] = 0x30000
        n.run([0xB2, 0x54, 0x00, 0x12])
        #expect(n.cc == 1)
        #expect(!n.interrupted)
    }

    @Test func mvpgPageTranslationIdentifiesOperands() {
        let m = Self.machine()
        m.cpu.gpr[1] = 0x31000
        m.cpu.gpr[2] = 0x30000
        m.run([0xB2, 0x54, 0x00, 0x12])
        #expect(m.programInterruptionCode == 0x11)
        #expect(m.load8(0xA2) == 0x12)
        let n = Self.machine()
        n.cpu.gpr[0] = 0x100
        n.cpu.gpr[1] = 0x32000   // protected destination: an exception even with the option
        n.cpu.gpr[2] = 0x30000
        n.run([0xB2, 0x54, 0x00, 0x12])
        #expect(n.programInterruptionCode == 4)
    }

    @Test func mvpgCopiesThroughTranslation() {
        let m = Self.machine()
        m.store64(0x50000, 0xABCD)
        m.cpu.gpr[1] = 0x200000
        m.cpu.gpr[2] = 0x30000
        m.run([0xB2, 0x54, 0x00, 0x12])
        #expect(m.cc == 0)
        #expect(m.load64(0x60000) == 0xABCD)
    }

    // MARK: The TLB and the key array

    @Test func translationBuffer() {
        let tlb = TranslationBuffer()
        #expect(tlb.lookup(0x5123, space: 0, store: false) == nil)
        tlb.insert(0x5123, space: 0, real: 0x9000, writable: false)
        #expect(tlb.lookup(0x5FFF, space: 0, store: false) == 0x9FFF)
        #expect(tlb.lookup(0x5000, space: 0, store: true) == nil)      // protected: walk again
        #expect(tlb.lookup(0x5000, space: 2, store: false) == nil)     // other space
        #expect(tlb.lookup(0x10_5000, space: 0, store: false) == nil)  // same slot, other page
        tlb.insert(0x6000, space: 3, real: 0xA000, writable: true)
        #expect(tlb.lookup(0x6008, space: 3, store: true) == 0xA008)
        tlb.flush()
        #expect(tlb.lookup(0x6008, space: 3, store: false) == nil)
    }

    @Test func translateThroughBuffer() throws {
        let m = Self.machine()
        let tlb = TranslationBuffer()
        #expect(try m.cpu.translateDAT(0x30010, .fetch, buffer: tlb) == 0x50010)
        // Change the table without invalidation: the buffer still answers (as hardware may).
        m.store64(Self.pageTable + 0x30 * 8, 0x70000)
        #expect(try m.cpu.translateDAT(0x30020, .fetch, buffer: tlb) == 0x50020)
        tlb.flush()
        #expect(try m.cpu.translateDAT(0x30020, .fetch, buffer: tlb) == 0x70020)
        #expect(throws: CPUException.self) { try m.cpu.translateDAT(0x32000, .store, buffer: tlb) }
    }

    @Test func storageKeys() {
        let keys = StorageKeys(storageSize: 1 << 20)
        #expect(keys.key(absolute: 0x5000) == 0)
        #expect(keys.resetReference(absolute: 0x5000) == 0)
        keys.setKey(absolute: 0x5123, 0x3F)   // ACC 3, F, R, C (bit 7 ignored)
        #expect(keys.key(absolute: 0x5000) == 0x3E)
        #expect(keys.key(absolute: 0x6000) == 0)
        #expect(keys.resetReference(absolute: 0x5000) == 3)
        #expect(keys.key(absolute: 0x5000) == 0x3A)
        #expect(keys.resetReference(absolute: 0x5000) == 1)
        // Key-controlled protection and TPROT's condition code.
        #expect(keys.protectionCondition(absolute: 0x5000, accessKey: 0, effectiveAddress: 0x5000, cr0: 0) == 0)
        #expect(keys.protectionCondition(absolute: 0x5000, accessKey: 3, effectiveAddress: 0x5000, cr0: 0) == 0)
        #expect(keys.protectionCondition(absolute: 0x5000, accessKey: 4, effectiveAddress: 0x5000, cr0: 0) == 2)
        keys.setKey(absolute: 0x5000, 0x30)   // not fetch protected
        #expect(keys.protectionCondition(absolute: 0x5000, accessKey: 4, effectiveAddress: 0x5000, cr0: 0) == 1)
        keys.setKey(absolute: 0x0000, 0x98)   // ACC 9, fetch protected
        #expect(keys.protectionCondition(absolute: 0, accessKey: 4, effectiveAddress: 0x100, cr0: 0) == 2)
        #expect(keys.protectionCondition(absolute: 0, accessKey: 4, effectiveAddress: 0x100, cr0: 0x0200_0000) == 1)
        #expect(keys.protectionCondition(absolute: 0, accessKey: 4, effectiveAddress: 0x100, cr0: 0x0100_0000) == 0)
    }
}
