import Foundation
@testable import S390CPU

/// Runs a `DiffProgram`'s cases on an s390pv CPU: the image sits at the same address as in the
/// ELF, each case starts at its sequence with the registers, CC and scratch set directly (as the
/// qemu prologue does), in problem state, 64-bit mode, program mask 0 (as qemu-user runs).
final class DiffS390PVRunner {
    static let programTrapAddress: UInt64 = 0x8000
    let program: DiffProgram
    let size: Int
    let memory: UnsafeMutableRawPointer
    let cpu: CPU

    /// Why s390pv did not reach the end of a sequence.
    struct Interrupted: Error, CustomStringConvertible {
        let code: UInt16, oldPSWAddress: UInt64, exit: CPUExit
        var description: String {
            "program interruption code 0x\(String(code, radix: 16)) at 0x\(String(oldPSWAddress, radix: 16)) (run returned \(exit))"
        }
    }

    init(program: DiffProgram) {
        self.program = program
        size = (Int(DiffProgram.loadAddress) + program.image.count + 0xFFFF) & ~0xFFFF
        memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        cpu = CPU(address: 0, model: CPUModel(), storage: GuestStorage(base: memory, size: UInt64(size)),
                  clock: TODClock(), floating: FloatingInterruptions())
        // Program-new PSW (lowcore 0x1D0): disabled wait at the trap address.
        storeBE64(0x1D0, CPU.PSW.wait | CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing)
        storeBE64(0x1D8, DiffS390PVRunner.programTrapAddress)
        program.image.withUnsafeBytes { memory.advanced(by: Int(DiffProgram.loadAddress)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    deinit { memory.deallocate() }

    func storeBE64(_ address: Int, _ value: UInt64) { memory.storeBytes(of: value.bigEndian, toByteOffset: address, as: UInt64.self) }

    func workScratchAddress(_ index: Int) -> Int { Int(program.blockAddress[index]) + DiffProgram.workOffset }

    /// Sets up case `index` with `state` (default: the case's own initial state).
    func prepare(_ index: Int, registers: [UInt64], cc: UInt8, scratch: [UInt8]) {
        let work = workScratchAddress(index)
        scratch.withUnsafeBytes { memory.advanced(by: work).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        for r in 0..<16 { cpu.gpr[r] = registers[r] }
        cpu.gpr[DiffProgram.baseRegister] = program.baseValue(index)
        cpu.loadPSW(CPU.PSW(mask: CPU.PSW.problemState | CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing | UInt64(cc & 3) << 44,
                            address: program.sequenceStart[index]))
        memory.storeBytes(of: UInt16(0), toByteOffset: 0x8E, as: UInt16.self)
    }

    func state(_ index: Int) -> DiffResult {
        let work = workScratchAddress(index)
        let scratch = [UInt8](UnsafeRawBufferPointer(start: memory.advanced(by: work), count: DiffProgram.scratchSize))
        return DiffResult(registers: (0..<16).map { cpu.gpr[$0] }, cc: cpu.conditionCode,
                          programMask: cpu.programMask, scratch: scratch)
    }

    /// Runs `count` instructions of the prepared case; throws if a program interruption happened.
    func step(_ count: Int) throws(Interrupted) {
        let exit = cpu.run(maxInstructions: count)
        if cpu.pswAddress == DiffS390PVRunner.programTrapAddress || exit != .instructionLimit {
            let code = UInt16(bigEndian: memory.loadUnaligned(fromByteOffset: 0x8E, as: UInt16.self))
            let old = UInt64(bigEndian: memory.loadUnaligned(fromByteOffset: 0x158, as: UInt64.self))
            throw Interrupted(code: code, oldPSWAddress: old, exit: exit)
        }
    }

    /// Runs case `index` from its initial state.
    func run(_ index: Int) -> Result<DiffResult, Interrupted> {
        let c = program.cases[index]
        prepare(index, registers: c.registers, cc: c.cc, scratch: c.scratch)
        do throws(Interrupted) {
            try step(c.instructions.count)
        } catch {
            return .failure(error)
        }
        return .success(state(index))
    }
}

/// qemu-s390x (Debian's qemu-user) as the reference.
enum DiffQEMU {
    /// The qemu-s390x executable on PATH, if any.
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in directories {
            let candidate = "\(directory)/qemu-s390x"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Writes the program as an ELF, runs it under qemu-s390x and returns what it wrote.
    static func run(_ program: DiffProgram) throws -> [UInt8] {
        guard let path else { throw Failure(description: "qemu-s390x is not on PATH") }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("s390pv-diff-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var keep = false
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        let elfURL = directory.appendingPathComponent("diff.elf")
        let outURL = directory.appendingPathComponent("diff.out")
        try Data(program.elf).write(to: elfURL)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: elfURL.path)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [elfURL.path]
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        let output = [UInt8](try Data(contentsOf: outURL))
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            keep = true
            throw Failure(description: "qemu-s390x ended with \(process.terminationReason == .exit ? "status" : "signal") \(process.terminationStatus) after writing \(output.count) bytes (program kept: \(elfURL.path))")
        }
        guard output.count == program.blocksLength else {
            throw Failure(description: "qemu-s390x wrote \(output.count) bytes, expected \(program.blocksLength)")
        }
        return output
    }
}

/// SplitMix64: small, fast, reproducible.
struct DiffRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
