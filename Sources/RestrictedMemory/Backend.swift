// Host objects that hold guest RAM, their detection, and the fallback between them.
import CSyscalls
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The host object behind each backing file of a `GuestMemfd`.
///
/// - `memfd`: memfd_create (shmem). Always present on Linux ≥ 3.17; the default.
/// - `memfdSecret`: memfd_secret(2): pages are removed from the host kernel's direct map. It has
///   no fallocate and MADV_DONTNEED fails, so a PUNCH_HOLE there means: a whole backing file in the
///   range is *replaced* by a fresh memfd_secret file (remapped at the same addresses; the old
///   file's pages are zeroed and freed by the kernel when its last reference goes), and a partial
///   file range has its resident pages zeroed with memset (they stay resident). Reads after
///   either see zeros, as after a real punch.
/// - `kvmGuestMemfd`: host KVM_CREATE_GUEST_MEMFD with GUEST_MEMFD_FLAG_MMAP|INIT_SHARED on a
///   throwaway type-0 VM (the file keeps that VM alive), Linux 6.18 or later.
/// - `automatic`: `memfd`.
///
/// A requested backend that is unavailable falls back to `memfd` with one log line.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case automatic, memfd, memfdSecret, kvmGuestMemfd

    public var description: String { rawValue }

    /// What this kernel offers (probed once per process; `refresh` probes again).
    public static func detect(refresh: Bool = false) -> BackendSupport {
        if refresh {
            let fresh = BackendSupport.probe()
            detected.withLock { $0 = fresh }
            return fresh
        }
        return detected.withLock { cached in
            if let cached { return cached }
            let fresh = BackendSupport.probe()
            cached = fresh
            return fresh
        }
    }

    private static let detected = Mutex<BackendSupport?>(nil)
}

public enum BackendAvailability: Sendable, Equatable, CustomStringConvertible {
    case available(String)
    case unavailable(String)

    public var isAvailable: Bool { if case .available = self { true } else { false } }
    public var description: String {
        switch self {
        case .available(let detail): "available (\(detail))"
        case .unavailable(let reason): "unavailable (\(reason))"
        }
    }
}

/// Result of `Backend.detect()`.
public struct BackendSupport: Sendable, CustomStringConvertible {
    public var memfd: BackendAvailability
    public var memfdSecret: BackendAvailability
    public var kvmGuestMemfd: BackendAvailability

    public init(memfd: BackendAvailability, memfdSecret: BackendAvailability, kvmGuestMemfd: BackendAvailability) {
        self.memfd = memfd
        self.memfdSecret = memfdSecret
        self.kvmGuestMemfd = kvmGuestMemfd
    }

    public func availability(of backend: Backend) -> BackendAvailability {
        switch backend {
        case .automatic, .memfd: memfd
        case .memfdSecret: memfdSecret
        case .kvmGuestMemfd: kvmGuestMemfd
        }
    }

    public var description: String {
        "memfd: \(memfd); memfdSecret: \(memfdSecret); kvmGuestMemfd: \(kvmGuestMemfd)"
    }

    static func probe() -> BackendSupport {
        BackendSupport(memfd: probeMemfd(), memfdSecret: probeSecret(), kvmGuestMemfd: probeKVM())
    }

    private static func describe(_ call: String, _ code: Int32) -> String {
        "\(call): \(MemoryErrno(rawValue: code)) \(String(cString: strerror(code)))"
    }

    private static func probeMemfd() -> BackendAvailability {
        let fd = s390pv_memfd_create("s390pv-probe", S390PV_MFD_CLOEXEC)
        guard fd >= 0 else { return .unavailable(describe("memfd_create", errno)) }
        close(fd)
        return .available("memfd_create")
    }

    private static func probeSecret() -> BackendAvailability {
        let fd = s390pv_memfd_secret(UInt32(O_CLOEXEC))
        guard fd >= 0 else {
            let code = errno
            return .unavailable(describe("memfd_secret", code)
                                + (code == ENOSYS ? " (kernel < 5.14, secretmem.enable=0, or no direct-map support)" : ""))
        }
        close(fd)
        let limit = s390pv_memlock_limit()
        let memlock = limit == .max ? "unlimited" : "\(limit) bytes"
        return .available("RLIMIT_MEMLOCK \(memlock)\(geteuid() == 0 ? ", root" : "")")
    }

    private static func probeKVM() -> BackendAvailability {
        let kvm = s390pv_host_kvm_open()
        guard kvm >= 0 else { return .unavailable(describe("open /dev/kvm", errno)) }
        defer { close(kvm) }
        guard s390pv_host_kvm_check_extension(kvm, S390PV_KVM_CAP_GUEST_MEMFD) > 0 else {
            return .unavailable("KVM_CAP_GUEST_MEMFD is 0 (kernel < 6.8)")
        }
        let flags = s390pv_host_kvm_check_extension(kvm, S390PV_KVM_CAP_GUEST_MEMFD_FLAGS)
        let wanted = S390PV_GUEST_MEMFD_FLAG_MMAP | S390PV_GUEST_MEMFD_FLAG_INIT_SHARED
        guard flags > 0, UInt64(flags) & wanted == wanted else {
            return .unavailable("KVM_CAP_GUEST_MEMFD_FLAGS is \(max(flags, 0)), MMAP|INIT_SHARED (3) needed (kernel < 6.18)")
        }
        do {
            let files = try HostFile.createGuestMemfds(lengths: [UInt64(GuestMemfd.pageSize)])
            for fd in files { close(fd) }
        } catch {
            return .unavailable("KVM_CREATE_GUEST_MEMFD(MMAP|INIT_SHARED): \(error)")
        }
        return .available("KVM_CAP_GUEST_MEMFD_FLAGS \(flags)")
    }
}

/// One backing file: [fileOffset, fileOffset + length) of its `GuestMemfd`.
final class HostFile: @unchecked Sendable {
    /// `.memfd`, `.memfdSecret` or `.kvmGuestMemfd` (never `.automatic`).
    let kind: Backend
    let fileOffset: UInt64
    let length: UInt64
    /// Guarded by `lock`; replaced only by a memfd_secret punch of the whole file.
    private var descriptor: Int32
    /// Held across every operation on the descriptor (punches on one file serialise, as in Linux).
    let lock = Mutex<Void>(())

    init(kind: Backend, fileOffset: UInt64, length: UInt64, fd: Int32) {
        self.kind = kind
        self.fileOffset = fileOffset
        self.length = length
        descriptor = fd
        BackingAccounting.withLive { $0[ObjectIdentifier(self)] = BackingAccounting.Weak(self) }
    }

    deinit {
        BackingAccounting.withLive { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
        close(descriptor)
    }

    var range: Range<UInt64> { fileOffset..<fileOffset + length }

    /// The descriptor; call only while holding `lock` (or while no other thread can replace it).
    var fd: Int32 { descriptor }

    func replaceDescriptor(with fd: Int32) {
        let old = descriptor
        descriptor = fd
        close(old)
    }

    /// The parts of `range` that may hold non-zero bytes in `files`: their allocated extents
    /// (SEEK_DATA/SEEK_HOLE); memfd_secret, which has no extent queries, reports everything.
    static func populatedRanges(of files: [HostFile], in range: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for file in files where file.range.overlaps(range) {
            let part = file.range.clamped(to: range)
            guard file.kind != .memfdSecret else { result.append(part); continue }
            file.lock.withLock { _ in result += populatedRangesLocked(of: file, in: part) }
        }
        return result
    }

    /// The populated parts of `part` (inside `file`), for a caller holding `file.lock`.
    static func populatedRangesLocked(of file: HostFile, in part: Range<UInt64>) -> [Range<UInt64>] {
        guard file.kind != .memfdSecret else { return [part] }
        // Linux's SEEK_DATA and SEEK_HOLE (GNU extensions Glibc's module map leaves out).
        let seekData: Int32 = 3, seekHole: Int32 = 4
        var result: [Range<UInt64>] = []
        var offset = Int(part.lowerBound - file.fileOffset)
        let end = Int(part.upperBound - file.fileOffset)
        while offset < end {
            let data = Glibc.lseek(file.fd, offset, seekData)
            if data < 0 {
                if errno != ENXIO { result.append(UInt64(offset) + file.fileOffset..<part.upperBound) }
                break
            }
            guard data < end else { break }
            var hole = Glibc.lseek(file.fd, data, seekHole)
            if hole < 0 || hole > end { hole = end }
            let start = UInt64(data) & ~(GuestMemfd.pageSize - 1)
            let stop = (UInt64(hole) + GuestMemfd.pageSize - 1) & ~(GuestMemfd.pageSize - 1)
            result.append(start + file.fileOffset..<min(stop, UInt64(end)) + file.fileOffset)
            offset = hole
        }
        return result
    }

    // MARK: Creation

    static func createMemfd(name: String, length: UInt64) throws(MemoryErrno) -> Int32 {
        try sized(s390pv_memfd_create(name, S390PV_MFD_CLOEXEC), length)
    }

    static func createSecret(length: UInt64) throws(MemoryErrno) -> Int32 {
        try sized(s390pv_memfd_secret(UInt32(O_CLOEXEC)), length)
    }

    /// A newly created descriptor (or -1 with errno) given its length; closed again on failure.
    private static func sized(_ fd: Int32, _ length: UInt64) throws(MemoryErrno) -> Int32 {
        guard fd >= 0 else { throw .host }
        guard ftruncate(fd, off_t(length)) == 0 else {
            let error = MemoryErrno.host
            close(fd)
            throw error
        }
        return fd
    }

    /// Host guest_memfd files (MMAP|INIT_SHARED) of the given lengths on one throwaway VM.
    static func createGuestMemfds(lengths: [UInt64]) throws(MemoryErrno) -> [Int32] {
        let kvm = s390pv_host_kvm_open()
        guard kvm >= 0 else { throw .host }
        defer { close(kvm) }
        let vm = s390pv_host_kvm_create_vm(kvm, 0)
        guard vm >= 0 else { throw .host }
        defer { close(vm) }   // Each guest_memfd file holds its own reference on the VM.
        var files: [Int32] = []
        for length in lengths {
            let fd = s390pv_host_kvm_create_guest_memfd(vm, length,
                                                   S390PV_GUEST_MEMFD_FLAG_MMAP | S390PV_GUEST_MEMFD_FLAG_INIT_SHARED)
            guard fd >= 0 else {
                let error = MemoryErrno.host
                for file in files { close(file) }
                throw error
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            files.append(fd)
        }
        return files
    }
}

/// The host backing files alive in this process, whoever holds them (guest_memfds, fresh files
/// not yet switched to, detached memory awaiting teardown): leak figures for harnesses.
public enum BackingAccounting {
    struct Weak: @unchecked Sendable {
        weak var file: HostFile?
        init(_ file: HostFile) { self.file = file }
    }
    nonisolated(unsafe) private static var live: [ObjectIdentifier: Weak] = [:]
    /// A pthread mutex, which ThreadSanitizer sees (Synchronization.Mutex's futex it does not):
    /// files come and go on every thread that creates or drops guest memory.
    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        return mutex
    }()

    static func withLive<T>(_ body: (inout [ObjectIdentifier: Weak]) -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&live)
    }

    /// Backing files alive now.
    public static var liveFiles: Int { withLive { $0.count } }

    /// Bytes of the live backing files that may hold data (their allocated extents; memfd_secret
    /// counts whole files).
    public static var populatedBytes: UInt64 {
        let files = withLive { $0.values.compactMap(\.file) }
        return files.reduce(0) { total, file in
            total + HostFile.populatedRanges(of: [file], in: file.range).reduce(0) { $0 + UInt64($1.count) }
        }
    }
}
