// The service-call logical processor as QEMU's hw/s390x/sclp.c and event-facility.c present it
// (spec s390x-cpu.md section 7.6): SERVC intercepts come here, the SCCB moves through
// KVM_S390_MEM_OP, and completion is signalled with a service-signal interruption.
import Foundation
import KVMIoctls

/// SCLP command words and response codes (Linux drivers/s390/char/sclp.h).
enum SCLPCommand {
    static let readSCPInfo: UInt32 = 0x0002_0001
    static let readSCPInfoForced: UInt32 = 0x0012_0001
    static let readCPUInfo: UInt32 = 0x0001_0001
    static let writeEventData: UInt32 = 0x0076_0005
    static let readEventData: UInt32 = 0x0077_0005
    static let writeEventMask: UInt32 = 0x0078_0005
    /// QEMU's SCLP_CMD_CODE_MASK: byte 2 of the command word is ignored.
    static let codeMask: UInt32 = 0xFFFF_00FF
    static let known: Set<UInt32> = [readSCPInfo, readSCPInfoForced, readCPUInfo, writeEventData, readEventData, writeEventMask]
}

enum SCLPResponse {
    static let normalRead: UInt16 = 0x0010
    static let normalCompletion: UInt16 = 0x0020
    static let boundaryViolation: UInt16 = 0x0100
    static let invalidCommand: UInt16 = 0x01F0
    static let insufficientLength: UInt16 = 0x0300
    static let invalidFunction: UInt16 = 0x40F0
    static let noEvents: UInt16 = 0x60F0
    static let eventBufferSyntaxError: UInt16 = 0x73F0
    static let invalidMaskLength: UInt16 = 0x74F0
}

enum SCLPEventType {
    static let message: UInt8 = 0x02     // line mode (MDB, EBCDIC)
    static let vt220: UInt8 = 0x1A       // ASCII console
    /// 4-byte event masks: the bit for type t is 1 << (32 - t).
    static func mask(_ type: UInt8) -> UInt32 { 1 << (32 - UInt32(type)) }
}

/// The SCLP of one machine. Thread-safe: SERVCs from several vCPUs are serialized.
final class ServiceProcessor: @unchecked Sendable {
    private let vm: any SCLPHost
    private let memorySize: UInt64
    private let cpuCount: Int
    private let maxCPUs: Int
    private let console: Console
    private let lock = NSLock()
    /// Events the guest enabled for sending to us (WRITE EVENT MASK cp_send).
    private var guestSendMask: UInt32 = 0

    init(vm: any SCLPHost, memorySize: UInt64, cpuCount: Int, maxCPUs: Int, console: Console) {
        self.vm = vm
        self.memorySize = memorySize
        self.cpuCount = cpuCount
        self.maxCPUs = maxCPUs
        self.console = console
    }

    /// Result of a SERVC: a condition code, or a program interruption for the vCPU.
    enum Outcome: Equatable { case conditionCode(UInt8), program(ProgramInterruption) }

    /// SERVC with command word `command` and SCCB real address `sccb` from `vcpu` (QEMU's
    /// sclp_service_call, checks in its order).
    func serviceCall(command: UInt32, sccb: UInt64, prefix: UInt64) -> Outcome {
        lock.withLock { () -> Outcome in
            guard sccb < memorySize else { return .program(.addressing) }
            let block = sccb & ~0x1FFF
            if block == 0 || block == prefix || sccb & ~0x7FFF_FFF8 != 0 { return .program(.specification) }
            guard let header = try? vm.readAbsolute(sccb, count: 8) else { return .program(.addressing) }
            let length = Int(UInt16(header[0]) << 8 | UInt16(header[1]))
            guard length >= 8 else { return .program(.specification) }
            guard var buffer = try? vm.readAbsolute(sccb, count: min(length, 4096)) else { return .program(.addressing) }
            // QEMU checks the command code (sclp_command_code_valid) before the 4 KiB boundary.
            let code = command & SCLPCommand.codeMask
            if !SCLPCommand.known.contains(code) {
                setResponse(&buffer, SCLPResponse.invalidCommand)
            } else if Int(sccb & 0xFFF) + length > 4096 {
                setResponse(&buffer, SCLPResponse.boundaryViolation)
            } else {
                execute(command: code, sccb: &buffer)
            }
            do { try vm.writeAbsolute(sccb, buffer) } catch { return .program(.addressing) }
            try? vm.injectServiceSignal(parameter: UInt32(truncatingIfNeeded: sccb) & ~3)
            return .conditionCode(0)
        }
    }

    /// SERVC of a protected CPU (QEMU's sclp_service_call_protected): the SCCB is in the SIDA,
    /// no address checks apply (the Ultravisor made them), and completion is signalled with the
    /// dummy SCCB address 0x4000, which the Ultravisor replaces by the real one.
    func serviceCall(command: UInt32, sida: any SIDAAccess) -> Outcome {
        lock.withLock { () -> Outcome in
            guard let header = try? sida.readSIDA(offset: 0, count: 8) else { return .program(.addressing) }
            let length = min(max(Int(header.get16(0)), 8), 4096)
            guard var buffer = try? sida.readSIDA(offset: 0, count: length) else { return .program(.addressing) }
            let code = command & SCLPCommand.codeMask
            if SCLPCommand.known.contains(code) {
                execute(command: code, sccb: &buffer)
            } else {
                setResponse(&buffer, SCLPResponse.invalidCommand)
            }
            let written = min(max(Int(buffer.get16(0)), 8), buffer.count)
            try? sida.writeSIDA(offset: 0, Array(buffer.prefix(written)))
            try? vm.injectServiceSignal(parameter: ServiceProcessor.protectedDummySCCB)
            return .conditionCode(0)
        }
    }

    /// QEMU's SCLP_PV_DUMMY_ADDR.
    static let protectedDummySCCB: UInt32 = 0x4000

    private func execute(command: UInt32, sccb: inout [UInt8]) {
        switch command {
        case SCLPCommand.readSCPInfo, SCLPCommand.readSCPInfoForced: readSCPInfo(&sccb)
        case SCLPCommand.readCPUInfo: readCPUInfo(&sccb)
        case SCLPCommand.writeEventMask: writeEventMask(&sccb)
        case SCLPCommand.writeEventData: writeEventData(&sccb)
        default:
            // READ EVENT DATA: QEMU wants exactly one 4 KiB SCCB; no console input is wired.
            setResponse(&sccb, sccb.get16(0) == 4096 ? SCLPResponse.noEvents : SCLPResponse.insufficientLength)
        }
    }

    private func setResponse(_ sccb: inout [UInt8], _ code: UInt16) { sccb.put16(6, code) }

    /// READ SCP INFO: storage increments, CPU entries (QEMU's layout and sizing rules).
    private func readSCPInfo(_ sccb: inout [UInt8]) {
        let cpuEntryOffset = 128, cpuEntrySize = 16
        guard sccb.count >= cpuEntryOffset + cpuCount * cpuEntrySize else {
            return setResponse(&sccb, SCLPResponse.insufficientLength)
        }
        for index in 8..<sccb.count { sccb[index] = 0 }
        // QEMU grows the increment until there are at most 1020 of them.
        var incrementShift: UInt64 = 20
        while memorySize >> incrementShift > 1020 { incrementShift += 1 }
        let increments = memorySize >> incrementShift
        sccb.put16(8, UInt16(increments))
        sccb[10] = UInt8(1 << (incrementShift - 20))
        sccb.put16(16, UInt16(cpuCount))
        sccb.put16(18, UInt16(cpuEntryOffset))
        for index in 24..<32 { sccb[index] = 0x40 }                  // loadparm: EBCDIC blanks
        sccb.put64(48, 0x0C00_0000_0000_0000)                        // "has CPU info"
        sccb.put32(100, UInt32(1 << (incrementShift - 20)))         // rnsize2
        sccb.put64(104, increments)                                  // rnmax2
        sccb.put16(120, UInt16(maxCPUs - 1))
        sccb.put32(124, 0x0800_0000)                                 // HMFAI
        for cpu in 0..<cpuCount { sccb[cpuEntryOffset + cpu * cpuEntrySize] = UInt8(cpu) }
        setResponse(&sccb, SCLPResponse.normalRead)
    }

    /// READ CPU INFO: every configured CPU, none in standby.
    private func readCPUInfo(_ sccb: inout [UInt8]) {
        let entries = 16
        guard sccb.count >= entries + cpuCount * 16 else { return setResponse(&sccb, SCLPResponse.insufficientLength) }
        for index in 8..<sccb.count { sccb[index] = 0 }
        sccb.put16(8, UInt16(cpuCount))
        sccb.put16(10, UInt16(entries))
        sccb.put16(14, UInt16(entries + cpuCount * 16))
        for cpu in 0..<cpuCount { sccb[entries + cpu * 16] = UInt8(cpu) }
        setResponse(&sccb, SCLPResponse.normalRead)
    }

    /// Longest event mask QEMU accepts (SCLP_EVENT_MASK_LEN_MAX).
    static let maximumMaskLength = 1021

    /// WRITE EVENT MASK: remember what the guest sends; report what we accept and send. Masks
    /// longer than 4 bytes carry event types beyond 32, none of which exist here.
    private func writeEventMask(_ sccb: inout [UInt8]) {
        guard sccb.count >= 12 else { return setResponse(&sccb, SCLPResponse.insufficientLength) }
        let maskLength = Int(sccb.get16(10))
        guard (1...ServiceProcessor.maximumMaskLength).contains(maskLength), sccb.count >= 12 + 4 * maskLength else {
            return setResponse(&sccb, SCLPResponse.invalidMaskLength)
        }
        func mask(_ index: Int) -> UInt32 {
            var value: UInt32 = 0
            for byte in 0..<min(maskLength, 4) { value |= UInt32(sccb[12 + index * maskLength + byte]) << (24 - 8 * UInt32(byte)) }
            return value
        }
        func setMask(_ index: Int, _ value: UInt32) {
            for byte in 0..<maskLength {
                sccb[12 + index * maskLength + byte] = byte < 4 ? UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(byte))) : 0
            }
        }
        guestSendMask = mask(1)
        // Linux init_sccb / QEMU WEM_*: index 2 is what the SCLP receives, index 3 what it sends.
        setMask(2, SCLPEventType.mask(SCLPEventType.vt220) | SCLPEventType.mask(SCLPEventType.message))
        setMask(3, SCLPEventType.mask(SCLPEventType.vt220))
        setResponse(&sccb, SCLPResponse.normalCompletion)
    }

    /// WRITE EVENT DATA: VT220 text goes to the console; line-mode buffers are accepted and
    /// dropped (guests send both, and the text must appear once); others are refused.
    private func writeEventData(_ sccb: inout [UInt8]) {
        guard sccb[2] == 0 else { return setResponse(&sccb, SCLPResponse.invalidFunction) }
        let total = Int(sccb.get16(0))
        var offset = 8
        var buffers: [(offset: Int, length: Int, type: UInt8)] = []
        while offset < total {
            // QEMU reports every malformed buffer length as a syntax error.
            let length = offset + 6 <= total ? Int(sccb.get16(offset)) : 0
            guard length >= 6, offset + length <= total else { return setResponse(&sccb, SCLPResponse.eventBufferSyntaxError) }
            buffers.append((offset, length, sccb[offset + 2]))
            offset += length
        }
        var allAccepted = !buffers.isEmpty
        for buffer in buffers {
            switch buffer.type {
            case SCLPEventType.vt220:
                console.write(sccb[(buffer.offset + 6)..<(buffer.offset + buffer.length)])
                sccb[buffer.offset + 3] |= 0x80
            case SCLPEventType.message:
                sccb[buffer.offset + 3] |= 0x80
            default:
                allAccepted = false
            }
        }
        setResponse(&sccb, allAccepted ? SCLPResponse.normalCompletion : SCLPResponse.invalidFunction)
    }
}

extension [UInt8] {
    func get16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    mutating func put16(_ offset: Int, _ value: UInt16) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
    mutating func put32(_ offset: Int, _ value: UInt32) {
        for index in 0..<4 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(index))) }
    }
    mutating func put64(_ offset: Int, _ value: UInt64) {
        for index in 0..<8 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64(index))) }
    }
    func get64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(self[offset + $1]) } }
}
