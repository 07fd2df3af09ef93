// The SCLP (spec s390x-cpu.md section 7.6): SERVC checks in QEMU's order, READ SCP INFO sizing,
// event masks, WRITE EVENT DATA into the console, and the service signal after each call.
import Foundation
@testable import KernelModel
import S390CPU
import Testing
@testable import VMM

/// A VM, its console (captured) and its SCLP; SCCBs are written and read back through the
/// kernel model's absolute memory operations.
private final class SCLPFixture: @unchecked Sendable {
    let vm: VirtualMachine
    let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
    let sclp: ServiceProcessor

    init(memory: UInt64 = 16 << 20, cpus: Int = 1, maxCPUs: Int? = nil) throws {
        vm = try KVM.createVM(VMConfiguration(memorySize: memory, maxCPUs: maxCPUs ?? cpus))
        sclp = ServiceProcessor(vm: ModelHost(vm), memorySize: vm.memorySize, cpuCount: cpus, maxCPUs: maxCPUs ?? cpus,
                                console: console)
    }

    /// Writes `sccb` at `address`, issues SERVC, and returns the outcome and the SCCB as written back.
    func call(_ command: UInt32, _ sccb: [UInt8], at address: UInt64 = 0x10000, prefix: UInt64 = 0)
        throws -> (outcome: ServiceProcessor.Outcome, sccb: [UInt8]) {
        try vm.writeAbsolute(address, sccb)
        let outcome = sclp.serviceCall(command: command, sccb: address, prefix: prefix)
        return (outcome, try vm.readAbsolute(address, count: sccb.count))
    }

    /// Takes the pending service signal, if any (so the next call starts clean).
    func takeServiceSignal() -> Bool {
        let pending = vm.floating.servicePending
        vm.floating.clear()
        return pending
    }
}

/// The kernel model's VM behind the SCLP's host interface (the machine uses KVM ioctls instead).
final class ModelHost: SCLPHost, GuestRegisters, @unchecked Sendable {
    let vm: VirtualMachine
    let vcpu: VirtualCPU?
    init(_ vm: VirtualMachine, vcpu: VirtualCPU? = nil) {
        self.vm = vm
        self.vcpu = vcpu
    }
    func readAbsolute(_ address: UInt64, count: Int) throws -> [UInt8] { try vm.readAbsolute(address, count: count) }
    func writeAbsolute(_ address: UInt64, _ bytes: [UInt8]) throws { try vm.writeAbsolute(address, bytes) }
    func injectServiceSignal(parameter: UInt32) throws { vm.injectServiceSignal(parameter: parameter) }
    func gpr(_ index: Int) -> UInt64 { vcpu!.gprs[index] }
    func setGPR(_ index: Int, _ value: UInt64) { vcpu!.gprs[index] = value }
}

private enum SCCB {
    static let readSCPInfo: UInt32 = 0x0002_0001
    static let readSCPInfoForced: UInt32 = 0x0012_0001
    static let readCPUInfo: UInt32 = 0x0001_0001
    static let writeEventData: UInt32 = 0x0076_0005
    static let readEventData: UInt32 = 0x0077_0005
    static let writeEventMask: UInt32 = 0x0078_0005

    /// A zeroed SCCB of `length` bytes with its header filled in.
    static func make(length: Int, function: UInt8 = 0, size: Int? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size ?? max(length, 8))
        bytes[0] = UInt8(length >> 8 & 0xFF)
        bytes[1] = UInt8(length & 0xFF)
        bytes[2] = function
        return bytes
    }

    /// WRITE EVENT MASK with `maskLength`-byte masks (cp-receive, cp-send, sclp-send, sclp-receive).
    static func eventMask(maskLength: Int, cpReceive: UInt32 = 0, cpSend: UInt32 = 0) -> [UInt8] {
        var bytes = make(length: 12 + 4 * maskLength)
        bytes[10] = UInt8(maskLength >> 8)
        bytes[11] = UInt8(maskLength & 0xFF)
        for byte in 0..<min(maskLength, 4) {
            bytes[12 + byte] = UInt8(truncatingIfNeeded: cpReceive >> (24 - 8 * UInt32(byte)))
            bytes[12 + maskLength + byte] = UInt8(truncatingIfNeeded: cpSend >> (24 - 8 * UInt32(byte)))
        }
        return bytes
    }

    /// An event buffer: u16 length (including the 6-byte header), type, flags, reserved, payload.
    static func event(type: UInt8, _ payload: [UInt8], length: Int? = nil) -> [UInt8] {
        let total = length ?? payload.count + 6
        return [UInt8(total >> 8 & 0xFF), UInt8(total & 0xFF), type, 0, 0, 0] + payload
    }

    /// WRITE EVENT DATA holding `buffers` (header length = 8 + their bytes unless overridden).
    static func eventData(_ buffers: [[UInt8]], length: Int? = nil, function: UInt8 = 0) -> [UInt8] {
        let body = buffers.flatMap { $0 }
        var bytes = make(length: length ?? 8 + body.count, function: function, size: 8 + body.count)
        bytes.replaceSubrange(8..<(8 + body.count), with: body)
        return bytes
    }

    static func vt220(_ text: String) -> [UInt8] { event(type: 0x1A, Array(text.utf8)) }

    /// A line-mode (type 2) buffer: MDB header, GO object and one MTO with EBCDIC text.
    static func lineMode(ebcdic: [UInt8]) -> [UInt8] {
        let mto: [UInt8] = [0, UInt8(10 + ebcdic.count), 0, 4, 0x10, 0x00, 0, 0, 0, 0] + ebcdic
        var go = [UInt8](repeating: 0, count: 56)
        go[1] = 56
        go[3] = 1
        let objects = go + mto
        let mdbLength = 8 + objects.count
        let mdb: [UInt8] = [UInt8(mdbLength >> 8), UInt8(mdbLength & 0xFF), 0, 1, 0xD4, 0xC4, 0xC2, 0x40] + objects
        return event(type: 0x02, mdb)
    }
}

private func response(_ sccb: [UInt8]) -> UInt16 { UInt16(sccb[6]) << 8 | UInt16(sccb[7]) }
private func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
private func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) } }
private func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[offset + $1]) } }
private func hex(_ value: some BinaryInteger) -> String { "0x" + String(value, radix: 16, uppercase: true) }

@Suite("SCLP service call")
struct SCLPServiceCallTests {
    // MARK: The checks of sclp_service_call, in order

    @Test("an SCCB beyond storage is an addressing exception, before the alignment checks")
    func beyondMemory() throws {
        let fixture = try SCLPFixture()
        let size = fixture.vm.memorySize
        for address in [size, size + 4, size + 0x1000, 0x7FFF_FFF8, 0xFFFF_FFFF] as [UInt64] {
            #expect(fixture.sclp.serviceCall(command: SCCB.readSCPInfo, sccb: address, prefix: 0) == .program(.addressing),
                    "SCCB \(hex(address))")
        }
        #expect(!fixture.takeServiceSignal(), "no service signal after a program exception")
    }

    @Test("an SCCB in the first 8 KiB is a specification exception", arguments: [0, 0x8, 0x1000, 0x1FF8] as [UInt64])
    func lowCore(_ address: UInt64) throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 16), at: address)
        #expect(outcome == .program(.specification))
        #expect(response(sccb) == 0, "the SCCB is not written")
        #expect(!fixture.takeServiceSignal())
    }

    @Test("an SCCB in the prefix area is a specification exception; the low 8 KiB stay refused with a prefix")
    func prefixArea() throws {
        let fixture = try SCLPFixture()
        for address in [0x4000, 0x4008, 0x5FF8, 0x1000] as [UInt64] {
            let (outcome, _) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 16), at: address, prefix: 0x4000)
            #expect(outcome == .program(.specification), "SCCB \(hex(address)) with prefix 0x4000")
        }
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 16), at: 0x6000, prefix: 0x4000)
        #expect(outcome == .conditionCode(0), "just above the prefix area is fine")
        #expect(response(sccb) == 0x0300)
        let (lowOutcome, _) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 16), at: 0x2000, prefix: 0)
        #expect(lowOutcome == .conditionCode(0), "0x2000 is outside the first 8 KiB")
    }

    @Test("an SCCB that is not 8-byte aligned is a specification exception", arguments: [0x10004, 0x10001, 0x10FFC] as [UInt64])
    func unaligned(_ address: UInt64) throws {
        let fixture = try SCLPFixture()
        let (outcome, _) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 16), at: address)
        #expect(outcome == .program(.specification))
        #expect(!fixture.takeServiceSignal())
    }

    @Test("an SCCB at or above 2 GiB is a specification exception even in storage")
    func aboveTwoGiB() throws {
        let fixture = try SCLPFixture(memory: 3 << 30)
        for address in [0x8000_0000, 0x8000_1000, 0xBFFF_F000] as [UInt64] {
            let (outcome, _) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 4096), at: address)
            #expect(outcome == .program(.specification), "SCCB \(hex(address))")
        }
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 4096), at: 0x7FFF_F000)
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0010)
    }

    @Test("an SCCB header length below 8 is a specification exception", arguments: [0, 1, 7])
    func shortHeader(_ length: Int) throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: length, size: 16))
        #expect(outcome == .program(.specification))
        #expect(response(sccb) == 0)
        #expect(!fixture.takeServiceSignal())
    }

    @Test("an SCCB that crosses a 4 KiB boundary gets response 0x0100 (cc 0)")
    func boundaryViolation() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 0x200), at: 0x10F00)
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0100)
        #expect(u16(sccb, 8) == 0, "nothing is filled in")
        #expect(fixture.takeServiceSignal(), "QEMU signals completion for a rejected SCCB too")
        // Ending exactly at the page end does not cross.
        let (_, fits) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 0x100), at: 0x10F00)
        #expect(response(fits) == 0x0010, "in bounds")
    }

    @Test("an unknown command gets response 0x01F0 (cc 0)", arguments: [0x0000_0000, 0x00FF_0001, 0x0002_0002, 0x0076_0001] as [UInt32])
    func unknownCommand(_ command: UInt32) throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(command, SCCB.make(length: 4096))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x01F0)
        #expect(fixture.takeServiceSignal())
    }

    @Test("an unknown command is reported before a boundary violation (QEMU's order)")
    func unknownCommandBeforeBoundary() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(0x00FF_0001, SCCB.make(length: 0x200), at: 0x10F00)
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x01F0)
    }

    @Test("the command word is compared under QEMU's SCLP_CMD_CODE_MASK (0xFFFF00FF)")
    func commandCodeMask() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(0x0002_FF01, SCCB.make(length: 4096))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0010)
    }

    // MARK: READ SCP INFO

    @Test("READ SCP INFO sizes storage as QEMU does (at most 1020 increments)",
          arguments: [(128 << 20, 128, 1), (1 << 30, 512, 2), (3 << 30, 768, 4), (2 << 20, 2, 1), (1020 << 20, 1020, 1)] as [(UInt64, Int, Int)])
    func readSCPInfoSizing(_ memory: UInt64, _ rnmax: Int, _ rnsize: Int) throws {
        let fixture = try SCLPFixture(memory: memory)
        let (outcome, sccb) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 4096))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0010)
        #expect(Int(u16(sccb, 8)) == rnmax, "rnmax")
        #expect(Int(sccb[10]) == rnsize, "rnsize")
        #expect(Int(u32(sccb, 100)) == rnsize, "rnsize2")
        #expect(Int(u64(sccb, 104)) == rnmax, "rnmax2")
        #expect(UInt64(rnmax * rnsize) << 20 == memory, "rnmax x rnsize MB is the storage size")
    }

    @Test("READ SCP INFO (and FORCED) list one CPU entry per CPU at offset 128")
    func readSCPInfoCPUs() throws {
        let fixture = try SCLPFixture(memory: 128 << 20, cpus: 3, maxCPUs: 8)
        for command in [SCCB.readSCPInfo, SCCB.readSCPInfoForced] {
            var request = SCCB.make(length: 4096)
            for index in 8..<4096 { request[index] = 0xCC }   // everything past the header is rewritten
            let (outcome, sccb) = try fixture.call(command, request)
            #expect(outcome == .conditionCode(0))
            #expect(response(sccb) == 0x0010)
            #expect(u16(sccb, 16) == 3, "number of CPU entries")
            #expect(u16(sccb, 18) == 128, "CPU-entry offset")
            for cpu in 0..<3 {
                #expect(sccb[128 + 16 * cpu] == UInt8(cpu), "CPU entry \(cpu) address")
                #expect(sccb[128 + 16 * cpu + 2] == 0, "no SIE features")
            }
            #expect(sccb[128 + 16 * 3] == 0, "no fourth entry")
            #expect(u16(sccb, 120) == 7, "highest CPU address")
            #expect(u64(sccb, 48) & 0x0C00_0000_0000_0000 == 0x0C00_0000_0000_0000, "has CPU info")
            #expect(u32(sccb, 124) == 0x0800_0000, "HMFAI")
            #expect(Array(sccb[24..<32]) == [UInt8](repeating: 0x40, count: 8), "loadparm: EBCDIC blanks")
            #expect(sccb[4000] == 0, "the rest is cleared")
            #expect(fixture.takeServiceSignal())
        }
    }

    @Test("READ SCP INFO too short for the CPU entries: 0x0300")
    func readSCPInfoInsufficientLength() throws {
        let fixture = try SCLPFixture(cpus: 4)
        let (_, short) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 128 + 4 * 16 - 1))
        #expect(response(short) == 0x0300)
        #expect(u16(short, 8) == 0, "nothing filled in")
        let (_, exact) = try fixture.call(SCCB.readSCPInfo, SCCB.make(length: 128 + 4 * 16))
        #expect(response(exact) == 0x0010)
        #expect(u16(exact, 16) == 4)
    }

    @Test("READ CPU INFO lists every CPU")
    func readCPUInfo() throws {
        let fixture = try SCLPFixture(cpus: 2)
        let (outcome, sccb) = try fixture.call(SCCB.readCPUInfo, SCCB.make(length: 4096))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0010)
        #expect(u16(sccb, 8) == 2, "configured CPUs")
        let offset = Int(u16(sccb, 10))
        #expect(sccb[offset] == 0 && sccb[offset + 16] == 1)
        #expect(u16(sccb, 12) == 0, "no standby CPUs")
        let (_, short) = try fixture.call(SCCB.readCPUInfo, SCCB.make(length: 16 + 2 * 16 - 1))
        #expect(response(short) == 0x0300)
    }

    // MARK: WRITE EVENT MASK

    @Test("WRITE EVENT MASK with 4-byte masks reports VT220 sent and VT220 + message received")
    func writeEventMask() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.writeEventMask, SCCB.eventMask(maskLength: 4, cpSend: 0x4000_0040))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0020)
        // Linux init_sccb order: the SCLP receive mask comes before the SCLP send mask.
        #expect(u32(sccb, 20) == 0x4000_0040, "SCLP receive mask: message (0x02) and VT220 (0x1A)")
        #expect(u32(sccb, 24) == 0x0000_0040, "SCLP send mask: VT220 (type 0x1A)")
        #expect(u32(sccb, 16) == 0x4000_0040, "the guest's cp-send mask is left as written")
        #expect(fixture.takeServiceSignal())
    }

    @Test("WRITE EVENT MASK with a mask length of 0 or above 1021 (SCLP_EVENT_MASK_LEN_MAX): 0x74F0", arguments: [0, 1022, 0xFFFF])
    func writeEventMaskBadLength(_ maskLength: Int) throws {
        let fixture = try SCLPFixture()
        var request = SCCB.eventMask(maskLength: 0)
        request[10] = UInt8(maskLength >> 8)
        request[11] = UInt8(maskLength & 0xFF)
        let (outcome, sccb) = try fixture.call(SCCB.writeEventMask, request)
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x74F0)
    }

    @Test("WRITE EVENT MASK with a mask longer than the SCCB: 0x74F0")
    func writeEventMaskPastSCCB() throws {
        let fixture = try SCLPFixture()
        var request = SCCB.eventMask(maskLength: 4)   // SCCB length 28
        request[11] = 5                                // 4 masks of 5 bytes need 32
        let (_, sccb) = try fixture.call(SCCB.writeEventMask, request)
        #expect(response(sccb) == 0x74F0)
    }

    @Test("WRITE EVENT MASK accepts other mask lengths as QEMU does (1-1021): 1, 2, 5, 8 bytes",
          arguments: [1, 2, 5, 8])
    func writeEventMaskOtherLengths(_ maskLength: Int) throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.writeEventMask, SCCB.eventMask(maskLength: maskLength, cpSend: 0x4000_0040))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0020)
        // The SCLP masks come back truncated or zero-extended to the guest's length.
        let receive = Array(sccb[(12 + 2 * maskLength)..<(12 + 3 * maskLength)])
        let send = Array(sccb[(12 + 3 * maskLength)..<(12 + 4 * maskLength)])
        let fullSend: [UInt8] = [0, 0, 0, 0x40] + [UInt8](repeating: 0, count: 4)
        let fullReceive: [UInt8] = [0x40, 0, 0, 0x40] + [UInt8](repeating: 0, count: 4)
        #expect(send == Array(fullSend.prefix(maskLength)))
        #expect(receive == Array(fullReceive.prefix(maskLength)))
    }

    // MARK: WRITE EVENT DATA

    @Test("WRITE EVENT DATA with a VT220 buffer prints its text once and marks it accepted")
    func writeVT220() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("Hello, s390pv\n")]))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0020)
        #expect(sccb[8 + 3] & 0x80 != 0, "buffer flag: accepted")
        #expect(fixture.console.text == "Hello, s390pv\n")
        #expect(fixture.takeServiceSignal())
    }

    @Test("a line-mode buffer alone prints nothing and is accepted (0x0020, flag 0x80)")
    func writeLineModeAlone() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.lineMode(ebcdic: [0xC8, 0x89])]))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x0020)
        #expect(sccb[8 + 3] & 0x80 != 0)
        #expect(fixture.console.text.isEmpty)
    }

    @Test("VT220 and line-mode buffers of the same text print it exactly once")
    func writeBothStreams() throws {
        let fixture = try SCLPFixture()
        let vt220 = SCCB.vt220("line\n")
        let (_, sccb) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.lineMode(ebcdic: [0x93, 0x89, 0x95, 0x85]), vt220]))
        #expect(response(sccb) == 0x0020)
        let lineModeLength = Int(u16(sccb, 8))
        #expect(sccb[8 + 3] & 0x80 != 0 && sccb[8 + lineModeLength + 3] & 0x80 != 0, "both buffers accepted")
        // kut sends the same line as two separate calls too.
        _ = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.lineMode(ebcdic: [0x93])]))
        #expect(fixture.console.text == "line\n")
    }

    @Test("malformed event-buffer lengths: 0x73F0 (QEMU's write_event_length_check), and nothing is printed")
    func writeMalformed() throws {
        let text = Array("never printed\n".utf8)
        let cases: [(String, [UInt8])] = [
            ("buffer length below its header", SCCB.eventData([SCCB.event(type: 0x1A, text, length: 3)])),
            ("buffer length past the SCCB", SCCB.eventData([SCCB.event(type: 0x1A, text, length: text.count + 7)])),
            ("buffer length zero", SCCB.eventData([SCCB.event(type: 0x1A, text, length: 0)])),
            ("a fragment shorter than a buffer header after a good buffer", SCCB.eventData([SCCB.vt220("never printed\n"), [0, 4, 0x1A]])),
            ("a good buffer followed by one that overruns", SCCB.eventData([SCCB.vt220("never printed\n"), SCCB.event(type: 0x1A, [0x41], length: 64)])),
        ]
        for (name, request) in cases {
            let fixture = try SCLPFixture()
            let (outcome, sccb) = try fixture.call(SCCB.writeEventData, request)
            #expect(outcome == .conditionCode(0), "\(name)")
            // Spec 7.6 allows 0x72F0 or 0x73F0; QEMU answers 0x73F0 for every malformed length.
            #expect(response(sccb) == 0x73F0, "\(name): response \(hex(response(sccb)))")
            #expect(fixture.console.text.isEmpty, "\(name): printed \(fixture.console.text.debugDescription)")
            #expect(sccb[11] & 0x80 == 0, "\(name): the first buffer is not marked accepted")
        }
    }

    @Test("an event type nobody handles gets 0x40F0; so does a non-zero function code")
    func writeUnhandled() throws {
        let fixture = try SCLPFixture()
        let (_, unknown) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.event(type: 0x1D, [1, 2])]))
        #expect(response(unknown) == 0x40F0)
        let (_, function) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("x\n")], function: 1))
        #expect(response(function) == 0x40F0)
        #expect(fixture.console.text.isEmpty)
    }

    @Test("an `EXIT: STATUS=3` line sets the console's exit status; the first one wins")
    func exitStatus() throws {
        let fixture = try SCLPFixture()
        #expect(fixture.console.exitStatus == nil)
        _ = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("SUMMARY: 3 tests\n\nEXIT: STA")]))
        #expect(fixture.console.exitStatus == nil, "not before the line is complete")
        _ = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("TUS=3\n")]))
        #expect(fixture.console.exitStatus == 3)
        _ = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("EXIT: STATUS=1\n")]))
        #expect(fixture.console.exitStatus == 3)
        #expect(fixture.console.text == "SUMMARY: 3 tests\n\nEXIT: STATUS=3\nEXIT: STATUS=1\n")
    }

    @Test("READ EVENT DATA with nothing pending: 0x60F0; an SCCB other than 4 KiB: 0x0300")
    func readEventDataEmpty() throws {
        let fixture = try SCLPFixture()
        let (outcome, sccb) = try fixture.call(SCCB.readEventData, SCCB.make(length: 4096))
        #expect(outcome == .conditionCode(0))
        #expect(response(sccb) == 0x60F0)
        let (_, short) = try fixture.call(SCCB.readEventData, SCCB.make(length: 2048))
        #expect(response(short) == 0x0300)
    }

    // MARK: The service signal

    @Test("an accepted call raises a service signal that a vCPU in an enabled wait takes (EXT 0x2401, parameter = SCCB)")
    func serviceSignalReachesVCPU() throws {
        let fixture = try SCLPFixture()
        let vcpu = try fixture.vm.createVCPU(id: 0)
        // External new PSW -> LPSWE 0(R11); R11 -> a disabled wait at 0xE2E0.
        try fixture.vm.writeAbsolute(0x14000, [0xB2, 0xB2, 0xB0, 0x00])
        let supervisor = CPU.PSW.extendedAddressing | CPU.PSW.basicAddressing
        try fixture.vm.writeAbsolute(0x1B0, bigEndian(supervisor) + bigEndian(0x14000))
        try fixture.vm.writeAbsolute(0x30000, bigEndian(supervisor | CPU.PSW.wait) + bigEndian(0xE2E0))
        var registers = vcpu.gprs
        registers[11] = 0x30000
        vcpu.gprs = registers
        var control = vcpu.controlRegisters
        control[0] = 0x200
        vcpu.controlRegisters = control
        try vcpu.setInitialPSW(CPU.PSW(mask: supervisor | CPU.PSW.wait | CPU.PSW.external, address: 0))
        try vcpu.setMPState(.operating)

        let (outcome, _) = try fixture.call(SCCB.writeEventData, SCCB.eventData([SCCB.vt220("x\n")]), at: 0x18000)
        #expect(outcome == .conditionCode(0))
        let exit = runWithTimeout(vcpu)
        #expect(exit == .sieIntercept(icptcode: 0x1C, ipa: 0, ipb: 0))
        #expect(vcpu.psw.address == 0xE2E0)
        let lowcore = try fixture.vm.readAbsolute(0x80, count: 8)
        #expect(u32(lowcore, 0) == 0x18000, "service-signal parameter: the SCCB address")
        #expect(u16(lowcore, 6) == 0x2401)
        #expect(!fixture.vm.floating.servicePending, "taken")
    }

    @Test("every accepted call signals; program exceptions do not")
    func serviceSignalPerCall() throws {
        let fixture = try SCLPFixture()
        let calls: [(UInt32, [UInt8], UInt64, Bool)] = [
            (SCCB.readSCPInfo, SCCB.make(length: 4096), 0x10000, true),
            (SCCB.writeEventMask, SCCB.eventMask(maskLength: 4), 0x11000, true),
            (SCCB.writeEventMask, SCCB.eventMask(maskLength: 0), 0x11000, true),
            (SCCB.writeEventData, SCCB.eventData([SCCB.vt220("a\n")]), 0x12000, true),
            (0x1234_5678, SCCB.make(length: 8), 0x13000, true),
            (SCCB.readSCPInfo, SCCB.make(length: 4096), 0x1000, false),
            (SCCB.readSCPInfo, SCCB.make(length: 4), 0x14000, false),
        ]
        for (command, request, address, signals) in calls {
            _ = try fixture.call(command, request, at: address)
            #expect(fixture.takeServiceSignal() == signals, "command \(hex(command)) at \(hex(address))")
        }
    }
}

private func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) } }

/// `run()` on its own thread for at most `seconds`; kicks and returns nil on timeout.
private func runWithTimeout(_ vcpu: VirtualCPU, seconds: Double = 5) -> VCPUExit? {
    final class Box: @unchecked Sendable { var exit: VCPUExit?; let done = DispatchSemaphore(value: 0) }
    let box = Box()
    Thread {
        box.exit = vcpu.run()
        box.done.signal()
    }.start()
    if box.done.wait(timeout: .now() + seconds) == .success { return box.exit }
    vcpu.kick()
    _ = box.done.wait(timeout: .now() + 5)
    return nil
}
