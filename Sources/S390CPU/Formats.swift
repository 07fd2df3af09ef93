// Instruction formats (PoP chapter 5, QEMU insn-format.h.inc). Each is a zero-cost view of the
// raw instruction, which is held left-aligned in a UInt64 (instruction bit 0 = bit 63).
// Field names follow the PoP; `at`/`width` below count bits from the instruction's first bit.

@inline(__always) func field(_ raw: UInt64, at bit: UInt64, width: UInt64) -> UInt64 {
    (raw >> (64 &- bit &- width)) & ((1 << width) &- 1)
}
@inline(__always) func register(_ raw: UInt64, at bit: UInt64) -> Int { Int(truncatingIfNeeded: field(raw, at: bit, width: 4)) }
/// The 20-bit signed long displacement of RSY/RXY/SIY: DL at bit 20 (12 bits), DH at bit 32 (8 bits).
@inline(__always) func longDisplacement(_ raw: UInt64) -> UInt64 {
    let dl = field(raw, at: 20, width: 12), dh = field(raw, at: 32, width: 8)
    return UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: dh)) << 12) | dl
}
/// A signed 16-bit immediate at `bit`, sign-extended.
@inline(__always) func signed16(_ raw: UInt64, at bit: UInt64) -> Int64 { Int64(Int16(truncatingIfNeeded: field(raw, at: bit, width: 16))) }

struct E { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw } }
struct I { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var i: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 8, width: 8)) } }
struct RR { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r2: Int { register(raw, at: 12) } }
struct RI { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }
    var i2: Int64 { signed16(raw, at: 16) }
    var u2: UInt64 { field(raw, at: 16, width: 16) } }
struct RRE { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 24) }; var r2: Int { register(raw, at: 28) } }
/// RRF-a..e: R3 or M3 at bit 16, M4 at bit 20.
struct RRF { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 24) }; var r2: Int { register(raw, at: 28) }
    var r3: Int { register(raw, at: 16) }; var m3: UInt8 { UInt8(register(raw, at: 16)) }
    var m4: UInt8 { UInt8(register(raw, at: 20)) } }
struct RRD { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 16) }; var r3: Int { register(raw, at: 24) }; var r2: Int { register(raw, at: 28) } }
struct RS { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r3: Int { register(raw, at: 12) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { field(raw, at: 20, width: 12) } }
struct RSI { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r3: Int { register(raw, at: 12) }
    var i2: Int64 { signed16(raw, at: 16) } }
struct RX { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var x2: Int { register(raw, at: 12) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { field(raw, at: 20, width: 12) } }
struct S { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { field(raw, at: 20, width: 12) } }
struct SI { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var i2: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 8, width: 8)) }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) } }
struct RIL { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }
    var u2: UInt64 { field(raw, at: 16, width: 32) }
    var i2: Int64 { Int64(Int32(truncatingIfNeeded: field(raw, at: 16, width: 32))) } }
/// RIE-a: compare and trap with immediate.
struct RIEa { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var i2: Int64 { signed16(raw, at: 16) }
    var u2: UInt64 { field(raw, at: 16, width: 16) }; var m3: UInt8 { UInt8(register(raw, at: 32)) } }
/// RIE-b: compare registers and branch relative.
struct RIEb { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r2: Int { register(raw, at: 12) }
    var i4: Int64 { signed16(raw, at: 16) }; var m3: UInt8 { UInt8(register(raw, at: 32)) } }
/// RIE-c: compare immediate and branch relative.
struct RIEc { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var m3: UInt8 { UInt8(register(raw, at: 12)) }
    var i4: Int64 { signed16(raw, at: 16) }
    var i2: Int64 { Int64(Int8(truncatingIfNeeded: field(raw, at: 32, width: 8))) }
    var u2: UInt64 { field(raw, at: 32, width: 8) } }
/// RIE-d: distinct-operands add immediate.
struct RIEd { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r3: Int { register(raw, at: 12) }; var i2: Int64 { signed16(raw, at: 16) } }
/// RIE-e: branch relative on index.
struct RIEe { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r3: Int { register(raw, at: 12) }; var i2: Int64 { signed16(raw, at: 16) } }
/// RIE-f: rotate then insert/AND/OR/XOR selected bits.
struct RIEf { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r2: Int { register(raw, at: 12) }
    var i3: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 16, width: 8)) }
    var i4: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 24, width: 8)) }
    var i5: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 32, width: 8)) } }
/// RRS: compare registers and branch (to a base-displacement address).
struct RRS { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r2: Int { register(raw, at: 12) }
    var b4: Int { register(raw, at: 16) }; var d4: UInt64 { field(raw, at: 20, width: 12) }
    var m3: UInt8 { UInt8(register(raw, at: 32)) } }
/// RIS: compare immediate and branch (to a base-displacement address).
struct RIS { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var m3: UInt8 { UInt8(register(raw, at: 12)) }
    var b4: Int { register(raw, at: 16) }; var d4: UInt64 { field(raw, at: 20, width: 12) }
    var i2: Int64 { Int64(Int8(truncatingIfNeeded: field(raw, at: 32, width: 8))) }
    var u2: UInt64 { field(raw, at: 32, width: 8) } }
struct RSY { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var r3: Int { register(raw, at: 12) }; var m3: UInt8 { UInt8(register(raw, at: 12)) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { longDisplacement(raw) } }
struct RXY { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var x2: Int { register(raw, at: 12) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { longDisplacement(raw) } }
struct RXE { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r1: Int { register(raw, at: 8) }; var x2: Int { register(raw, at: 12) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { field(raw, at: 20, width: 12) }
    var m3: UInt8 { UInt8(register(raw, at: 32)) } }
struct RXF { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r3: Int { register(raw, at: 8) }; var x2: Int { register(raw, at: 12) }
    var b2: Int { register(raw, at: 16) }; var d2: UInt64 { field(raw, at: 20, width: 12) }
    var r1: Int { register(raw, at: 32) } }
struct SIL { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) }
    var i2: Int64 { signed16(raw, at: 32) }; var u2: UInt64 { field(raw, at: 32, width: 16) } }
struct SIY { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var i2: UInt8 { UInt8(truncatingIfNeeded: field(raw, at: 8, width: 8)) }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { longDisplacement(raw) } }
/// SS-a: one 8-bit length (the operand length minus one).
struct SSa { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var l: UInt64 { field(raw, at: 8, width: 8) }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) }
    var b2: Int { register(raw, at: 32) }; var d2: UInt64 { field(raw, at: 36, width: 12) } }
/// SS-b: two 4-bit lengths.
struct SSb { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var l1: UInt64 { field(raw, at: 8, width: 4) }; var l2: UInt64 { field(raw, at: 12, width: 4) }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) }
    var b2: Int { register(raw, at: 32) }; var d2: UInt64 { field(raw, at: 36, width: 12) } }
struct SSE { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) }
    var b2: Int { register(raw, at: 32) }; var d2: UInt64 { field(raw, at: 36, width: 12) } }
struct SSF { let raw: UInt64; init(_ raw: UInt64) { self.raw = raw }
    var r3: Int { register(raw, at: 8) }
    var b1: Int { register(raw, at: 16) }; var d1: UInt64 { field(raw, at: 20, width: 12) }
    var b2: Int { register(raw, at: 32) }; var d2: UInt64 { field(raw, at: 36, width: 12) } }
