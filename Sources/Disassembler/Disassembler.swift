import CCapstone
import S390CPU

/// Why a disassembler could not be created.
public enum DisassemblerError: Error, CustomStringConvertible, Equatable {
    /// `cs_open` failed; `code` is capstone's `cs_err` value.
    case openFailed(code: UInt32, message: String)

    public var description: String {
        switch self {
        case .openFailed(let code, let message):
            "capstone: cannot open an s390x disassembler (error \(code): \(message))"
        }
    }
}

/// One decoded instruction, or a `.byte` pseudo entry for bytes capstone cannot decode.
public struct DisassembledInstruction: Sendable, Equatable {
    public let address: UInt64
    public let bytes: [UInt8]
    public let mnemonic: String
    public let operands: String
    /// False for the `.byte` pseudo entries `disassemble` emits for undecodable bytes.
    public let isValid: Bool

    public var length: Int { bytes.count }
    /// "mnemonic operands", or just the mnemonic when there are no operands.
    public var text: String { operands.isEmpty ? mnemonic : "\(mnemonic) \(operands)" }

    public init(address: UInt64, bytes: [UInt8], mnemonic: String, operands: String, isValid: Bool = true) {
        self.address = address
        self.bytes = bytes
        self.mnemonic = mnemonic
        self.operands = operands
        self.isValid = isValid
    }
}

/// Capstone-backed s390x (SystemZ, big-endian) disassembler.
///
/// Not thread-safe: a capstone handle and its instruction buffer are reused across calls, so
/// use one instance per thread (instances are cheap).
public final class S390Disassembler {
    private var handle: csh = 0
    private let insn: UnsafeMutablePointer<cs_insn>

    public init() throws(DisassemblerError) {
        var h: csh = 0
        let err = cs_open(CS_ARCH_SYSZ, CS_MODE_BIG_ENDIAN, &h)
        guard err == CS_ERR_OK else {
            throw .openFailed(code: err.rawValue, message: String(cString: cs_strerror(err)))
        }
        guard let buffer = cs_malloc(h) else {
            cs_close(&h)
            throw .openFailed(code: CS_ERR_MEM.rawValue, message: String(cString: cs_strerror(CS_ERR_MEM)))
        }
        handle = h
        insn = buffer
    }

    deinit {
        cs_free(insn, 1)
        cs_close(&handle)
    }

    /// Decodes the first instruction of `bytes` as if it sat at `address`; nil if undecodable.
    public func decode(_ bytes: some Collection<UInt8>, address: UInt64) -> DisassembledInstruction? {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { decodeOne($0, offset: 0, address: address) }
    }

    /// Decodes all of `bytes`. An undecodable spot becomes a `.byte` entry of 2 bytes (1 at the
    /// very end) and decoding continues after it, since s390x instructions are halfword-aligned.
    public func disassemble(_ bytes: some Collection<UInt8>, address: UInt64) -> [DisassembledInstruction] {
        let array = Array(bytes)
        var result: [DisassembledInstruction] = []
        array.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let here = address &+ UInt64(offset)
                if let instruction = decodeOne(buffer, offset: offset, address: here) {
                    result.append(instruction)
                    offset += instruction.length
                } else {
                    let raw = Array(buffer[offset..<min(offset + 2, buffer.count)])
                    let operands = raw.map { "0x" + hex2($0) }.joined(separator: ",")
                    result.append(DisassembledInstruction(
                        address: here, bytes: raw, mnemonic: ".byte", operands: operands, isValid: false))
                    offset += raw.count
                }
            }
        }
        return result
    }

    private func decodeOne(_ buffer: UnsafeBufferPointer<UInt8>, offset: Int, address: UInt64)
        -> DisassembledInstruction?
    {
        guard offset < buffer.count, let base = buffer.baseAddress else { return nil }
        var code: UnsafePointer<UInt8>? = base + offset
        var size = buffer.count - offset
        var pc = address
        guard cs_disasm_iter(handle, &code, &size, &pc, insn) else { return nil }
        let length = Int(insn.pointee.size)
        let mnemonic = withUnsafeBytes(of: insn.pointee.mnemonic) { cString($0) }
        let operands = withUnsafeBytes(of: insn.pointee.op_str) { cString($0) }
        return DisassembledInstruction(address: address, bytes: Array(buffer[offset..<offset + length]),
                                       mnemonic: mnemonic, operands: operands)
    }
}

/// A NUL-terminated string inside a fixed-size C char array.
private func cString(_ raw: UnsafeRawBufferPointer) -> String {
    let bytes = raw.prefix { $0 != 0 }
    return String(decoding: bytes, as: UTF8.self)
}

private func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

extension S390Disassembler {
    /// "bytes  text" for the instruction at the start of `bytes`: capstone's disassembly, else
    /// the mnemonic from s390pv's own instruction table (capstone 4 lacks many system and newer
    /// instructions), else the opcode bytes.
    public func describe(_ bytes: [UInt8], address: UInt64) -> String {
        func hex(_ bytes: some Sequence<UInt8>) -> String {
            bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
        }
        if let instruction = decode(bytes, address: address) { return "\(hex(instruction.bytes)) \(instruction.text)" }
        if let definition = InstructionSet.decode(bytes) {
            return "\(hex(bytes.prefix(definition.length))) \(definition.mnemonic.lowercased()) (operands not decoded)"
        }
        return bytes.isEmpty ? "(instruction not addressable)" : "\(hex(bytes.prefix(2))) (invalid opcode)"
    }
}
