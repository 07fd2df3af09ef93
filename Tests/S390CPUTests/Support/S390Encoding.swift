import S390CPU

/// Builds instruction encodings from table rows: opcode placement plus an operand-field pattern.
enum S390Encoding {
    /// One operand field: `bit` counts from the instruction's first bit.
    struct Field { let bit: Int; let width: Int; let value: UInt64 }

    /// The nonzero operand pattern of each format (registers 2/4/6, index 7, base 8, displacement
    /// 0x10, second base 9 with displacement 0x20, condition masks 0).
    static func fieldPattern(_ format: InstructionFormat) -> [Field] {
        func f(_ bit: Int, _ width: Int, _ value: UInt64) -> Field { Field(bit: bit, width: width, value: value) }
        switch format {
        case .E: return []
        case .I: return [f(8, 8, 1)]
        case .RR: return [f(8, 4, 2), f(12, 4, 4)]
        case .RI: return [f(8, 4, 2), f(16, 16, 0x10)]
        case .RRE: return [f(24, 4, 2), f(28, 4, 4)]
        case .RRF: return [f(16, 4, 6), f(20, 4, 0), f(24, 4, 2), f(28, 4, 4)]
        case .RRD: return [f(16, 4, 2), f(24, 4, 6), f(28, 4, 4)]
        case .RS: return [f(8, 4, 2), f(12, 4, 6), f(16, 4, 8), f(20, 12, 0x10)]
        case .RSI: return [f(8, 4, 2), f(12, 4, 6), f(16, 16, 0x10)]
        case .RX: return [f(8, 4, 2), f(12, 4, 7), f(16, 4, 8), f(20, 12, 0x10)]
        case .S: return [f(16, 4, 8), f(20, 12, 0x10)]
        case .SI: return [f(8, 8, 0x5A), f(16, 4, 8), f(20, 12, 0x10)]
        case .RIL: return [f(8, 4, 2), f(16, 32, 0x10)]
        case .RIEa: return [f(8, 4, 2), f(16, 16, 0x10), f(32, 4, 0)]
        case .RIEb: return [f(8, 4, 2), f(12, 4, 4), f(16, 16, 0x10), f(32, 4, 0)]
        case .RIEc: return [f(8, 4, 2), f(12, 4, 0), f(16, 16, 0x10), f(32, 8, 0x5A)]
        case .RIEd, .RIEe: return [f(8, 4, 2), f(12, 4, 6), f(16, 16, 0x10)]
        case .RIEf: return [f(8, 4, 2), f(12, 4, 4), f(16, 8, 0x20), f(24, 8, 0x30), f(32, 8, 0x08)]
        case .RRS: return [f(8, 4, 2), f(12, 4, 4), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 0)]
        case .RIS: return [f(8, 4, 2), f(12, 4, 0), f(16, 4, 8), f(20, 12, 0x10), f(32, 8, 0x5A)]
        case .RSY: return [f(8, 4, 2), f(12, 4, 6), f(16, 4, 8), f(20, 12, 0x10), f(32, 8, 0)]
        case .RXY: return [f(8, 4, 2), f(12, 4, 7), f(16, 4, 8), f(20, 12, 0x10), f(32, 8, 0)]
        case .RXE: return [f(8, 4, 2), f(12, 4, 7), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 0)]
        case .RXF: return [f(8, 4, 6), f(12, 4, 7), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 2)]
        case .SIL: return [f(16, 4, 8), f(20, 12, 0x10), f(32, 16, 0x5A)]
        case .SIY: return [f(8, 8, 0x5A), f(16, 4, 8), f(20, 12, 0x10), f(32, 8, 0)]
        case .SSa: return [f(8, 8, 7), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 9), f(36, 12, 0x20)]
        case .SSb: return [f(8, 4, 3), f(12, 4, 7), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 9), f(36, 12, 0x20)]
        case .SSE: return [f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 9), f(36, 12, 0x20)]
        case .SSF: return [f(8, 4, 6), f(16, 4, 8), f(20, 12, 0x10), f(32, 4, 9), f(36, 12, 0x20)]
        }
    }

    /// The opcode bits of `definition`, left-aligned in a UInt64, plus its length.
    static func opcodeBits(_ definition: InstructionDefinition) -> UInt64 {
        var raw = UInt64(definition.firstByte) << 56
        let second = UInt64(definition.secondOpcode)
        switch definition.secondOpcodeField {
        case .none: break
        case .byte1, .lowNibbleOfByte1: raw |= second << 48
        case .byte5: raw |= second << 16
        }
        return raw
    }

    static func encode(_ definition: InstructionDefinition, fields: [Field]) -> [UInt8] {
        var raw = opcodeBits(definition)
        for field in fields { raw |= (field.value & ((1 << UInt64(field.width)) - 1)) << UInt64(64 - field.bit - field.width) }
        return (0..<definition.length).map { UInt8(truncatingIfNeeded: raw >> (56 - 8 * UInt64($0))) }
    }

    /// The pattern, then the pattern with each field zeroed in turn, then every field zeroed.
    static func candidates(for definition: InstructionDefinition) -> [[UInt8]] {
        let pattern = fieldPattern(definition.format)
        var result = [encode(definition, fields: pattern)]
        for index in pattern.indices {
            var fields = pattern
            fields[index] = Field(bit: fields[index].bit, width: fields[index].width, value: 0)
            result.append(encode(definition, fields: fields))
        }
        result.append(encode(definition, fields: []))
        var seen = Set<[UInt8]>()
        return result.filter { seen.insert($0).inserted }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
