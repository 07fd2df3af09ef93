// DIAGNOSE 0x308 (spec s390x-cpu.md section 7.9) as IPLParameters handles it, with a real vCPU
// holding R1/R3 and guest memory reached through the kernel model.
import Foundation
@testable import KernelModel
import Testing
@testable import VMM

private final class DiagnoseFixture: @unchecked Sendable {
    let vm: VirtualMachine
    let vcpu: VirtualCPU
    let ipl = IPLParameters()

    init(memory: UInt64 = 16 << 20) throws {
        vm = try KVM.createVM(VMConfiguration(memorySize: memory, maxCPUs: 1))
        vcpu = try vm.createVCPU(id: 0)
    }

    /// DIAG 308 with R`r1` = `address`, R`r3` = `subcode`; R`r1`+1 preset to a marker.
    func diagnose(subcode: UInt64, address: UInt64 = 0, r1: Int = 2, r3: Int = 4) -> DiagnoseAction {
        var registers = vcpu.gprs
        registers[r3] = subcode
        registers[r1] = address
        if r1 < 15 { registers[r1 + 1] = 0xDEAD_BEEF_DEAD_BEEF }
        vcpu.gprs = registers
        let host = ModelHost(vm, vcpu: vcpu)
        return ipl.diagnose(vcpu: host, blocks: host, memorySize: vm.memorySize, r1: r1, r3: r3, protected: false, unpackFacility: false)
    }

    func rc(r1: Int = 2) -> UInt64 { vcpu.gprs[r1 + 1] }

    /// An IPL parameter block of `length` bytes (QEMU's IplParameterBlock: u32 len at 0, pbt at 12;
    /// type 2 = CCW, 0 = FCP), filled with a pattern.
    static func block(length: Int, type: UInt8 = 2, size: Int? = nil) -> [UInt8] {
        var bytes = (0..<(size ?? length)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        bytes[0] = UInt8(length >> 24 & 0xFF)
        bytes[1] = UInt8(length >> 16 & 0xFF)
        bytes[2] = UInt8(length >> 8 & 0xFF)
        bytes[3] = UInt8(length & 0xFF)
        bytes[12] = type
        return bytes
    }
}

@Suite("DIAG 308")
struct DiagnoseTests {
    @Test("subcode 5 then 6 round-trips the IPL parameter block (rc 1)")
    func setThenStore() throws {
        let fixture = try DiagnoseFixture()
        let block = DiagnoseFixture.block(length: 312)
        try fixture.vm.writeAbsolute(0x3000, block)
        #expect(fixture.diagnose(subcode: 5, address: 0x3000) == .resume)
        #expect(fixture.rc() == 1)
        try fixture.vm.writeAbsolute(0x3000, [UInt8](repeating: 0, count: 312))   // the kept copy is independent
        try fixture.vm.writeAbsolute(0x8000, [UInt8](repeating: 0xEE, count: 4096))
        #expect(fixture.diagnose(subcode: 6, address: 0x8000) == .resume)
        #expect(fixture.rc() == 1)
        #expect(try fixture.vm.readAbsolute(0x8000, count: 312) == block)
        #expect(try fixture.vm.readAbsolute(0x8000 + 312, count: 4) == [0xEE, 0xEE, 0xEE, 0xEE], "only the block's length is stored")
        #expect(fixture.ipl.block == block)
    }

    @Test("other registers are left alone; R1 + 1 is the only result")
    func registersPreserved() throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x3000, DiagnoseFixture.block(length: 200))
        var registers = (0..<16).map { UInt64($0) * 0x0101_0101 }
        registers[6] = 0x3000
        registers[9] = 5
        fixture.vcpu.gprs = registers
        let host = ModelHost(fixture.vm, vcpu: fixture.vcpu)
        #expect(fixture.ipl.diagnose(vcpu: host, blocks: host, memorySize: fixture.vm.memorySize, r1: 6, r3: 9, protected: false, unpackFacility: false) == .resume)
        var expected = registers
        expected[7] = 1
        #expect(fixture.vcpu.gprs == expected)
    }

    @Test("subcode 6 with no block stored: rc 0x102")
    func storeFirst() throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x8000, [UInt8](repeating: 0xEE, count: 16))
        #expect(fixture.diagnose(subcode: 6, address: 0x8000) == .resume)
        #expect(fixture.rc() == 0x102)
        #expect(try fixture.vm.readAbsolute(0x8000, count: 16) == [UInt8](repeating: 0xEE, count: 16), "nothing stored")
    }

    @Test("subcodes 5 and 6 with an odd R1 are a specification exception", arguments: [5, 6] as [UInt64])
    func oddRegister(_ subcode: UInt64) throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x3000, DiagnoseFixture.block(length: 200))
        #expect(fixture.diagnose(subcode: subcode, address: 0x3000, r1: 3, r3: 4) == .program(.specification))
        #expect(fixture.rc(r1: 3) == 0xDEAD_BEEF_DEAD_BEEF, "no rc stored")
        #expect(fixture.diagnose(subcode: subcode, address: 0x3000, r1: 15, r3: 4) == .program(.specification))
    }

    @Test("subcodes 5 and 6 with an address that is not 4 KiB aligned are a specification exception",
          arguments: [(5, 0x3008), (6, 0x3008), (5, 0x3800), (6, 0x3FFF)] as [(UInt64, UInt64)])
    func unalignedAddress(_ subcode: UInt64, _ address: UInt64) throws {
        let fixture = try DiagnoseFixture()
        #expect(fixture.diagnose(subcode: subcode, address: address) == .program(.specification))
        #expect(fixture.rc() == 0xDEAD_BEEF_DEAD_BEEF)
    }

    @Test("subcodes 5 and 6 with a block outside storage are an addressing exception")
    func addressing() throws {
        let fixture = try DiagnoseFixture()
        let size = fixture.vm.memorySize
        #expect(fixture.diagnose(subcode: 5, address: size) == .program(.addressing))
        #expect(fixture.diagnose(subcode: 6, address: size + 0x1000) == .program(.addressing))
        try fixture.vm.writeAbsolute(size - 0x1000, DiagnoseFixture.block(length: 4096))
        #expect(fixture.diagnose(subcode: 5, address: size - 0x1000) == .resume, "the last page holds a whole block")
        #expect(fixture.rc() == 1)
    }

    @Test("a CCW block length below 200 or above 4096: rc 0x402 and nothing is kept",
          arguments: [0, 8, 199, 4097, 0x10000, 0x7FFF_FFFF])
    func invalidLength(_ length: Int) throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x3000, DiagnoseFixture.block(length: length, size: 256))
        #expect(fixture.diagnose(subcode: 5, address: 0x3000) == .resume)
        #expect(fixture.rc() == 0x402)
        #expect(fixture.ipl.block == nil)
        #expect(fixture.diagnose(subcode: 6, address: 0x8000) == .resume)
        #expect(fixture.rc() == 0x102)
    }

    @Test("the boundary lengths 200 and 4096 are accepted", arguments: [200, 4096])
    func boundaryLengths(_ length: Int) throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x3000, DiagnoseFixture.block(length: length))
        #expect(fixture.diagnose(subcode: 5, address: 0x3000) == .resume)
        #expect(fixture.rc() == 1)
        #expect(fixture.ipl.block?.count == length)
    }

    @Test("block types: FCP needs 384 bytes, CCW 200; other types are invalid (QEMU's iplb_valid)",
          arguments: [(0, 383, 0x402), (0, 384, 1), (2, 199, 0x402), (2, 200, 1), (1, 4096, 0x402), (5, 400, 0x402), (0xFF, 400, 0x402)]
              as [(UInt8, Int, UInt64)])
    func blockTypes(_ type: UInt8, _ length: Int, _ rc: UInt64) throws {
        let fixture = try DiagnoseFixture()
        try fixture.vm.writeAbsolute(0x3000, DiagnoseFixture.block(length: length, type: type))
        #expect(fixture.diagnose(subcode: 5, address: 0x3000) == .resume)
        #expect(fixture.rc() == rc)
        #expect((fixture.ipl.block != nil) == (rc == 1))
    }

    @Test("an invalid block after a valid one keeps the valid one")
    func invalidKeepsPrevious() throws {
        let fixture = try DiagnoseFixture()
        let good = DiagnoseFixture.block(length: 200)
        try fixture.vm.writeAbsolute(0x3000, good)
        #expect(fixture.diagnose(subcode: 5, address: 0x3000) == .resume)
        try fixture.vm.writeAbsolute(0x4000, DiagnoseFixture.block(length: 100))
        #expect(fixture.diagnose(subcode: 5, address: 0x4000) == .resume)
        #expect(fixture.rc() == 0x402)
        #expect(fixture.diagnose(subcode: 6, address: 0x5000) == .resume)
        #expect(fixture.rc() == 1)
        #expect(try fixture.vm.readAbsolute(0x5000, count: 200) == good)
    }

    @Test("unsupported subcodes are a specification exception",
          arguments: [2, 4, 7, 8, 10, 0x101, 0xFFFF, 0x10000, 0x10001, .max] as [UInt64])
    func unsupportedSubcodes(_ subcode: UInt64) throws {
        let fixture = try DiagnoseFixture()
        #expect(fixture.diagnose(subcode: subcode, address: 0x3000) == .program(.specification))
        #expect(fixture.rc() == 0xDEAD_BEEF_DEAD_BEEF)
    }

    @Test("subcodes 0, 1 and 3 ask the machine to reset or re-IPL")
    func resetSubcodes() throws {
        let fixture = try DiagnoseFixture()
        #expect(fixture.diagnose(subcode: 0) == .resetAndLoadPSW(clearAll: true), "modified clear")
        #expect(fixture.diagnose(subcode: 1) == .resetAndLoadPSW(clearAll: false), "load normal")
        #expect(fixture.diagnose(subcode: 3) == .reIPL, "load clear")
        // The address register does not matter for them (no alignment check).
        #expect(fixture.diagnose(subcode: 0, address: 0x3001, r1: 3, r3: 5) == .resetAndLoadPSW(clearAll: true))
        #expect(fixture.rc(r1: 3) == 0xDEAD_BEEF_DEAD_BEEF, "no rc for resets")
    }

    @Test("the subcode is R3's whole 64-bit value: high bits make it invalid")
    func subcodeHighBits() throws {
        let fixture = try DiagnoseFixture()
        #expect(fixture.diagnose(subcode: 0x1_0000_0005, address: 0x3000) == .program(.specification))
        #expect(fixture.diagnose(subcode: 0x8000_0000_0000_0001) == .program(.specification))
    }
}
