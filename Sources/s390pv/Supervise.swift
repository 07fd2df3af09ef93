// Supervision of detached VMs (issue 6 item 2): the per-user state directory, one record per
// VM, and the pidfd-verified identity check every command makes before it trusts a pid.
//
// A record is trusted only through a pidfd: pidfd_open(pid) must succeed, the process start time
// (/proc/PID/stat field 22, clock ticks since boot) read *after* opening must equal the one
// recorded at launch (and the boot id must be the same boot), and a signal 0 sent through the
// pidfd afterwards must still succeed, which proves the pidfd's process was the one whose start
// time was read (a pid cannot be reused while its process is unreaped). Only then is the pidfd
// used; a record failing any step is stale ("gone") and nothing is ever sent to its pid.
//
// Exit status transport: a detached VM is not our child, so nobody here can waitpid it. The VM
// process (the `run` re-executed by `run --detach`) registers an on_exit(3) handler that writes
// NAME.exit (pid, start time, status; written to a temporary file and renamed) just before the
// process ends; `wait` polls the pidfd and then reads that file. A process that ends without
// running exit handlers (SIGKILL, a crash) leaves no file: its record is "gone".
import CSyscalls
import Foundation

/// What `run --detach` records about a VM (NAME.json in the state directory).
struct VMRecord: Codable {
    var name: String
    var pid: Int32
    /// The process start time in clock ticks since boot (/proc/PID/stat field 22), read after
    /// pidfd_open: with `bootID`, the identity of the VM process.
    var startTicks: UInt64
    /// /proc/sys/kernel/random/boot_id at launch (start ticks restart at every boot).
    var bootID: String
    var image: String
    var memoryBytes: UInt64
    var consoleLog: String
    /// Wall-clock launch time, seconds since 1970.
    var startedAt: Double
    var arguments: [String]
}

/// What the VM process writes just before it exits (NAME.exit).
struct VMExitRecord: Codable {
    var pid: Int32
    var startTicks: UInt64
    var status: Int32
    var endedAt: Double
}

/// A record's state as verified now.
enum VMState {
    /// Verified alive; `pidfd` refers to the VM process (the caller closes it).
    case running(pidfd: Int32)
    /// Ended and reported `status` (it may still be a zombie).
    case exited(status: Int32)
    /// Dead without a reported status, or its pid now belongs to another process.
    case gone(reason: String)

    var summary: String {
        switch self {
        case .running: return "running"
        case .exited(let status): return "exited(\(status))"
        case .gone: return "gone"
        }
    }
}

enum Supervision {
    /// $S390PV_STATE_DIR, else $XDG_STATE_HOME/s390pv/vms, else ~/.local/state/s390pv/vms.
    static var stateDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["S390PV_STATE_DIR"], !explicit.isEmpty { return explicit }
        let base = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/state")
        return (base as NSString).appendingPathComponent("s390pv/vms")
    }

    /// 1 to 64 characters of [A-Za-z0-9._-], not starting with a dot.
    static func validName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
    }

    static func checkName(_ name: String) {
        if !validName(name) { fail("VM name '\(name)' is not 1 to 64 characters of A-Z a-z 0-9 . _ - (not starting with a dot)") }
    }

    static func path(_ name: String, _ suffix: String) -> String {
        (stateDirectory as NSString).appendingPathComponent(name + suffix)
    }

    static func createStateDirectory() {
        do { try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true) } catch {
            fail("cannot create the state directory \(stateDirectory): \(error.localizedDescription)")
        }
    }

    static func load(_ name: String) -> VMRecord? {
        guard let data = FileManager.default.contents(atPath: path(name, ".json")) else { return nil }
        return try? JSONDecoder().decode(VMRecord.self, from: data)
    }

    /// The record of `name`, or one line and status 2.
    static func record(named name: String) -> VMRecord {
        checkName(name)
        guard FileManager.default.fileExists(atPath: path(name, ".json")) else { fail("no VM named '\(name)' in \(stateDirectory)") }
        guard let record = load(name) else { fail("the record \(path(name, ".json")) is unreadable") }
        return record
    }

    static func allRecords() -> [VMRecord] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted().compactMap { load(String($0.dropLast(5))) }
    }

    static func save(_ record: VMRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: URL(fileURLWithPath: path(record.name, ".json")), options: .atomic)
    }

    /// The status the VM process reported, if the exit file belongs to this record's process.
    static func reportedStatus(_ record: VMRecord) -> Int32? {
        guard let data = FileManager.default.contents(atPath: path(record.name, ".exit")),
              let exit = try? JSONDecoder().decode(VMExitRecord.self, from: data),
              exit.pid == record.pid, exit.startTicks == record.startTicks else { return nil }
        return exit.status
    }

    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot), or nil.
    static func startTicks(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come fields 3, 4, …: field 22 is the 20th.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    static var bootID: String {
        ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens a pidfd for `pid` and checks it against the start identity; the pidfd on success.
    /// `nil` with `recycled` true when the pid exists but is another process.
    static func verifiedPidfd(pid: Int32, startTicks recordedTicks: UInt64, bootID recordedBoot: String) -> (pidfd: Int32?, recycled: Bool) {
        guard pid > 0 else { return (nil, false) }
        let pidfd = s390pv_pidfd_open(pid, 0)
        if pidfd < 0 {
            let error = s390pv_errno()
            if error == ESRCH { return (nil, false) }
            fail("pidfd_open(\(pid)): \(String(cString: strerror(error))) (pidfds need Linux 5.3 or later)", status: ExitStatus.guestFailure)
        }
        let ticks = startTicks(of: pid)
        guard ticks == recordedTicks, recordedBoot == bootID else { close(pidfd); return (nil, ticks != nil) }
        // Still unreaped now, so the pid could not have been reused between open and read.
        guard s390pv_pidfd_send_signal(pidfd, 0, 0) == 0 else { close(pidfd); return (nil, false) }
        return (pidfd, false)
    }

    /// The record's state, verified through a pidfd now.
    static func state(of record: VMRecord) -> VMState {
        let (pidfd, recycled) = verifiedPidfd(pid: record.pid, startTicks: record.startTicks, bootID: record.bootID)
        guard let pidfd else {
            if let status = reportedStatus(record) { return .exited(status: status) }
            return .gone(reason: recycled ? "pid \(record.pid) now belongs to another process" : "process \(record.pid) is dead and reported no exit status")
        }
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        if poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLIN) != 0 {
            // Exited, not yet reaped by its new parent.
            close(pidfd)
            if let status = reportedStatus(record) { return .exited(status: status) }
            return .gone(reason: "process \(record.pid) ended without reporting an exit status")
        }
        return .running(pidfd: pidfd)
    }

    /// Blocks until the process behind `pidfd` has exited (POLLIN on the pidfd).
    static func awaitExit(_ pidfd: Int32, timeoutMilliseconds: Int32 = -1) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        while true {
            let result = poll(&entry, 1, timeoutMilliseconds)
            if result < 0 && errno == EINTR { continue }
            return result == 1
        }
    }

    /// "1h02m03s", "4m05s", "12.3s".
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole >= 3600 { return String(format: "%dh%02dm%02ds", whole / 3600, whole / 60 % 60, whole % 60) }
        if whole >= 60 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%.1fs", seconds)
    }

    /// Signal names (with or without SIG) and numbers 1 to 64.
    static func signalNumber(_ text: String) -> Int32? {
        if let number = Int32(text) { return (1...64).contains(number) ? number : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        let names: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
            "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
            "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
            "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
            "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "SYS": SIGSYS,
        ]
        return names[name]
    }
}
