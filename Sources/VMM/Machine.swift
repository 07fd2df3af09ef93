// The QEMU-shaped machine. It talks to the kernel model only through KVM ioctls (KVMIoctls):
// guest RAM is guest_memfd memslots it never maps, guest memory moves with KVM_S390_MEM_OP,
// and it owns the run state of every vCPU (KVM_SET_MP_STATE), as QEMU does: a stopped vCPU's
// thread waits here, not in KVM_RUN. It completes what KVM leaves to userspace: SCLP,
// DIAG 308, and the SIGP orders START, RESTART, the CPU resets and unknown orders.
import Disassembler
import EBCDIC
import Foundation
import KVMIoctls

public struct MachineConfiguration: Sendable {
    public var imagePath: String
    public var memorySize: UInt64 = 128 << 20
    public var cpus = 1
    public var commandLine: String?
    /// Wall-clock limit for the whole run.
    public var timeout: Duration = .seconds(90)
    /// Print every executed instruction (capstone text and PSW) to `traceOutput`.
    public var trace = false
    /// VM name and UUID the guest sees in STSI 3.2.2 (QEMU's -name and -uuid).
    public var name = "s390pv"
    /// How a protected guest's old configuration goes at a reboot (QEMU's s390_machine_unprotect).
    public var teardown = TeardownMode.automatic
    public var uuid = [UInt8](repeating: 0, count: 16)
    /// The guest TOD relative to the host (the VM's clock namespace), set before the first run.
    public var guestClock = GuestClock.host
    /// Called on the vCPU thread that handles a guest's re-IPL (DIAG 308 subcode 3), before
    /// anything is torn down: the isolation harness (`s390pv isolation`) tries its reads here.
    public var beforeReIPL: (@Sendable (MachineDescriptors) -> Void)?
    public init(imagePath: String) { self.imagePath = imagePath }
}

/// The machine's KVM descriptors, for tools that act as a (hostile) VMM through raw ioctls.
public struct MachineDescriptors: Sendable {
    public var vm: Int32
    public var vcpus: [Int32]
    public var guestMemfds: [Int32]
    /// The vCPU that is handling the intercept.
    public var currentVCPU: Int32
}

/// Teardown of a protected guest at reboot.
public enum TeardownMode: String, Sendable, CaseIterable {
    /// QEMU's rule: asynchronous (KVM_PV_ASYNC_CLEANUP_PREPARE and a PERFORM thread) when the
    /// kernel offers it and memory is above 2 GiB, else KVM_PV_DISABLE.
    case automatic = "auto"
    /// Always try PREPARE first (falling back to DISABLE if it fails).
    case async
    /// Always KVM_PV_DISABLE.
    case sync
}

/// A reboot of a protected guest (DIAG 308 subcode 3): when the guest asked for it, when the
/// rebooted guest was protected again and started, and when its old configuration was gone.
public struct ProtectedReboot: Sendable {
    public var requested: ContinuousClock.Instant
    public var asynchronous: Bool
    public var resumed: ContinuousClock.Instant?
    public var teardownDone: ContinuousClock.Instant?
}

/// How a run ended.
public enum RunOutcome: Equatable, Sendable {
    /// The VMM itself failed (QEMU exits with status 1), e.g. an asynchronous teardown failed.
    case vmmFailure(String)
    /// A fatal signal (SIGTERM, SIGINT, SIGHUP) ended the run.
    case terminated(signal: Int32)
    /// Every CPU stopped; `status` is the guest's `EXIT: STATUS=` value, if it printed one.
    case stopped(status: Int?)
    /// A CPU loaded a disabled-wait PSW: the guest crashed.
    case disabledWait(cpu: Int, psw: PSW)
    /// A CPU check-stopped, or the kernel model reported an internal error.
    case checkStop(cpu: Int, reason: String)
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

/// SIGP orders and status bits the VMM completes (spec s390x-cpu.md 7.5).
enum SIGPOrder {
    static let start: UInt8 = 0x04, restart: UInt8 = 0x06, initialCPUReset: UInt8 = 0x0B, cpuReset: UInt8 = 0x0C
    static let invalidOrderStatus: UInt32 = 0x02
}

public final class Machine: @unchecked Sendable {
    public let configuration: MachineConfiguration
    public let console: Console
    /// Guest RAM: one guest_memfd (and memslot) per GiB, so teardown can release them in parallel.
    static let memfdSize: UInt64 = 1 << 30

    private let system: KVMSystem
    let vm: VMFd
    private let memory: [GuestMemfdFd]
    let vcpus: [VCPUFd]
    private let image: GuestImage
    let sclp: ServiceProcessor
    let iplParameters = IPLParameters()
    private let traceOutput: FileHandle
    /// KVM_CAP_S390_PROTECTED: the CPU model has the unpack facility, DIAG 308 subcodes 8-10 work.
    let protectedVirtualizationCapable: Bool
    /// KVM_CAP_S390_PROTECTED_ASYNC_DISABLE.
    let asyncTeardownCapable: Bool
    /// Asynchronous teardowns (async_cleanup threads) still running, under `scheduler`.
    private var teardownsInFlight = 0
    /// Reboots of protected guests, under `scheduler` (for `bench reboot`).
    private var rebootLog: [ProtectedReboot] = []
    /// QEMU's ms->pv: the VM is protected (changed only by the CPU handling a DIAG 308).
    var isProtected: Bool {
        get { scheduler.withLock { protectedFlag } }
        set { scheduler.withLock { protectedFlag = newValue } }
    }
    private var protectedFlag = false

    /// Run states and per-vCPU work, under `scheduler` (the role of QEMU's BQL for these).
    private let scheduler = NSCondition()
    private var operating: [Bool]
    private var pendingWork: [[@Sendable () -> Void]]
    private var outcome: RunOutcome?

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
        do throws(KVMError) {
            system = try KVMSystem()
            protectedVirtualizationCapable = system.isProtectedVirtualizationHost
            asyncTeardownCapable = system.hasAsyncProtectedTeardown
            vm = try system.createVM()
            var memory: [GuestMemfdFd] = []
            var address: UInt64 = 0
            while address < configuration.memorySize {
                let size = min(Machine.memfdSize, configuration.memorySize - address)
                let memfd = try vm.createGuestMemfd(size: size)
                try vm.setMemoryRegion(slot: UInt32(memory.count), guestAddress: address, size: size, memfd: memfd, offset: 0)
                memory.append(memfd)
                address += size
            }
            self.memory = memory
            try vm.enableUserSTSI()
            let vm = self.vm
            vcpus = try (0..<configuration.cpus).map { id throws(KVMError) in try vm.createVCPU(id: id) }
        } catch {
            throw .kernel("cannot create the VM: \(error)")
        }
        operating = Array(repeating: false, count: configuration.cpus)
        pendingWork = Array(repeating: [], count: configuration.cpus)
        sclp = ServiceProcessor(vm: vm, memorySize: configuration.memorySize, cpuCount: configuration.cpus,
                                maxCPUs: configuration.cpus, console: console)
        try applyGuestClock()
        try ipl()
    }

    // MARK: IPL

    /// Loads the image and puts CPU 0 at its entry in the z/Architecture start state; the other
    /// CPUs stay stopped (spec 3.2).
    private func ipl() throws(MachineError) {
        do {
            for segment in image.segments where !segment.bytes.isEmpty {
                try vm.writeAbsolute(segment.physicalAddress, segment.bytes)
            }
        } catch {
            throw .kernel("cannot write the image to guest memory: \(error)")
        }
        try placeCommandLine()
        let startPSW: PSW
        switch image.kind {
        case .elf: startPSW = PSW(mask: PSW.extendedAddressing | PSW.basicAddressing, address: image.entry)
        case .flat: startPSW = shortPSWAtZero()
        }
        do throws(KVMError) {
            for vcpu in vcpus {
                try vcpu.setMPState(operating: false)
                try vcpu.clearReset()
            }
            try vcpus[0].setInitialPSW(startPSW)
            try vcpus[0].setMPState(operating: true)
        } catch {
            throw .kernel("cannot set up the CPUs: \(error)")
        }
        scheduler.withLock {
            for index in operating.indices { operating[index] = index == 0 }
            scheduler.broadcast()
        }
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

    /// The ESA/390 IPL PSW at absolute 0 in z/Architecture form.
    private func shortPSWAtZero() -> PSW {
        let bytes = (try? vm.readAbsolute(0, count: 8)) ?? [UInt8](repeating: 0, count: 8)
        return PSW(shortPSW: bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    // MARK: Running

    /// Runs until every CPU stops, a CPU crashes, or the timeout passes.
    public func run() -> RunOutcome {
        for vcpu in vcpus { try? vcpu.setSingleStep(configuration.trace) }
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
        scheduler.lock()
        while outcome == nil {
            if !scheduler.wait(until: deadline), outcome == nil { outcome = .timeout }
        }
        let result = outcome!
        scheduler.broadcast()
        scheduler.unlock()
        for vcpu in vcpus { vcpu.kick() }
        threadsDone.wait()
        waitForTeardowns()
        return result
    }

    /// Ends the run at once (a fatal signal reached the VMM).
    public func terminate(signal: Int32) { finish(.terminated(signal: signal)) }

    func teardownStarted() { scheduler.withLock { teardownsInFlight += 1 } }

    func teardownFinished() {
        scheduler.withLock {
            teardownsInFlight -= 1
            if let index = rebootLog.firstIndex(where: { $0.asynchronous && $0.teardownDone == nil }) {
                rebootLog[index].teardownDone = .now
            }
            scheduler.broadcast()
        }
    }

    /// What happened at each reboot of a protected guest, in order.
    public var protectedReboots: [ProtectedReboot] { scheduler.withLock { rebootLog } }

    func noteReboot(requested: ContinuousClock.Instant, asynchronous: Bool) {
        scheduler.withLock {
            rebootLog.append(ProtectedReboot(requested: requested, asynchronous: asynchronous,
                                             teardownDone: asynchronous ? nil : .now))
        }
    }

    /// The rebooted guest is protected again and its CPU about to run its first instruction.
    func noteProtectedStart() {
        scheduler.withLock {
            if let index = rebootLog.lastIndex(where: { $0.resumed == nil }) { rebootLog[index].resumed = .now }
        }
    }

    /// Waits until every asynchronous teardown has finished (the old configurations are gone).
    public func waitForTeardowns() {
        scheduler.withLock { while teardownsInFlight > 0 { scheduler.wait() } }
    }

    /// One line per CPU: state and PSW (for timeout and crash reports).
    public var cpuSummary: String {
        let states = scheduler.withLock { operating }
        return vcpus.map { "cpu\($0.id) \(states[$0.id] ? "operating" : "stopped") psw \($0.psw.hexDescription)" }
            .joined(separator: "; ")
    }

    /// Guest instructions executed by all CPUs.
    public var instructionCount: UInt64 { vcpus.reduce(0) { $0 + $1.instructionCount } }

    func finish(_ result: RunOutcome) {
        scheduler.withLock {
            if outcome == nil { outcome = result }
            scheduler.broadcast()
        }
    }

    /// A vCPU thread: waits while its CPU is stopped, runs work queued for it, and loops on KVM_RUN.
    private func vcpuLoop(_ vcpu: VCPUFd) {
        let disassembler = configuration.trace ? try? S390Disassembler() : nil
        while true {
            scheduler.lock()
            while outcome == nil && !operating[vcpu.id] && pendingWork[vcpu.id].isEmpty { scheduler.wait() }
            if outcome != nil { scheduler.unlock(); return }
            let work = pendingWork[vcpu.id]
            pendingWork[vcpu.id] = []
            let runnable = operating[vcpu.id]
            scheduler.unlock()
            for job in work { job() }
            guard runnable, work.isEmpty else { continue }
            if let disassembler { trace(vcpu, disassembler) }
            let exit: VCPUExit
            do { exit = try vcpu.run() } catch {
                finish(.checkStop(cpu: vcpu.id, reason: "KVM_RUN failed: \(error)"))
                return
            }
            switch exit {
            case .interrupted, .debug:
                continue
            case .internalError(let suberror):
                finish(.checkStop(cpu: vcpu.id, reason: "the CPU check-stopped (KVM internal error \(suberror)), PSW \(vcpu.psw.hexDescription)"))
            case .memoryFault(let address, let size):
                // QEMU: "kvm run failed Memory page has hardware error", the VM stops (internal error).
                finish(.checkStop(cpu: vcpu.id, reason: "KVM_RUN failed: memory page has hardware error "
                                  + "(guest 0x\(String(address, radix: 16)), \(size) bytes)"))
            case .other(let reason):
                finish(.checkStop(cpu: vcpu.id, reason: "unexpected KVM exit reason \(reason)"))
            case .sieIntercept(let icptcode, let ipa, let ipb):
                handleIntercept(vcpu, icptcode: icptcode, ipa: ipa, ipb: ipb)
            case .systemInformation(let address):
                insertSystemInformation(vcpu, at: address)
            }
        }
    }

    /// Runs `job` on `target`'s own thread (QEMU's run_on_cpu) and waits for it; the caller
    /// keeps running work queued for itself meanwhile, so two CPUs addressing each other cannot
    /// deadlock.
    func runOnCPU(_ target: VCPUFd, from source: VCPUFd, _ job: @escaping @Sendable () -> Void) {
        if target === source { return job() }
        let done = Done()
        scheduler.withLock {
            pendingWork[target.id].append { job(); done.mark() }
            scheduler.broadcast()
        }
        target.kick()
        while !done.isMarked {
            let work = scheduler.withLock { () -> [@Sendable () -> Void] in
                if pendingWork[source.id].isEmpty && !done.isMarked && outcome == nil { _ = scheduler.wait(until: Date(timeIntervalSinceNow: 0.01)) }
                defer { pendingWork[source.id] = [] }
                return outcome != nil ? [] : pendingWork[source.id]
            }
            for item in work { item() }
            if scheduler.withLock({ outcome != nil }) { return }
        }
    }

    /// Changes a CPU's run state in the kernel and here; wakes its thread.
    func setOperating(_ vcpu: VCPUFd, _ value: Bool) {
        try? vcpu.setMPState(operating: value)
        scheduler.withLock {
            operating[vcpu.id] = value
            scheduler.broadcast()
        }
    }

    private func handleIntercept(_ vcpu: VCPUFd, icptcode: UInt8, ipa: UInt16, ipb: UInt32) {
        switch icptcode {
        case 0x1C:   // disabled wait: KVM handles the enabled one
            finish(.disabledWait(cpu: vcpu.id, psw: vcpu.psw))
        case 0x28:   // the CPU stopped (SIGP STOP); userspace records it
            setOperating(vcpu, false)
            if scheduler.withLock({ !operating.contains(true) }) { finish(.stopped(status: console.exitStatus)) }
        case 0x04, 0x68:   // instruction; PV_INSTR of a protected CPU (normalised operands)
            handleInstruction(vcpu, ipa: ipa, ipb: ipb, protected: icptcode == 0x68)
        default:
            finish(.checkStop(cpu: vcpu.id, reason: "unexpected intercept code 0x\(String(icptcode, radix: 16))"))
        }
    }

    /// Instructions KVM passes to userspace: SERVC, DIAG, the SIGP orders it leaves to us;
    /// anything else is an operation exception, as QEMU's handle_instruction does.
    private func handleInstruction(_ vcpu: VCPUFd, ipa: UInt16, ipb: UInt32, protected: Bool) {
        switch ipa >> 8 {
        case 0xB2 where ipa == 0xB220:
            let r1 = Int(ipb >> 20 & 0xF), r2 = Int(ipb >> 16 & 0xF)
            let command = UInt32(truncatingIfNeeded: vcpu.gpr(r1))
            // A protected CPU's SCCB is in the SIDA; the Ultravisor sets the CC itself.
            let outcome = protected ? sclp.serviceCall(command: command, sida: vcpu)
                                    : sclp.serviceCall(command: command, sccb: vcpu.gpr(r2) & 0xFFFF_FFFF, prefix: vcpu.prefix)
            switch outcome {
            case .conditionCode(let cc): vcpu.conditionCode = cc
            case .program(let code): inject(code, into: vcpu, ilc: 4)
            }
        case 0x83:
            handleDiagnose(vcpu, ipa: ipa, ipb: ipb, protected: protected)
        case 0xAE:
            handleSignalProcessor(vcpu, ipa: ipa, ipb: ipb)
        default:
            inject(.operation, into: vcpu, ilc: [2, 4, 4, 6][Int(ipa >> 14)])
        }
    }

    func inject(_ code: ProgramInterruption, into vcpu: VCPUFd, ilc: Int) {
        do { try vcpu.injectProgramInterruption(code: code.rawValue, ilc: ilc) } catch {
            finish(.checkStop(cpu: vcpu.id, reason: "cannot inject program interruption \(code): \(error)"))
        }
    }

    // MARK: SIGP orders KVM leaves to userspace (QEMU's target/s390x/sigp.c)

    private func handleSignalProcessor(_ vcpu: VCPUFd, ipa: UInt16, ipb: UInt32) {
        let r1 = Int(ipa >> 4 & 0xF), r3 = Int(ipa & 0xF)
        let base = Int(ipb >> 28), displacement = UInt64(ipb >> 16 & 0xFFF)
        let order = UInt8(truncatingIfNeeded: displacement &+ (base == 0 ? 0 : vcpu.gpr(base)))
        let address = Int(UInt16(truncatingIfNeeded: vcpu.gpr(r3)))
        guard address < vcpus.count else { vcpu.conditionCode = 3; return }
        let target = vcpus[address]
        switch order {
        case SIGPOrder.start:
            if !scheduler.withLock({ operating[address] }) { setOperating(target, true) }
        case SIGPOrder.restart:
            try? target.injectRestart()
            if !scheduler.withLock({ operating[address] }) { setOperating(target, true) }
        case SIGPOrder.initialCPUReset, SIGPOrder.cpuReset:
            // QEMU resets on the target's thread, which leaves it stopped.
            let initial = order == SIGPOrder.initialCPUReset
            runOnCPU(target, from: vcpu) { [self] in
                if initial { try? target.initialReset() } else { try? target.normalReset() }
                setOperating(target, false)
            }
        default:
            // STORE ADDITIONAL STATUS (no vector or guarded storage here) and unknown orders.
            vcpu.setGPR(r1, (vcpu.gpr(r1) & 0xFFFF_FFFF_0000_0000) | UInt64(SIGPOrder.invalidOrderStatus))
            vcpu.conditionCode = 1
            return
        }
        vcpu.conditionCode = 0
    }

    // MARK: STSI 3.2.2 (QEMU's insert_stsi_3_2_2)

    /// SYSIB 3.2.2 offsets for the first virtual-machine level.
    enum SystemInformation {
        static let name = 44, nameLength = 8, extendedNameEncoding = 75, uuid = 80, extendedName = 2048, extendedNameLength = 256
    }

    /// Puts the VM name (EBCDIC and UTF-8 extended name) and UUID into the SYSIB the kernel
    /// stored. A SYSIB the guest cannot reach is left alone, as QEMU does.
    private func insertSystemInformation(_ vcpu: VCPUFd, at address: UInt64) {
        guard var sysib = try? vcpu.readLogical(address, count: 4096) else { return }
        sysib.replaceSubrange(SystemInformation.name..<SystemInformation.name + SystemInformation.nameLength,
                              with: EBCDIC.encode(configuration.name, width: SystemInformation.nameLength))
        sysib[SystemInformation.extendedNameEncoding] = 2   // UTF-8
        let extendedName = Array(configuration.name.utf8.prefix(SystemInformation.extendedNameLength))
        sysib.replaceSubrange(SystemInformation.extendedName..<SystemInformation.extendedName + SystemInformation.extendedNameLength,
                              with: extendedName + [UInt8](repeating: 0, count: SystemInformation.extendedNameLength - extendedName.count))
        sysib.replaceSubrange(SystemInformation.uuid..<SystemInformation.uuid + 16, with: configuration.uuid.prefix(16))
        try? vcpu.writeLogical(address, sysib)
    }

    // MARK: DIAG 308

    private func handleDiagnose(_ vcpu: VCPUFd, ipa: UInt16, ipb: UInt32, protected: Bool) {
        let base = Int(ipb >> 28), displacement = UInt64(ipb >> 16 & 0xFFF)
        let code = (displacement &+ (base == 0 ? 0 : vcpu.gpr(base))) & 0xFFFF
        guard code == DiagnoseCode.ipl else { return inject(.specification, into: vcpu, ilc: 4) }
        let r1 = Int(ipa >> 4 & 0xF)
        let blocks: any GuestMemoryAccess = protected ? SIDABlock(vcpu: vcpu) : vm
        switch iplParameters.diagnose(vcpu: vcpu, blocks: blocks, memorySize: configuration.memorySize, r1: r1, r3: Int(ipa & 0xF),
                                      protected: protected, unpackFacility: protectedVirtualizationCapable) {
        case .resume:
            break
        case .program(let code):
            inject(code, into: vcpu, ilc: 4)
        case .enterProtectedMode:
            enterProtectedMode(vcpu, responseRegister: r1 + 1)
        case .resetAndLoadPSW(let clearAll) where protected:
            resetProtected(vcpu, clearAll: clearAll)
        case .resetAndLoadPSW(let clearAll):
            resetOthers(than: vcpu, clear: clearAll)
            do throws(KVMError) {
                if clearAll { try vcpu.clearReset() } else { try vcpu.initialReset() }
            } catch {
                return finish(.checkStop(cpu: vcpu.id, reason: "reset failed: \(error)"))
            }
            vcpu.psw = shortPSWAtZero()
        case .reIPL:
            let requested = ContinuousClock.now
            configuration.beforeReIPL?(MachineDescriptors(vm: vm.descriptor, vcpus: vcpus.map(\.descriptor),
                                                          guestMemfds: memory.map(\.descriptor), currentVCPU: vcpu.descriptor))
            resetOthers(than: vcpu, clear: true)
            if protected && unprotect(vcpu, rebootRequested: requested) == nil { return }
            do throws(KVMError) {
                var offset: UInt64 = 0
                for memfd in memory {
                    let size = min(Machine.memfdSize, configuration.memorySize - offset)
                    try memfd.punchHole(offset: 0, length: size)
                    offset += size
                }
            } catch {
                return finish(.checkStop(cpu: vcpu.id, reason: "re-IPL cannot clear memory: \(error)"))
            }
            do { try ipl() } catch { finish(.checkStop(cpu: vcpu.id, reason: "re-IPL failed: \(error)")) }
        }
    }

    /// Resets and stops every other CPU on its own thread (QEMU pauses all vCPUs for a reset).
    func resetOthers(than vcpu: VCPUFd, clear: Bool) {
        for other in vcpus where other !== vcpu {
            runOnCPU(other, from: vcpu) { [self] in
                if clear { try? other.clearReset() } else { try? other.normalReset() }
                setOperating(other, false)
            }
        }
    }

    private func trace(_ vcpu: VCPUFd, _ disassembler: S390Disassembler) {
        let psw = vcpu.psw
        let bytes = (try? vcpu.readLogical(psw.address, count: 6)) ?? (try? vcpu.readLogical(psw.address, count: 2)) ?? []
        traceOutput.write(Data("cpu\(vcpu.id) psw \(psw.hexDescription)  \(disassembler.describe(bytes, address: psw.address))\n".utf8))
    }
}

/// A one-shot flag for runOnCPU.
private final class Done: @unchecked Sendable {
    private let lock = NSLock()
    private var marked = false
    func mark() { lock.withLock { marked = true } }
    var isMarked: Bool { lock.withLock { marked } }
}
