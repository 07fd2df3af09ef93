// ps, kill, wait, console, rm: detached VMs (issue 6 item 2), each verified through a pidfd
// before anything is trusted or signalled (Supervise.swift).
import ArgumentParser
import CSyscalls
import Foundation

/// Status for "the VM is not running" answers of kill and wait (one line on stderr).
private let notRunningStatus: Int32 = 1

struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List detached VMs: running, exited(status) or gone (dead without a status, or its pid recycled).")

    @Flag(help: "Print a JSON array instead of a table.") var json = false

    func run() throws {
        let now = Date().timeIntervalSince1970
        var rows: [[String: Any]] = []
        for record in Supervision.allRecords() {
            let state = Supervision.state(of: record)
            var row: [String: Any] = [
                "name": record.name, "pid": record.pid, "state": state.summary, "image": record.image,
                "memoryBytes": record.memoryBytes, "consoleLog": record.consoleLog,
                "startedAt": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: record.startedAt)),
            ]
            switch state {
            case .running(let pidfd):
                close(pidfd)
                row["uptimeSeconds"] = max(0, now - record.startedAt)
            case .exited(let status): row["exitStatus"] = status
            case .gone(let reason): row["reason"] = reason
            }
            rows.append(row)
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
        print(pad("NAME", 16) + pad("PID", 9) + pad("STATE", 12) + pad("UPTIME", 10) + pad("MEMORY", 8) + "IMAGE")
        for row in rows {
            let uptime = (row["uptimeSeconds"] as? Double).map(Supervision.duration) ?? "-"
            let memory = MemorySize.describe(row["memoryBytes"] as! UInt64)
            var line = pad(row["name"] as! String, 16) + pad("\(row["pid"]!)", 9) + pad(row["state"] as! String, 12)
                + pad(uptime, 10) + pad(memory, 8) + (row["image"] as! String)
            if let reason = row["reason"] as? String { line += "  (\(reason))" }
            print(line)
        }
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Signal a detached VM through a pidfd verified against its record (a stale record gets nothing).",
        discussion: "Exit status: 0 sent; 1 the VM is not running (exited or gone), nothing sent; 2 unusable input.")

    @Argument(help: "The VM's name.") var name: String
    @Option(help: "Signal name (TERM, SIGKILL, …) or number.") var signal = "TERM"

    func run() throws {
        guard let number = Supervision.signalNumber(signal) else { fail("--signal \(signal) is not a signal name or number") }
        let record = Supervision.record(named: name)
        switch Supervision.state(of: record) {
        case .running(let pidfd):
            defer { close(pidfd) }
            if s390pv_pidfd_send_signal(pidfd, number, 0) != 0 {
                let error = s390pv_errno()
                if error == ESRCH { fail("VM '\(name)' exited before the signal; nothing sent", status: notRunningStatus) }
                fail("pidfd_send_signal to VM '\(name)' (pid \(record.pid)): \(String(cString: strerror(error)))", status: ExitStatus.guestFailure)
            }
        case .exited(let status):
            fail("VM '\(name)' already exited (status \(status)); nothing sent", status: notRunningStatus)
        case .gone(let reason):
            fail("VM '\(name)' is gone (\(reason)); nothing sent", status: notRunningStatus)
        }
    }
}

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a detached VM to end (poll on its pidfd) and exit with its status.",
        discussion: """
        The VM process writes its exit status to NAME.exit in the state directory just before it \
        exits (a non-parent cannot waitpid it); wait exits with that status, also for a VM that \
        ended earlier. A VM that ended without one (SIGKILL, a crash) or whose pid was recycled \
        gives one line on stderr and status 1; an unknown name, status 2.
        """)

    @Argument(help: "The VM's name.") var name: String

    func run() throws {
        let record = Supervision.record(named: name)
        switch Supervision.state(of: record) {
        case .running(let pidfd):
            _ = Supervision.awaitExit(pidfd)
            close(pidfd)
            guard let status = Supervision.reportedStatus(record) else {
                fail("VM '\(name)' ended without reporting an exit status (killed by SIGKILL or crashed)", status: notRunningStatus)
            }
            throw ExitCode(status)
        case .exited(let status):
            throw ExitCode(status)
        case .gone(let reason):
            fail("VM '\(name)' is gone (\(reason))", status: notRunningStatus)
        }
    }
}

struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Show a detached VM's console log (guest console and emulator messages).")

    @Argument(help: "The VM's name.") var name: String
    @Flag(help: "Keep printing new output until the VM ends.") var follow = false

    func run() throws {
        let record = Supervision.record(named: name)
        guard let log = FileHandle(forReadingAtPath: record.consoleLog) else { fail("cannot read the console log \(record.consoleLog)") }
        func drain() {
            while true {
                let chunk = log.readData(ofLength: 65536)
                if chunk.isEmpty { return }
                FileHandle.standardOutput.write(chunk)
            }
        }
        drain()
        guard follow, case .running(let pidfd) = Supervision.state(of: record) else { return }
        // Wake every 200 ms for new output; stop once the pidfd reports the exit.
        while !Supervision.awaitExit(pidfd, timeoutMilliseconds: 200) { drain() }
        close(pidfd)
        drain()
    }
}

struct RmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove the record and console log of a detached VM that is no longer running.")

    @Argument(help: "The VM's name.") var name: String

    func run() throws {
        let record = Supervision.record(named: name)
        if case .running(let pidfd) = Supervision.state(of: record) {
            close(pidfd)
            fail("VM '\(name)' is running (pid \(record.pid)); kill it first", status: notRunningStatus)
        }
        for suffix in [".json", ".exit", ".log"] { unlink(Supervision.path(name, suffix)) }
    }
}

extension MemorySize {
    /// 128M, 1G.
    static func describe(_ bytes: UInt64) -> String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : "\(bytes >> 10)K"
    }
}
