// The failure points of restricted memory (FaultInjection): the backing files of a guest_memfd
// and the fresh files of a detach; and memory failures that follow pages into detached memory.
// Points are armed for the test's own thread only (other suites run in parallel).
import FaultInjection
@testable import RestrictedMemory
import Testing

@Suite("Failure points of restricted memory", .serialized)
struct RestrictedMemoryFailurePointTests {
    func armed<T>(_ point: FailurePoint, _ errno: Int32, _ body: () throws -> T) throws -> T {
        try FaultInjection.configure(point, FaultAttributes(errno: errno, times: 1, onlyConfiguringThread: true))
        defer { FaultInjection.clear(point) }
        return try body()
    }

    @Test("gmem_files: creating a guest_memfd (or sizing a v10 file) fails with the errno; nothing is left; disarmed it works")
    func backingFiles() throws {
        let before = BackingAccounting.liveFiles
        for errno in [MemoryErrno.ENOMEM, .ENOSPC] {
            try armed(.guestMemfdFiles, errno.rawValue) {
                #expect(throws: errno) { _ = try GuestMemfd(size: 4 << 20, flags: 0) }
            }
        }
        let restricted = try GuestMemfd.memfdRestricted(flags: 0)
        try armed(.guestMemfdFiles, MemoryErrno.ENOSPC.rawValue) {
            #expect(throws: MemoryErrno.ENOSPC) { try restricted.ftruncate(4 << 20) }
        }
        #expect(restricted.size == 0, "the failed ftruncate set no size")
        try restricted.ftruncate(4 << 20)
        let memfd = try GuestMemfd(size: 4 << 20, flags: 0)   // negative control
        #expect(memfd.backingFileCount == 1)
        #expect(BackingAccounting.liveFiles >= before + 2)
    }

    @Test("gmem_detach: the fresh files fail → the errno, the file keeps its memory, pages and failure marks")
    func detachFiles() throws {
        let mapped = try Mapped(size: 8 * page)
        mapped.touch(0, 8 * page)
        try mapped.memfd.injectMemoryFailure(offset: 3 * page, length: page)
        for errno in [MemoryErrno.ENOMEM, .ENOSPC] {
            try armed(.detachFiles, errno.rawValue) {
                #expect(throws: errno) { _ = try mapped.memfd.detachBacking() }
            }
            #expect(mapped.load(5 * page) == 0xA5, "the guest's memory is untouched")
            #expect(mapped.memfd.failedRanges == [3 * page..<4 * page])
        }
        // Disarmed: the old pages and the mark go with the detached backing.
        let detached = try mapped.memfd.detachBacking()
        #expect(mapped.load(5 * page) == 0, "fresh memory")
        #expect(mapped.memfd.failedRanges.isEmpty)
        #expect(detached.failedRanges == [3 * page..<4 * page])
        #expect(detached.pointer(to: 5 * page).load(as: UInt8.self) == 0xA5)
    }

    @Test("a detached backing: failures mark populated pages only; a release frees pages and marks together")
    func detachedFailures() throws {
        let mapped = try Mapped(size: 16 * page)
        mapped.touch(0, 4 * page)
        let detached = try mapped.memfd.detachBacking()
        #expect(try detached.injectMemoryFailure(offset: page, length: 2 * page) == [page..<3 * page])
        #expect(try detached.injectMemoryFailure(offset: 8 * page, length: page).isEmpty, "a hole has no page to fail")
        #expect(throws: MemoryErrno.EINVAL) { try detached.injectMemoryFailure(offset: 16 * page, length: 1) }
        try detached.release(2 * page..<4 * page)
        #expect(detached.failedRanges == [page..<2 * page])
        #expect(try detached.injectMemoryFailure(offset: 2 * page, length: page).isEmpty, "a released page is gone")
        try detached.release(0..<16 * page)
        #expect(detached.failedRanges.isEmpty)
    }

    @Test("injectMemoryFailureInPopulatedPages skips holes and notifies only for what it marked")
    func populatedOnly() throws {
        let mapped = try Mapped(size: 16 * page)
        let log = EventLog()
        mapped.memfd.register(notifier: log)
        mapped.touch(2 * page, 2 * page)
        #expect(try mapped.memfd.injectMemoryFailureInPopulatedPages(offset: 0, length: 8 * page) == [2 * page..<4 * page])
        #expect(log.events == [EventLog.text("error", 2 * page..<4 * page)])
        #expect(try mapped.memfd.injectMemoryFailureInPopulatedPages(offset: 8 * page, length: page).isEmpty)
        #expect(mapped.memfd.failedRanges == [2 * page..<4 * page])
    }
}
