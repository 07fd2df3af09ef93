import ArgumentParser
import Disassembler
import Foundation
import VMM

struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Disassemble the loadable segments of an image with capstone.")

    @Argument(help: "The image (s390x ELF or flat image).") var image: String

    func run() throws {
        let loaded: GuestImage
        do { loaded = try GuestImage.load(path: image) } catch { fail(error.description) }
        let disassembler: S390Disassembler
        do { disassembler = try S390Disassembler() } catch { fail("capstone: \(error)", status: 70) }
        var out = ""
        for segment in loaded.segments where !segment.bytes.isEmpty {
            out += "segment at 0x\(String(segment.physicalAddress, radix: 16)) (\(segment.bytes.count) bytes):\n"
            for instruction in disassembler.disassemble(segment.bytes, address: segment.physicalAddress) {
                let hex = instruction.bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
                out += String(format: "%10llx:  %-18@ %@\n", instruction.address, hex as NSString, instruction.text as NSString)
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
