import ArgumentParser
import CSyscalls
import Foundation
import KernelABI
import KernelModel
import RestrictedMemory
import SecureExecution
import VMM

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a guest image (s390x ELF, flat image or Secure Execution image) and show its console.",
        discussion: """
        The guest console goes to stdout, emulator messages to stderr. Exit status: 0 normal end \
        (EXIT: STATUS=1, or every CPU stopped), 1 the guest reported failure, 2 unusable input, \
        3 the guest crashed (disabled wait, check-stop), 4 timeout, 77 the guest skipped. \
        A Secure Execution image boots protected when the emulated Ultravisor holds the host key \
        it was sealed for (--host-key; by default a per-user key, created on first use).
        """)

    @Argument(help: "The guest image.") var image: String
    @Option(help: "Guest memory: a size with K, M, G or T suffix (a bare number is MiB).") var memory = MemorySize(argument: "128M")!
    @Option(help: "Number of CPUs (1-248).") var cpus = 1
    @Option(help: "Command line for the guest, placed at 0x10480 as QEMU does.") var append: String?
    @Option(help: "Wall-clock limit in seconds.") var timeout: Double = 90
    @Flag(help: "Print every executed instruction with its disassembly and the PSW (stderr).") var trace = false
    @Option(help: "VM name the guest sees in STSI 3.2.2 (at most 8 characters in the short form).") var name = "s390pv"
    @Option(help: "VM UUID the guest sees in STSI 3.2.2 (8-4-4-4-12 hex digits).") var uuid: String?
    @Option(help: "Host object behind guest RAM: memfd, memfdSecret or kvmGuestMemfd (a kernel-model parameter; an unavailable one falls back to memfd).")
    var memoryBackend: Backend = .memfd
    @OptionGroup var hostKeyOptions: HostKeyOptions
    @OptionGroup var clock: ClockOptions
    @Option(help: "Teardown of a protected guest's old configuration at reboot: auto (asynchronous above 2 GiB, as QEMU), async or sync.")
    var teardown: TeardownMode = .automatic
    @Option(help: "Threads clearing a set-aside configuration's memory (a kernel-model parameter; default: the number of cores).")
    var teardownWorkers: Int?
    @Flag(help: "After the run, print each reboot of the protected guest: teardown path, time to the rebooted guest, time until the old configuration was gone (stderr).")
    var rebootReport = false
    @OptionGroup var detach: DetachOptions

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let uuid, UUID(uuidString: uuid) == nil { throw ValidationError("--uuid \(uuid) is not a UUID") }
        if let teardownWorkers, !(1...256).contains(teardownWorkers) { throw ValidationError("--teardown-workers must be 1 to 256") }
    }

    func run() throws {
        detach.start(name: name, image: image, memoryBytes: memory.bytes)
        ModuleParameters.setMemoryBackend(memoryBackend)
        if let teardownWorkers { ModuleParameters.setTeardownWorkers(teardownWorkers) }
        hostKeyOptions.install()
        var configuration = MachineConfiguration(imagePath: image)
        configuration.memorySize = memory.bytes
        configuration.cpus = cpus
        configuration.commandLine = append
        configuration.timeout = .milliseconds(Int64(timeout * 1000))
        configuration.trace = trace
        configuration.name = name
        configuration.teardown = teardown
        clock.apply(to: &configuration)
        if let uuid, let parsed = UUID(uuidString: uuid) { configuration.uuid = withUnsafeBytes(of: parsed.uuid) { Array($0) } }
        let machine: Machine
        do { machine = try Machine(configuration) } catch { fail(error.description) }
        watchFatalSignals(machine)
        injectMemoryFailureFromEnvironment()
        let outcome = machine.run()
        if rebootReport { report(machine.protectedReboots) }
        switch outcome {
        case .stopped(let status):
            switch status {
            case nil, 1: throw ExitCode(ExitStatus.success)
            case 77: throw ExitCode(ExitStatus.guestSkipped)
            case let status?:
                fail("guest reported failure (EXIT: STATUS=\(status))", status: ExitStatus.guestFailure)
            }
        case .disabledWait(let cpu, let psw):
            fail("guest crashed: CPU \(cpu) entered a disabled wait, PSW \(psw.hexDescription)", status: ExitStatus.crash)
        case .checkStop(let cpu, let reason):
            fail("guest crashed: CPU \(cpu) check-stopped: \(reason)", status: ExitStatus.crash)
        case .vmmFailure(let reason):
            fail(reason, status: ExitStatus.guestFailure)
        case .terminated(let signal):
            fail("terminated by signal \(signal) (\(String(cString: strsignal(signal))))", status: 128 + signal)
        case .timeout:
            fail("timeout after \(timeout) s (\(machine.cpuSummary))", status: ExitStatus.timeout)
        }
    }
}

/// One stderr line per reboot of a protected guest (`--reboot-report`).
private func report(_ reboots: [ProtectedReboot]) {
    func milliseconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant?) -> String {
        guard let to else { return "-" }
        let duration = to - from
        return String(format: "%.1f ms", Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15)
    }
    for (index, reboot) in reboots.enumerated() {
        let path = reboot.asynchronous ? "asynchronous teardown" : "synchronous teardown"
        FileHandle.standardError.write(Data("s390pv: reboot \(index + 1): \(path); protected guest running again after \(milliseconds(reboot.requested, reboot.resumed)); old configuration destroyed after \(milliseconds(reboot.requested, reboot.teardownDone))\n".utf8))
    }
}

/// `S390PV_MEMORY_FAILURE=ADDRESS[@MILLISECONDS]` (fault injection, as Linux's hwpoison
/// injector): after the delay (default 100 ms), the page at guest ADDRESS (hex with 0x, or decimal)
/// fails, if it is populated then; the guest stops at its next KVM_RUN. One line on stderr says
/// what was hit. A malformed setting is unusable input.
private func injectMemoryFailureFromEnvironment() {
    guard let text = ProcessInfo.processInfo.environment["S390PV_MEMORY_FAILURE"] else { return }
    let fields = text.split(separator: "@", omittingEmptySubsequences: false)
    let addressText = String(fields[0])
    let address = addressText.hasPrefix("0x") ? UInt64(addressText.dropFirst(2), radix: 16) : UInt64(addressText)
    let delay = fields.count > 1 ? UInt32(fields[1]) : 100
    guard let address, let delay, fields.count <= 2 else {
        fail("S390PV_MEMORY_FAILURE '\(text)': want ADDRESS[@MILLISECONDS] (address hex with 0x, or decimal)")
    }
    let injector = Thread {
        usleep(delay * 1000)
        guard let vm = KVMDevice.vmDescriptors.last else { return }
        let page = address & ~4095
        switch KVMDevice.injectMemoryFailure(vmFD: vm, address: page, length: 4096, tornDown: false) {
        case .success(let ranges) where !ranges.isEmpty:
            FileHandle.standardError.write(Data("s390pv: memory failure injected at guest page 0x\(String(page, radix: 16))\n".utf8))
        case .success:
            FileHandle.standardError.write(Data("s390pv: memory failure not injected: guest page 0x\(String(page, radix: 16)) is not populated\n".utf8))
        case .failure(let error):
            FileHandle.standardError.write(Data("s390pv: memory failure not injected at 0x\(String(page, radix: 16)): \(error)\n".utf8))
        }
    }
    injector.name = "memory-failure"
    injector.start()
}

/// SIGTERM, SIGINT and SIGHUP end the run (and interrupt a teardown in the kernel model, which
/// sees the same flag, as Linux's fatal_signal_pending); a watcher thread ends the machine.
private func watchFatalSignals(_ machine: Machine) {
    s390pv_install_fatal_signal_handlers()
    let watcher = Thread {
        while s390pv_fatal_signal_pending() == 0 { usleep(50_000) }
        machine.terminate(signal: s390pv_fatal_signal_pending())
    }
    watcher.name = "signals"
    watcher.start()
}

extension TeardownMode: ExpressibleByArgument {}

extension Backend: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
}
