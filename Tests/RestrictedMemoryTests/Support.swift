// Helpers shared by the RestrictedMemory tests.
import Foundation
import Glibc
import RestrictedMemory
import Synchronization
import Testing

let KiB: UInt64 = 1 << 10
let MiB: UInt64 = 1 << 20
let page = GuestMemfd.pageSize

/// Every backend that holds pages; an unavailable one falls back to memfd in the tests that use it.
let concreteBackends: [Backend] = [.memfd, .memfdSecret, .kvmGuestMemfd]

/// Collects log lines instead of writing them to standard error.
final class LogCollector: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    var logger: @Sendable (String) -> Void { { line in self.storage.withLock { $0.append(line) } } }
}

/// Options with a collecting logger and a per-test memfd name.
func options(_ backend: Backend = .memfd, fileSize: UInt64 = GuestMemfd.defaultFileSize,
             name: String = "s390pv-rmtest", log: LogCollector = LogCollector(),
             unavailable: Set<Backend> = []) -> GuestMemfd.Options {
    GuestMemfd.Options(backend: backend, fileSize: fileSize, name: name, logger: log.logger, unavailableBackends: unavailable)
}

/// Whether `memfd` really runs on `backend` (false after a fallback on this machine).
func runsOn(_ memfd: GuestMemfd, _ backend: Backend) -> Bool {
    memfd.backend == backend
}

/// A GuestMemfd mapped at guest address 0 of its own address space.
struct Mapped {
    let memfd: GuestMemfd
    let space: GuestAddressSpace

    init(size: UInt64, backend: Backend = .memfd, fileSize: UInt64 = GuestMemfd.defaultFileSize,
         name: String = "s390pv-rmtest") throws {
        memfd = try GuestMemfd(size: size, flags: 0, options: options(backend, fileSize: fileSize, name: name))
        space = try GuestAddressSpace(maxBytes: size)
        try space.map(memfd, fileOffset: 0, length: size, at: 0)
    }

    func store(_ value: UInt8, at offset: UInt64) {
        space.base.storeBytes(of: value, toByteOffset: Int(offset), as: UInt8.self)
    }

    func load(_ offset: UInt64) -> UInt8 {
        space.base.load(fromByteOffset: Int(offset), as: UInt8.self)
    }

    /// Writes `value` into one byte of every page of [offset, offset + length).
    func touch(_ offset: UInt64, _ length: UInt64, value: UInt8 = 0xA5) {
        for address in stride(from: offset, to: offset + length, by: Int(page)) { store(value, at: address) }
    }
}

/// Records notifier callbacks in order; optional hooks run inside the callbacks.
final class EventLog: GuestMemfdNotifier {
    private let storage = Mutex<[String]>([])
    let onStart: (@Sendable (Range<UInt64>) -> Void)?
    let onEnd: (@Sendable (Range<UInt64>) -> Void)?

    init(onStart: (@Sendable (Range<UInt64>) -> Void)? = nil, onEnd: (@Sendable (Range<UInt64>) -> Void)? = nil) {
        self.onStart = onStart
        self.onEnd = onEnd
    }

    var events: [String] { storage.withLock { $0 } }

    static func text(_ kind: String, _ range: Range<UInt64>) -> String {
        "\(kind) 0x\(String(range.lowerBound, radix: 16))-0x\(String(range.upperBound, radix: 16))"
    }

    func invalidateStart(_ range: Range<UInt64>) {
        onStart?(range)
        storage.withLock { $0.append(Self.text("start", range)) }
    }

    func invalidateEnd(_ range: Range<UInt64>) {
        onEnd?(range)
        storage.withLock { $0.append(Self.text("end", range)) }
    }

    func error(_ range: Range<UInt64>) { storage.withLock { $0.append(Self.text("error", range)) } }
}

/// Targets of this process's descriptors that name restricted-memory objects: memfds called
/// `name`, memfd_secret files, guest_memfd files and KVM VMs.
func restrictedDescriptors(name: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.compactMap { entry in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)") else { return nil }
        let ours = target.hasPrefix("/memfd:\(name)") || target.hasPrefix("/memfd:s390pv-guest-memfd-private")
            || target.contains("secretmem") || target.contains("kvm-gmem") || target.contains("kvm-vm")
        return ours ? target : nil
    }
}

/// Lines of /proc/self/maps that map restricted-memory objects (same names as above).
func restrictedMappings(name: String) -> [String] {
    let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
    return maps.split(separator: "\n").map(String.init).filter { line in
        line.contains("memfd:\(name)") || line.contains("s390pv-guest-memfd-private")
            || line.contains("secretmem") || line.contains("kvm-gmem")
    }
}

/// The /proc/self/maps lines that overlap [start, start + length).
func mappings(overlapping start: UnsafeMutableRawPointer, length: UInt64) -> [String] {
    let low = UInt(bitPattern: start), high = low + UInt(length)
    let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
    return maps.split(separator: "\n").map(String.init).filter { line in
        let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
        return bounds.count == 2 && bounds[0] < high && bounds[1] > low
    }
}

/// Runs `body` in a forked child and returns the signal that killed it (nil if it exited).
/// The child does only a memory access and _exit, which is safe after fork in a threaded process.
func signalOfChild(_ body: () -> Void) -> Int32? {
    let pid = fork()
    if pid == 0 {
        signal(SIGBUS, SIG_DFL)      // no crash report from the Swift runtime's handler
        signal(SIGSEGV, SIG_DFL)
        body()
        _exit(0)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7F
    return signal != 0 && signal != 0x7F ? signal : nil
}
