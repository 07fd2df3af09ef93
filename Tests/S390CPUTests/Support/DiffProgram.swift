import Foundation

/// One instruction of a differential-test sequence. `relativeScratchOffset`, when set, makes the
/// instruction a relative-long one (RIL, I2 in bytes 2-5) whose target is that byte offset of
/// the case's work scratch: I2 is filled in when the program is laid out.
struct DiffInstruction: Sendable {
    var bytes: [UInt8]
    var relativeScratchOffset: Int? = nil
}

/// A sequence and the state it starts from. `registers[13]` is ignored (R13 is the scratch base).
struct DiffCase: Sendable {
    var instructions: [DiffInstruction]
    var registers: [UInt64]
    var cc: UInt8
    var scratch: [UInt8]
}

/// What a sequence left behind.
struct DiffResult: Equatable, Sendable {
    var registers: [UInt64]
    var cc: UInt8
    /// PSW program mask read back by IPM (0 on both sides, or overflow traps would fire).
    var programMask: UInt8
    var scratch: [UInt8]
}

/// The memory image shared by qemu-s390x (as a static ELF) and s390pv (loaded at the same
/// address): every case's code, then one data block per case. Both sides run the identical
/// bytes at identical addresses, so relative and address-computing instructions agree too.
///
/// Per case the code is
///     larl  r1,block            ; block = this case's data block
///     la    r13,640(r1)         ; R13 = work scratch + 128 (the reserved base register)
///     mvc   512(256,r1),0(r1)   ; work scratch = initial scratch
///     mvc   768(256,r1),256(r1)
///     llilh r1,cc<<12 ; spm r1  ; CC = initial CC, program mask 0
///     lmg   r0,r12,384(r13) ; lmg r14,r15,496(r13)
///     <sequence>
///     stmg  r0,r15,512(r13) ; ipm r0 ; st r0,640(r13)
///     j     *+6 ; nopr          ; ends qemu's translation block (a jump to the next
///                               ; instruction would not): very long blocks overflow qemu
///                               ; 7.2's TCG temporaries ("tcg fatal error")
/// and after the last case `write(1, blocks, size)` (svc 4) and `exit(0)` (svc 1).
/// A block is: initial scratch (512), work scratch (512), initial GPRs (128), result GPRs (128),
/// IPM word (16 with padding).
struct DiffProgram {
    static let loadAddress: UInt64 = 0x100000
    static let headerSize = 0x100
    static let scratchSize = 512
    /// R13 points this far into the work scratch: RX/SI displacements reach 384 bytes above
    /// it, RXY/RSY/SIY also 128 below.
    static let baseOffset = 128
    static let blockSize = 1296
    static let workOffset = 512, initialRegistersOffset = 1024, resultRegistersOffset = 1152, ipmOffset = 1280
    static let baseRegister = 13

    let cases: [DiffCase]
    private(set) var image: [UInt8] = []
    private(set) var sequenceStart: [UInt64] = []
    private(set) var blockAddress: [UInt64] = []
    /// Each case's instructions as laid out (relative operands resolved).
    private(set) var resolved: [[[UInt8]]] = []
    private(set) var entry: UInt64 = 0

    var blocksStart: UInt64 { blockAddress.first ?? 0 }
    var blocksLength: Int { cases.count * DiffProgram.blockSize }

    init(cases: [DiffCase]) {
        self.cases = cases
        let prologue = 40, epilogue = 20, exitCode = 24
        var codeSize = exitCode
        for c in cases { codeSize += prologue + c.instructions.reduce(0) { $0 + $1.bytes.count } + epilogue }
        let codeStart = DiffProgram.loadAddress + UInt64(DiffProgram.headerSize)
        let firstBlock = (codeStart + UInt64(codeSize) + 15) & ~15
        entry = codeStart
        for index in cases.indices { blockAddress.append(firstBlock + UInt64(index * DiffProgram.blockSize)) }
        let total = Int(firstBlock - DiffProgram.loadAddress) + cases.count * DiffProgram.blockSize
        image = [UInt8](repeating: 0, count: total)

        var pc = codeStart
        func emit(_ bytes: [UInt8]) {
            let offset = Int(pc - DiffProgram.loadAddress)
            image.replaceSubrange(offset..<offset + bytes.count, with: bytes)
            pc += UInt64(bytes.count)
        }
        func relative(_ target: UInt64) -> [UInt8] {
            DiffBytes.be32(UInt32(truncatingIfNeeded: (Int64(bitPattern: target) - Int64(bitPattern: pc)) / 2))
        }
        for (index, c) in cases.enumerated() {
            let block = blockAddress[index]
            emit([0xC0, 0x10] + relative(block))                       // larl r1,block
            emit([0x41, 0xD0, 0x12, 0x80])                              // la r13,640(r1)
            emit([0xD2, 0xFF, 0x12, 0x00, 0x10, 0x00])                  // mvc 512(256,r1),0(r1)
            emit([0xD2, 0xFF, 0x13, 0x00, 0x11, 0x00])                  // mvc 768(256,r1),256(r1)
            emit([0xA5, 0x1E, (c.cc & 3) << 4, 0x00])                   // llilh r1,cc<<12
            emit([0x04, 0x10])                                          // spm r1
            emit([0xEB, 0x0C, 0xD1, 0x80, 0x00, 0x04])                  // lmg r0,r12,384(r13)
            emit([0xEB, 0xEF, 0xD1, 0xF0, 0x00, 0x04])                  // lmg r14,r15,496(r13)
            sequenceStart.append(pc)
            var laidOut: [[UInt8]] = []
            for instruction in c.instructions {
                var bytes = instruction.bytes
                if let offset = instruction.relativeScratchOffset {
                    let target = block + UInt64(DiffProgram.workOffset + offset)
                    bytes.replaceSubrange(2..<6, with: relative(target))
                }
                laidOut.append(bytes)
                emit(bytes)
            }
            resolved.append(laidOut)
            emit([0xEB, 0x0F, 0xD2, 0x00, 0x00, 0x24])                  // stmg r0,r15,512(r13)
            emit([0xB2, 0x22, 0x00, 0x00])                              // ipm r0
            emit([0x50, 0x00, 0xD2, 0x80])                              // st r0,640(r13)
            emit([0xA7, 0xF4, 0x00, 0x03, 0x07, 0x00])                  // j *+6 ; nopr (ends qemu's TB)

            let b = Int(block - DiffProgram.loadAddress)
            image.replaceSubrange(b..<b + DiffProgram.scratchSize, with: c.scratch)
            for r in 0..<16 {
                let value = r == DiffProgram.baseRegister ? 0 : c.registers[r]
                let o = b + DiffProgram.initialRegistersOffset + 8 * r
                image.replaceSubrange(o..<o + 8, with: DiffBytes.be64(value))
            }
        }
        emit([0xC0, 0x30] + relative(firstBlock))                       // larl r3,blocks
        emit([0xC0, 0x41] + DiffBytes.be32(UInt32(cases.count * DiffProgram.blockSize)))  // lgfi r4,length
        emit([0xA7, 0x29, 0x00, 0x01])                                  // lghi r2,1
        emit([0x0A, 0x04])                                              // svc 4 (write)
        emit([0xA7, 0x29, 0x00, 0x00])                                  // lghi r2,0
        emit([0x0A, 0x01])                                              // svc 1 (exit)
        precondition(pc == codeStart + UInt64(codeSize))
    }

    /// R13's value while case `index` runs.
    func baseValue(_ index: Int) -> UInt64 { blockAddress[index] + UInt64(DiffProgram.workOffset + DiffProgram.baseOffset) }

    /// Parses one case's result out of the bytes the program wrote (the whole block area).
    func result(_ index: Int, from output: [UInt8]) -> DiffResult {
        let b = index * DiffProgram.blockSize
        let registers = (0..<16).map { DiffBytes.loadBE64(output, b + DiffProgram.resultRegistersOffset + 8 * $0) }
        let ipm = DiffBytes.loadBE64(output, b + DiffProgram.ipmOffset) >> 32
        let scratch = Array(output[b + DiffProgram.workOffset..<b + DiffProgram.workOffset + DiffProgram.scratchSize])
        return DiffResult(registers: registers, cc: UInt8((ipm >> 28) & 3), programMask: UInt8((ipm >> 24) & 0xF),
                          scratch: scratch)
    }

    /// The static ELF64 (big-endian, EM_S390) holding the image as one RWX PT_LOAD.
    var elf: [UInt8] {
        var out = image
        var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 2, 1, 0] + [UInt8](repeating: 0, count: 8)
        header += DiffBytes.be16(2) + DiffBytes.be16(22) + DiffBytes.be32(1)  // ET_EXEC, EM_S390, EV_CURRENT
        header += DiffBytes.be64(entry) + DiffBytes.be64(64) + DiffBytes.be64(0)  // entry, phoff, shoff
        header += DiffBytes.be32(0) + DiffBytes.be16(64) + DiffBytes.be16(56) + DiffBytes.be16(1) + DiffBytes.be16(64) + DiffBytes.be16(0) + DiffBytes.be16(0)
        header += DiffBytes.be32(1) + DiffBytes.be32(7)  // PT_LOAD, RWX
        header += DiffBytes.be64(0) + DiffBytes.be64(DiffProgram.loadAddress) + DiffBytes.be64(DiffProgram.loadAddress)
        header += DiffBytes.be64(UInt64(image.count)) + DiffBytes.be64(UInt64(image.count)) + DiffBytes.be64(0x1000)
        out.replaceSubrange(0..<header.count, with: header)
        return out
    }
}

/// Big-endian byte helpers and hex formatting for the differential test.
enum DiffBytes {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
    static func be64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
    static func loadBE64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }
    static func hex64(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
    static func hex8(_ v: UInt8) -> String { (v < 16 ? "0" : "") + String(v, radix: 16) }
    static func hexBytes(_ bytes: [UInt8]) -> String { bytes.map(hex8).joined() }
}
