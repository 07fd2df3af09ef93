// Fatal signals at random points of KVM_PV_ASYNC_CLEANUP_PERFORM for `s390pv faults`, as
// Tests/c/kvm_pv_async.c's interrupted_performs: a child process per trial (this binary again,
// `faults --signal-child DELAY,MIB,VARIANT`) protects a 3 GiB VM with populated memory, PREPAREs,
// and gets SIGTERM from a thread after DELAY µs while PERFORM runs. Documented outcomes: PERFORM
// interrupted (0, rc 1 / rrc 42: the record waits on need_cleanup) or completed (0, rc/rrc as
// passed); either way a second PERFORM is EINVAL, DISABLE of the unprotected VM is EINVAL, and the
// leftovers go at a later DISABLE (variant 0), at close with a protected and a set-aside
// configuration (1) or at close alone (2). The child compares its own figures before and after.
import CSyscalls
import Foundation
import KVMIoctls
import KernelABI
import KernelModel
import RestrictedMemory

/// What a child reports on its last stdout line (JSON).
struct FaultsSignalChildReport: Codable {
    var interrupted = false
    var completed = false
    var performMicroseconds = 0
    var problems: [String] = []
    var leaks = FaultsLeakFigures()
}

enum FaultsSignalChild {
    static let gib: UInt64 = 1 << 30

    /// The child's work; its exit status (0: everything as documented, 1: not, 2: bad argument).
    static func run(_ argument: String) -> Int32 {
        let fields = argument.split(separator: ",").compactMap { Int($0) }
        guard fields.count == 3, fields[1] > 0, (0...2).contains(fields[2]) else {
            FileHandle.standardError.write(Data("s390pv: --signal-child wants DELAY-µs,MiB,VARIANT (0-2), not \(argument)\n".utf8))
            return 2
        }
        let (delay, populated, variant) = (fields[0], UInt64(fields[1]) << 20, fields[2])
        s390pv_install_fatal_signal_handlers()
        guard HostFirmware.ultravisor != nil else { return 2 }
        var report = FaultsSignalChildReport()
        func problem(_ text: String) { report.problems.append(text) }
        do {
            let system = try KVMSystem()
            // The model's one-time allocations (teardown workers, tables) outside the baseline.
            do {
                let warm = try Guest(system, populated: 24 << 20)
                try warm.vm.protectedVirtualizationCommand(.enable)
                try warm.vm.protectedVirtualizationCommand(.asyncCleanupPrepare)
                try warm.vm.protectedVirtualizationCommand(.asyncCleanupPerform)
            }
            usleep(20_000)
            let before = FaultsLeakFigures.now()
            do {
                let guest = try Guest(system, populated: populated)
                let enabled = try guest.vm.protectedVirtualizationCommand(.enable)
                if enabled != (1, 0) { problem("ENABLE: rc/rrc \(enabled)") }
                let prepared = try guest.vm.protectedVirtualizationCommand(.asyncCleanupPrepare)
                if prepared != (1, 42) { problem("PREPARE: rc/rrc \(prepared)") }
                let signaller = fuzzSpawn {
                    guard delay >= 0 else { return }
                    if delay > 0 { usleep(UInt32(delay)) }
                    kill(getpid(), SIGTERM)
                }
                let began = ContinuousClock.now
                let perform = Result { try guest.vm.protectedVirtualizationCommand(.asyncCleanupPerform) }
                let took = ContinuousClock.now - began
                report.performMicroseconds = Int(took.components.seconds) * 1_000_000 + Int(took.components.attoseconds / 1_000_000_000_000)
                pthread_join(signaller, nil)
                if delay >= 0, s390pv_fatal_signal_pending() != SIGTERM {
                    problem("the SIGTERM was not noted as a fatal signal (\(s390pv_fatal_signal_pending()))")
                }
                switch perform {
                case .success(let response) where response == (1, 42): report.interrupted = true
                case .success(let response) where response == (0, 0): report.completed = true
                case .success(let response): problem("PERFORM: rc/rrc \(response), want 1/42 (interrupted) or 0/0 (completed)")
                case .failure(let error): problem("PERFORM: \(error)")
                }
                expect(guest.vm, .asyncCleanupPerform, errno: 22, "PERFORM after the first (slot empty)", &report)
                expect(guest.vm, .disable, errno: 22, "DISABLE of a VM that is not protected", &report)
                switch variant {
                case 0:
                    // A later protected configuration's DISABLE destroys the leftovers too.
                    try guest.vm.protectedVirtualizationCommand(.enable)
                    try guest.vm.protectedVirtualizationCommand(.disable)
                    if try guest.vm.readAbsolute(0x10000, count: 1) != [0] { problem("memory after DISABLE is not zero") }
                case 1:
                    try guest.vm.protectedVirtualizationCommand(.enable)
                    try guest.vm.protectedVirtualizationCommand(.asyncCleanupPrepare)
                    try guest.vm.protectedVirtualizationCommand(.enable)
                default:
                    break   // close with the leftovers only
                }
            }
            let after = FaultsLeakFigures.settled(comparedWith: before)
            report.leaks = after.minus(before)
            // A fresh VM protects and unprotects: the UV lost nothing to the leftovers.
            let fresh = try Guest(system, populated: 0)
            try fresh.vm.protectedVirtualizationCommand(.enable)
            try fresh.vm.protectedVirtualizationCommand(.disable)
        } catch {
            problem("\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self))
        return report.problems.isEmpty && report.leaks.isZero ? 0 : 1
    }

    private static func expect(_ vm: VMFd, _ command: PVCommandID, errno: Int32, _ what: String, _ report: inout FaultsSignalChildReport) {
        do {
            let response = try vm.protectedVirtualizationCommand(command)
            report.problems.append("\(what): succeeded with \(response), want errno \(errno)")
        } catch {
            if error.errno != errno { report.problems.append("\(what): errno \(error.errno), want \(errno)") }
        }
    }

    /// A 3 GiB VM in three 1 GiB guest_memfds with `populated` bytes written, spread over them.
    private struct Guest {
        let vm: VMFd
        let memfds: [GuestMemfdFd]
        let vcpu: VCPUFd

        init(_ system: KVMSystem, populated: UInt64) throws {
            vm = try system.createVM()
            var memfds: [GuestMemfdFd] = []
            for slot in 0..<3 {
                let memfd = try vm.createGuestMemfd(size: gib)
                try vm.setMemoryRegion(slot: UInt32(slot), guestAddress: UInt64(slot) * gib, size: gib, memfd: memfd, offset: 0)
                memfds.append(memfd)
            }
            self.memfds = memfds
            vcpu = try vm.createVCPU(id: 0)
            let chunk = [UInt8](repeating: 0x7E, count: 65536)
            for slot in 0..<3 {
                var address = UInt64(slot) * gib + 0x10000
                let end = address + populated / 3
                while address < end {
                    try vm.writeAbsolute(address, chunk)
                    address += UInt64(chunk.count)
                }
            }
        }
    }
}

extension FaultsHarness {
    /// The parent's side: one uninterrupted child measures PERFORM, then `trials` children get
    /// SIGTERM at a random delay within 1.3 × that time, half of them within its first eighth
    /// (the first at once). Their reports are
    /// counted; a child that dies or reports nothing is unexpected.
    func fatalSignals(trials: Int, populatedMiB: Int) {
        let name = "fatal signal during PERFORM (child processes)"
        guard let calibration = child(delay: -1, populatedMiB: populatedMiB, variant: 2, name: name) else { return }
        let span = max(200, calibration.performMicroseconds * 13 / 10 + 200)
        print("faults: PERFORM of \(populatedMiB) MiB takes \(calibration.performMicroseconds) µs; SIGTERM within 0..\(span) µs")
        var interrupted = 0
        for trial in 0..<trials {
            // Half the signals in the first eighth: PERFORM's interruptible part (the batches)
            // comes first; freeing the old files at the end takes much of its time.
            let delay = trial == 0 ? 0 : random.below(random.chance(50) ? max(1, span / 8) : span)
            guard let result = child(delay: delay, populatedMiB: populatedMiB, variant: trial % 3, name: name) else { continue }
            if result.interrupted {
                interrupted += 1
                report.count(name, "PERFORM interrupted: rc 1/rrc 42, leftovers destroyed later, nothing leaked")
            } else {
                report.count(name, "PERFORM completed before the signal: rc/rrc as passed, nothing leaked")
            }
        }
        if interrupted == 0 { report.unexpected(name, "none of \(trials) PERFORMs was interrupted (the first had SIGTERM at once)") }
    }

    /// Runs one child; its report when it exited 0 with one, else nil (counted as unexpected).
    private func child(delay: Int, populatedMiB: Int, variant: Int, name: String) -> FaultsSignalChildReport? {
        let process = Process()
        // This very binary, even if a rebuild has replaced the file meanwhile.
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["faults", "--signal-child=\(delay),\(populatedMiB),\(variant)"]
        var environment = ProcessInfo.processInfo.environment
        environment["S390PV_FAIL"] = nil
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch {
            report.unexpected(name, "cannot start a child: \(error)")
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let result = try? JSONDecoder().decode(FaultsSignalChildReport.self, from: Data(line.utf8)) else {
            report.unexpected(name, "child (delay \(delay) µs, variant \(variant)) gave no report: status \(process.terminationStatus), \(process.terminationReason == .uncaughtSignal ? "killed by a signal" : "exited")")
            return nil
        }
        report.childLeaks = report.childLeaks + result.leaks
        guard process.terminationStatus == 0, result.problems.isEmpty, result.interrupted || result.completed else {
            report.unexpected(name, "child (delay \(delay) µs, variant \(variant)): \(result.problems.joined(separator: "; ")) leaks: \(result.leaks.text)")
            return nil
        }
        note("\(name): delay \(delay) µs, variant \(variant): \(result.interrupted ? "interrupted" : "completed")")
        return result
    }
}
