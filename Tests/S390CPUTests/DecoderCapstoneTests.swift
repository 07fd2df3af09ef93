import Disassembler
import S390CPU
import Testing

/// Oracle test of the instruction table's decoder against capstone (4.x, the Debian build).
///
/// Every row of `InstructionSet.definitions` is encoded (first byte, second opcode where
/// `secondOpcodeField` says, operand fields from `S390Encoding.fieldPattern`), and for each row:
/// - our decoder maps the bytes back to that row (for every candidate operand pattern);
/// - capstone decodes one of the candidate patterns to the same mnemonic with the same length.
///
/// Operand fields: a fixed nonzero pattern (registers 2/4/6, index 7, base 8, small displacements
/// and immediates), then the same pattern with one field zeroed at a time, then all fields zeroed;
/// the first candidate capstone prints with our mnemonic wins. The zeroed variants exist because
/// capstone prints extended mnemonics for nonzero condition masks (BRC 2 is `jh`, LOCR 6 is
/// `locrlh`) and rejects unused fields that are not zero (SLL's R3, IPM's R2); with mask 0 it
/// prints the base mnemonic, so no alias table is needed.
@Suite struct DecoderCapstoneTests {
    /// Rows capstone 4.0.2 cannot decode with any candidate pattern (its SystemZ tables come
    /// from an old LLVM that lacks them: privileged and system instructions, LM/STM, the
    /// 32-bit multiply/divide, compare-and-trap, RISBGN, POPCNT, ...). Checked by hand against
    /// `s390x-linux-gnu-as` encodings. The test asserts this list stays exact, so a table change
    /// that makes a known row undecodable (or a newer capstone) shows up here.
    static let unknownToCapstone: Set<String> = [
        "LLGT", "LLGTR", "ICM", "ICMY", "ICMH", "STCM", "STCMY", "STCMH", "LM", "LMY", "LMH", "STM",
        "STMY", "STMH", "LPQ", "STPQ", "LRVH", "STRVH", "SAR", "LAM", "LAMY", "STAM", "STAMY", "ALSI",
        "ALGSI", "MR", "M", "MFY", "MLR", "ML", "DR", "D", "CLM", "CLMY", "CLMH", "CRB", "CGRB", "CLRB",
        "CLGRB", "UVC", "CIB", "CGIB", "CLIB", "CLGIB", "CRT", "CGRT", "CLRT", "CLGRT", "CIT", "CGIT", "CLFIT",
        "CLGIT", "SLA", "SLDL", "SRDL", "SLDA", "SRDA", "SLAG", "SLAK", "RISBGN", "POPCNT", "BC", "BAS",
        "BALR", "BAL", "BCTR", "BCT", "BCTGR", "BCTG", "BSM", "BASSM", "BRXH", "BRXLE", "BRXHG", "BRXLG",
        "BXH", "BXLE", "BXHG", "BXLEG", "MVN", "MVZ", "TR", "TRT", "MVO", "MVCL", "CLCL", "MVCLE",
        "CLCLE", "CDS", "CDSY", "CDSG", "TS", "MVCOS", "EX", "EXRL", "SPM", "EPSW", "SVC", "SAM24",
        "SAM31", "SAM64", "TAM", "STCK", "STCKF", "STCKE", "STFLE", "LFPC", "STFPC", "SFPC", "EFPC",
        "LPSW", "LPSWE", "SSM", "STNSM", "STOSM", "LCTL", "LCTLG", "STCTL", "STCTG", "SPX", "STPX",
        "STAP", "STIDP", "STFL", "STSI", "SCK", "SCKC", "STCKC", "SPT", "STPT", "SPKA", "IPK", "ISKE",
        "SSKE", "RRBE", "IVSK", "TB", "TPROT", "PTLB", "IPTE", "IDTE", "LRA", "LRAG", "SACF", "PALB",
        "ECAG", "LURA", "LURAG", "STURA", "STURG", "MVPG", "SCKPF", "SERVC", "SIGP", "DIAG",
    ]

    @Test func everyRowDecodesLikeCapstone() throws {
        let disassembler = try S390Disassembler()
        var unknown = Set<String>()
        var mismatches: [String] = []
        var checked = 0
        for definition in InstructionSet.definitions {
            let candidates = S390Encoding.candidates(for: definition)
            #expect(!candidates.isEmpty)
            var firstDecoded: (bytes: [UInt8], insn: DisassembledInstruction)?
            var matched: (bytes: [UInt8], insn: DisassembledInstruction)?
            for bytes in candidates {
                #expect(bytes.count == definition.length, "\(definition.mnemonic): encoder length")
                let ours = InstructionSet.decode(bytes)
                #expect(ours?.id == definition.id,
                        "\(definition.mnemonic): \(S390Encoding.hex(bytes)) decodes to \(ours?.mnemonic ?? "nothing")")
                guard let insn = disassembler.decode(bytes, address: 0x1000) else { continue }
                if firstDecoded == nil { firstDecoded = (bytes, insn) }
                if insn.mnemonic == definition.mnemonic.lowercased() { matched = (bytes, insn); break }
            }
            if let (bytes, insn) = matched {
                checked += 1
                if insn.length != definition.length {
                    mismatches.append("\(definition.mnemonic) \(S390Encoding.hex(bytes)): table length \(definition.length), capstone \(insn.length) (\(insn.text))")
                }
            } else if let (bytes, insn) = firstDecoded {
                mismatches.append("\(definition.mnemonic) (\(definition.format), opcode \(String(definition.opcode, radix: 16))) \(S390Encoding.hex(bytes)): capstone says \(insn.text) (length \(insn.length))")
            } else {
                unknown.insert(definition.mnemonic)
            }
        }
        print("DecoderCapstoneTests: \(InstructionSet.definitions.count) rows, \(checked) agree with capstone, \(unknown.count) unknown to capstone")
        #expect(mismatches.isEmpty, "table rows that disagree with capstone:\n\(mismatches.joined(separator: "\n"))")
        #expect(unknown.subtracting(Self.unknownToCapstone).sorted() == [],
                "rows capstone does not decode that are not on the documented list")
        #expect(Self.unknownToCapstone.subtracting(unknown).sorted() == [],
                "rows on the unknown list that capstone now decodes (or that left the table)")
    }

    /// The encoder itself: spot checks against `s390x-linux-gnu-as` output.
    @Test func encoderMatchesAssembler() throws {
        func row(_ m: String) throws -> InstructionDefinition {
            try #require(InstructionSet.definitions.first { $0.mnemonic == m })
        }
        #expect(S390Encoding.candidates(for: try row("AGR")).first == [0xB9, 0x08, 0x00, 0x24])   // agr %r2,%r4
        #expect(S390Encoding.candidates(for: try row("AHI")).first == [0xA7, 0x2A, 0x00, 0x10])   // ahi %r2,16
        #expect(S390Encoding.candidates(for: try row("LG")).first == [0xE3, 0x27, 0x80, 0x10, 0x00, 0x04])  // lg %r2,16(%r7,%r8)
        #expect(S390Encoding.candidates(for: try row("RISBG")).first == [0xEC, 0x24, 0x20, 0x30, 0x08, 0x55])
        #expect(S390Encoding.candidates(for: try row("MVHI")).first == [0xE5, 0x4C, 0x80, 0x10, 0x00, 0x5A])
        #expect(S390Encoding.candidates(for: try row("CIB")).first == [0xEC, 0x20, 0x80, 0x10, 0x5A, 0xFE])
        #expect(S390Encoding.candidates(for: try row("MVC")).first == [0xD2, 0x07, 0x80, 0x10, 0x90, 0x20])
    }
}
