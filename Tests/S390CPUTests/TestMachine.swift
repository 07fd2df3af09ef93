@testable import S390CPU

/// A bare CPU over 1 MiB of zeroed storage for instruction-level tests: code goes at 0x10000,
/// the CPU starts in 64-bit supervisor state there, and every program interruption lands on a
/// disabled wait at 0x20000 (so `programInterruptionCode` can be read back).
final class TestMachine {
    static let codeAddress: UInt64 = 0x10000
    static let programTrapAddress: UInt64 = 0x20000
    let size: Int
    let memory: UnsafeMutableRawPointer
    let cpu: CPU

    init(memorySize: Int = 1 << 20) {
        size = memorySize
        memory = UnsafeMutableRawPointer.allocate(byteCount: memorySize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: memorySize)
        cpu = CPU(address: 0, model: TestMachine.model, storage: GuestStorage(base: memory, size: UInt64(memorySize)),
                  clock: TODClock(), floating: FloatingInterruptions())
        // Program-new PSW: 64-bit, disabled wait at the trap address.
        store64(0x1D0, CPU.PSW.wait | CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing)
        store64(0x1D8, TestMachine.programTrapAddress)
        cpu.loadPSW(CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing, address: TestMachine.codeAddress))
    }

    deinit { memory.deallocate() }

    static let model = CPUModel()

    func load(_ bytes: [UInt8], at address: UInt64) {
        for (offset, byte) in bytes.enumerated() { memory.storeBytes(of: byte, toByteOffset: Int(address) + offset, as: UInt8.self) }
    }
    func store64(_ address: UInt64, _ value: UInt64) { memory.storeBytes(of: value.bigEndian, toByteOffset: Int(address), as: UInt64.self) }
    func store32(_ address: UInt64, _ value: UInt32) { memory.storeBytes(of: value.bigEndian, toByteOffset: Int(address), as: UInt32.self) }
    func load64(_ address: UInt64) -> UInt64 { UInt64(bigEndian: memory.loadUnaligned(fromByteOffset: Int(address), as: UInt64.self)) }
    func load32(_ address: UInt64) -> UInt32 { UInt32(bigEndian: memory.loadUnaligned(fromByteOffset: Int(address), as: UInt32.self)) }
    func load16(_ address: UInt64) -> UInt16 { UInt16(bigEndian: memory.loadUnaligned(fromByteOffset: Int(address), as: UInt16.self)) }
    func load8(_ address: UInt64) -> UInt8 { memory.load(fromByteOffset: Int(address), as: UInt8.self) }

    /// Places `code` at 0x10000 and runs it: `instructions` steps, by default as many as the
    /// code holds. Returns how the CPU stopped.
    @discardableResult
    func run(_ code: [UInt8], instructions: Int? = nil) -> CPUExit {
        load(code, at: TestMachine.codeAddress)
        var count = 0, offset = 0
        while offset < code.count { offset += InstructionSet.length(firstByte: code[offset]); count += 1 }
        return cpu.run(maxInstructions: instructions ?? count)
    }

    var cc: UInt8 { cpu.conditionCode }
    /// The program-interruption code stored by the last program interruption (0 if none).
    var programInterruptionCode: UInt16 { load16(0x8E) }
    var programInterruptionILC: UInt16 { load16(0x8C) }
    var programOldPSW: CPU.PSW { CPU.PSW(mask: load64(0x150), address: load64(0x158)) }
    var interrupted: Bool { cpu.pswAddress == TestMachine.programTrapAddress }
}
