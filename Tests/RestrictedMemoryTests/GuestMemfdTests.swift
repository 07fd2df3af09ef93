// GuestMemfd: the errno table of spec §1.4 (guest_memfd on Linux 6.18), the v10 memfd_restricted
// rules of §1.1, notifiers, the memory-failure hook, residency and backing-file splitting.
import Foundation
import Glibc
import RestrictedMemory
import Synchronization
import Testing

@Suite("Restricted memory", .serialized)
struct RestrictedMemorySuite {

    // MARK: Creation (§1.3, §1.4 rows "create …")

    @Test("KVM_CREATE_GUEST_MEMFD: size 0 or not page aligned, unknown flags → EINVAL; flags 0 and MMAP|INIT_SHARED work")
    func creation() throws {
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: 4097, flags: 0, options: options()) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: 0, flags: 0, options: options()) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: 1 << 63, flags: 0, options: options()) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: MiB, flags: 1 << 2, options: options()) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: MiB, flags: 1 << 63, options: options()) }
        let plain = try GuestMemfd(size: MiB, flags: 0, options: options())
        #expect(plain.size == MiB && plain.flags == 0 && plain.semantics == .guestMemfd)
        let mappable = try GuestMemfd(size: MiB, flags: GuestMemfd.flagMmap | GuestMemfd.flagInitShared, options: options())
        #expect(mappable.flags == 3)
        // The backing-file size is an internal option but must be page aligned and nonzero.
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: MiB, flags: 0, options: options(fileSize: 0)) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd(size: MiB, flags: 0, options: options(fileSize: 100)) }
    }

    @Test("memfd_restricted (v10): flags ≠ 0 → EINVAL; ftruncate sets the size once (EPERM after), page aligned (EINVAL)")
    func memfdRestricted() throws {
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd.memfdRestricted(flags: 1, options: options()) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestMemfd.memfdRestricted(flags: 0x8000_0000, options: options()) }
        let file = try GuestMemfd.memfdRestricted(flags: 0, options: options(fileSize: 4 * page))
        #expect(file.semantics == .restrictedV10 && file.size == 0 && file.backingFileCount == 0)
        #expect(throws: MemoryErrno.EINVAL) { try file.ftruncate(-1) }
        #expect(throws: MemoryErrno.EINVAL) { try file.ftruncate(4097) }
        try file.ftruncate(0)                       // size stays 0, still settable
        #expect(file.size == 0)
        try file.ftruncate(Int64(8 * page))
        #expect(file.size == 8 * page)
        #expect(file.backingFileCount == 2)
        #expect(throws: MemoryErrno.EPERM) { try file.ftruncate(Int64(16 * page)) }
        #expect(throws: MemoryErrno.EPERM) { try file.ftruncate(Int64(8 * page)) }
        #expect(throws: MemoryErrno.EPERM) { try file.ftruncate(0) }
        // No read, write or mmap in v10 either.
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.read(count: 1) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.write([1]) }
        #expect(throws: MemoryErrno.ESPIPE) { _ = try file.lseek(offset: 0, whence: SEEK_SET) }
        #expect(throws: MemoryErrno.ENODEV) { _ = try file.mmap(length: page, offset: 0, shared: true) }
        // fallocate goes to shmem: PUNCH_HOLE needs page alignment, ZERO_RANGE is not supported,
        // mode 0 allocates inside the file.
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: 100) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: [.zeroRange, .keepSize], offset: 0, length: Int64(page)) }
        try file.fallocate(mode: [], offset: 0, length: 100)
        try file.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: Int64(page))
    }

    // MARK: File operations (§1.4)

    @Test("read/write → EINVAL, pread/lseek → ESPIPE, ftruncate → EINVAL, mmap without MMAP → ENODEV",
          arguments: concreteBackends)
    func fileOperations(_ backend: Backend) throws {
        let file = try GuestMemfd(size: 8 * page, flags: 0, options: options(backend))
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.read(count: 16) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.read(count: 0) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.write([1, 2, 3]) }
        #expect(throws: MemoryErrno.ESPIPE) { _ = try file.pread(count: 1, offset: 0) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.pread(count: 1, offset: -1) }
        #expect(throws: MemoryErrno.ESPIPE) { _ = try file.pwrite([1], offset: 0) }
        #expect(throws: MemoryErrno.ESPIPE) { _ = try file.lseek(offset: 0, whence: SEEK_END) }
        #expect(throws: MemoryErrno.ESPIPE) { _ = try file.lseek(offset: 0, whence: SEEK_CUR) }
        #expect(throws: MemoryErrno.EINVAL) { try file.ftruncate(Int64(8 * page)) }
        #expect(throws: MemoryErrno.EINVAL) { try file.ftruncate(Int64(16 * page)) }
        #expect(throws: MemoryErrno.EINVAL) { try file.ftruncate(-1) }
        #expect(throws: MemoryErrno.ENODEV) { _ = try file.mmap(length: page, offset: 0, shared: true) }
        #expect(throws: MemoryErrno.ENODEV) { _ = try file.mmap(length: page, offset: 0, shared: false) }
        #expect(file.size == 8 * page)
    }

    @Test("fallocate: the §1.4 rows and vfs_fallocate's checks", arguments: concreteBackends)
    func fallocate(_ backend: Backend) throws {
        let file = try GuestMemfd(size: 8 * page, flags: 0, options: options(backend))
        let onePage = Int64(page), whole = Int64(8 * page)
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: [], offset: 0, length: onePage) }
        try file.fallocate(mode: .keepSize, offset: 0, length: whole)
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: .keepSize, offset: Int64(4 * page), length: Int64(8 * page)) }
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: .keepSize, offset: 0, length: 100) }
        try file.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: onePage)
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: 100) }
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: [.punchHole, .keepSize], offset: 100, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: [.zeroRange, .keepSize], offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: .collapseRange, offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: .insertRange, offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: .punchHole, offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: [.unshareRange, .keepSize], offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: [.keepSize, .noHideStale], offset: 0, length: onePage) }
        #expect(throws: MemoryErrno.EOPNOTSUPP) { try file.fallocate(mode: FallocateMode(rawValue: 0x1001), offset: 0, length: onePage) }
        // vfs_fallocate checks come first.
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: 0) }
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: [], offset: 0, length: 0) }
        #expect(throws: MemoryErrno.EINVAL) { try file.fallocate(mode: .keepSize, offset: -4096, length: onePage) }
        #expect(throws: MemoryErrno.EFBIG) { try file.fallocate(mode: .keepSize, offset: Int64.max - 4095, length: onePage) }
        // Punching past the end succeeds (kvm_gmem_punch_hole does not check the size).
        try file.fallocate(mode: [.punchHole, .keepSize], offset: Int64(4 * page), length: Int64(64 * page))
        try file.fallocate(mode: [.punchHole, .keepSize], offset: Int64(64 * page), length: onePage)
    }

    // MARK: Userspace mmap (§1.3 "mmap", §1.4 last rows)

    @Test("MMAP|INIT_SHARED: MAP_PRIVATE → EINVAL; MAP_SHARED works and shows the same pages as the model's mapping",
          arguments: concreteBackends)
    func userMapping(_ backend: Backend) throws {
        let size = 4 * page
        let file = try GuestMemfd(size: size, flags: GuestMemfd.flagMmap | GuestMemfd.flagInitShared, options: options(backend))
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.mmap(length: page, offset: 0, shared: false) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.mmap(length: page, offset: 100, shared: true) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.mmap(length: 0, offset: 0, shared: true) }
        let space = try GuestAddressSpace(maxBytes: size)
        try space.map(file, fileOffset: 0, length: size, at: 0)
        let user = try file.mmap(length: 2 * page, offset: Int64(page), shared: true)
        #expect(file.mappingCount == 2)
        user.storeBytes(of: 0x11, toByteOffset: 5, as: UInt8.self)
        #expect(space.base.load(fromByteOffset: Int(page) + 5, as: UInt8.self) == 0x11)
        space.base.storeBytes(of: 0x22, toByteOffset: Int(2 * page), as: UInt8.self)
        #expect(user.load(fromByteOffset: Int(page), as: UInt8.self) == 0x22)
        #expect(throws: MemoryErrno.EINVAL) { _ = try file.read(count: 1) }
        // A punch reaches the user mapping too.
        try file.fallocate(mode: [.punchHole, .keepSize], offset: Int64(page), length: Int64(page))
        #expect(user.load(fromByteOffset: 5, as: UInt8.self) == 0)
        try file.munmap(user, length: 2 * page)
        #expect(file.mappingCount == 1)
    }

    @Test("MMAP without INIT_SHARED: mmap succeeds, a touch raises SIGBUS; beyond the end of the file too")
    func sigbus() throws {
        let privateFile = try GuestMemfd(size: 2 * page, flags: GuestMemfd.flagMmap, options: options())
        let mapping = try privateFile.mmap(length: page, offset: 0, shared: true)
        #expect(signalOfChild { mapping.storeBytes(of: 1, as: UInt8.self) } == SIGBUS)
        try privateFile.munmap(mapping, length: page)

        let shared = try GuestMemfd(size: 2 * page, flags: GuestMemfd.flagMmap | GuestMemfd.flagInitShared, options: options())
        let long = try shared.mmap(length: 4 * page, offset: 0, shared: true)
        #expect(signalOfChild { long.storeBytes(of: 1, toByteOffset: Int(page), as: UInt8.self) } == nil)
        #expect(signalOfChild { long.storeBytes(of: 1, toByteOffset: Int(3 * page), as: UInt8.self) } == SIGBUS)
        try shared.munmap(long, length: 4 * page)
    }

    // MARK: Notifiers and punch (§1.1 fallocate, §1.5)

    @Test("PUNCH_HOLE: invalidateStart while the pages are still there, invalidateEnd after they are gone, zeros afterwards",
          arguments: concreteBackends)
    func notifierOrder(_ backend: Backend) throws {
        let size = 4 * MiB
        let mapped = try Mapped(size: size, backend: backend, fileSize: MiB)
        mapped.touch(0, size)
        let hole = MiB..<(2 * MiB)     // one whole backing file: a real release on every backend
        let seenAtStart = Mutex<(UInt8, UInt64)>((0, 0)), seenAtEnd = Mutex<UInt64>(0)
        let log = EventLog(onStart: { _ in seenAtStart.withLock { $0 = (mapped.load(MiB), mapped.memfd.residentBytes) } },
                           onEnd: { _ in seenAtEnd.withLock { $0 = mapped.memfd.residentBytes } })
        let registration = mapped.memfd.register(notifier: log)
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(hole.lowerBound), length: Int64(hole.count))
        #expect(log.events == [EventLog.text("start", hole), EventLog.text("end", hole)])
        let (byte, residentAtStart) = seenAtStart.withLock { $0 }
        #expect(byte == 0xA5, "the pages were released before invalidateStart")
        #expect(residentAtStart >= size)
        #expect(seenAtEnd.withLock { $0 } == size - MiB, "invalidateEnd ran before the pages were released")
        #expect(mapped.load(MiB) == 0 && mapped.load(2 * MiB - page) == 0)
        #expect(mapped.load(MiB - page) == 0xA5 && mapped.load(2 * MiB) == 0xA5)
        // Unregistered notifiers hear nothing.
        mapped.memfd.unregister(registration)
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: Int64(page))
        #expect(log.events.count == 2)
        // Failed punches do not notify; a punch entirely past the end is empty and does not either.
        #expect(throws: MemoryErrno.EINVAL) { try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: 100) }
    }

    @Test("a punch across backing-file boundaries releases exactly the range, in every file it touches", arguments: concreteBackends)
    func punchAcrossFiles(_ backend: Backend) throws {
        let size = 8 * MiB
        let mapped = try Mapped(size: size, backend: backend, fileSize: 2 * MiB)
        #expect(mapped.memfd.backingFileCount == 4)
        #expect(mapped.memfd.backingFileRanges == [0..<2 * MiB, 2 * MiB..<4 * MiB, 4 * MiB..<6 * MiB, 6 * MiB..<8 * MiB])
        mapped.touch(0, size)
        let log = EventLog()
        mapped.memfd.register(notifier: log)
        let start = 2 * MiB - 8 * KiB, end = 4 * MiB + 8 * KiB   // files 0, 1 and 2
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(start), length: Int64(end - start))
        #expect(log.events == [EventLog.text("start", start..<end), EventLog.text("end", start..<end)])
        let resident = mapped.memfd.residentBytes     // before reading: a read fault would allocate again
        if runsOn(mapped.memfd, .memfdSecret) {
            // File 1 is replaced (released); the 8 KiB slivers of files 0 and 2 are zeroed in place.
            #expect(resident == size - 2 * MiB, "\(resident) bytes resident")
        } else {
            #expect(resident == size - (end - start), "\(resident) bytes resident")
        }
        for offset in stride(from: start, to: end, by: Int(page)) {
            #expect(mapped.load(offset) == 0, "page 0x\(String(offset, radix: 16)) still holds data")
        }
        #expect(mapped.load(start - page) == 0xA5 && mapped.load(end) == 0xA5)
        // The mapping stays usable: touching allocates again.
        mapped.touch(start, end - start, value: 7)
        #expect(mapped.load(3 * MiB) == 7)
    }

    @Test("releaseAll frees every backing file with two workers", arguments: concreteBackends)
    func releaseAll(_ backend: Backend) throws {
        let size = 8 * MiB
        let mapped = try Mapped(size: size, backend: backend, fileSize: 2 * MiB)
        mapped.touch(0, size)
        let log = EventLog()
        mapped.memfd.register(notifier: log)
        try mapped.memfd.releaseAll(workers: 2)
        #expect(log.events == [EventLog.text("start", 0..<size), EventLog.text("end", 0..<size)])
        #expect(mapped.memfd.residentBytes == 0)
        #expect(mapped.load(0) == 0 && mapped.load(size - 1) == 0)
    }

    // MARK: Memory failure (§1.1 memory-failure callback, §1.3 "Memory failure")

    @Test("injectMemoryFailure marks whole pages, calls error(range), and a punch clears the mark")
    func memoryFailure() throws {
        let mapped = try Mapped(size: 16 * page)
        let log = EventLog()
        mapped.memfd.register(notifier: log)
        #expect(mapped.memfd.failedRange(containing: 0) == nil)
        mapped.touch(0, 16 * page)
        try mapped.memfd.injectMemoryFailure(offset: 5 * page + 100, length: 10)
        try mapped.memfd.injectMemoryFailure(offset: 6 * page, length: page)       // merges with the first
        try mapped.memfd.injectMemoryFailure(offset: 10 * page, length: 2 * page)
        #expect(log.events == [EventLog.text("error", 5 * page..<6 * page), EventLog.text("error", 6 * page..<7 * page),
                               EventLog.text("error", 10 * page..<12 * page)])
        #expect(mapped.memfd.failedRanges == [5 * page..<7 * page, 10 * page..<12 * page])
        #expect(mapped.memfd.failedRange(containing: 5 * page) == 5 * page..<7 * page)
        #expect(mapped.memfd.failedRange(containing: 7 * page - 1) == 5 * page..<7 * page)
        #expect(mapped.memfd.failedRange(containing: 7 * page) == nil)
        #expect(mapped.memfd.failedRange(overlapping: 9 * page..<10 * page + 1) == 10 * page..<12 * page)
        #expect(mapped.memfd.failedRange(overlapping: 7 * page..<10 * page) == nil)
        // The pages stay in the file (MF_DELAYED): the host can still read them without crashing.
        #expect(mapped.load(5 * page) == 0xA5)
        #expect(throws: MemoryErrno.EINVAL) { try mapped.memfd.injectMemoryFailure(offset: 16 * page, length: 1) }
        #expect(throws: MemoryErrno.EINVAL) { try mapped.memfd.injectMemoryFailure(offset: 0, length: 0) }
        // Punching releases the poisoned pages; the next allocation is a fresh page.
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(6 * page), length: Int64(5 * page))
        #expect(mapped.memfd.failedRanges == [5 * page..<6 * page, 11 * page..<12 * page])
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: 0, length: Int64(16 * page))
        #expect(mapped.memfd.failedRanges.isEmpty)
        #expect(mapped.memfd.failedRange(containing: 5 * page) == nil)
    }

    // MARK: Residency

    @Test("pages are not resident until touched; allocation (fallocate KEEP_SIZE) makes them resident",
          arguments: concreteBackends)
    func residency(_ backend: Backend) throws {
        let size = 64 * MiB
        let mapped = try Mapped(size: size, backend: backend, fileSize: 16 * MiB)
        #expect(mapped.memfd.residentBytes == 0)
        #expect(mapped.load(33 * MiB + 17) == 0, "fresh memory reads as zeros")
        mapped.touch(10 * MiB, 20 * MiB)   // spans files 0 and 1
        let resident = mapped.memfd.residentBytes
        #expect(resident >= 20 * MiB && resident <= 20 * MiB + page, "touching 20 MiB made \(resident) bytes resident")
        if !runsOn(mapped.memfd, .kvmGuestMemfd) {
            // guest_memfd allocates folios without making them visible to mincore until faulted.
            try mapped.memfd.fallocate(mode: .keepSize, offset: Int64(40 * MiB), length: Int64(4 * MiB))
            #expect(mapped.memfd.residentBytes >= resident + 4 * MiB)
        }
    }

    // MARK: Backends

    @Test("detect() describes every backend; memfd is always there")
    func detection() {
        let support = Backend.detect()
        #expect(support.memfd.isAvailable)
        #expect(support.availability(of: .automatic) == support.memfd)
        let text = support.description
        #expect(text.contains("memfd:") && text.contains("memfdSecret:") && text.contains("kvmGuestMemfd:"))
        print("restricted-memory backends on this machine: \(text)")
        #expect(Backend.detect(refresh: true).memfd.isAvailable)
    }

    @Test("an available backend is used without a log line", arguments: concreteBackends)
    func availableBackend(_ backend: Backend) throws {
        let log = LogCollector()
        let file = try GuestMemfd(size: 2 * MiB, flags: 0, options: options(backend, fileSize: MiB, log: log))
        if Backend.detect().availability(of: backend).isAvailable {
            #expect(file.backend == backend)
            #expect(log.lines.isEmpty)
            let targets = file.hostDescriptors.compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")
            }
            let expected = ["memfd": "/memfd:", "memfdSecret": "secretmem", "kvmGuestMemfd": "kvm-gmem"][backend.rawValue]!
            #expect(targets.count == 2 && targets.allSatisfy { $0.contains(expected) }, "\(targets)")
        } else {
            #expect(file.backend == .memfd)
            #expect(log.lines.count == 1)
        }
    }

    @Test("a forced-unavailable backend falls back to memfd with exactly one log line", arguments: [Backend.memfdSecret, .kvmGuestMemfd])
    func fallback(_ backend: Backend) throws {
        let log = LogCollector()
        let mapped = try GuestMemfd(size: 4 * MiB, flags: 0,
                                    options: options(backend, fileSize: MiB, log: log, unavailable: [backend]))
        #expect(mapped.requestedBackend == backend)
        #expect(mapped.backend == .memfd)
        #expect(log.lines.count == 1, "\(log.lines)")
        #expect(log.lines.first?.contains("\(backend)") == true && log.lines.first?.contains("falling back to memfd") == true)
        #expect(!(log.lines.first ?? "\n").contains("\n"))
        // The fallback is a working file.
        try mapped.fallocate(mode: .keepSize, offset: 0, length: Int64(MiB))
        #expect(mapped.residentBytes == MiB)
        // memfd and automatic never log.
        let quiet = LogCollector()
        _ = try GuestMemfd(size: MiB, flags: 0, options: options(.automatic, log: quiet))
        _ = try GuestMemfd(size: MiB, flags: 0, options: options(.memfd, log: quiet, unavailable: [.memfdSecret]))
        #expect(quiet.lines.isEmpty)
        // v10 files decide at ftruncate time, with the same single line.
        let late = LogCollector()
        let v10 = try GuestMemfd.memfdRestricted(flags: 0, options: options(backend, log: late, unavailable: [backend]))
        #expect(late.lines.isEmpty)
        try v10.ftruncate(Int64(MiB))
        #expect(v10.backend == .memfd && late.lines.count == 1)
    }

    @Test("memfd_secret: punching a whole backing file replaces it; the old contents are gone")
    func secretReplacement() throws {
        let mapped = try Mapped(size: 4 * MiB, backend: .memfdSecret, fileSize: 2 * MiB)
        guard runsOn(mapped.memfd, .memfdSecret) else { return }   // memfd_secret absent: nothing to check
        mapped.touch(0, 4 * MiB)
        let before = mapped.memfd.hostDescriptors
        let beforeTargets = before.map { Self.identity($0) }
        try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(2 * MiB), length: Int64(2 * MiB))
        let afterTargets = mapped.memfd.hostDescriptors.map { Self.identity($0) }
        #expect(afterTargets[0] == beforeTargets[0] && afterTargets[1] != beforeTargets[1])
        #expect(mapped.memfd.residentBytes == 2 * MiB)
        #expect(mapped.load(2 * MiB) == 0 && mapped.load(4 * MiB - 1) == 0 && mapped.load(0) == 0xA5)
        mapped.touch(2 * MiB, page, value: 9)
        #expect(mapped.load(2 * MiB) == 9)
    }

    static func identity(_ fd: Int32) -> UInt64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
    }
}
