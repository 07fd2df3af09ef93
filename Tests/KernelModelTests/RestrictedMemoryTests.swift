// RestrictedMemory: guest RAM in memfd backing files, mapped back to back, allocated on touch.
import Foundation
import Glibc
import RestrictedMemory
import Testing

@Suite("RestrictedMemory")
struct RestrictedMemoryTests {
    static let MiB: UInt64 = 1 << 20
    static let GiB: UInt64 = 1 << 30

    /// Writes one byte into every page of [offset, offset + length).
    static func touch(_ memory: RestrictedMemory, offset: UInt64, length: UInt64, value: UInt8 = 0xA5) {
        var address = offset
        while address < offset + length {
            memory.base.storeBytes(of: value, toByteOffset: Int(address), as: UInt8.self)
            address += RestrictedMemory.pageSize
        }
    }

    static func byte(_ memory: RestrictedMemory, _ offset: UInt64) -> UInt8 {
        memory.base.load(fromByteOffset: Int(offset), as: UInt8.self)
    }

    /// (device, inode) of an open descriptor.
    static func identity(_ fd: Int32) -> (UInt64, UInt64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Lines of /proc/self/maps whose inode column is one of `inodes`.
    static func mappings(ofInodes inodes: Set<UInt64>) throws -> [String] {
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        return maps.split(separator: "\n").map(String.init).filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 5 && UInt64(fields[4]).map(inodes.contains) == true
        }
    }

    @Test("sizes that are zero or not a whole number of MiB are refused",
          arguments: [0, 4096, (1 << 20) + 4096, (1 << 20) - 1, 3 * (1 << 19)] as [UInt64])
    func invalidSize(_ size: UInt64) {
        #expect(throws: RestrictedMemoryError.invalidSize(size)) { _ = try RestrictedMemory(size: size) }
    }

    @Test("a file size that is not a whole number of MiB is refused")
    func invalidFileSize() {
        #expect(throws: RestrictedMemoryError.self) { _ = try RestrictedMemory(size: 4 << 20, fileSize: 4096) }
        #expect(throws: RestrictedMemoryError.self) { _ = try RestrictedMemory(size: 4 << 20, fileSize: 0) }
    }

    @Test("3 GiB with 1 GiB files has three backing files of 1 GiB each")
    func backingFiles() throws {
        let memory = try RestrictedMemory(size: 3 * Self.GiB)
        #expect(memory.size == 3 * Self.GiB)
        #expect(memory.fileSize == Self.GiB)
        #expect(memory.backingFiles.count == 3)
        #expect(Set(memory.backingFiles).count == 3)
        for fd in memory.backingFiles {
            var info = stat()
            #expect(fstat(fd, &info) == 0)
            #expect(UInt64(info.st_size) == Self.GiB)
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "backing files must be close-on-exec")
        }
    }

    @Test("the last backing file holds the remainder")
    func remainderFile() throws {
        let memory = try RestrictedMemory(size: 5 * Self.MiB, fileSize: 2 * Self.MiB)
        #expect(memory.backingFiles.count == 3)
        let sizes = memory.backingFiles.map { fd -> UInt64 in
            var info = stat()
            _ = fstat(fd, &info)
            return UInt64(info.st_size)
        }
        #expect(sizes == [2 * Self.MiB, 2 * Self.MiB, Self.MiB])
        // The files are mapped back to back: a byte written through the mapping lands in the right file.
        memory.base.storeBytes(of: 0x5A, toByteOffset: Int(4 * Self.MiB + 17), as: UInt8.self)
        var byte: UInt8 = 0
        #expect(pread(memory.backingFiles[2], &byte, 1, 17) == 1)
        #expect(byte == 0x5A)
    }

    @Test("pages are allocated only when touched")
    func lazyAllocation() throws {
        let memory = try RestrictedMemory(size: 3 * Self.GiB)
        #expect(memory.residentBytes < Self.MiB, "fresh memory already has \(memory.residentBytes) bytes resident")
        #expect(Self.byte(memory, 2 * Self.GiB + 12345) == 0, "fresh memory reads as zeros")
        Self.touch(memory, offset: Self.GiB - 32 * Self.MiB, length: 64 * Self.MiB)   // spans files 0 and 1
        let resident = memory.residentBytes
        #expect(resident >= 64 * Self.MiB)
        #expect(resident < 80 * Self.MiB, "touching 64 MiB made \(resident) bytes resident")
    }

    @Test("punchHole releases the pages and later reads see zeros")
    func punchHole() throws {
        let memory = try RestrictedMemory(size: 256 * Self.MiB)
        Self.touch(memory, offset: 0, length: 64 * Self.MiB)
        #expect(memory.residentBytes >= 64 * Self.MiB)
        try memory.punchHole(offset: 16 * Self.MiB, length: 32 * Self.MiB)
        let resident = memory.residentBytes   // before any read of the hole (a read fault would allocate again)
        #expect(resident >= 32 * Self.MiB && resident < 33 * Self.MiB, "\(resident) bytes resident after the punch")
        #expect(Self.byte(memory, 16 * Self.MiB) == 0)
        #expect(Self.byte(memory, 48 * Self.MiB - RestrictedMemory.pageSize) == 0)
        #expect(Self.byte(memory, 16 * Self.MiB - RestrictedMemory.pageSize) == 0xA5)
        #expect(Self.byte(memory, 48 * Self.MiB) == 0xA5)
        try memory.punchHole(offset: 0, length: 256 * Self.MiB)
        #expect(memory.residentBytes < Self.MiB)
        // The mapping stays usable after a punch: touching allocates again.
        Self.touch(memory, offset: 0, length: Self.MiB, value: 7)
        #expect(Self.byte(memory, 4096) == 7)
    }

    @Test("punchHole across a backing-file boundary")
    func punchAcrossFiles() throws {
        let memory = try RestrictedMemory(size: 8 * Self.MiB, fileSize: 2 * Self.MiB)
        Self.touch(memory, offset: 0, length: 8 * Self.MiB)
        #expect(memory.residentBytes >= 8 * Self.MiB)
        // 8 KiB either side of the 2 MiB and the 4 MiB boundary: three files are touched.
        let start = 2 * Self.MiB - 8192, end = 4 * Self.MiB + 8192
        try memory.punchHole(offset: start, length: end - start)
        // Measure before reading: a read fault on a shmem hole allocates a (zeroed) page again.
        let resident = memory.residentBytes
        #expect(resident == 8 * Self.MiB - (end - start), "\(resident) bytes resident")
        for page in stride(from: start, to: end, by: Int(RestrictedMemory.pageSize)) {
            #expect(Self.byte(memory, page) == 0, "page 0x\(String(page, radix: 16)) was not released")
        }
        #expect(Self.byte(memory, start - RestrictedMemory.pageSize) == 0xA5)
        #expect(Self.byte(memory, end) == 0xA5)
    }

    @Test("punchHole beyond the end is refused with an error, not a crash")
    func punchBeyondEnd() async {
        await #expect(processExitsWith: .success) {
            let memory = try! RestrictedMemory(size: 2 << 20, fileSize: 1 << 20)
            do {
                try memory.punchHole(offset: 2 << 20, length: 4096)
            } catch {
                return   // refused: what we want
            }
            fatalError("a punch beyond the end succeeded")
        }
    }

    @Test("deinit closes the backing files and unmaps the range")
    func deinitReleases() throws {
        var inodes = Set<UInt64>()
        var descriptors: [(fd: Int32, device: UInt64, inode: UInt64)] = []
        var base = 0
        do {
            let memory = try RestrictedMemory(size: 4 * Self.MiB, fileSize: Self.MiB)
            base = Int(bitPattern: memory.base)
            #expect(memory.backingFiles.count == 4)
            for fd in memory.backingFiles {
                let id = try #require(Self.identity(fd))
                descriptors.append((fd, id.0, id.1))
                inodes.insert(id.1)
                // /proc/self/fd lists it as the memfd.
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
                #expect(target.hasPrefix("/memfd:s390pv-guest-ram"), "fd \(fd) is \(target)")
            }
            Self.touch(memory, offset: 0, length: 4 * Self.MiB)
            #expect(try Self.mappings(ofInodes: inodes).count == 4)
            withExtendedLifetime(memory) {}
        }
        // Other tests run concurrently and may reuse the descriptor numbers: a closed descriptor
        // either is invalid now or names another file.
        for descriptor in descriptors {
            if let id = Self.identity(descriptor.fd) {
                #expect(id != (descriptor.device, descriptor.inode), "fd \(descriptor.fd) is still open")
            }
        }
        #expect(try Self.mappings(ofInodes: inodes).isEmpty, "the backing files are still mapped")
        // The reserved range is gone too: nothing is mapped at the old base unless someone else mapped there since.
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let start = String(base, radix: 16)
        #expect(!maps.split(separator: "\n").contains { $0.hasPrefix(start + "-") && $0.contains("s390pv-guest-ram") })
    }
}
