import Foundation
import Testing
@testable import S390CPU

/// Storage-to-storage, string and interlocked-update instructions (PoP chapter 7).
@Suite struct StorageToStorageTests {
    func bytes(_ m: TestMachine, _ address: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { m.load8(address + UInt64($0)) }
    }
    /// The CC after a loop that ends by running into the zeros after the code (an operation
    /// exception): the CC of the program-old PSW.
    func loopCC(_ m: TestMachine) -> UInt8 {
        m.interrupted ? UInt8((m.programOldPSW.mask >> 44) & 3) : m.cc
    }

    // MARK: MVC and the SS-a logical family

    @Test func mvcCopiesAndLeavesNeighbours() {
        let m = TestMachine()
        m.load([1, 2, 3, 4, 5, 6, 7, 8], at: 0x31000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.load([0xEE], at: 0x2FFFF); m.load([0xEE], at: 0x30008)
        m.run([0xD2, 0x07, 0x10, 0x00, 0x20, 0x00])   // MVC 0(8,1),0(2)
        #expect(bytes(m, 0x30000, 8) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(m.load8(0x2FFFF) == 0xEE && m.load8(0x30008) == 0xEE)
    }

    @Test func mvcOneByteOverlapPropagates() {
        let m = TestMachine()
        m.load([0xAB, 1, 2, 3, 4, 5, 6], at: 0x30000)
        m.cpu.gpr[1] = 0x30000
        m.run([0xD2, 0x04, 0x10, 0x01, 0x10, 0x00])   // MVC 1(5,1),0(1)
        #expect(bytes(m, 0x30000, 7) == [0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 6])
    }

    @Test func mvcOverlapByThreeRepeatsPatternAcrossPage() {
        let m = TestMachine()
        // Destination = source + 3, crossing the 0x31000 page boundary: byte-at-a-time repeats 1,2,3.
        m.load([1, 2, 3], at: 0x30FFC)
        m.cpu.gpr[1] = 0x30FFC
        m.run([0xD2, 0x07, 0x10, 0x03, 0x10, 0x00])   // MVC 3(8,1),0(1)
        #expect(bytes(m, 0x30FFC, 11) == [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2])
    }

    @Test func mvcLargeCrossPageCopy() {
        let m = TestMachine()
        let source = (0..<256).map { UInt8($0) }
        m.load(source, at: 0x31F80)
        m.cpu.gpr[1] = 0x32FC0; m.cpu.gpr[2] = 0x31F80
        m.run([0xD2, 0xFF, 0x10, 0x00, 0x20, 0x00])   // MVC 0(256,1),0(2)
        #expect(bytes(m, 0x32FC0, 256) == source)
    }

    @Test func mvcFailingOperandChangesNothing() {
        let m = TestMachine()
        m.load([9, 9, 9, 9, 9, 9, 9, 9], at: 0x30000)
        m.load([0x55, 0x55, 0x55, 0x55], at: 0xFFFFC)
        m.cpu.gpr[1] = 0xFFFFC; m.cpu.gpr[2] = 0x30000   // destination runs past 1 MiB
        m.run([0xD2, 0x07, 0x10, 0x00, 0x20, 0x00])
        #expect(m.interrupted && m.programInterruptionCode == 0x05)
        #expect(bytes(m, 0xFFFFC, 4) == [0x55, 0x55, 0x55, 0x55])
    }

    @Test func xcSameOperandClears() {
        let m = TestMachine()
        m.load([1, 2, 3, 4, 5, 6, 7, 8, 9], at: 0x30000)
        m.cpu.gpr[1] = 0x30000
        m.run([0xD7, 0x07, 0x10, 0x00, 0x10, 0x00])   // XC 0(8,1),0(1)
        #expect(bytes(m, 0x30000, 9) == [0, 0, 0, 0, 0, 0, 0, 0, 9])
        #expect(m.cc == 0)
    }

    @Test func xcOcNcResultsAndCC() {
        let m = TestMachine()
        let a: [UInt8] = (0..<16).map { UInt8($0 * 17) }, b: [UInt8] = (0..<16).map { UInt8(0xF0 ^ $0) }
        m.load(a, at: 0x30000); m.load(b, at: 0x31000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xD7, 0x0F, 0x10, 0x00, 0x20, 0x00])   // XC 0(16,1),0(2)
        #expect(bytes(m, 0x30000, 16) == zip(a, b).map { $0 ^ $1 })
        #expect(m.cc == 1)
        // XC again with the same second operand restores a; XC of equal operands is zero -> CC 0.
        m.load(b, at: 0x30000)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xD7, 0x0F, 0x10, 0x00, 0x20, 0x00])
        #expect(m.cc == 0 && bytes(m, 0x30000, 16) == [UInt8](repeating: 0, count: 16))

        m.load([0x0F, 0x00, 0xF0, 0x00], at: 0x30000); m.load([0xF0, 0x00, 0x0F, 0x01], at: 0x31000)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xD4, 0x03, 0x10, 0x00, 0x20, 0x00])   // NC: all zero
        #expect(m.cc == 0 && bytes(m, 0x30000, 4) == [0, 0, 0, 0])
        m.load([0x0F, 0x00, 0xF0, 0x00], at: 0x30000)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xD6, 0x03, 0x10, 0x00, 0x20, 0x00])   // OC
        #expect(m.cc == 1 && bytes(m, 0x30000, 4) == [0xFF, 0x00, 0xFF, 0x01])
    }

    @Test func clcConditionCodes() {
        for (tweak, expected) in [(UInt8(0x30), UInt8(0)), (0x2F, 2), (0x31, 1)] {
            let m = TestMachine()
            let a = [UInt8](repeating: 0x30, count: 16)
            var b = a; b[10] = tweak      // differs after the first 8-byte chunk
            m.load(a, at: 0x30FF8); m.load(b, at: 0x31000 + 0x100)
            m.cpu.gpr[1] = 0x30FF8; m.cpu.gpr[2] = 0x31100
            m.run([0xD5, 0x0F, 0x10, 0x00, 0x20, 0x00])   // CLC 0(16,1),0(2)
            #expect(m.cc == expected)
        }
    }

    @Test func clcFirstDifferenceDecides() {
        let m = TestMachine()
        m.load([0x01, 0xFF], at: 0x30000); m.load([0x02, 0x00], at: 0x31000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xD5, 0x01, 0x10, 0x00, 0x20, 0x00])
        #expect(m.cc == 1)
    }

    @Test func mvnAndMvz() {
        let m = TestMachine()
        m.load([0x12, 0x34, 0x56, 0x78], at: 0x30000); m.load([0xAB, 0xCD, 0xEF, 0x90], at: 0x31000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xD1, 0x03, 0x10, 0x00, 0x20, 0x00])   // MVN
        #expect(bytes(m, 0x30000, 4) == [0x1B, 0x3D, 0x5F, 0x70])
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xD3, 0x03, 0x10, 0x00, 0x20, 0x00])   // MVZ
        #expect(bytes(m, 0x30000, 4) == [0xAB, 0xCD, 0xEF, 0x90])
    }

    @Test func trTranslates() {
        let m = TestMachine()
        m.load((0..<256).map { UInt8(255 - $0) }, at: 0x31000)
        m.load([0, 1, 0x80, 0xFF], at: 0x30000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xDC, 0x03, 0x10, 0x00, 0x20, 0x00])
        #expect(bytes(m, 0x30000, 4) == [0xFF, 0xFE, 0x7F, 0x00])
    }

    @Test func trtFindsFunctionByte() {
        let m = TestMachine()
        m.load([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77], at: 0x31000)   // table[7] = 0x77
        m.load([1, 2, 7, 3], at: 0x30000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xDD, 0x03, 0x10, 0x00, 0x20, 0x00])
        #expect(m.cc == 1)
        #expect(m.cpu.gpr[1] == 0x30002)          // 64-bit mode: the whole register
        #expect(m.cpu.gpr[2] == 0x31077)          // bits 56-63 = function byte

        let n = TestMachine()
        n.load([0, 0, 0, 0, 0, 0, 0, 0x77], at: 0x31000)
        n.load([1, 2, 3, 7], at: 0x30000)
        n.cpu.gpr[1] = 0x30000; n.cpu.gpr[2] = 0x31000
        n.run([0xDD, 0x03, 0x10, 0x00, 0x20, 0x00])
        #expect(n.cc == 2 && n.cpu.gpr[1] == 0x30003)

        let z = TestMachine()
        z.load([1, 2, 3, 4], at: 0x30000)
        z.cpu.gpr[1] = 0x30000; z.cpu.gpr[2] = 0x31000
        z.run([0xDD, 0x03, 0x10, 0x00, 0x20, 0x00])
        #expect(z.cc == 0 && z.cpu.gpr[1] == 0x30000 && z.cpu.gpr[2] == 0x31000)
    }

    @Test func mvoPoPExample() {
        let m = TestMachine()
        m.load([0x77, 0x88, 0x99, 0x0C], at: 0x30000); m.load([0x12, 0x34, 0x56], at: 0x31000)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x31000
        m.run([0xF1, 0x32, 0x10, 0x00, 0x20, 0x00])   // MVO 0(4,1),0(3,2)
        #expect(bytes(m, 0x30000, 4) == [0x01, 0x23, 0x45, 0x6C])
    }

    // MARK: Long moves and compares

    @Test func mvclPadsAndUpdatesRegisters() {
        let m = TestMachine()
        m.load([1, 2, 3], at: 0x31000)
        m.cpu.gpr[2] = 0x30000; m.cpu.gpr[3] = 0xFFFF_FFFF_0000_0006   // dest 6 bytes
        m.cpu.gpr[4] = 0x31000; m.cpu.gpr[5] = 0x0000_0000_5A00_0003                 // pad 0x5A, 3 bytes
        m.run([0x0E, 0x24])
        #expect(bytes(m, 0x30000, 7) == [1, 2, 3, 0x5A, 0x5A, 0x5A, 0])
        #expect(m.cc == 2)
        #expect(m.cpu.gpr[2] == 0x30006 && m.cpu.gpr[3] == 0xFFFF_FFFF_0000_0000)
        #expect(m.cpu.gpr[4] == 0x31003 && m.cpu.gpr[5] == 0x5A00_0000)
    }

    @Test func mvclConditionCodes() {
        let m = TestMachine()
        m.cpu.gpr[2] = 0x30000; m.cpu.gpr[3] = 2; m.cpu.gpr[4] = 0x31000; m.cpu.gpr[5] = 4
        m.run([0x0E, 0x24])
        #expect(m.cc == 1 && m.cpu.gpr[3] == 0 && m.cpu.gpr[5] == 2)
        let e = TestMachine()
        e.cpu.gpr[2] = 0x30000; e.cpu.gpr[3] = 0; e.cpu.gpr[4] = 0x31000; e.cpu.gpr[5] = 0
        e.run([0x0E, 0x24])
        #expect(e.cc == 0)
    }

    @Test func mvclDestructiveOverlapIsCC3() {
        let m = TestMachine()
        m.load([1, 2, 3, 4], at: 0x30000)
        m.cpu.gpr[2] = 0x30001; m.cpu.gpr[3] = 4; m.cpu.gpr[4] = 0x30000; m.cpu.gpr[5] = 4
        m.run([0x0E, 0x24])
        #expect(m.cc == 3)
        #expect(bytes(m, 0x30000, 5) == [1, 2, 3, 4, 0])
        #expect(m.cpu.gpr[2] == 0x30001 && m.cpu.gpr[3] == 4)
    }

    @Test func mvclOddRegisterIsSpecification() {
        let m = TestMachine()
        m.run([0x0E, 0x34])
        #expect(m.interrupted && m.programInterruptionCode == 0x06)
    }

    @Test func clclComparesWithPadding() {
        let m = TestMachine()
        m.load([0x41, 0x42, 0x40, 0x40, 0x41], at: 0x30000); m.load([0x41, 0x42], at: 0x31000)
        m.cpu.gpr[2] = 0x30000; m.cpu.gpr[3] = 5; m.cpu.gpr[4] = 0x31000; m.cpu.gpr[5] = 0x4000_0002
        m.run([0x0F, 0x24])
        // Equal for 4 bytes (two padded), then 0x41 > pad 0x40.
        #expect(m.cc == 2)
        #expect(m.cpu.gpr[2] == 0x30004 && m.cpu.gpr[3] == 1)
        #expect(m.cpu.gpr[4] == 0x31002 && m.cpu.gpr[5] == 0x4000_0000)

        let e = TestMachine()
        e.load([0x41, 0x40], at: 0x30000); e.load([0x41], at: 0x31000)
        e.cpu.gpr[2] = 0x30000; e.cpu.gpr[3] = 2; e.cpu.gpr[4] = 0x31000; e.cpu.gpr[5] = 0x4000_0001
        e.run([0x0F, 0x24])
        #expect(e.cc == 0 && e.cpu.gpr[3] == 0 && e.cpu.gpr[5] == 0x4000_0000)
    }

    @Test func mvcleStopsWithCC3AndResumes() {
        let m = TestMachine()
        m.load([UInt8](repeating: 0x11, count: 6000), at: 0x40000)
        m.cpu.gpr[2] = 0x50000; m.cpu.gpr[3] = 10000; m.cpu.gpr[4] = 0x40000; m.cpu.gpr[5] = 6000
        // 0: MVCLE 2,4,0x40 ; BRC 1,0b (loop while CC 3)
        m.run([0xA8, 0x24, 0x00, 0x40, 0xA7, 0x14, 0xFF, 0xFE], instructions: 100)
        #expect(loopCC(m) == 2)
        #expect(m.cpu.gpr[3] == 0 && m.cpu.gpr[5] == 0)
        #expect(m.cpu.gpr[2] == 0x50000 + 10000 && m.cpu.gpr[4] == 0x40000 + 6000)
        #expect(m.load8(0x50000) == 0x11 && m.load8(0x50000 + 5999) == 0x11)
        #expect(m.load8(0x50000 + 6000) == 0x40 && m.load8(0x50000 + 9999) == 0x40 && m.load8(0x50000 + 10000) == 0)
    }

    @Test func mvcleFirstExecutionIsPartial() {
        let m = TestMachine()
        m.cpu.gpr[2] = 0x50000; m.cpu.gpr[3] = 10000; m.cpu.gpr[4] = 0x40000; m.cpu.gpr[5] = 10000
        m.run([0xA8, 0x24, 0x00, 0x40])
        #expect(m.cc == 3)
        #expect(m.cpu.gpr[3] > 0 && m.cpu.gpr[3] < 10000 && m.cpu.gpr[3] == m.cpu.gpr[5])
        #expect(m.cpu.gpr[2] - 0x50000 == 10000 - m.cpu.gpr[3])
    }

    @Test func clcleFindsDifferenceAcrossExecutions() {
        let m = TestMachine()
        m.load([UInt8](repeating: 0x40, count: 9000), at: 0x40000)
        m.load([UInt8](repeating: 0x40, count: 8000), at: 0x50000)
        m.load([0x30], at: 0x40000 + 8500)   // below the pad 0x40
        m.cpu.gpr[2] = 0x40000; m.cpu.gpr[3] = 9000; m.cpu.gpr[4] = 0x50000; m.cpu.gpr[5] = 8000
        m.run([0xA9, 0x24, 0x00, 0x40, 0xA7, 0x14, 0xFF, 0xFE], instructions: 100)
        #expect(loopCC(m) == 1)
        #expect(m.cpu.gpr[2] == 0x40000 + 8500 && m.cpu.gpr[3] == 500)
        #expect(m.cpu.gpr[4] == 0x50000 + 8000 && m.cpu.gpr[5] == 0)
    }

    // MARK: Strings

    @Test func mvstMovesThroughTerminator() {
        let m = TestMachine()
        m.load(Array("hello\0".utf8), at: 0x31000)
        m.cpu.gpr[0] = 0; m.cpu.gpr[2] = 0x30000; m.cpu.gpr[4] = 0x31000
        m.run([0xB2, 0x55, 0x00, 0x24, 0xA7, 0x14, 0xFF, 0xFE], instructions: 50)
        #expect(loopCC(m) == 1)
        #expect(m.cpu.gpr[2] == 0x30005 && m.cpu.gpr[4] == 0x31000)
        #expect(bytes(m, 0x30000, 6) == Array("hello\0".utf8))
    }

    @Test func mvstCrossingPagesLoopsOnCC3() {
        let m = TestMachine()
        m.load(Array("abcdefgh$".utf8), at: 0x31FFC)
        m.cpu.gpr[0] = UInt64(Character("$").asciiValue!); m.cpu.gpr[2] = 0x30000; m.cpu.gpr[4] = 0x31FFC
        m.run([0xB2, 0x55, 0x00, 0x24], instructions: 1)
        #expect(m.cc == 3 && m.cpu.gpr[2] == 0x30004 && m.cpu.gpr[4] == 0x32000)
    }

    @Test func stringInstructionsCheckGR0() {
        for opcode: UInt8 in [0x55, 0x5D, 0x5E] {
            let m = TestMachine()
            m.cpu.gpr[0] = 0x100
            m.run([0xB2, opcode, 0x00, 0x24])
            #expect(m.interrupted && m.programInterruptionCode == 0x06)
        }
    }

    @Test func clstConditionCodes() {
        func clst(_ a: String, _ b: String) -> (UInt8, UInt64, UInt64) {
            let m = TestMachine()
            m.load(Array((a + "\0").utf8), at: 0x30000); m.load(Array((b + "\0").utf8), at: 0x31000)
            m.cpu.gpr[0] = 0; m.cpu.gpr[2] = 0x30000; m.cpu.gpr[4] = 0x31000
            m.run([0xB2, 0x5D, 0x00, 0x24, 0xA7, 0x14, 0xFF, 0xFE], instructions: 50)
            return (loopCC(m), m.cpu.gpr[2], m.cpu.gpr[4])
        }
        #expect(clst("abc", "abc") == (0, 0x30000, 0x31000))
        #expect(clst("abc", "abd") == (1, 0x30002, 0x31002))
        #expect(clst("abd", "abc") == (2, 0x30002, 0x31002))
        #expect(clst("ab", "abc") == (1, 0x30002, 0x31002))   // first string ends first: low
        #expect(clst("abc", "ab") == (2, 0x30002, 0x31002))
    }

    @Test func srstSearches() {
        let m = TestMachine()
        m.load(Array("xyzQw".utf8), at: 0x30000)
        m.cpu.gpr[0] = UInt64(Character("Q").asciiValue!); m.cpu.gpr[2] = 0x30005; m.cpu.gpr[4] = 0x30000
        m.run([0xB2, 0x5E, 0x00, 0x24])
        #expect(m.cc == 1 && m.cpu.gpr[2] == 0x30003 && m.cpu.gpr[4] == 0x30000)

        let n = TestMachine()
        n.load(Array("xyzQw".utf8), at: 0x30000)
        n.cpu.gpr[0] = UInt64(Character("Q").asciiValue!); n.cpu.gpr[2] = 0x30003; n.cpu.gpr[4] = 0x30000
        n.run([0xB2, 0x5E, 0x00, 0x24])
        #expect(n.cc == 2 && n.cpu.gpr[2] == 0x30003 && n.cpu.gpr[4] == 0x30000)
    }

    // MARK: Interlocked updates

    @Test func compareAndSwap() {
        let m = TestMachine()
        m.store32(0x30000, 0x1234_5678)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0xFFFF_FFFF_1234_5678; m.cpu.gpr[3] = 0xAAAA_AAAA_8765_4321
        m.run([0xBA, 0x23, 0x10, 0x00])   // CS 2,3,0(1)
        #expect(m.cc == 0 && m.load32(0x30000) == 0x8765_4321)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xBA, 0x23, 0x10, 0x00])   // now unequal: R2 loaded, high half kept
        #expect(m.cc == 1 && m.cpu.gpr[2] == 0xFFFF_FFFF_8765_4321 && m.load32(0x30000) == 0x8765_4321)
    }

    @Test func compareAndSwapAlignment() {
        for code: [UInt8] in [[0xBA, 0x23, 0x10, 0x02], [0xEB, 0x23, 0x10, 0x04, 0x00, 0x30], [0xBB, 0x24, 0x10, 0x04],
                              [0xEB, 0x24, 0x10, 0x08, 0x00, 0x3E], [0xEB, 0x23, 0x10, 0x02, 0x00, 0xF8]] {
            let m = TestMachine()
            m.cpu.gpr[1] = 0x30000
            m.run(code)
            #expect(m.interrupted && m.programInterruptionCode == 0x06)
        }
    }

    @Test func csgAndCdsg() {
        let m = TestMachine()
        m.store64(0x30000, 0x0102_0304_0506_0708)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0x0102_0304_0506_0708; m.cpu.gpr[3] = 0x1111_2222_3333_4444
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0x30])
        #expect(m.cc == 0 && m.load64(0x30000) == 0x1111_2222_3333_4444)

        let q = TestMachine()
        q.store64(0x30000, 1); q.store64(0x30008, 2)
        q.cpu.gpr[1] = 0x30000; q.cpu.gpr[2] = 1; q.cpu.gpr[3] = 3; q.cpu.gpr[4] = 5; q.cpu.gpr[5] = 6
        q.run([0xEB, 0x24, 0x10, 0x00, 0x00, 0x3E])   // mismatch on the second doubleword
        #expect(q.cc == 1 && q.cpu.gpr[2] == 1 && q.cpu.gpr[3] == 2 && q.load64(0x30008) == 2)
        q.cpu.pswAddress = TestMachine.codeAddress
        q.run([0xEB, 0x24, 0x10, 0x00, 0x00, 0x3E])
        #expect(q.cc == 0 && q.load64(0x30000) == 5 && q.load64(0x30008) == 6)
    }

    @Test func cdsPairs() {
        let m = TestMachine()
        m.store32(0x30000, 0xAAAA_0001); m.store32(0x30004, 0xBBBB_0002)
        m.cpu.gpr[1] = 0x30000
        m.cpu.gpr[2] = 0xFFFF_FFFF_AAAA_0001; m.cpu.gpr[3] = 0x0000_0000_BBBB_0002
        m.cpu.gpr[4] = 0x1234_5678_0000_0011; m.cpu.gpr[5] = 0x9999_9999_0000_0022
        m.run([0xBB, 0x24, 0x10, 0x00])
        #expect(m.cc == 0 && m.load32(0x30000) == 0x11 && m.load32(0x30004) == 0x22)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xBB, 0x24, 0x10, 0x00])
        #expect(m.cc == 1 && m.cpu.gpr[2] == 0xFFFF_FFFF_0000_0011 && m.cpu.gpr[3] == 0x22)
        let odd = TestMachine()
        odd.cpu.gpr[1] = 0x30000
        odd.run([0xBB, 0x34, 0x10, 0x00])
        #expect(odd.interrupted && odd.programInterruptionCode == 0x06)
    }

    @Test func testAndSet() {
        let m = TestMachine()
        m.load([0x7F], at: 0x30000)
        m.cpu.gpr[1] = 0x30000
        m.run([0x93, 0x00, 0x10, 0x00])
        #expect(m.cc == 0 && m.load8(0x30000) == 0xFF)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0x93, 0x00, 0x10, 0x00])
        #expect(m.cc == 1 && m.load8(0x30000) == 0xFF)
    }

    @Test func loadAndAdd() {
        let m = TestMachine()
        m.store32(0x30000, 0x7FFF_FFFF)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[2] = 0xDEAD_BEEF_0000_0000; m.cpu.gpr[3] = 1
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF8])   // LAA: overflow, mask off
        #expect(m.cc == 3 && m.cpu.gpr[2] == 0xDEAD_BEEF_7FFF_FFFF && m.load32(0x30000) == 0x8000_0000)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.cpu.gpr[3] = 0xFFFF_FFFF   // -1
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF8])   // 0x80000000 + -1 overflows too
        #expect(m.cc == 3 && m.load32(0x30000) == 0x7FFF_FFFF)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.cpu.gpr[3] = 0x8000_0001   // -0x7FFFFFFF: sum 0
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF8])
        #expect(m.cc == 0 && m.load32(0x30000) == 0)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.cpu.gpr[3] = 0xFFFF_FFFE
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF8])
        #expect(m.cc == 1 && m.load32(0x30000) == 0xFFFF_FFFE)
    }

    @Test func loadAndAddOverflowInterruption() {
        let m = TestMachine()
        m.cpu.psw = CPU.PSW(mask: m.cpu.psw.mask | CPU.PSW.programMask, address: TestMachine.codeAddress)
        m.store64(0x30000, 0x7FFF_FFFF_FFFF_FFFF)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[3] = 1
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xE8])   // LAAG
        #expect(m.interrupted && m.programInterruptionCode == 0x08)
        #expect(m.load64(0x30000) == 0x8000_0000_0000_0000 && m.cpu.gpr[2] == 0x7FFF_FFFF_FFFF_FFFF)
    }

    @Test func loadAndAddLogicalAndBitwise() {
        let m = TestMachine()
        m.store32(0x30000, 0xFFFF_FFFF)
        m.cpu.gpr[1] = 0x30000; m.cpu.gpr[3] = 1
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xFA])   // LAAL: zero with carry
        #expect(m.cc == 2 && m.load32(0x30000) == 0 && m.cpu.gpr[2] == 0xFFFF_FFFF)
        m.cpu.pswAddress = TestMachine.codeAddress
        m.cpu.gpr[3] = 5
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xFA])   // nonzero, no carry
        #expect(m.cc == 1 && m.load32(0x30000) == 5)

        m.store64(0x30008, 0xF0F0_0000_0000_000F)
        m.cpu.gpr[1] = 0x30008; m.cpu.gpr[3] = 0x0F0F_0000_0000_0000
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xE6])   // LAOG
        #expect(m.cc == 1 && m.load64(0x30008) == 0xFFFF_0000_0000_000F && m.cpu.gpr[2] == 0xF0F0_0000_0000_000F)
        m.store32(0x30010, 0x0000_00F0)
        m.cpu.gpr[1] = 0x30010; m.cpu.gpr[3] = 0x0F
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF4])   // LAN: zero
        #expect(m.cc == 0 && m.load32(0x30010) == 0 && m.cpu.gpr[2] & 0xFFFF_FFFF == 0xF0)
        m.store32(0x30010, 0x0000_00F0)
        m.cpu.gpr[3] = 0xF0
        m.cpu.pswAddress = TestMachine.codeAddress
        m.run([0xEB, 0x23, 0x10, 0x00, 0x00, 0xF7])   // LAX: zero
        #expect(m.cc == 0 && m.load32(0x30010) == 0)
    }

    /// Two CPUs on two threads incrementing one counter with LAA: no update may be lost.
    @Test func loadAndAddIsAtomicAcrossCPUs() {
        let m = TestMachine()
        let iterations: UInt64 = 200_000
        // 0x10000: LAA 2,3,0(1) ; BRCT 4,-3 halfwords ; then stop on the instruction limit
        let code: [UInt8] = [0xEB, 0x23, 0x10, 0x00, 0x00, 0xF8, 0xA7, 0x46, 0xFF, 0xFD]
        m.load(code, at: TestMachine.codeAddress)
        let other = CPU(address: 1, model: TestMachine.model, storage: m.cpu.storage, clock: m.cpu.clock,
                        floating: m.cpu.floating)
        for cpu in [m.cpu, other] {
            cpu.loadPSW(CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing, address: TestMachine.codeAddress))
            cpu.gpr[1] = 0x30000; cpu.gpr[3] = 1; cpu.gpr[4] = iterations
        }
        let budget = Int(iterations * 2)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { _ = other.run(maxInstructions: budget); done.signal() }
        thread.start()
        _ = m.cpu.run(maxInstructions: budget)
        done.wait()
        #expect(m.load32(0x30000) == UInt32(2 * iterations))
    }
}
