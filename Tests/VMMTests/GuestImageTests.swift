import Foundation
import Testing
import VMM

/// A big-endian ELF64 file written by hand: header, program headers, then segment contents.
private struct TestELF {
    struct Program {
        var type: UInt32 = 1  // PT_LOAD
        var physicalAddress: UInt64
        var contents: [UInt8]
        var memorySize: UInt64
        var fileSize: UInt64? = nil  // default: contents.count
        var fileOffset: UInt64? = nil  // default: where the contents are written
    }

    var elfClass: UInt8 = 2  // ELFCLASS64
    var data: UInt8 = 2  // ELFDATA2MSB
    var type: UInt16 = 2  // ET_EXEC
    var machine: UInt16 = 22  // EM_S390
    var entry: UInt64 = 0x10000
    var programs: [Program] = []

    var bytes: [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) {
            let ordered = data == 2 ? value.bigEndian : value.littleEndian
            withUnsafeBytes(of: ordered) { out.append(contentsOf: $0) }
        }
        out += [0x7F, 0x45, 0x4C, 0x46, elfClass, data, 1, 0] + [UInt8](repeating: 0, count: 8)
        put(type); put(machine); put(UInt32(1)); put(entry)
        put(UInt64(64)); put(UInt64(0)); put(UInt32(0))  // e_phoff, e_shoff, e_flags
        put(UInt16(64)); put(UInt16(56)); put(UInt16(programs.count))  // e_ehsize, e_phentsize, e_phnum
        put(UInt16(64)); put(UInt16(0)); put(UInt16(0))  // e_shentsize, e_shnum, e_shstrndx
        var offset = UInt64(64 + 56 * programs.count)
        for program in programs {
            put(program.type); put(UInt32(5))  // p_flags = R+X
            put(program.fileOffset ?? offset)
            put(program.physicalAddress); put(program.physicalAddress)  // p_vaddr, p_paddr
            put(program.fileSize ?? UInt64(program.contents.count)); put(program.memorySize)
            put(UInt64(8))  // p_align
            offset += UInt64(program.contents.count)
        }
        for program in programs { out += program.contents }
        return out
    }

    static var good: TestELF {
        TestELF(programs: [
            Program(physicalAddress: 0, contents: [0x00, 0x08, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00], memorySize: 8),
            Program(type: 4, physicalAddress: 0x5000, contents: [1, 2, 3, 4], memorySize: 4),  // PT_NOTE: ignored
            Program(physicalAddress: 0x10000, contents: [0xA7, 0xF4, 0x00, 0x00], memorySize: 0x1000),
        ])
    }
}

/// A temporary directory removed when the value goes away.
private final class Scratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("guestimage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func write(_ bytes: [UInt8], name: String = "guest.elf") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

private func loadError(_ path: String) -> GuestImageError? {
    do {
        _ = try GuestImage.load(path: path)
        return nil
    } catch {
        return error
    }
}

@Suite struct GuestImageTests {
    @Test func loadsAGoodELF() throws {
        let scratch = try Scratch()
        let path = try scratch.write(TestELF.good.bytes)
        let image = try GuestImage.load(path: path)
        #expect(image.kind == .elf)
        #expect(image.entry == 0x10000)
        #expect(image.path == path)
        #expect(image.segments == [
            GuestImage.Segment(physicalAddress: 0, bytes: [0x00, 0x08, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00],
                               memorySize: 8),
            GuestImage.Segment(physicalAddress: 0x10000, bytes: [0xA7, 0xF4, 0x00, 0x00], memorySize: 0x1000),
        ])
        try image.validate(memorySize: 0x11000)
    }

    @Test func missingFile() throws {
        let scratch = try Scratch()
        let path = scratch.directory.appendingPathComponent("nope.elf").path
        #expect(loadError(path) == .fileNotFound(path: path))
        #expect(loadError(path)?.description == "\(path): no such file")
    }

    @Test func directoryIsUnreadable() throws {
        let scratch = try Scratch()
        #expect(loadError(scratch.directory.path) == .unreadable(path: scratch.directory.path, errno: EISDIR))
    }

    @Test func emptyFile() throws {
        let scratch = try Scratch()
        let path = try scratch.write([])
        #expect(loadError(path) == .emptyFile(path: path))
    }

    @Test func randomBytes() throws {
        let scratch = try Scratch()
        let path = try scratch.write([0x4A, 0x13, 0x9C, 0xE2, 0x55, 0x01, 0x7B, 0x3D, 0x90, 0x11])
        #expect(loadError(path) == .notS390xImage(path: path))
        #expect(loadError(try scratch.write([0x00, 0x08], name: "short")) == .notS390xImage(path: scratch.directory.appendingPathComponent("short").path))
    }

    @Test func truncatedSegment() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.programs[2].fileSize = 0x100  // runs past the end of the file
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .truncated(path: path, segment: 2))

        elf = TestELF.good
        elf.programs[0].fileOffset = UInt64.max - 2  // offset + size overflows
        #expect(loadError(try scratch.write(elf.bytes)) == .truncated(path: path, segment: 0))
    }

    @Test func truncatedHeaders() throws {
        let scratch = try Scratch()
        let path = try scratch.write(Array(TestELF.good.bytes.prefix(40)))  // inside the ELF header
        #expect(loadError(path) == .truncated(path: path, segment: nil))
        _ = try scratch.write(Array(TestELF.good.bytes.prefix(64 + 80)))  // inside the program headers
        #expect(loadError(path) == .truncated(path: path, segment: nil))
        _ = try scratch.write(Array(TestELF.good.bytes.prefix(10)))  // inside e_ident
        #expect(loadError(path) == .truncated(path: path, segment: nil))
    }

    @Test func wrongMachine() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.machine = 62  // EM_X86_64
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .wrongMachine(path: path, machine: 62))
    }

    @Test func littleEndian() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.data = 1  // ELFDATA2LSB
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .wrongEndianness(path: path, data: 1))
    }

    @Test func wrongClassAndType() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.elfClass = 1  // ELFCLASS32
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .wrongClass(path: path, elfClass: 1))
        elf = TestELF.good
        elf.type = 3  // ET_DYN
        _ = try scratch.write(elf.bytes)
        #expect(loadError(path) == .wrongType(path: path, type: 3))
    }

    @Test func overlappingSegments() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.programs.append(.init(physicalAddress: 0x10800, contents: [], memorySize: 0x10))
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .badSegment(path: path, index: 3, problem: .overlaps(segment: 2)))

        // A long segment overlapping one that is not its neighbour in address order.
        elf = TestELF.good
        elf.programs.append(.init(physicalAddress: 0x100, contents: [], memorySize: 0x20000))
        _ = try scratch.write(elf.bytes)
        #expect(loadError(path) == .badSegment(path: path, index: 3, problem: .overlaps(segment: 2)))

        // Touching is fine.
        elf = TestELF.good
        elf.programs.append(.init(physicalAddress: 0x11000, contents: [], memorySize: 0x10))
        _ = try scratch.write(elf.bytes)
        #expect(try GuestImage.load(path: path).segments.count == 3)
    }

    @Test func fileSizeAboveMemorySize() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.programs[0].memorySize = 4
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .badSegment(path: path, index: 0,
                                               problem: .fileSizeExceedsMemorySize(fileSize: 8, memorySize: 4)))
    }

    @Test func addressOverflow() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.programs[2].physicalAddress = UInt64.max - 0x10
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .badSegment(path: path, index: 2, problem: .addressOverflow))
    }

    @Test func noLoadableSegment() throws {
        let scratch = try Scratch()
        var elf = TestELF.good
        elf.programs = [elf.programs[1]]
        let path = try scratch.write(elf.bytes)
        #expect(loadError(path) == .noLoadableSegment(path: path))
    }

    @Test func flatImage() throws {
        let scratch = try Scratch()
        let bytes: [UInt8] = [0x00, 0x08, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00] + [UInt8](repeating: 0x07, count: 100)
        let path = try scratch.write(bytes, name: "guest.bin")
        let image = try GuestImage.load(path: path)
        #expect(image.kind == .flat)
        #expect(image.entry == 0x10000)
        #expect(image.segments == [GuestImage.Segment(physicalAddress: 0, bytes: bytes, memorySize: 108)])

        var odd = bytes
        odd[7] = 0x01  // odd instruction address
        #expect(loadError(try scratch.write(odd, name: "guest.bin")) == .notS390xImage(path: path))
        var noBit12 = bytes
        noBit12[1] = 0x00
        #expect(loadError(try scratch.write(noBit12, name: "guest.bin")) == .notS390xImage(path: path))
    }

    @Test func validateRejectsWhatDoesNotFit() throws {
        let image = GuestImage(kind: .elf, entry: 0x10000, segments: [
            GuestImage.Segment(physicalAddress: 0, bytes: [1, 2], memorySize: 2),
            GuestImage.Segment(physicalAddress: 0x10000, bytes: [], memorySize: 0x1000),
        ], path: "g.elf")
        try image.validate(memorySize: 0x11000)
        #expect(throws: GuestImageError.segmentOutsideMemory(path: "g.elf", index: 1, address: 0x10000,
                                                             size: 0x1000, memorySize: 0x10FFF)) {
            try image.validate(memorySize: 0x10FFF)
        }

        let farEntry = GuestImage(kind: .elf, entry: 0x20000, segments: image.segments, path: "g.elf")
        #expect(throws: GuestImageError.entryOutsideMemory(path: "g.elf", entry: 0x20000, memorySize: 0x11000)) {
            try farEntry.validate(memorySize: 0x11000)
        }

        let wrapping = GuestImage(kind: .elf, entry: 0, segments: [
            GuestImage.Segment(physicalAddress: UInt64.max - 1, bytes: [], memorySize: 4),
        ], path: "g.elf")
        #expect(throws: GuestImageError.self) { try wrapping.validate(memorySize: UInt64.max) }
    }

    @Test func descriptionsNameThePath() {
        let errors: [GuestImageError] = [
            .fileNotFound(path: "x.elf"), .unreadable(path: "x.elf", errno: EACCES), .emptyFile(path: "x.elf"),
            .notS390xImage(path: "x.elf"), .truncated(path: "x.elf", segment: nil),
            .truncated(path: "x.elf", segment: 1), .wrongClass(path: "x.elf", elfClass: 1),
            .wrongEndianness(path: "x.elf", data: 1), .wrongMachine(path: "x.elf", machine: 62),
            .wrongType(path: "x.elf", type: 3),
            .badSegment(path: "x.elf", index: 1, problem: .overlaps(segment: 0)),
            .noLoadableSegment(path: "x.elf"), .entryOutsideMemory(path: "x.elf", entry: 1, memorySize: 0),
        ]
        for error in errors {
            #expect(error.description.hasPrefix("x.elf: "))
            #expect(!error.description.contains("\n"))
        }
        #expect(GuestImageError.unreadable(path: "x.elf", errno: EACCES).description == "x.elf: cannot read: Permission denied")
    }
}
