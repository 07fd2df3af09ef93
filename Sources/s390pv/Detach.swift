// `run --detach`: the VM in its own process (issue 6 item 2). The launcher re-executes this
// executable with the same `run` arguments minus --detach, in a new session (setsid), stdin
// /dev/null, stdout and stderr to the VM's console log, and records the process in the state
// directory (Supervise.swift) before it returns. The VM process knows it is detached from
// S390PV_DETACHED_EXIT, the file it writes its exit status to when it ends.
import ArgumentParser
import CSyscalls
import Foundation

struct DetachOptions: ParsableArguments {
    @Flag(help: "Start the VM in its own process and return, printing its name and pid; --name (1-64 of A-Za-z0-9._-) names it for ps, kill, wait, console and rm.")
    var detach = false

    /// Called first in `run`: launches and exits with --detach; in a detached VM process,
    /// arranges for the exit status to be recorded.
    func start(name: String, image: String, memoryBytes: UInt64) {
        if detach { launch(name: name, image: image, memoryBytes: memoryBytes) }
        if let exitPath = ProcessInfo.processInfo.environment[DetachOptions.exitVariable] {
            unsetenv(DetachOptions.exitVariable)
            DetachOptions.isDetachedVMProcess = true
            recordExitStatus(to: exitPath)
        }
    }

    static let exitVariable = "S390PV_DETACHED_EXIT"
    /// True in the process `run --detach` started (set by `start`, first thing in `run`).
    nonisolated(unsafe) static var isDetachedVMProcess = false
}

/// Starts the detached VM process, records it, prints "NAME PID" and exits 0.
private func launch(name: String, image: String, memoryBytes: UInt64) -> Never {
    Supervision.checkName(name)
    guard FileManager.default.isReadableFile(atPath: image) else { fail("\(image): no such readable file") }
    Supervision.createStateDirectory()
    // One launcher at a time decides about a name.
    let lock = open(Supervision.path("", ".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if lock >= 0 { flock(lock, LOCK_EX) }
    if let old = Supervision.load(name), case .running(let pidfd) = Supervision.state(of: old) {
        close(pidfd)
        fail("VM '\(name)' is still running (pid \(old.pid)); pick another --name or stop it first")
    }
    let logPath = Supervision.path(name, ".log"), exitPath = Supervision.path(name, ".exit")
    unlink(exitPath)
    let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard log >= 0 else { fail("cannot create the console log \(logPath): \(String(cString: strerror(errno)))") }

    var arguments = Array(CommandLine.arguments.dropFirst())
    if let index = arguments.firstIndex(of: "--detach") { arguments.remove(at: index) }
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var environment = ProcessInfo.processInfo.environment
    environment[DetachOptions.exitVariable] = exitPath

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, log, 1)
    posix_spawn_file_actions_adddup2(&actions, log, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    // A new session (POSIX_SPAWN_SETSID, glibc 2.26) survives the terminal; the VM starts with
    // no blocked signals and default dispositions for the ones that end it.
    var defaults = sigset_t(), empty = sigset_t()
    sigemptyset(&empty)
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setflags(&attributes, Int16(0x80 /* POSIX_SPAWN_SETSID */ | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    posix_spawn_file_actions_destroy(&actions)
    posix_spawnattr_destroy(&attributes)
    close(log)
    guard result == 0 else { fail("cannot start \(executable): \(String(cString: strerror(result)))", status: ExitStatus.guestFailure) }

    // The child is ours and unreaped until we exit, so its pid cannot be reused meanwhile.
    let pidfd = s390pv_pidfd_open(pid, 0)
    guard pidfd >= 0 else {
        kill(pid, SIGKILL)
        fail("pidfd_open(\(pid)): \(String(cString: strerror(s390pv_errno()))) (detached VMs need pidfds, Linux 5.3 or later)", status: ExitStatus.guestFailure)
    }
    guard let ticks = Supervision.startTicks(of: pid) else {
        _ = s390pv_pidfd_send_signal(pidfd, SIGKILL, 0)
        fail("cannot read /proc/\(pid)/stat", status: ExitStatus.guestFailure)
    }
    let record = VMRecord(name: name, pid: pid, startTicks: ticks, bootID: Supervision.bootID, image: image,
                          memoryBytes: memoryBytes, consoleLog: logPath,
                          startedAt: Date().timeIntervalSince1970, arguments: arguments)
    do { try Supervision.save(record) } catch {
        _ = s390pv_pidfd_send_signal(pidfd, SIGKILL, 0)
        fail("cannot write the record \(Supervision.path(name, ".json")): \(error.localizedDescription)", status: ExitStatus.guestFailure)
    }
    close(pidfd)
    print("\(name) \(pid)")
    exit(ExitStatus.success)
}

/// What the exit handler writes: prepared before, so that exiting only formats the status.
nonisolated(unsafe) private var exitFilePath = ""
nonisolated(unsafe) private var exitIdentity: (pid: Int32, ticks: UInt64) = (0, 0)

/// In a detached VM process: on_exit(3) writes the status passed to exit() to `path`. The fatal
/// signal handlers are installed now, so a SIGTERM that comes while the machine is still being
/// built also ends the run through the normal path (status 128+signal).
private func recordExitStatus(to path: String) {
    s390pv_install_fatal_signal_handlers()
    exitFilePath = path
    exitIdentity = (getpid(), Supervision.startTicks(of: getpid()) ?? 0)
    on_exit({ status, _ in
        let record = VMExitRecord(pid: exitIdentity.pid, startTicks: exitIdentity.ticks, status: status,
                                  endedAt: Date().timeIntervalSince1970)
        guard let data = try? JSONEncoder().encode(record) else { return }
        let temporary = exitFilePath + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        rename(temporary, exitFilePath)
    }, nil)
}
