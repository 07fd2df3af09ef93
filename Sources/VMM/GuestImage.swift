// The guest image loader: an s390x ELF (via libelf) or a flat image with an ESA/390 IPL PSW
// at offset 0 (spec s390x-cpu.md §3.4). Loading only parses and checks; placing the segments
// into guest memory is the machine's job.
import CLibelf
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an image cannot be loaded or does not fit the machine. Each description is one line
/// that names the file.
public enum GuestImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong with one PT_LOAD segment.
    public enum SegmentProblem: Sendable, Equatable {
        case fileSizeExceedsMemorySize(fileSize: UInt64, memorySize: UInt64)
        case addressOverflow
        case overlaps(segment: Int)
    }

    case fileNotFound(path: String)
    case unreadable(path: String, errno: Int32)
    case emptyFile(path: String)
    /// Neither an ELF file nor a flat image that starts with a valid IPL PSW.
    case notS390xImage(path: String)
    /// The ELF headers (segment nil) or a segment's file range extend past the end of the file.
    case truncated(path: String, segment: Int?)
    case wrongClass(path: String, elfClass: UInt8)
    case wrongEndianness(path: String, data: UInt8)
    case wrongMachine(path: String, machine: UInt16)
    case wrongType(path: String, type: UInt16)
    case badSegment(path: String, index: Int, problem: SegmentProblem)
    case noLoadableSegment(path: String)
    /// libelf itself failed (e.g. version mismatch); `message` is elf_errmsg's.
    case libelf(path: String, message: String)
    case segmentOutsideMemory(path: String, index: Int, address: UInt64, size: UInt64, memorySize: UInt64)
    case entryOutsideMemory(path: String, entry: UInt64, memorySize: UInt64)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .unreadable(let path, let code):
            return "\(path): cannot read: \(String(cString: strerror(code)))"
        case .emptyFile(let path):
            return "\(path): empty file"
        case .notS390xImage(let path):
            return "\(path): neither an s390x ELF nor a flat image with an IPL PSW at 0"
        case .truncated(let path, nil):
            return "\(path): truncated ELF file (headers extend past the end)"
        case .truncated(let path, let segment?):
            return "\(path): truncated ELF file (segment \(segment) extends past the end)"
        case .wrongClass(let path, let elfClass):
            return "\(path): ELF class \(elfClass), expected ELFCLASS64 (2)"
        case .wrongEndianness(let path, let data):
            return "\(path): ELF data encoding \(data), expected big-endian ELFDATA2MSB (2)"
        case .wrongMachine(let path, let machine):
            return "\(path): ELF machine \(machine), expected EM_S390 (22)"
        case .wrongType(let path, let type):
            return "\(path): ELF type \(type), expected an executable (ET_EXEC, 2)"
        case .badSegment(let path, let index, .fileSizeExceedsMemorySize(let fileSize, let memorySize)):
            return "\(path): segment \(index): file size \(hex(fileSize)) exceeds memory size \(hex(memorySize))"
        case .badSegment(let path, let index, .addressOverflow):
            return "\(path): segment \(index): address plus size overflows 64 bits"
        case .badSegment(let path, let index, .overlaps(let other)):
            return "\(path): segment \(index) overlaps segment \(other)"
        case .noLoadableSegment(let path):
            return "\(path): no loadable (PT_LOAD) segment"
        case .libelf(let path, let message):
            return "\(path): libelf: \(message)"
        case .segmentOutsideMemory(let path, let index, let address, let size, let memorySize):
            return "\(path): segment \(index) at \(hex(address)) size \(hex(size)) lies outside "
                + "guest memory of \(hex(memorySize))"
        case .entryOutsideMemory(let path, let entry, let memorySize):
            return "\(path): entry point \(hex(entry)) lies outside guest memory of \(hex(memorySize))"
        }
    }
}

/// A parsed guest image: what to copy where, and where to start.
public struct GuestImage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case elf, flat
    }

    /// One piece of guest memory: `bytes` at `physicalAddress`, then zeros up to `memorySize`.
    public struct Segment: Sendable, Equatable {
        public let physicalAddress: UInt64
        public let bytes: [UInt8]
        /// At least `bytes.count`; the rest is zero-filled (bss).
        public let memorySize: UInt64

        public init(physicalAddress: UInt64, bytes: [UInt8], memorySize: UInt64) {
            precondition(memorySize >= UInt64(bytes.count), "segment memory size below its file size")
            self.physicalAddress = physicalAddress
            self.bytes = bytes
            self.memorySize = memorySize
        }
    }

    public let kind: Kind
    /// ELF: e_entry. Flat: the instruction address of the IPL PSW at offset 0.
    public let entry: UInt64
    public let segments: [Segment]
    /// The file it came from, for messages.
    public let path: String

    public init(kind: Kind, entry: UInt64, segments: [Segment], path: String = "<image>") {
        self.kind = kind
        self.entry = entry
        self.segments = segments
        self.path = path
    }

    /// Reads and checks the image at `path`.
    public static func load(path: String) throws(GuestImageError) -> GuestImage {
        let bytes = try readFile(path)
        guard !bytes.isEmpty else { throw .emptyFile(path: path) }
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {  // "\x7fELF"
            return try loadELF(bytes, path: path)
        }
        if let entry = flatImageEntry(bytes) {
            let whole = Segment(physicalAddress: 0, bytes: bytes, memorySize: UInt64(bytes.count))
            return GuestImage(kind: .flat, entry: entry, segments: [whole], path: path)
        }
        throw .notS390xImage(path: path)
    }

    /// Checks that every segment and the entry point lie inside guest memory of `memorySize` bytes.
    public func validate(memorySize: UInt64) throws(GuestImageError) {
        for (index, segment) in segments.enumerated() {
            let (end, overflow) = segment.physicalAddress.addingReportingOverflow(segment.memorySize)
            if overflow || end > memorySize {
                throw .segmentOutsideMemory(path: path, index: index, address: segment.physicalAddress,
                                            size: segment.memorySize, memorySize: memorySize)
            }
        }
        guard entry < memorySize else {
            throw .entryOutsideMemory(path: path, entry: entry, memorySize: memorySize)
        }
    }
}

// MARK: - Flat images

/// The entry address if the first 8 bytes are a valid ESA/390 short IPL PSW (bit 12 set,
/// even 31-bit instruction address), else nil.
private func flatImageEntry(_ bytes: [UInt8]) -> UInt64? {
    guard bytes.count >= 8, bytes[1] & 0x08 != 0 else { return nil }
    let word = bytes[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    let address = word & 0x7FFF_FFFF
    return address & 1 == 0 ? UInt64(address) : nil
}

// MARK: - ELF

/// elf_version must be called once before any other libelf function.
private let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

private func libelfMessage() -> String {
    guard let message = elf_errmsg(-1) else { return "unknown error" }
    return String(cString: message)
}

private func loadELF(_ bytes: [UInt8], path: String) throws(GuestImageError) -> GuestImage {
    guard bytes.count >= Int(EI_NIDENT) else { throw .truncated(path: path, segment: nil) }
    // Check the identification bytes first: a 32-bit header is shorter than a 64-bit one.
    let elfClass = bytes[Int(EI_CLASS)], data = bytes[Int(EI_DATA)]
    guard elfClass == UInt8(ELFCLASS64) else { throw .wrongClass(path: path, elfClass: elfClass) }
    guard data == UInt8(ELFDATA2MSB) else { throw .wrongEndianness(path: path, data: data) }
    guard bytes.count >= MemoryLayout<Elf64_Ehdr>.size else { throw .truncated(path: path, segment: nil) }
    guard libelfReady else { throw .libelf(path: path, message: libelfMessage()) }

    // libelf reads from a private copy (elf_memory wants a mutable buffer it never writes).
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    defer { image.deallocate() }
    image.copyBytes(from: bytes)
    guard let elf = elf_memory(image.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count) else {
        throw .libelf(path: path, message: libelfMessage())
    }
    defer { elf_end(elf) }

    var header = GElf_Ehdr()
    guard gelf_getehdr(elf, &header) != nil else { throw .truncated(path: path, segment: nil) }
    guard header.e_machine == UInt16(EM_S390) else { throw .wrongMachine(path: path, machine: header.e_machine) }
    guard header.e_type == UInt16(ET_EXEC) else { throw .wrongType(path: path, type: header.e_type) }

    var count = 0
    guard elf_getphdrnum(elf, &count) == 0 else { throw .truncated(path: path, segment: nil) }
    let tableSize = UInt64(count) * UInt64(header.e_phentsize)
    let (tableEnd, tableOverflow) = header.e_phoff.addingReportingOverflow(tableSize)
    guard !tableOverflow, tableEnd <= UInt64(bytes.count) else { throw .truncated(path: path, segment: nil) }
    var segments: [GuestImage.Segment] = []
    var indices: [Int] = []  // program header index of each entry in `segments`
    for index in 0..<count {
        var phdr = GElf_Phdr()
        guard gelf_getphdr(elf, Int32(index), &phdr) != nil else { throw .truncated(path: path, segment: nil) }
        guard phdr.p_type == UInt32(PT_LOAD) else { continue }
        guard phdr.p_filesz <= phdr.p_memsz else {
            throw .badSegment(path: path, index: index, problem:
                .fileSizeExceedsMemorySize(fileSize: phdr.p_filesz, memorySize: phdr.p_memsz))
        }
        let (fileEnd, fileOverflow) = phdr.p_offset.addingReportingOverflow(phdr.p_filesz)
        guard !fileOverflow, fileEnd <= UInt64(bytes.count) else { throw .truncated(path: path, segment: index) }
        guard !phdr.p_paddr.addingReportingOverflow(phdr.p_memsz).overflow else {
            throw .badSegment(path: path, index: index, problem: .addressOverflow)
        }
        guard phdr.p_memsz > 0 else { continue }  // occupies nothing
        let contents = Array(bytes[Int(phdr.p_offset)..<Int(fileEnd)])
        segments.append(GuestImage.Segment(physicalAddress: phdr.p_paddr, bytes: contents, memorySize: phdr.p_memsz))
        indices.append(index)
    }
    guard !segments.isEmpty else { throw .noLoadableSegment(path: path) }

    // Overlaps: walk in address order, remembering the segment that reaches furthest so far.
    let order = segments.indices.sorted { segments[$0].physicalAddress < segments[$1].physicalAddress }
    var furthest = order[0]
    for position in order.dropFirst() {
        let previous = segments[furthest], current = segments[position]
        if current.physicalAddress < previous.physicalAddress + previous.memorySize {
            let (first, second) = (min(indices[furthest], indices[position]), max(indices[furthest], indices[position]))
            throw .badSegment(path: path, index: second, problem: .overlaps(segment: first))
        }
        if current.physicalAddress + current.memorySize > previous.physicalAddress + previous.memorySize {
            furthest = position
        }
    }
    return GuestImage(kind: .elf, entry: header.e_entry, segments: segments, path: path)
}

// MARK: - Files

private func readFile(_ path: String) throws(GuestImageError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        let code = errno
        throw code == ENOENT ? .fileNotFound(path: path) : .unreadable(path: path, errno: code)
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw .unreadable(path: path, errno: errno)
        }
        if got == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<got])
    }
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
