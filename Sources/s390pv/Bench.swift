import ArgumentParser
import Foundation
import VMM

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (reporting as shared/spec/benchmarks.md says).",
                                                    subcommands: [CPUBench.self, KVMBench.self, BootBench.self, RebootBench.self])
}

/// `s390pv bench cpu`: guest MIPS on the sieve guest, and the same ELF on qemu-system-s390x.
struct CPUBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cpu", abstract: "Guest instructions per second on the sieve guest.")

    @Option(help: "The benchmark guest.") var image = "Guests/build/sieve.elf"
    @Option(help: "Sieve iterations per run (the guest's iterations= argument).") var iterations = 20
    @Option(help: "Measured runs (after one warm-up).") var runs = 5
    @Option(help: "Write the machine-readable result here.") var json: String?
    @Flag(help: "Do not time qemu-system-s390x even if it is installed.") var noQemu = false

    func validate() throws {
        guard runs > 0, iterations > 0 else { throw ValidationError("--runs and --iterations must be positive") }
        guard FileManager.default.fileExists(atPath: image) else { throw ValidationError("no such image: \(image) (run `make guests`)") }
    }

    struct Sample { let seconds: Double; let instructions: UInt64 }

    func run() throws {
        let append = "iterations=\(iterations)"
        progress("warm-up run")
        _ = try runOnce(append)
        var samples: [Sample] = []
        for index in 1...runs {
            progress("s390pv run \(index)/\(runs)")
            samples.append(try runOnce(append))
        }
        let mips = samples.map { Double($0.instructions) / $0.seconds / 1e6 }
        let wall = samples.map(\.seconds)
        var qemuWall: [Double] = []
        let qemu = noQemu ? nil : findExecutable("qemu-system-s390x")
        if let qemu {
            for index in 0...runs {
                progress(index == 0 ? "qemu warm-up run" : "qemu run \(index)/\(runs)")
                let seconds = try timeQEMU(qemu, append)
                if index > 0 { qemuWall.append(seconds) }
            }
        }
        var table = """
        bench cpu: \(image), \(append), \(runs) runs (median [min..max])
          guest instructions   \(samples[0].instructions)
          s390pv wall time     \(Stats(wall).text(unit: "s"))
          s390pv MIPS          \(Stats(mips).text(unit: "MIPS"))

        """
        var limits = "{}"
        if !qemuWall.isEmpty {
            let ratio = Stats(qemuWall).median / Stats(wall).median
            table += "  qemu-system-s390x    \(Stats(qemuWall).text(unit: "s")) wall (whole process)\n"
            table += String(format: "  speed vs QEMU TCG    %.3f (s390pv is %.1fx %@)\n", ratio,
                            ratio >= 1 ? ratio : 1 / ratio, (ratio >= 1 ? "faster" : "slower") as NSString)
            limits = #"{"qemu_tcg_wall_s": {"value": \#(Stats(qemuWall).median), "unit": "s", "how": "qemu-system-s390x -kernel on the same ELF, same run"}}"#
        } else {
            table += "  qemu-system-s390x    not measured\(noQemu ? "" : " (not installed)")\n"
        }
        print(table, terminator: "")
        if let json {
            let result = """
            {"tool": "s390pv", "version": "\(gitDescribe())", "command": "bench cpu",
             "machine": {"cpus": \(ProcessInfo.processInfo.activeProcessorCount), "memory_bytes": \(ProcessInfo.processInfo.physicalMemory)},
             "parameters": {"image": "\(image)", "iterations": \(iterations), "runs": \(runs)},
             "limits": \(limits),
             "results": [{"image": "\(image)", "instructions": \(samples[0].instructions),
               "mips": \(Stats(mips).json), "wall_s": \(Stats(wall).json)\(qemuWall.isEmpty ? "" : ", \"qemu_wall_s\": \(Stats(qemuWall).json)")}]}

            """
            do { try result.write(toFile: json, atomically: true, encoding: .utf8) } catch { fail("cannot write \(json): \(error)") }
        }
    }

    private func runOnce(_ append: String) throws -> Sample {
        var configuration = MachineConfiguration(imagePath: image)
        configuration.commandLine = append
        configuration.timeout = .seconds(600)
        let machine: Machine
        do {
            machine = try Machine(configuration, console: Console(output: FileHandle(forWritingAtPath: "/dev/null")!))
        } catch { fail(error.description) }
        let start = ContinuousClock.now
        let outcome = machine.run()
        let elapsed = ContinuousClock.now - start
        guard outcome == .stopped(status: 1) else { fail("benchmark guest did not pass: \(outcome)", status: ExitStatus.guestFailure) }
        return Sample(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      instructions: machine.instructionCount)
    }

    private func timeQEMU(_ qemu: String, _ append: String) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = ["-nodefaults", "-nographic", "-machine", "s390-ccw-virtio,accel=tcg", "-chardev", "stdio,id=con0",
                             "-device", "sclpconsole,chardev=con0", "-kernel", image, "-append", append]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let start = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func progress(_ message: String) { FileHandle.standardError.write(Data("bench cpu: \(message)\n".utf8)) }
}

struct Stats {
    let values: [Double]
    init(_ values: [Double]) { self.values = values.sorted() }
    var median: Double { values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2 }
    func text(unit: String) -> String { String(format: "%.3f %@ [%.3f..%.3f]", median, unit as NSString, values.first!, values.last!) }
    var json: String { #"{"median": \#(median), "min": \#(values.first!), "max": \#(values.last!), "runs": [\#(values.map { "\($0)" }.joined(separator: ", "))]}"# }
}

func findExecutable(_ name: String) -> String? {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

func gitDescribe() -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
    process.arguments = ["describe", "--always", "--dirty"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    guard (try? process.run()) != nil else { return "unknown" }
    process.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
