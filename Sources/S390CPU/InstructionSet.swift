// The decoder derived from Instructions.table: instruction metadata, facility gating and the
// two 64K-entry lookup tables the run loop indexes (first halfword, then byte 0 + byte 5).

public enum InstructionFormat: Sendable {
    case E, I, RR, RI, RRE, RRF, RRD, RS, RSI, RX, S, SI, RIL, RIEa, RIEb, RIEc, RIEd, RIEe, RIEf,
         RRS, RIS, RSY, RXY, RXE, RXF, SIL, SIY, SSa, SSb, SSE, SSF
}

/// The facility an instruction belongs to (the table's facility column) and the STFLE bit that
/// announces it.
public enum Facility: Sendable {
    case z, ld, ei, gie, dos, loc, pc, ia1, mie, sfle, scf, ee, fprgr, mvcos, uv

    public var stfleBit: Int {
        switch self {
        case .z: 2
        case .sfle: 7
        case .ld: 18
        case .ei: 21
        case .scf: 25
        case .mvcos: 27
        case .gie: 34
        case .ee: 35
        case .fprgr: 41
        case .dos, .loc, .pc, .ia1: 45
        case .mie: 49
        case .uv: 158
        }
    }
}

public enum Privilege: Sendable { case problem, privileged, semiPrivileged }

public struct InstructionDefinition: Sendable {
    public let id: InstructionID
    public let mnemonic: String
    /// QEMU-style opcode signature, e.g. 0xB908 (AGR), 0xA7B (AGHI), 0x1A (AR).
    public let opcode: UInt16
    public let opcodeDigits: Int
    public let format: InstructionFormat
    public let facility: Facility
    public let privilege: Privilege
    /// False for rows whose handler is not written yet: they execute as an operation exception.
    public let implemented: Bool

    /// The first opcode byte.
    public var firstByte: UInt8 { UInt8(truncatingIfNeeded: opcodeDigits == 2 ? opcode : opcodeDigits == 3 ? opcode >> 4 : opcode >> 8) }
    /// Instruction length in bytes, from the two high bits of the first byte.
    public var length: Int { InstructionSet.length(firstByte: firstByte) }
    /// Where the second opcode part sits (spec s390x-cpu.md section 6.1).
    public var secondOpcodeField: InstructionSet.SecondOpcodeField { InstructionSet.secondOpcodeField(firstByte: firstByte) }
    public var secondOpcode: UInt8 { UInt8(truncatingIfNeeded: opcodeDigits == 2 ? 0 : opcodeDigits == 3 ? opcode & 0xF : opcode & 0xFF) }
}

public enum InstructionSet {
    public enum SecondOpcodeField: Sendable { case none, byte1, lowNibbleOfByte1, byte5 }

    @inline(__always)
    public static func length(firstByte: UInt8) -> Int { [2, 4, 4, 6][Int(firstByte >> 6)] }

    public static func secondOpcodeField(firstByte b: UInt8) -> SecondOpcodeField {
        switch b {
        case 0x01, 0x93, 0xB2, 0xB3, 0xB9, 0xE5: return .byte1
        case 0xA5, 0xA7, 0xC0, 0xC2, 0xC4, 0xC6, 0xC8, 0xCC: return .lowNibbleOfByte1
        case 0xC5, 0xC7, 0xD0...0xDF, 0xE1, 0xE2, 0xE8...0xEA, 0xEE...0xF3, 0xF8...0xFD: return .none
        default: return length(firstByte: b) == 6 ? .byte5 : .none
        }
    }

    public static func definition(_ id: InstructionID) -> InstructionDefinition? {
        id == .invalid || id == .secondOpcodeInByte5 ? nil : definitions[Int(id.rawValue) - 1]
    }

    /// Looks up the definition for the instruction whose bytes start `bytes` (no facility gating).
    public static func decode(_ bytes: some Collection<UInt8>) -> InstructionDefinition? {
        var raw: UInt64 = 0
        for (index, byte) in bytes.prefix(6).enumerated() { raw |= UInt64(byte) << (56 - 8 * UInt64(index)) }
        return definition(DecodeTables.all.lookup(raw))
    }
}

/// The run loop's decoder: `primary` maps the first halfword to an instruction; opcodes whose
/// second part is in byte 5 map to `.secondOpcodeInByte5` and continue in
/// `secondary[byte0 << 8 | byte5]`. The tables hold the enum itself so that decoding is two
/// loads, with no raw-value conversion.
public final class DecodeTables: @unchecked Sendable {
    let primary: UnsafeMutablePointer<InstructionID>
    let secondary: UnsafeMutablePointer<InstructionID>

    /// Every defined instruction, whatever the facilities (for disassembly and cross-checks).
    public static let all = DecodeTables(enabled: { _ in true })

    /// Tables holding only the implemented instructions whose facility passes `enabled`.
    public init(enabled: (InstructionDefinition) -> Bool) {
        primary = .allocate(capacity: 0x10000)
        primary.initialize(repeating: .invalid, count: 0x10000)
        secondary = .allocate(capacity: 0x10000)
        secondary.initialize(repeating: .invalid, count: 0x10000)
        for definition in InstructionSet.definitions where enabled(definition) {
            let first = Int(definition.firstByte), id = definition.id
            switch definition.secondOpcodeField {
            case .none:
                for byte1 in 0..<256 { primary[first << 8 | byte1] = id }
            case .byte1:
                primary[first << 8 | Int(definition.secondOpcode)] = id
            case .lowNibbleOfByte1:
                for r1 in 0..<16 { primary[first << 8 | r1 << 4 | Int(definition.secondOpcode)] = id }
            case .byte5:
                for byte1 in 0..<256 { primary[first << 8 | byte1] = .secondOpcodeInByte5 }
                secondary[first << 8 | Int(definition.secondOpcode)] = id
            }
        }
    }

    deinit {
        primary.deallocate()
        secondary.deallocate()
    }

    /// Decodes the instruction held left-aligned in `raw`.
    @inline(__always)
    public func lookup(_ raw: UInt64) -> InstructionID {
        let id = primary[Int(truncatingIfNeeded: raw >> 48)]
        if _fastPath(id != .secondOpcodeInByte5) { return id }
        return secondary[Int(truncatingIfNeeded: (raw >> 56) << 8 | (raw >> 16) & 0xFF)]
    }
}
