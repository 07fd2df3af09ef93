// DIAGNOSE 0x308 (IPL functions) as QEMU's target/s390x/diag.c handles it for non-protected
// guests (spec s390x-cpu.md section 7.9). DIAG 0x44/0x9C never get here: the kernel handles them.
import KVMIoctls

/// Program-interruption codes the VMM raises for instructions it completes.
enum ProgramInterruption: UInt16, Sendable {
    case operation = 0x01
    case addressing = 0x05
    case specification = 0x06
}

enum DiagnoseCode {
    static let ipl: UInt64 = 0x308
}

enum IPLSubcode {
    static let modifiedClear: UInt64 = 0
    static let loadNormal: UInt64 = 1
    static let loadClear: UInt64 = 3
    static let setIPLParameters: UInt64 = 5
    static let storeIPLParameters: UInt64 = 6
}

/// DIAG 308 response codes placed in R1+1.
enum IPLResponse {
    static let ok: UInt64 = 0x0001
    static let noConfiguration: UInt64 = 0x0102
    static let invalid: UInt64 = 0x0402
}

/// What the machine must do after a DIAG the VMM handled.
enum DiagnoseAction: Equatable {
    case resume
    case program(ProgramInterruption)
    /// Subcodes 0 and 1: reset, then continue from the short PSW at absolute 0.
    case resetAndLoadPSW(clearAll: Bool)
    /// Subcode 3: clear everything and IPL the image again.
    case reIPL
}

/// The IPL parameter block store of one machine (DIAG 308 subcodes 5 and 6).
final class IPLParameters: @unchecked Sendable {
    /// The largest IPL parameter block (QEMU's sizeof(IplParameterBlock)).
    static let maximumLength = 4096
    /// Offset of the parameter-block type, and the minimum lengths of the types a
    /// non-protected machine accepts (QEMU's iplb_valid: FCP and CCW).
    static let blockTypeOffset = 12
    static let minimumLength: [UInt8: Int] = [0: 384, 2: 200]   // FCP, CCW
    private(set) var block: [UInt8]?

    /// Handles DIAG 308 for `vcpu` with R1/R3 from the intercepted instruction.
    func diagnose(vcpu: any GuestRegisters, vm: any GuestMemoryAccess, memorySize: UInt64, r1: Int, r3: Int) -> DiagnoseAction {
        let subcode = vcpu.gpr(r3)
        guard subcode & ~0xFFFF == 0 else { return .program(.specification) }
        switch subcode {
        case IPLSubcode.modifiedClear: return .resetAndLoadPSW(clearAll: true)
        case IPLSubcode.loadNormal: return .resetAndLoadPSW(clearAll: false)
        case IPLSubcode.loadClear: return .reIPL
        case IPLSubcode.setIPLParameters, IPLSubcode.storeIPLParameters:
            let address = vcpu.gpr(r1)
            guard r1 & 1 == 0, address & 0xFFF == 0 else { return .program(.specification) }
            guard address < memorySize, UInt64(IPLParameters.maximumLength) <= memorySize - address else {
                return .program(.addressing)
            }
            let response: UInt64
            if subcode == IPLSubcode.setIPLParameters {
                response = store(from: vm, address: address)
            } else if let block {
                _ = try? vm.writeAbsolute(address, block)
                response = IPLResponse.ok
            } else {
                response = IPLResponse.noConfiguration
            }
            vcpu.setGPR(r1 + 1, response)
            return .resume
        default:
            return .program(.specification)
        }
    }

    /// Validates and keeps the block at `address`: its length (first word) at most 4 KiB, and a
    /// known block type with at least that type's length (QEMU's iplb_valid_len, iplb_valid).
    /// An invalid block leaves the stored one as it was.
    private func store(from vm: any GuestMemoryAccess, address: UInt64) -> UInt64 {
        guard let header = try? vm.readAbsolute(address, count: IPLParameters.blockTypeOffset + 1) else { return IPLResponse.invalid }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length <= IPLParameters.maximumLength,
              let minimum = IPLParameters.minimumLength[header[IPLParameters.blockTypeOffset]], length >= minimum,
              let bytes = try? vm.readAbsolute(address, count: length) else { return IPLResponse.invalid }
        block = bytes
        return IPLResponse.ok
    }
}
