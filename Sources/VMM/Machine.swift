// The QEMU-shaped machine: loads an image through KVM_S390_MEM_OP, starts vCPU threads that
// loop on KVM_RUN, and handles what the kernel hands back (SCLP, DIAG 308, stops, waits).
// It holds no pointer into guest RAM: everything goes through the kernel model's interface.
import Disassembler
import Foundation
import KernelModel
import S390CPU

public struct MachineConfiguration: Sendable {
    public var imagePath: String
    public var memorySize: UInt64 = 128 << 20
    public var cpus = 1
    public var commandLine: String?
    /// Wall-clock limit for the whole run.
    public var timeout: Duration = .seconds(90)
    /// Print every executed instruction (capstone text and PSW) to `traceOutput`.
    public var trace = false
    public init(imagePath: String) { self.imagePath = imagePath }
}

/// How a run ended.
public enum RunOutcome: Equatable, Sendable {
    /// Every CPU stopped; `status` is the guest's `EXIT: STATUS=` value, if it printed one.
    case stopped(status: Int?)
    /// A CPU loaded a disabled-wait PSW: the guest crashed.
    case disabledWait(cpu: UInt16, psw: CPU.PSW)
    /// A CPU check-stopped (e.g. an interruption with the lowcore outside storage).
    case checkStop(cpu: UInt16, reason: String)
    case timeout
}

public enum MachineError: Error, CustomStringConvertible {
    case image(GuestImageError)
    case configuration(String)
    case kernel(String)

    public var description: String {
        switch self {
        case .image(let error): error.description
        case .configuration(let message): message
        case .kernel(let message): message
        }
    }
}

public final class Machine: @unchecked Sendable {
    public let configuration: MachineConfiguration
    public let console: Console
    let vm: VirtualMachine
    let vcpus: [VirtualCPU]
    let image: GuestImage
    private let sclp: ServiceProcessor
    private let iplParameters = IPLParameters()
    private let traceOutput: FileHandle
    private let finished = NSCondition()
    private var outcome: RunOutcome?
    /// Serializes machine-wide actions (resets, re-IPL, the all-stopped check).
    private let machineLock = NSLock()

    /// The command-line area QEMU fills for a Linux-style image (spec s390x-cpu.md section 3.3).
    static let commandLineAddress: UInt64 = 0x10480
    static let commandLineLimitAddress: UInt64 = 0x10430
    static let legacyCommandLineLimit: UInt64 = 896

    public init(_ configuration: MachineConfiguration, console: Console = Console(),
                traceOutput: FileHandle = .standardError) throws(MachineError) {
        guard (1...248).contains(configuration.cpus) else {
            throw .configuration("--cpus must be between 1 and 248, not \(configuration.cpus)")
        }
        guard configuration.memorySize >= 1 << 20, configuration.memorySize % (1 << 20) == 0 else {
            throw .configuration("--memory must be a whole number of MiB, at least 1M")
        }
        self.configuration = configuration
        self.console = console
        self.traceOutput = traceOutput
        do {
            image = try GuestImage.load(path: configuration.imagePath)
            try image.validate(memorySize: configuration.memorySize)
        } catch {
            throw .image(error)
        }
        let identity = MachineIdentity(cpuCount: configuration.cpus, maxCPUs: configuration.cpus)
        do {
            let vm = try KVM.createVM(VMConfiguration(memorySize: configuration.memorySize, maxCPUs: configuration.cpus,
                                                      identity: identity))
            vcpus = try (0..<configuration.cpus).map { id throws(Errno) in try vm.createVCPU(id: UInt16(id)) }
            self.vm = vm
        } catch {
            throw .kernel("cannot create the VM (\(error)): is \(configuration.memorySize >> 20) MiB available?")
        }
        sclp = ServiceProcessor(vm: vm, cpuCount: configuration.cpus, maxCPUs: configuration.cpus, console: console)
        try ipl()
    }

    // MARK: IPL

    /// Loads the image and puts CPU 0 at its entry in the z/Architecture start state; the
    /// other CPUs stay stopped (spec 3.2).
    private func ipl() throws(MachineError) {
        for segment in image.segments {
            var offset = 0
            while offset < segment.bytes.count {
                let chunk = segment.bytes[offset..<min(offset + 65536, segment.bytes.count)]
                do { try vm.writeAbsolute(segment.physicalAddress + UInt64(offset), chunk) } catch {
                    throw .kernel("cannot write the image to guest memory: \(error)")
                }
                offset += chunk.count
            }
        }
        try placeCommandLine()
        let startPSW: CPU.PSW
        switch image.kind {
        case .elf:
            startPSW = CPU.PSW(mask: CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing, address: image.entry)
        case .flat:
            startPSW = shortPSWAtZero()
        }
        for vcpu in vcpus {
            vcpu.clearReset()
            vcpu.setMPState(.stopped)
        }
        do { try vcpus[0].setInitialPSW(startPSW) } catch { throw .kernel("KVM_S390_SET_INITIAL_PSW failed: \(error)") }
        vcpus[0].setMPState(.operating)
    }

    /// QEMU writes `-append` at 0x10480 when the entry is 0x10000 or 0x800 and the image
    /// covers that address; its size limit is the u64 at 0x10430 (0 means 896 bytes).
    private func placeCommandLine() throws(MachineError) {
        guard let commandLine = configuration.commandLine else { return }
        let covered = image.segments.contains {
            $0.physicalAddress <= Machine.commandLineAddress && Machine.commandLineAddress < $0.physicalAddress + $0.memorySize
        }
        guard image.kind == .elf, image.entry == 0x10000 || image.entry == 0x800, covered else {
            throw .configuration("--append needs an image with entry 0x10000 (or 0x800) that covers 0x10480")
        }
        let limitBytes = (try? vm.readAbsolute(Machine.commandLineLimitAddress, count: 8)) ?? []
        let storedLimit = limitBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let limit = storedLimit == 0 ? Machine.legacyCommandLineLimit : storedLimit
        let bytes = Array(commandLine.utf8) + [0]
        guard UInt64(bytes.count) <= limit else {
            throw .configuration("--append text is \(bytes.count - 1) bytes; this image allows at most \(limit - 1)")
        }
        do { try vm.writeAbsolute(Machine.commandLineAddress, bytes) } catch {
            throw .kernel("cannot write the command line: \(error)")
        }
    }

    /// The ESA/390 IPL PSW at absolute 0 in z/Architecture form (spec 7.1: bits 0-32 kept,
    /// bit 12 cleared, address from bits 33-63).
    private func shortPSWAtZero() -> CPU.PSW {
        let bytes = (try? vm.readAbsolute(0, count: 8)) ?? [UInt8](repeating: 0, count: 8)
        let short = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return CPU.PSW(mask: (short & 0xFFFF_FFFF_8000_0000) & ~CPU.PSW.fixed12, address: short & 0x7FFF_FFFF)
    }

    // MARK: Running

    /// Runs until every CPU stops, a CPU crashes, or the timeout passes.
    public func run() -> RunOutcome {
        for vcpu in vcpus { vcpu.singleStep = configuration.trace }
        let threadsDone = DispatchGroup()
        for vcpu in vcpus {
            threadsDone.enter()
            let thread = Thread { [self] in
                vcpuLoop(vcpu)
                threadsDone.leave()
            }
            thread.name = "vcpu\(vcpu.id)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        let deadline = Date(timeIntervalSinceNow: Double(configuration.timeout.components.seconds)
                            + Double(configuration.timeout.components.attoseconds) / 1e18)
        finished.lock()
        while outcome == nil {
            if !finished.wait(until: deadline) {
                if outcome == nil { outcome = .timeout }
            }
        }
        let result = outcome!
        finished.unlock()
        vm.kickAll()
        threadsDone.wait()
        return result
    }

    /// One line per CPU: state and PSW (for timeout and crash reports).
    public var cpuSummary: String {
        vcpus.map { "cpu\($0.id) \($0.mpState) psw \($0.psw.hexDescription)" }.joined(separator: "; ")
    }

    /// Guest instructions executed by all CPUs.
    public var instructionCount: UInt64 { vcpus.reduce(0) { $0 + $1.instructionCount } }

    private func finish(_ result: RunOutcome) {
        finished.lock()
        if outcome == nil { outcome = result }
        finished.signal()
        finished.unlock()
    }

    private var isFinished: Bool {
        finished.lock(); defer { finished.unlock() }
        return outcome != nil
    }

    private func vcpuLoop(_ vcpu: VirtualCPU) {
        let disassembler = configuration.trace ? try? S390Disassembler() : nil
        while !isFinished {
            if let disassembler, vcpu.mpState == .operating { trace(vcpu, disassembler) }
            switch vcpu.run() {
            case .interrupted, .debug:
                continue
            case .internalError(let reason):
                finish(.checkStop(cpu: vcpu.id, reason: reason))
            case .sieIntercept(let icptcode, let ipa, let ipb):
                handleIntercept(vcpu, icptcode: icptcode, ipa: ipa, ipb: ipb)
            }
        }
    }

    private func handleIntercept(_ vcpu: VirtualCPU, icptcode: UInt8, ipa: UInt16, ipb: UInt32) {
        switch icptcode {
        case InterceptCode.waitPSW:
            finish(.disabledWait(cpu: vcpu.id, psw: vcpu.psw))
        case InterceptCode.stop:
            machineLock.lock()
            let allStopped = vcpus.allSatisfy { $0.mpState == .stopped }
            machineLock.unlock()
            if allStopped { finish(.stopped(status: console.exitStatus)) }
        case InterceptCode.instruction:
            handleInstruction(vcpu, ipa: ipa, ipb: ipb)
        default:
            finish(.checkStop(cpu: vcpu.id, reason: "unexpected intercept code 0x\(String(icptcode, radix: 16))"))
        }
    }

    /// Instructions KVM passes to userspace: SERVC and DIAG; anything else is an operation
    /// exception, as QEMU's handle_instruction does.
    private func handleInstruction(_ vcpu: VirtualCPU, ipa: UInt16, ipb: UInt32) {
        if ipa == 0xB220 {
            let r1 = Int(ipb >> 20 & 0xF), r2 = Int(ipb >> 16 & 0xF)
            let registers = vcpu.gprs
            let result = sclp.serviceCall(command: UInt32(truncatingIfNeeded: registers[r1]),
                                          sccb: registers[r2] & 0xFFFF_FFFF, prefix: vcpu.prefix)
            switch result {
            case .conditionCode(let cc): vcpu.conditionCode = cc
            case .program(let code): inject(code, into: vcpu, ilc: 4)
            }
        } else if ipa >> 8 == 0x83 {
            handleDiagnose(vcpu, ipa: ipa, ipb: ipb)
        } else {
            inject(.operation, into: vcpu, ilc: InstructionSet.length(firstByte: UInt8(ipa >> 8)))
        }
    }

    private func inject(_ code: ProgramInterruptionCode, into vcpu: VirtualCPU, ilc: Int) {
        vcpu.injectProgramInterruption(code, ilc: ilc)
    }

    private func handleDiagnose(_ vcpu: VirtualCPU, ipa: UInt16, ipb: UInt32) {
        guard vcpu.diagnoseCode(ipa: ipa, ipb: ipb) == DiagnoseCode.ipl else {
            return inject(.specification, into: vcpu, ilc: 4)
        }
        switch iplParameters.diagnose(vcpu: vcpu, vm: vm, r1: Int(ipa >> 4 & 0xF), r3: Int(ipa & 0xF)) {
        case .resume:
            break
        case .program(let code):
            inject(code, into: vcpu, ilc: 4)
        case .resetAndLoadPSW(let clearAll):
            machineLock.lock(); defer { machineLock.unlock() }
            stopOthers(than: vcpu)
            for other in vcpus where other !== vcpu {
                if clearAll { other.clearReset() } else { other.normalReset() }
            }
            if clearAll { vcpu.clearReset() } else { vcpu.initialReset() }
            vcpu.psw = shortPSWAtZero()
        case .reIPL:
            machineLock.lock(); defer { machineLock.unlock() }
            stopOthers(than: vcpu)
            do {
                let zeros = [UInt8](repeating: 0, count: 65536)
                var address: UInt64 = 0
                while address < vm.memorySize { try vm.writeAbsolute(address, zeros); address += 65536 }
                try ipl()
            } catch {
                finish(.checkStop(cpu: vcpu.id, reason: "re-IPL failed: \(error)"))
            }
        }
    }

    /// Stops every other CPU and waits until it is (as QEMU's pause of all vCPUs before a
    /// reset). A CPU that does not stop within a second is check-stopped by the outcome.
    private func stopOthers(than vcpu: VirtualCPU) {
        let others = vcpus.filter { $0 !== vcpu }
        for other in others { other.requestStop() }
        let deadline = Date(timeIntervalSinceNow: 1)
        for other in others where !other.waitUntilStopped(until: deadline) {
            finish(.checkStop(cpu: other.id, reason: "did not stop for a machine reset"))
        }
    }

    private func trace(_ vcpu: VirtualCPU, _ disassembler: S390Disassembler) {
        let psw = vcpu.psw
        let bytes = (try? vcpu.readLogical(psw.address, count: 6)) ?? []
        let line: String
        if let instruction = disassembler.decode(bytes, address: psw.address) {
            line = "\(hex(instruction.bytes)) \(instruction.text)"
        } else if let definition = InstructionSet.decode(bytes) {
            // Capstone 4 lacks many system and newer instructions; our own table names them.
            line = "\(hex(bytes.prefix(definition.length))) \(definition.mnemonic.lowercased()) (operands not decoded)"
        } else {
            line = bytes.isEmpty ? "(instruction not addressable)" : "\(hex(bytes.prefix(2))) (invalid opcode)"
        }
        traceOutput.write(Data("cpu\(vcpu.id) psw \(psw.hexDescription)  \(line)\n".utf8))
    }

    private func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }
}
