import ArgumentParser
import CSyscalls
import Foundation
import KernelModel
import RestrictedMemory
import SecureExecution
import VMM

/// `s390pv bench reboot`: reboot latency of a protected guest (DIAG 308 subcode 3 intercept to
/// the first instruction of the rebooted protected guest), time until the old secure
/// configuration is gone, teardown throughput and RSS, per memory size × teardown mode × worker
/// count, beside the machine's punch-hole and memset rates measured in the same invocation.
///
/// Each configuration runs in a child process (`bench reboot --child …`, hidden), because the
/// teardown worker count is a kernel-model parameter fixed before the first VM of a process; the
/// child prints one JSON line of measurements. The guest is memtouch sealed here with
/// `mem=<touched> reboots=1 scan=none`: it writes its pattern through the touched memory,
/// reboots once and exits without scanning, so the teardown workers have the CPUs (that no
/// pattern survives a reboot is Tests/cli/memtouch.sh's job).
struct RebootBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reboot",
        abstract: "Protected-guest reboot latency, teardown time and throughput, RSS, against the machine's punch-hole and memset rates.",
        discussion: """
        Every run fills the touched memory through the emulated CPU (writing its pattern; the \
        rebooted guest exits without scanning), which dominates the run time: about 4 s per GiB touched \
        with a release build on a 2-core machine, so the defaults (1G,2G,4G,8G × sync, async with \
        1 and 2 workers × 3 runs, about 135 GiB touched) take about 10 minutes. Use --touch to \
        make teardown work smaller, or fewer sizes and runs.
        """)

    @Option(help: "Guest memory sizes, comma-separated (K, M, G suffix; bare number is MiB).") var memory = "1G,2G,4G,8G"
    @Option(help: "Teardown modes, comma-separated: sync, async (async falls back to sync at memory <= 2 GiB).") var mode = "sync,async"
    @Option(help: "Teardown worker counts for the async mode, comma-separated.") var workers = "1,2"
    @Option(help: "Measured runs per configuration (after one warm-up).") var runs = 3
    @Option(help: "Guest memory the guest touches before rebooting (default: each memory size minus 64M).") var touch: String?
    @Option(help: "The guest kernel: memtouch as a raw image (`make pv-guests` makes it).") var kernel = "Guests/build/memtouch.raw"
    @Option(help: "Write the machine-readable result here.") var json: String?
    @Option(help: "Draw latency against memory (SVG) here.") var plot: String?

    // The child: one configuration in this process, one JSON line on stdout.
    @Flag(help: .hidden) var child = false
    @Option(help: .hidden) var image: String?
    @Option(help: .hidden) var hostKey: String?

    static let reserve: UInt64 = 64 << 20

    var memorySizes: [UInt64] { RebootBench.list(memory).compactMap { MemorySize(argument: $0)?.bytes } }
    var modes: [TeardownMode] { RebootBench.list(mode).compactMap { TeardownMode(rawValue: $0) } }
    var workerCounts: [Int] { RebootBench.list(workers).compactMap { Int($0) } }
    var touchBytes: UInt64? { touch.flatMap { MemorySize(argument: $0)?.bytes } }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        let memoryItems = RebootBench.list(memory), modeItems = RebootBench.list(mode), workerItems = RebootBench.list(workers)
        guard memorySizes.count == memoryItems.count, !memorySizes.isEmpty else { throw ValidationError("--memory \(memory): give sizes such as 1G,4G") }
        guard memorySizes.allSatisfy({ $0 % (1 << 20) == 0 && $0 >= 128 << 20 && $0 <= 1 << 40 }) else {
            throw ValidationError("--memory sizes must be whole MiB, 128M to 1T")
        }
        guard Set(memorySizes).count == memorySizes.count else { throw ValidationError("--memory \(memory) repeats a size") }
        guard modes.count == modeItems.count, !modes.isEmpty, !modes.contains(.automatic), Set(modes).count == modes.count else {
            throw ValidationError("--mode \(mode): give sync, async or sync,async")
        }
        guard workerCounts.count == workerItems.count, !workerCounts.isEmpty, workerCounts.allSatisfy({ (1...256).contains($0) }),
              Set(workerCounts).count == workerCounts.count else {
            throw ValidationError("--workers \(workers): give distinct counts 1 to 256, such as 1,2")
        }
        guard runs > 0, runs <= 100 else { throw ValidationError("--runs must be 1 to 100") }
        if let touch {
            guard let bytes = touchBytes, bytes % 4096 == 0 else { throw ValidationError("--touch \(touch): give a size in whole pages, such as 16M") }
            guard bytes <= memorySizes.min()! - RebootBench.reserve else {
                throw ValidationError("--touch \(touch) must leave 64M of the smallest memory size untouched")
            }
        }
        if child {
            guard image != nil, hostKey != nil, memorySizes.count == 1, modes.count == 1, workerCounts.count == 1 else {
                throw ValidationError("--child needs --image, --host-key and one memory size, mode and worker count")
            }
        } else {
            guard FileManager.default.fileExists(atPath: kernel) else { throw ValidationError("no such kernel: \(kernel) (run `make pv-guests`)") }
            if let json { try RebootBench.checkWritable(json, option: "--json") }
            if let plot { try RebootBench.checkWritable(plot, option: "--plot") }
        }
    }

    private static func checkWritable(_ path: String, option: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        guard FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory) else {
            throw ValidationError("\(option) \(path): the directory is not writable")
        }
    }

    func touched(_ memory: UInt64) -> UInt64 { touchBytes ?? memory - RebootBench.reserve }

    func run() throws {
        if child { runChild() }

        let work = NSTemporaryDirectory() + "s390pv-bench-reboot-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let sizes = memorySizes.sorted()
        let (images, keyPath) = try makeImages(sizes, in: work)

        // The configurations: sync once per size (the worker pool is not used by DISABLE),
        // async once per worker count.
        var configurations: [Configuration] = []
        for size in sizes {
            for mode in modes {
                if mode == .sync {
                    configurations.append(Configuration(memory: size, mode: .sync, workers: nil, touched: touched(size)))
                } else {
                    for count in workerCounts {
                        configurations.append(Configuration(memory: size, mode: .async, workers: count, touched: touched(size)))
                    }
                }
            }
        }

        // The machine's limits, in this invocation, over the largest size.
        let largest = sizes.last!
        progress("machine limits: memset and punch-hole of a \(RebootBench.sizeText(largest)) memfd, \(runs) runs")
        var punch: [Double] = [], memset: [Double] = []
        for _ in 0..<runs {
            let (setRate, punchRate) = try clearRates(bytes: largest)
            memset.append(setRate); punch.append(punchRate)
        }
        let punchStats = Stats(punch), memsetStats = Stats(memset)
        progress(String(format: "limits: memset %.2f GiB/s, punch-hole %.2f GiB/s", memsetStats.median, punchStats.median))

        let header = "memory  mode   workers  path   latency ms (median [min..max])   teardown ms (median [min..max])   GiB/s    RSS MiB peak/final/baseline"
        emit("bench reboot: memtouch reboots=1 scan=none, \(runs) runs per configuration (median [min..max])\n\(header)\n")

        let totalWork = Double(configurations.reduce(0) { $0 + $1.touched }) * Double(runs)
        var doneWork = 0.0
        let start = ContinuousClock.now
        // Warm-up: one run of the first configuration, not counted.
        progress("warm-up: \(configurations[0].label)")
        _ = try runChild(configurations[0], image: images[configurations[0].memory]!, key: keyPath)

        var rows: [Row] = []
        for (index, configuration) in configurations.enumerated() {
            var samples: [Sample] = []
            for run in 1...runs {
                var line = "[\(index + 1)/\(configurations.count)] \(configuration.label), run \(run)/\(runs)"
                if doneWork > 0 {
                    let elapsed = RebootBench.seconds(ContinuousClock.now - start)
                    line += ", ETA \(RebootBench.durationText(elapsed / doneWork * (totalWork - doneWork)))"
                }
                progress(line)
                samples.append(try runChild(configuration, image: images[configuration.memory]!, key: keyPath))
                doneWork += Double(configuration.touched)
            }
            let row = Row(configuration: configuration, samples: samples)
            rows.append(row)
            emit(row.text + "\n")
        }

        let checks = targetChecks(rows, punch: punchStats.median)
        var text = """

        limits (same run, \(RebootBench.sizeText(largest)) memfd):
          memset of resident pages     \(memsetStats.text(unit: "GiB/s"))
          punch-hole (whole file)      \(punchStats.text(unit: "GiB/s"))
        targets:

        """
        for check in checks { text += "  \(check.text)\n" }
        if rows.contains(where: { $0.configuration.mode == .async && $0.paths.contains(false) }) {
            text += "  (path sync on an async row: the kernel refuses asynchronous teardown at memory <= 2 GiB, QEMU then uses DISABLE)\n"
        }
        emit(text)

        if let json {
            let result = """
            {"tool": "s390pv", "version": "\(gitDescribe())", "command": "bench reboot",
             "machine": {"cpus": \(ProcessInfo.processInfo.activeProcessorCount), "memory_bytes": \(ProcessInfo.processInfo.physicalMemory), "kernel": "\(RebootBench.kernelRelease())"},
             "parameters": {"memory": "\(memory)", "mode": "\(mode)", "workers": "\(workers)", "runs": \(runs), "touch": \(touch.map { "\"\($0)\"" } ?? "null"), "kernel": "\(kernel)"},
             "limits": {"punch_gib_s": {"value": \(punchStats.median), "unit": "GiB/s", "how": "fallocate PUNCH_HOLE|KEEP_SIZE of a full, unmapped \(RebootBench.sizeText(largest)) memfd, same run", "runs": \(punchStats.json)},
                        "memset_gib_s": {"value": \(memsetStats.median), "unit": "GiB/s", "how": "memset of \(RebootBench.sizeText(largest)) of resident memfd pages through a shared mapping, same run", "runs": \(memsetStats.json)}},
             "results": [
            \(rows.map { "  " + $0.json }.joined(separator: ",\n"))],
             "targets": {\(checks.map { $0.json }.joined(separator: ", "))}}

            """
            do { try result.write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
        }
        if let plot {
            do { try RebootPlot(rows: rows).svg.write(toFile: plot, atomically: true, encoding: .utf8) } catch { fail("cannot write \(plot): \(error)") }
        }
    }

    // MARK: Configurations and samples

    struct Configuration {
        let memory: UInt64
        let mode: TeardownMode
        let workers: Int?
        let touched: UInt64
        var label: String { "\(RebootBench.sizeText(memory)) \(mode.rawValue)\(workers.map { " workers=\($0)" } ?? "")" }
    }

    /// One child's measurements.
    struct Sample {
        let latencyMs: Double
        let teardownMs: Double?
        let asynchronous: Bool
        let rssBaseline: Double, rssPeak: Double, rssFinal: Double
    }

    struct Row {
        let configuration: Configuration
        let samples: [Sample]
        var paths: [Bool] { samples.map(\.asynchronous) }
        var path: String {
            let set = Set(paths)
            return set.count == 2 ? "mixed" : set.first! ? "async" : "sync"
        }
        var latency: Stats { Stats(samples.map(\.latencyMs)) }
        var teardown: Stats? { let values = samples.compactMap(\.teardownMs); return values.isEmpty ? nil : Stats(values) }
        var throughput: Stats? {
            let gib = Double(configuration.touched) / Double(1 << 30)
            let values = samples.compactMap(\.teardownMs).map { gib / ($0 / 1000) }
            return values.isEmpty ? nil : Stats(values)
        }
        var rssPeak: Stats { Stats(samples.map(\.rssPeak)) }
        var rssFinal: Stats { Stats(samples.map(\.rssFinal)) }
        var rssBaseline: Stats { Stats(samples.map(\.rssBaseline)) }

        var text: String {
            let mib = Double(1 << 20)
            let teardownText = teardown.map { RebootBench.statsText($0) } ?? "n/a"
            let throughputText = throughput.map { String(format: "%.2f", $0.median) } ?? "n/a"
            func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, width - text.count))
                return right ? fill + text : text + fill
            }
            return pad(RebootBench.sizeText(configuration.memory), 6, right: true) + "  " + pad(configuration.mode.rawValue, 5) + "  "
                + pad(configuration.workers.map { "\($0)" } ?? "-", 7, right: true) + "  " + pad(path, 5) + "  "
                + pad(RebootBench.statsText(latency), 31) + "  " + pad(teardownText, 32) + "  " + pad(throughputText, 7) + "  "
                + String(format: "%.0f/%.0f/%.0f", rssPeak.median / mib, rssFinal.median / mib, rssBaseline.median / mib)
        }

        var json: String {
            var fields = [#""mode": "\#(configuration.mode.rawValue)""#, #""path": "\#(path)""#,
                          "\"memory_bytes\": \(configuration.memory)", "\"workers\": \(configuration.workers.map { "\($0)" } ?? "null")",
                          "\"touched_bytes\": \(configuration.touched)", "\"latency_ms\": \(latency.json)"]
            if let teardown { fields.append("\"teardown_ms\": \(teardown.json)") }
            if let throughput { fields.append("\"throughput_gib_s\": \(throughput.json)") }
            fields += ["\"rss_peak_bytes\": \(rssPeak.json)", "\"rss_final_bytes\": \(rssFinal.json)", "\"rss_baseline_bytes\": \(rssBaseline.json)"]
            return "{" + fields.joined(separator: ", ") + "}"
        }
    }

    // MARK: Target checks

    struct Check {
        let key: String, description: String, value: Double?, target: String, passed: Bool?
        var text: String {
            let verdict = passed.map { $0 ? "PASS" : "FAIL" } ?? "n/a"
            let valueText = value.map { String(format: "%.3f", $0) } ?? "not measured"
            return description + String(repeating: " ", count: max(1, 62 - description.count)) + "\(valueText) (target \(target)) \(verdict)"
        }
        var json: String {
            #""\#(key)": {"value": \#(value.map { "\($0)" } ?? "null"), "target": "\#(target)", "passed": \#(passed.map { "\($0)" } ?? "null")}"#
        }
    }

    private func targetChecks(_ rows: [Row], punch: Double) -> [Check] {
        var checks: [Check] = []
        let largest = rows.map(\.configuration.memory).max() ?? 0
        let asyncRows = rows.filter { $0.configuration.mode == .async }
        let sync = rows.first { $0.configuration.mode == .sync && $0.configuration.memory == largest }
        let counts = Array(Set(asyncRows.compactMap(\.configuration.workers))).sorted()
        for count in counts {
            let mine = asyncRows.filter { $0.configuration.workers == count }
            let big = mine.first { $0.configuration.memory == largest && $0.path == "async" }
            let small = mine.filter { $0.path == "async" }.min { $0.configuration.memory < $1.configuration.memory }
            let size = RebootBench.sizeText(largest)
            var ratio: Double?
            if let big, let sync { ratio = big.latency.median / sync.latency.median }
            checks.append(Check(key: "async_vs_sync_latency_w\(count)", description: "async (\(count) workers) / sync latency at \(size)",
                                value: ratio, target: "<= 0.05", passed: ratio.map { $0 <= 0.05 }))
            ratio = nil
            var smallText = "smallest async size"
            if let big, let small, small.configuration.memory < big.configuration.memory {
                ratio = big.latency.median / small.latency.median
                smallText = RebootBench.sizeText(small.configuration.memory)
            }
            checks.append(Check(key: "async_latency_growth_w\(count)", description: "async (\(count) workers) latency \(size) / \(smallText)",
                                value: ratio, target: "<= 1.5", passed: ratio.map { $0 <= 1.5 }))
        }
        if let count = counts.contains(2) ? 2 : counts.last,
           let row = asyncRows.first(where: { $0.configuration.workers == count && $0.configuration.memory == largest && $0.path == "async" }) {
            let ratio = row.throughput.map { $0.median / punch }
            checks.append(Check(key: "throughput_vs_punch_w\(count)", description: "teardown throughput (\(count) workers, \(RebootBench.sizeText(largest))) / punch-hole",
                                value: ratio, target: ">= 0.70", passed: ratio.map { $0 >= 0.70 }))
        } else {
            checks.append(Check(key: "throughput_vs_punch", description: "teardown throughput (async path) / punch-hole",
                                value: nil, target: ">= 0.70", passed: nil))
        }
        // The rebooted guest does not scan, so the process should come back to its pre-boot
        // RSS (plus the rebooted guest's own few pages); a leaked old configuration would add
        // the touched memory.
        let growth = rows.flatMap { row in row.samples.map { $0.rssFinal / $0.rssBaseline - 1 } }.max()
        checks.append(Check(key: "rss_final_vs_baseline", description: "final RSS / pre-boot baseline - 1, worst",
                            value: growth, target: "<= 0.05", passed: growth.map { $0 <= 0.05 }))
        return checks
    }

    // MARK: The parent's work

    /// A host key, and one memtouch image per memory size sealed for it.
    private func makeImages(_ sizes: [UInt64], in directory: String) throws -> ([UInt64: String], String) {
        let pair: HostKeyPair
        do { pair = try HostKeyPair.create(in: directory + "/hostkey", replace: false) } catch { fail(error.message) }
        let loaders: SEBootLoaders
        do { loaders = try SEBootLoaders(directory: try SEBootLoaders.defaultDirectory().get()) } catch { fail("\(error)") }
        let kernelBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let certificate = try String(contentsOfFile: pair.certificatePath, encoding: .utf8)
        let hostKey = try HostKey(certificate: Array(certificate.utf8))
        var images: [UInt64: String] = [:]
        for size in sizes {
            let parmfile = "mem=\(touched(size) >> 10)K reboots=1 scan=none\n"
            let configuration = SEImageConfiguration(kernel: kernelBytes, parmfile: Array(parmfile.utf8), hostKeys: [hostKey])
            let image = try SEImage.build(configuration, loaders: loaders, keys: .random())
            let path = directory + "/memtouch-\(size >> 20)M.img"
            try Data(image.bytes).write(to: URL(fileURLWithPath: path))
            images[size] = path
        }
        return (images, pair.keyPath)
    }

    /// Runs one configuration in a child process and parses its JSON line.
    private func runChild(_ configuration: Configuration, image: String, key: String) throws -> Sample {
        let process = Process()
        // This very binary, even if a rebuild has replaced the file meanwhile.
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["bench", "reboot", "--child", "--image", image, "--host-key", key,
                             "--memory", "\(configuration.memory >> 20)M", "--mode", configuration.mode.rawValue,
                             "--workers", "\(configuration.workers ?? 1)", "--touch", "\(configuration.touched >> 10)K"]
        let out = image + ".out", err = image + ".err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let errors = ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").split(separator: "\n")
        guard process.terminationStatus == 0,
              let line = output.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let latency = object["latency_ms"] as? Double, let asynchronous = object["asynchronous"] as? Bool,
              let baseline = object["rss_baseline_bytes"] as? Double, let peak = object["rss_peak_bytes"] as? Double,
              let final = object["rss_final_bytes"] as? Double else {
            let reason = errors.last.map { String($0).replacingOccurrences(of: "s390pv: ", with: "") } ?? "no measurements"
            fail("\(configuration.label): the child failed (status \(process.terminationStatus)): \(reason)", status: ExitStatus.guestFailure)
        }
        for line in errors { FileHandle.standardError.write(Data("  child: \(line)\n".utf8)) }
        return Sample(latencyMs: latency, teardownMs: object["teardown_ms"] as? Double, asynchronous: asynchronous,
                      rssBaseline: baseline, rssPeak: peak, rssFinal: final)
    }

    /// memset of resident pages and PUNCH_HOLE of a full memfd of `bytes`, in GiB/s.
    private func clearRates(bytes: UInt64) throws -> (memset: Double, punch: Double) {
        let fd = s390pv_memfd_create("s390pv-bench-limit", 0)
        guard fd >= 0 else { fail("memfd_create: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(bytes)) == 0,
              let mapping = mmap(nil, Int(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            fail("cannot map a \(RebootBench.sizeText(bytes)) memfd: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure)
        }
        Glibc.memset(mapping, 0x5A, Int(bytes))   // first touch: populate every page
        let start = ContinuousClock.now
        Glibc.memset(mapping, 0xA5, Int(bytes))
        let setSeconds = RebootBench.seconds(ContinuousClock.now - start)
        munmap(mapping, Int(bytes))
        let punchStart = ContinuousClock.now
        guard s390pv_fallocate(fd, S390PV_FALLOC_FL_PUNCH_HOLE | S390PV_FALLOC_FL_KEEP_SIZE, 0, Int64(bytes)) == 0 else {
            fail("fallocate PUNCH_HOLE: \(String(cString: strerror(errno)))", status: ExitStatus.guestFailure)
        }
        let punchSeconds = RebootBench.seconds(ContinuousClock.now - punchStart)
        let gib = Double(bytes) / Double(1 << 30)
        return (gib / setSeconds, gib / punchSeconds)
    }

    // MARK: The child

    /// One configuration: build the machine, note the baseline RSS, run the guest (one reboot),
    /// wait for the old configuration's teardown, print one JSON line.
    private func runChild() -> Never {
        let workers = workerCounts[0]
        ModuleParameters.setMemoryBackend(.memfd)
        ModuleParameters.setTeardownWorkers(workers)
        do { HostFirmware.installHostKey(try HostPrivateKey(contentsOfFile: hostKey!)) } catch { fail("--host-key \(hostKey!): \(error)") }
        var configuration = MachineConfiguration(imagePath: image!)
        configuration.memorySize = memorySizes[0]
        // async as QEMU decides it (auto): PREPARE above 2 GiB, DISABLE at or below, where the
        // kernel refuses PREPARE anyway; the row's path says what was taken.
        configuration.teardown = modes[0] == .sync ? .sync : .automatic
        configuration.timeout = .seconds(3600)
        let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
        let machine: Machine
        do { machine = try Machine(configuration, console: console) } catch { fail(error.description) }
        let baseline = RebootBench.processMemory().rss
        let outcome = machine.run()
        machine.waitForTeardowns()
        let (final, peak) = RebootBench.processMemory()
        guard outcome == .stopped(status: 1) else {
            let last = console.text.split(separator: "\n").last { !$0.hasPrefix("EXIT:") }.map(String.init) ?? ""
            fail("memtouch did not pass: \(outcome) \(last)", status: ExitStatus.guestFailure)
        }
        let reboots = machine.protectedReboots
        guard reboots.count == 1, let reboot = reboots.first, let resumed = reboot.resumed else {
            fail("expected one protected reboot, the machine recorded \(reboots.count)", status: ExitStatus.guestFailure)
        }
        let latency = RebootBench.seconds(resumed - reboot.requested) * 1000
        let teardown = reboot.teardownDone.map { "\(RebootBench.seconds($0 - reboot.requested) * 1000)" } ?? "null"
        emit(#"{"latency_ms": \#(latency), "teardown_ms": \#(teardown), "asynchronous": \#(reboot.asynchronous), "touched_bytes": \#(touchBytes ?? memorySizes[0] - RebootBench.reserve), "rss_baseline_bytes": \#(baseline), "rss_peak_bytes": \#(peak), "rss_final_bytes": \#(final)}"# + "\n")
        Foundation.exit(0)
    }

    /// VmRSS and VmHWM of this process, in bytes.
    static func processMemory() -> (rss: UInt64, peak: UInt64) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> UInt64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (UInt64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        // Resident memory the process holds (anonymous + shared memory, i.e. guest RAM and the
        // model's allocations), without the program's own file-backed text, which pages in as
        // code runs for the first time and is not memory the teardown could release.
        return (field("RssAnon") + field("RssShmem"), field("VmHWM"))
    }

    // MARK: Helpers

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func sizeText(_ bytes: UInt64) -> String { bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : "\(bytes >> 20)M" }

    static func statsText(_ stats: Stats) -> String {
        func number(_ value: Double) -> String { value >= 100 ? String(format: "%.0f", value) : value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value) }
        return "\(number(stats.median)) [\(number(stats.values.first!))..\(number(stats.values.last!))]"
    }

    static func durationText(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60) min \(total % 60) s" : "\(total) s"
    }

    static func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func progress(_ message: String) { FileHandle.standardError.write(Data("bench reboot: \(message)\n".utf8)) }
    /// stdout, unbuffered, so table rows appear as they are measured.
    private func emit(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}

/// Latency against memory, one polyline per mode and worker count, log-scale latency axis.
struct RebootPlot {
    let rows: [RebootBench.Row]

    var svg: String {
        let width = 720.0, height = 440.0, left = 80.0, right = 190.0, top = 40.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let memories = Array(Set(rows.map(\.configuration.memory))).sorted()
        let latencies = rows.map(\.latency.median).filter { $0 > 0 }
        let low = floor(log10(latencies.min() ?? 1)), high = max(low + 1, ceil(log10(latencies.max() ?? 10)))
        let gib = memories.map { Double($0) / Double(1 << 30) }
        let xLow = log2(gib.first ?? 1), xHigh = max(xLow + 1, log2(gib.last ?? 2))
        func x(_ memory: UInt64) -> Double { left + (log2(Double(memory) / Double(1 << 30)) - xLow) / (xHigh - xLow) * plotWidth }
        func y(_ ms: Double) -> Double { top + plotHeight - (log10(max(ms, 1e-9)) - low) / (high - low) * plotHeight }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="24" font-size="15">s390pv bench reboot: protected reboot latency (median)</text>
        <line x1="\(left)" y1="\(top + plotHeight)" x2="\(left + plotWidth)" y2="\(top + plotHeight)" stroke="black"/>
        <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + plotHeight)" stroke="black"/>

        """
        var decade = low
        while decade <= high {
            let value = pow(10, decade), position = y(value)
            out += #"<line x1="\#(left - 4)" y1="\#(position)" x2="\#(left + plotWidth)" y2="\#(position)" stroke="\#(RebootPlot.grid)"/>"# + "\n"
            out += #"<text x="\#(left - 8)" y="\#(position + 4)" text-anchor="end">\#(RebootPlot.number(value))</text>"# + "\n"
            decade += 1
        }
        for memory in memories {
            let position = x(memory)
            out += #"<line x1="\#(position)" y1="\#(top + plotHeight)" x2="\#(position)" y2="\#(top + plotHeight + 4)" stroke="black"/>"# + "\n"
            out += #"<text x="\#(position)" y="\#(top + plotHeight + 18)" text-anchor="middle">\#(RebootBench.sizeText(memory))</text>"# + "\n"
        }
        out += #"<text x="\#(left + plotWidth / 2)" y="\#(height - 16)" text-anchor="middle">guest memory</text>"# + "\n"
        out += #"<text transform="translate(20 \#(top + plotHeight / 2)) rotate(-90)" text-anchor="middle">reboot latency, ms (log scale)</text>"# + "\n"

        let colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
        var series: [(name: String, rows: [RebootBench.Row])] = []
        for row in rows {
            let name = row.configuration.mode == .sync ? "sync" : "async, \(row.configuration.workers ?? 1) worker\(row.configuration.workers == 1 ? "" : "s")"
            if let index = series.firstIndex(where: { $0.name == name }) { series[index].rows.append(row) } else { series.append((name, [row])) }
        }
        for (index, entry) in series.enumerated() {
            let colour = colours[index % colours.count]
            let points = entry.rows.sorted { $0.configuration.memory < $1.configuration.memory }
                .map { String(format: "%.1f,%.1f", x($0.configuration.memory), y($0.latency.median)) }
            out += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(points.joined(separator: " "))"/>"# + "\n"
            for row in entry.rows {
                // A hollow marker where an async row actually took the sync path.
                let fill = row.configuration.mode == .async && row.path != "async" ? "white" : colour
                out += String(format: #"<circle cx="%.1f" cy="%.1f" r="4" fill="%@" stroke="%@"/>"#, x(row.configuration.memory), y(row.latency.median),
                              fill as NSString, colour as NSString) + "\n"
            }
            let legendY = top + 10 + Double(index) * 20
            out += #"<line x1="\#(left + plotWidth + 20)" y1="\#(legendY)" x2="\#(left + plotWidth + 44)" y2="\#(legendY)" stroke="\#(colour)" stroke-width="2"/>"# + "\n"
            out += #"<text x="\#(left + plotWidth + 50)" y="\#(legendY + 4)">\#(entry.name)</text>"# + "\n"
        }
        let noteY = top + 10 + Double(series.count) * 20 + 10
        out += #"<circle cx="\#(left + plotWidth + 32)" cy="\#(noteY)" r="4" fill="white" stroke="black"/>"# + "\n"
        out += #"<text x="\#(left + plotWidth + 50)" y="\#(noteY + 4)">async fell back to sync</text>"# + "\n"
        out += "</svg>\n"
        return out
    }

    static let grid = "#ddd"
    static func number(_ value: Double) -> String { value >= 1 ? String(format: "%.0f", value) : String(format: "%g", value) }
}
