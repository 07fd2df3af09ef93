// GuestAddressSpace (memslots in one reserved range) and release of every fd and mapping.
import Foundation
import Glibc
import RestrictedMemory
import Testing

extension RestrictedMemorySuite {

    @Test("the reservation is PROT_NONE; slots map files in, refuse overlaps, and unmapping reserves the range again")
    func addressSpace() throws {
        let space = try GuestAddressSpace(maxBytes: 64 * MiB)
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestAddressSpace(maxBytes: 0) }
        #expect(throws: MemoryErrno.EINVAL) { _ = try GuestAddressSpace(maxBytes: 100) }
        let reservation = mappings(overlapping: space.base, length: 64 * MiB)
        #expect(reservation.count == 1 && reservation[0].contains(" ---p "), "\(reservation)")

        let file = try GuestMemfd(size: 8 * MiB, flags: 0, options: options(fileSize: 4 * MiB))
        try space.map(file, fileOffset: 0, length: 8 * MiB, at: 16 * MiB)
        // The same file pages again at another guest address (two memslots, one file): aliases.
        try space.map(file, fileOffset: 4 * MiB, length: 4 * MiB, at: 32 * MiB)
        #expect(throws: MemoryErrno.EEXIST) { try space.map(file, fileOffset: 0, length: MiB, at: 20 * MiB) }
        #expect(throws: MemoryErrno.EINVAL) { try space.map(file, fileOffset: 0, length: MiB, at: 64 * MiB) }
        #expect(throws: MemoryErrno.EINVAL) { try space.map(file, fileOffset: 0, length: 100, at: 0) }
        #expect(throws: MemoryErrno.EINVAL) { try space.map(file, fileOffset: 4 * MiB, length: 8 * MiB, at: 0) }
        #expect(throws: MemoryErrno.EINVAL) { try space.map(file, fileOffset: 100, length: page, at: 0) }
        #expect(space.slots.count == 2)
        #expect(space.slot(containing: 17 * MiB)?.guestAddress == 16 * MiB)
        #expect(space.slot(containing: 0) == nil)

        space.base.storeBytes(of: 0x3C, toByteOffset: Int(21 * MiB), as: UInt8.self)
        #expect(space.base.load(fromByteOffset: Int(33 * MiB), as: UInt8.self) == 0x3C)

        #expect(throws: MemoryErrno.ENOENT) { try space.unmap(at: 17 * MiB) }
        try space.unmap(at: 32 * MiB)
        #expect(file.mappingCount == 1)
        let hole = mappings(overlapping: space.base + Int(32 * MiB), length: 4 * MiB)
        #expect(hole.count == 1 && hole[0].contains(" ---p "), "unmapped slot is not reserved again: \(hole)")
        // RestrictedMemory's model is one slot at 0 in its own space.
        let memory = try RestrictedMemory(size: 4 * MiB, fileSize: 2 * MiB)
        #expect(memory.addressSpace.slots.count == 1 && memory.addressSpace.slots[0].guestAddress == 0)
        #expect(memory.base == memory.addressSpace.base && memory.memfd.backingFileCount == 2)
    }

    @Test("after deinit no descriptor and no mapping remains", arguments: concreteBackends)
    func noLeaks(_ backend: Backend) throws {
        let name = "s390pv-rmleak-\(backend)"
        let descriptorsBefore = restrictedDescriptors(name: name).count
        let mappingsBefore = restrictedMappings(name: name).count
        var bases: [(UnsafeMutableRawPointer, UInt64)] = []
        do {
            let mapped = try Mapped(size: 8 * MiB, backend: backend, fileSize: 2 * MiB, name: name)
            bases.append((mapped.space.base, 8 * MiB))
            mapped.touch(0, 8 * MiB)
            #expect(restrictedDescriptors(name: name).count == descriptorsBefore + 4)
            #expect(restrictedMappings(name: name).count >= mappingsBefore + 4)
            try mapped.memfd.fallocate(mode: [.punchHole, .keepSize], offset: Int64(2 * MiB), length: Int64(2 * MiB))
            try mapped.memfd.injectMemoryFailure(offset: 0, length: page)
            try mapped.memfd.releaseAll(workers: 2)

            let shared = try GuestMemfd(size: 4 * MiB, flags: GuestMemfd.flagMmap | GuestMemfd.flagInitShared,
                                        options: options(backend, fileSize: MiB, name: name))
            let user = try shared.mmap(length: 6 * MiB, offset: 0, shared: true)   // 2 MiB beyond the end
            user.storeBytes(of: 1, as: UInt8.self)
            try shared.munmap(user, length: 6 * MiB)

            let v10 = try GuestMemfd.memfdRestricted(flags: 0, options: options(backend, fileSize: MiB, name: name))
            try v10.ftruncate(Int64(3 * MiB))
            let space = try GuestAddressSpace(maxBytes: 16 * MiB)
            bases.append((space.base, 16 * MiB))
            try space.map(v10, fileOffset: 0, length: 3 * MiB, at: 4 * MiB)
            space.base.storeBytes(of: 1, toByteOffset: Int(5 * MiB), as: UInt8.self)
            withExtendedLifetime((mapped, shared, v10, space)) {}
        }
        #expect(restrictedDescriptors(name: name).count == descriptorsBefore, "\(restrictedDescriptors(name: name))")
        #expect(restrictedMappings(name: name).count == mappingsBefore, "\(restrictedMappings(name: name))")
        for (base, length) in bases {
            let left = mappings(overlapping: base, length: length)
            #expect(left.allSatisfy { !$0.contains(" ---p ") || $0.split(separator: " ").count > 5 },
                    "reserved range still mapped: \(left)")
            #expect(left.isEmpty || !left.contains { $0.contains(name) || $0.contains("secretmem") || $0.contains("kvm-gmem") })
        }
    }

    @Test("RestrictedMemory (the compatibility type) leaves no descriptor or mapping behind")
    func compatibilityNoLeaks() throws {
        // Other suites create RestrictedMemory concurrently under the same memfd name, so this
        // test follows its own files by inode rather than counting names.
        var inodes = Set<UInt64>()
        var base: UnsafeMutableRawPointer?
        do {
            let memory = try RestrictedMemory(size: 4 * MiB, fileSize: MiB)
            base = memory.base
            for fd in memory.backingFiles {
                var info = stat()
                #expect(fstat(fd, &info) == 0)
                inodes.insert(UInt64(info.st_ino))
            }
            #expect(inodes.count == 4)
            for offset in stride(from: 0, to: Int(4 * MiB), by: Int(page)) {
                memory.base.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self)
            }
            #expect(Self.descriptors(ofInodes: inodes) == 4)
            #expect(Self.mappingLines(ofInodes: inodes) == 4)
            try memory.punchHole(offset: 0, length: 4 * MiB)
            #expect(memory.residentBytes == 0)
            #expect(throws: RestrictedMemoryError.system(call: "fallocate(PUNCH_HOLE)", errno: MemoryErrno.EINVAL.rawValue)) {
                try memory.punchHole(offset: 4 * MiB, length: page)
            }
            #expect(throws: RestrictedMemoryError.self) { try memory.punchHole(offset: page, length: UInt64.max) }
            withExtendedLifetime(memory) {}
        }
        #expect(Self.descriptors(ofInodes: inodes) == 0)
        #expect(Self.mappingLines(ofInodes: inodes) == 0)
        if let base {
            #expect(!mappings(overlapping: base, length: 4 * MiB).contains { line in
                inodes.contains { line.contains(" \($0) ") }
            })
        }
    }

    /// Open descriptors of this process whose file is a memfd with one of `inodes`.
    static func descriptors(ofInodes inodes: Set<UInt64>) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter { entry in
            var info = stat()
            guard stat("/proc/self/fd/\(entry)", &info) == 0,
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)") else { return false }
            return target.hasPrefix("/memfd:") && inodes.contains(UInt64(info.st_ino))
        }.count
    }

    /// /proc/self/maps lines whose inode column is one of `inodes`.
    static func mappingLines(ofInodes inodes: Set<UInt64>) -> Int {
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        return maps.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 6 && fields[5].hasPrefix("/memfd:") && UInt64(fields[4]).map(inodes.contains) == true
        }.count
    }
}
