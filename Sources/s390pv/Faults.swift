// `s390pv faults` (issue 7 item 4): fault injection. Memory failures at random guest addresses
// while guests run and while PERFORM / DISABLE tear a protected guest down; backing-file and
// donated-storage allocation failures (ENOMEM/ENOSPC) at boot, unpack and reboot, at the ioctl
// level and through the VMM; fatal signals at random points of PERFORM (a child process per trial,
// as Tests/c/kvm_pv_async.c's interrupted_performs). Every trial must end in a documented outcome
// (an errno of ../shared/spec/kvm-pv-ioctl.md §2, a clean VM stop, QEMU's fallback) and the process
// must leak nothing: descriptors, threads, mappings, UV configurations, backing files and pages.
// The failure points are those of Sources/FaultInjection (S390PV_FAIL for `s390pv run`).
import ArgumentParser
import CSyscalls
import FaultInjection
import Foundation
import KVMIoctls
import KernelABI
import KernelModel
import RestrictedMemory
import SecureExecution
import VMM

struct Faults: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Inject memory failures, allocation failures and fatal signals; every trial must end documented, nothing leaked.",
        discussion: """
        Short (CI) mode: `s390pv faults`. Long mode: `s390pv faults --long` (100 fatal-signal
        trials, ten times the memory and allocation failures). `--seed N` (random by default,
        printed) makes a run reproducible; `--json FILE` writes the figures. Exit status 0 when
        every trial ended in a documented outcome and nothing leaked; 1 otherwise; 2 for unusable
        input (no Guests/build/memtouch.raw or boot loaders: `make guests loaders`).
        """)

    @Flag(help: "Long mode: at least 100 fatal-signal trials, ten times the other trials.") var long = false
    @Option(help: "PRNG seed (default: random, printed).") var seed: UInt64?
    @Option(help: "Write the figures here as JSON.") var json: String?
    @Option(help: "Raw kernel sealed into the protected test image (memtouch).") var kernel = "Guests/build/memtouch.raw"
    @Option(help: "Fatal-signal trials (default 12, 100 with --long).") var signalTrials: Int?
    @Flag(help: "Print every trial.") var verbose = false
    /// Self-test: one VM is kept open past the leak figure (it must show as leaked, exit 1).
    @Flag(name: .customLong("self-test-leak"), help: .hidden) var selfTestLeak = false
    /// A fatal-signal trial in this (child) process: "delay-µs,populated-MiB,variant".
    @Option(name: .customLong("signal-child"), help: .hidden) var signalChild: String?

    func validate() throws {
        if let signalTrials, signalTrials < 1 { throw ValidationError("--signal-trials must be at least 1") }
        if signalChild == nil, !FileManager.default.fileExists(atPath: kernel) {
            throw ValidationError("no such kernel: \(kernel) (run `make guests`)")
        }
    }

    func run() throws {
        if let signalChild { Foundation.exit(FaultsSignalChild.run(signalChild)) }
        // The harness arms the points itself; a setting from the environment would skew it.
        if FailurePoint.allCases.contains(where: { FaultInjection.attributes(of: $0) != nil }) {
            print("faults: S390PV_FAIL ignored (the harness arms the failure points itself)")
        }
        FaultInjection.clearAll()
        ModuleParameters.setAsyncDestroy(true)
        // The host key must be in before the first VM creates the Ultravisor.
        HostFirmware.installHostKey(HostPrivateKey(.init()))
        guard let ultravisor = HostFirmware.ultravisor else { fail("protected virtualization is off on this host") }
        let loaders: SEBootLoaders
        do { loaders = try SEBootLoaders(directory: try SEBootLoaders.defaultDirectory().get()) } catch { fail("boot loaders: \(error) (run `make loaders`)") }
        let seed = self.seed ?? UInt64.random(in: 0...UInt64.max)
        let scale = long ? 10 : 1
        print("faults: seed \(seed), \(long ? "long" : "short") mode")
        let began = ContinuousClock.now

        // The protected guests: memtouch sealed for this process's host key, one image file for
        // the VMM (3 GiB, asynchronous teardown at each reboot) and its parsed form for the
        // ioctl-level trials.
        let directory = NSTemporaryDirectory() + "s390pv-faults-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let kernelBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let parmfile = "mem=16M reboots=2 scan=touched\n"
        let sealed = try SEImage.build(SEImageConfiguration(kernel: kernelBytes, parmfile: Array(parmfile.utf8),
                                                             hostKeys: [ultravisor.hostPublicKey]),
                                       loaders: loaders, keys: .random())
        let imagePath = directory + "/memtouch-pv.img"
        try Data(sealed.bytes).write(to: URL(fileURLWithPath: imagePath))
        guard let image = FuzzImage(bytes: sealed.bytes) else { fail("the sealed memtouch image does not parse") }
        var random = SplitMix64(seed: seed ^ 0xD15C)
        let ramdisk = (0..<(2 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let large = try SEImage.build(SEImageConfiguration(kernel: kernelBytes, ramdisk: ramdisk, parmfile: Array(parmfile.utf8),
                                                            hostKeys: [ultravisor.hostPublicKey]),
                                      loaders: loaders, keys: .random())
        guard let teardownImage = FuzzImage(bytes: large.bytes) else { fail("the sealed memtouch image with a ramdisk does not parse") }

        let harness = try FaultsHarness(image: image, teardownImage: teardownImage, imagePath: imagePath, seed: seed, verbose: verbose)
        // Warm-up: what the model and the VMM create once per process (worker threads, the
        // dispatch manager, caches) is not a leak.
        harness.warmUp()
        let start = FaultsLeakFigures.now()

        harness.runningGuestFailures(trials: 16 * scale)
        harness.vmmRunningFailures(trials: long ? 4 : 1)
        harness.teardownFailures(trials: 2 * scale, asynchronous: true)
        harness.teardownFailures(trials: 2 * scale, asynchronous: false)
        harness.allocationFailures(rounds: scale)
        harness.vmmAllocationFailures(rounds: long ? 2 : 1)
        let kept = selfTestLeak ? try harness.makeGuest(size: 16 << 20) : nil
        let end = FaultsLeakFigures.settled(comparedWith: start)
        harness.report.leaks = end.minus(start)
        withExtendedLifetime(kept) {}

        harness.fatalSignals(trials: signalTrials ?? (long ? 100 : 12), populatedMiB: long ? 384 : 192)

        let elapsed = ContinuousClock.now - began
        harness.report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(harness.report.text(seed: seed, long: long))
        if let json {
            do { try harness.report.json(seed: seed, long: long).write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
        }
        if !harness.report.passed { throw ExitCode(1) }
    }
}

// MARK: - Figures

/// What could leak, per process: the leak figures of every class are differences of these.
struct FaultsLeakFigures: Codable, Equatable {
    var fds = 0, threads = 0, mappings = 0, modelDescriptors = 0, uvConfigurations = 0, backingFiles = 0, populatedPages = 0

    static func now() -> FaultsLeakFigures {
        let resources = FuzzResources.now()
        return FaultsLeakFigures(fds: resources.fds, threads: resources.threads, mappings: resources.mappings,
                                 modelDescriptors: KVMDevice.openDescriptorCount, uvConfigurations: HostFirmware.ultravisor?.configurationCount ?? 0,
                                 backingFiles: BackingAccounting.liveFiles, populatedPages: Int(BackingAccounting.populatedBytes / 4096))
    }

    /// The figures once asynchronous releases (teardown threads, a VM freed on another thread,
    /// idle dispatch workers, which libdispatch retires after some seconds) have had up to 10 s
    /// to reach `baseline`.
    static func settled(comparedWith baseline: FaultsLeakFigures) -> FaultsLeakFigures {
        var current = now()
        for _ in 0..<200 where !current.minus(baseline).isZero {
            usleep(50_000)
            current = now()
        }
        return current
    }

    func minus(_ other: FaultsLeakFigures) -> FaultsLeakFigures {
        FaultsLeakFigures(fds: fds - other.fds, threads: threads - other.threads, mappings: mappings - other.mappings,
                          modelDescriptors: modelDescriptors - other.modelDescriptors,
                          uvConfigurations: uvConfigurations - other.uvConfigurations, backingFiles: backingFiles - other.backingFiles,
                          populatedPages: populatedPages - other.populatedPages)
    }

    /// Nothing above the baseline (fewer is fine: a warm-up object released late).
    var isZero: Bool { [fds, threads, mappings, modelDescriptors, uvConfigurations, backingFiles, populatedPages].allSatisfy { $0 <= 0 } }

    static func + (a: FaultsLeakFigures, b: FaultsLeakFigures) -> FaultsLeakFigures {
        FaultsLeakFigures(fds: a.fds + max(b.fds, 0), threads: a.threads + max(b.threads, 0), mappings: a.mappings + max(b.mappings, 0),
                          modelDescriptors: a.modelDescriptors + max(b.modelDescriptors, 0),
                          uvConfigurations: a.uvConfigurations + max(b.uvConfigurations, 0),
                          backingFiles: a.backingFiles + max(b.backingFiles, 0), populatedPages: a.populatedPages + max(b.populatedPages, 0))
    }

    var text: String {
        "fds \(max(fds, 0)), threads \(max(threads, 0)), mappings \(max(mappings, 0)), model fds \(max(modelDescriptors, 0)), UV configurations \(max(uvConfigurations, 0)), backing files \(max(backingFiles, 0)), populated backing pages \(max(populatedPages, 0))"
    }
}

/// Trials and outcomes per class.
struct FaultsReport {
    /// Class name → outcome → count, in the order classes were first met.
    var classes: [(name: String, outcomes: [(String, Int)])] = []
    var unexpected: [String] = []
    /// The in-process classes (one figure: the process after closing everything).
    var leaks = FaultsLeakFigures()
    /// The fatal-signal children, summed (each compares its own before/after).
    var childLeaks = FaultsLeakFigures()
    var seconds = 0.0

    mutating func count(_ className: String, _ outcome: String) {
        var index = classes.firstIndex { $0.name == className }
        if index == nil { classes.append((className, [])); index = classes.count - 1 }
        if let at = classes[index!].outcomes.firstIndex(where: { $0.0 == outcome }) {
            classes[index!].outcomes[at].1 += 1
        } else {
            classes[index!].outcomes.append((outcome, 1))
        }
    }

    mutating func unexpected(_ className: String, _ what: String) {
        count(className, "UNEXPECTED")
        unexpected.append("\(className): \(what)")
        print("faults: UNEXPECTED \(className): \(what)")
    }

    func trials(_ className: String) -> Int { classes.first { $0.name == className }?.outcomes.reduce(0) { $0 + $1.1 } ?? 0 }

    var passed: Bool { unexpected.isEmpty && leaks.isZero && childLeaks.isZero && !classes.isEmpty }

    func text(seed: UInt64, long: Bool) -> String {
        var lines = ["faults: seed \(seed), \(long ? "long" : "short") mode, \(String(format: "%.1f", seconds)) s"]
        for entry in classes {
            lines.append("  \(entry.name): \(entry.outcomes.reduce(0) { $0 + $1.1 }) trials")
            for (outcome, count) in entry.outcomes { lines.append("    \(String(count).leftPadded(5)) \(outcome)") }
        }
        lines.append("  unexpected outcomes  \(unexpected.count)")
        lines.append("  leaked (in-process)  \(leaks.text)")
        lines.append("  leaked (children)    \(childLeaks.text)")
        lines.append("faults: \(passed ? "PASS" : "FAIL")")
        return lines.joined(separator: "\n")
    }

    func json(seed: UInt64, long: Bool) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        }
        let classText = classes.map { entry in
            let outcomes = entry.outcomes.map { "\"\(escape($0.0))\": \($0.1)" }.joined(separator: ", ")
            return "\"\(escape(entry.name))\": {\"trials\": \(entry.outcomes.reduce(0) { $0 + $1.1 }), \"outcomes\": {\(outcomes)}}"
        }.joined(separator: ",\n   ")
        func leakJSON(_ figures: FaultsLeakFigures) -> String {
            "{\"fds\": \(max(figures.fds, 0)), \"threads\": \(max(figures.threads, 0)), \"mappings\": \(max(figures.mappings, 0)), \"model_fds\": \(max(figures.modelDescriptors, 0)), \"uv_configurations\": \(max(figures.uvConfigurations, 0)), \"backing_files\": \(max(figures.backingFiles, 0)), \"populated_backing_pages\": \(max(figures.populatedPages, 0))}"
        }
        return """
        {"tool": "s390pv", "command": "faults", "seed": \(seed), "mode": "\(long ? "long" : "short")", "seconds": \(seconds),
         "classes": {\(classText)},
         "unexpected": \(unexpected.count), "unexpected_list": [\(unexpected.map { "\"\(escape($0))\"" }.joined(separator: ", "))],
         "leaked_in_process": \(leakJSON(leaks)), "leaked_children": \(leakJSON(childLeaks)), "passed": \(passed)}

        """
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
