import Disassembler
import Testing

@Suite struct DisassemblerTests {
    let disassembler: S390Disassembler

    init() throws { disassembler = try S390Disassembler() }

    @Test func decodesRegisterRegister() throws {
        let insn = try #require(disassembler.decode([0xB9, 0x08, 0x00, 0x12], address: 0x1000))
        #expect(insn.mnemonic == "agr")
        #expect(insn.operands == "%r1, %r2")
        #expect(insn.text == "agr %r1, %r2")
        #expect(insn.length == 4)
        #expect(insn.bytes == [0xB9, 0x08, 0x00, 0x12])
        #expect(insn.address == 0x1000)
        #expect(insn.isValid)
    }

    @Test func decodesRelativeBranches() throws {
        // BRC 15,+4 is the unconditional "j"; the target is relative to the instruction.
        let jump = try #require(disassembler.decode([0xA7, 0xF4, 0x00, 0x02], address: 0x1000))
        #expect(jump.mnemonic == "j")
        #expect(jump.operands == "0x1004")
        #expect(jump.length == 4)

        let call = try #require(disassembler.decode([0xC0, 0xE5, 0x00, 0x00, 0x00, 0x10], address: 0x1000))
        #expect(call.mnemonic == "brasl")
        #expect(call.operands == "%r14, 0x1020")
        #expect(call.length == 6)
    }

    @Test func decodeTakesOnlyTheFirstInstruction() throws {
        let insn = try #require(disassembler.decode([0x07, 0xFE, 0xB9, 0x08, 0x00, 0x12], address: 0))
        #expect(insn.text == "br %r14")
        #expect(insn.length == 2)
    }

    @Test func undecodableBytes() {
        #expect(disassembler.decode([0x00, 0x00], address: 0) == nil)
        #expect(disassembler.decode([UInt8](), address: 0) == nil)
        #expect(disassembler.decode([0xC0, 0xE5, 0x00], address: 0) == nil)  // cut short
    }

    @Test func disassembleContinuesAfterUndecodableBytes() {
        let code: [UInt8] = [0xB9, 0x08, 0x00, 0x12, 0x00, 0x00, 0xA7, 0xF4, 0x00, 0x02, 0xFF]
        let listing = disassembler.disassemble(code, address: 0x2000)
        #expect(listing.map(\.text) == ["agr %r1, %r2", ".byte 0x00,0x00", "j 0x200a", ".byte 0xff"])
        #expect(listing.map(\.address) == [0x2000, 0x2004, 0x2006, 0x200A])
        #expect(listing.map(\.length) == [4, 2, 4, 1])
        #expect(listing.map(\.isValid) == [true, false, true, false])
        #expect(listing.flatMap(\.bytes) == code)
    }
}
