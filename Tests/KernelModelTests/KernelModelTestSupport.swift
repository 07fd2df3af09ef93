// Shared helpers of the kernel-model tests: a tiny assembler for the handful of instructions the
// test programs use, a guest-memory layout, and `run()` on a background thread with a timeout so
// that a bug in the model can never hang the suite.
import Foundation
@testable import KernelModel
import S390CPU

// MARK: Machine code

/// Encoders for the instructions the test programs need (PoP formats; big-endian bytes).
enum Asm {
    private static func rs(_ opcode: UInt8, _ r1: Int, _ r3: Int, _ b2: Int, _ d2: Int) -> [UInt8] {
        [opcode, UInt8(r1 << 4 | r3), UInt8(b2 << 4 | d2 >> 8 & 0xF), UInt8(d2 & 0xFF)]
    }
    /// LHI r1,i2 (A7x8).
    static func lhi(_ r1: Int, _ immediate: Int16) -> [UInt8] {
        let value = UInt16(bitPattern: immediate)
        return [0xA7, UInt8(r1 << 4 | 0x8), UInt8(value >> 8), UInt8(value & 0xFF)]
    }
    /// LGHI r1,i2 (A7x9).
    static func lghi(_ r1: Int, _ immediate: Int16) -> [UInt8] {
        let value = UInt16(bitPattern: immediate)
        return [0xA7, UInt8(r1 << 4 | 0x9), UInt8(value >> 8), UInt8(value & 0xFF)]
    }
    /// LLILF r1,i2 (C0xF): r1 = i2, high word zero.
    static func llilf(_ r1: Int, _ immediate: UInt32) -> [UInt8] { [0xC0, UInt8(r1 << 4 | 0xF)] + be32(immediate) }
    /// LLIHF r1,i2 (C0xE): high word = i2, low word zero.
    static func llihf(_ r1: Int, _ immediate: UInt32) -> [UInt8] { [0xC0, UInt8(r1 << 4 | 0xE)] + be32(immediate) }
    /// SIGP r1,r3,d2(b2) (AE).
    static func sigp(_ r1: Int, _ r3: Int, order: Int, base: Int = 0) -> [UInt8] { rs(0xAE, r1, r3, base, order) }
    /// DIAG r1,r3,d2(b2) (83).
    static func diag(_ r1: Int, _ r3: Int, code: Int, base: Int = 0) -> [UInt8] { rs(0x83, r1, r3, base, code) }
    /// SERVC r1,r2 (B220).
    static func servc(_ r1: Int, _ r2: Int) -> [UInt8] { [0xB2, 0x20, 0x00, UInt8(r1 << 4 | r2)] }
    /// IPM r1 (B222): CC and program mask into bits 34-39 of r1.
    static func ipm(_ r1: Int) -> [UInt8] { [0xB2, 0x22, 0x00, UInt8(r1 << 4)] }
    /// ST r1,d2(x2,b2) (50).
    static func st(_ r1: Int, _ d2: Int, base: Int, index: Int = 0) -> [UInt8] { rs(0x50, r1, index, base, d2) }
    /// STG r1,d2(x2,b2) (E324), non-negative displacement below 4 KiB.
    static func stg(_ r1: Int, _ d2: Int, base: Int, index: Int = 0) -> [UInt8] {
        [0xE3, UInt8(r1 << 4 | index), UInt8(base << 4 | d2 >> 8 & 0xF), UInt8(d2 & 0xFF), 0x00, 0x24]
    }
    /// MVI d1(b1),i2 (92).
    static func mvi(_ d1: Int, base: Int, _ immediate: UInt8) -> [UInt8] {
        [0x92, immediate, UInt8(base << 4 | d1 >> 8 & 0xF), UInt8(d1 & 0xFF)]
    }
    /// LPSWE d2(b2) (B2B2).
    static func lpswe(_ d2: Int, base: Int) -> [UInt8] { [0xB2, 0xB2, UInt8(base << 4 | d2 >> 8 & 0xF), UInt8(d2 & 0xFF)] }
    /// J *: BRC 15,0 (branch to itself forever).
    static let loopForever: [UInt8] = [0xA7, 0xF4, 0x00, 0x00]
}

func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }
func be64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) } }
func get16(_ bytes: [UInt8], _ offset: Int = 0) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
func get32(_ bytes: [UInt8], _ offset: Int = 0) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) } }
func get64(_ bytes: [UInt8], _ offset: Int = 0) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[offset + $1]) } }

// MARK: PSWs and layout

enum PSWMask {
    /// 64-bit addressing, supervisor state, everything disabled.
    static let supervisor64: UInt64 = CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing
    static let disabledWait: UInt64 = supervisor64 | CPU.PSW.wait
    static let enabledWait: UInt64 = supervisor64 | CPU.PSW.wait | CPU.PSW.external
}

/// Where the test programs live in guest absolute storage (all outside CPU 0's lowcore).
enum Layout {
    static let restartNewPSW: UInt64 = 0x1A0
    static let externalNewPSW: UInt64 = 0x1B0
    static let programNewPSW: UInt64 = 0x1D0
    static let code: UInt64 = 0x10000           // CPU 0's program
    static let secondaryCode: UInt64 = 0x12000  // CPU 1's program / restart handler
    static let externalHandler: UInt64 = 0x14000
    static let results: UInt64 = 0x20000        // R10 points here
    static let waitPSWs: UInt64 = 0x30000       // R11 points here: the disabled-wait PSW that ends a program
    /// Addresses of the disabled-wait PSWs that end programs (distinct, to tell the paths apart).
    static let endAddress: UInt64 = 0xE0E0
    static let secondaryEndAddress: UInt64 = 0xE1E0
    static let externalEndAddress: UInt64 = 0xE2E0
    static let programCheckAddress: UInt64 = 0xBAD0
}

/// A VM with a few vCPUs and the test layout in place: the program-new PSW is a disabled wait at
/// `Layout.programCheckAddress` (a program check shows up as that wait), the disabled-wait PSWs
/// that end programs sit at R11 + 0/16/32.
final class TestVM: @unchecked Sendable {
    let vm: VirtualMachine
    let vcpus: [VirtualCPU]

    init(memory: UInt64 = 16 << 20, cpus: Int = 2, maxCPUs: Int = 8) throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: memory, maxCPUs: maxCPUs))
        self.vm = vm
        vcpus = try (0..<cpus).map { try vm.createVCPU(id: UInt16($0)) }
        try writePSW(Layout.programNewPSW, mask: PSWMask.disabledWait, address: Layout.programCheckAddress)
        try writePSW(Layout.waitPSWs, mask: PSWMask.disabledWait, address: Layout.endAddress)
        try writePSW(Layout.waitPSWs + 16, mask: PSWMask.disabledWait, address: Layout.secondaryEndAddress)
        try writePSW(Layout.waitPSWs + 32, mask: PSWMask.disabledWait, address: Layout.externalEndAddress)
        for vcpu in vcpus {
            var registers = vcpu.gprs
            registers[10] = Layout.results
            registers[11] = Layout.waitPSWs
            vcpu.gprs = registers
        }
    }

    func writePSW(_ address: UInt64, mask: UInt64, address target: UInt64) throws {
        try vm.writeAbsolute(address, be64(mask) + be64(target))
    }

    func read(_ address: UInt64, _ count: Int) throws -> [UInt8] { try vm.readAbsolute(address, count: count) }

    /// Writes `code` at `address` and points `vcpu` (stopped) at it, then makes it operating.
    func load(_ code: [UInt8], at address: UInt64 = Layout.code, on vcpu: VirtualCPU? = nil, start: Bool = true) throws {
        let vcpu = vcpu ?? vcpus[0]
        try vm.writeAbsolute(address, code)
        try vcpu.setMPState(.stopped)   // KVM_S390_SET_INITIAL_PSW needs a vCPU that is not operating
        try vcpu.setInitialPSW(CPU.PSW(mask: PSWMask.supervisor64, address: address))
        if start { try vcpu.setMPState(.operating) }
    }

    /// LPSWE of the disabled wait that ends a program (`slot` 0: `endAddress`, 1: `secondaryEndAddress`).
    static func end(slot: Int = 0) -> [UInt8] { Asm.lpswe(16 * slot, base: 11) }
}

// MARK: Running a vCPU with a timeout

/// `run()` in progress on its own thread.
final class RunningVCPU: @unchecked Sendable {
    let vcpu: VirtualCPU
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: VCPUExit?
    private var finished = false

    init(_ vcpu: VirtualCPU) {
        self.vcpu = vcpu
        let thread = Thread { [self] in
            let exit = vcpu.run()
            lock.withLock { result = exit; finished = true }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The exit, or nil if `run()` has not returned within `seconds`.
    func wait(seconds: Double) -> VCPUExit? {
        if lock.withLock({ finished }) { return lock.withLock { result } }
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()   // keep later waits answering
        return lock.withLock { result }
    }

    /// True if `run()` is still blocked after `seconds` (a bounded check that it does block).
    func isStillRunning(after seconds: Double) -> Bool { wait(seconds: seconds) == nil }

    /// Waits for the exit; on timeout kicks the vCPU so the thread ends, and returns nil.
    func finish(seconds: Double = 5) -> VCPUExit? {
        if let exit = wait(seconds: seconds) { return exit }
        vcpu.kick()
        _ = wait(seconds: 5)
        return nil
    }
}

/// Runs `vcpu` until it exits to userspace, at most `seconds`; nil on timeout (after a kick).
func run(_ vcpu: VirtualCPU, seconds: Double = 5) -> VCPUExit? { RunningVCPU(vcpu).finish(seconds: seconds) }

let disabledWaitExit = VCPUExit.sieIntercept(icptcode: InterceptCode.waitPSW, ipa: 0, ipb: 0)
let stopExit = VCPUExit.sieIntercept(icptcode: InterceptCode.stop, ipa: 0, ipb: 0)
