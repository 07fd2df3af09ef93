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
    /// Secure Execution (spec se-image-format.md §7.1): set and store the PV IPIB, enter PV.
    static let setProtectedParameters: UInt64 = 8
    static let storeProtectedParameters: UInt64 = 9
    static let enterProtectedMode: UInt64 = 10
}

/// DIAG 308 response codes placed in R1+1.
enum IPLResponse {
    static let ok: UInt64 = 0x0001
    static let noConfiguration: UInt64 = 0x0102
    static let invalid: UInt64 = 0x0402
    static let noProtectedConfiguration: UInt64 = 0x0902
    /// Entering PV failed; the 2025 form carries command ‖ rrc ‖ rc above it (spec §7.4).
    static let cannotEnterProtectedMode: UInt64 = 0x0A02
}

/// What the machine must do after a DIAG the VMM handled.
enum DiagnoseAction: Equatable {
    case resume
    case program(ProgramInterruption)
    /// Subcodes 0 and 1: reset, then continue from the short PSW at absolute 0.
    case resetAndLoadPSW(clearAll: Bool)
    /// Subcode 3: clear everything and IPL the image again.
    case reIPL
    /// Subcode 10 with a PV IPIB stored: reset, then make the VM protected from that block.
    case enterProtectedMode
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
    /// The PV IPIB (pbt 5) stored by subcode 8, kept apart from `block` as QEMU's iplb_pv.
    private(set) var protectedBlock: ProtectedIPLBlock?

    /// Handles DIAG 308 for `vcpu` with R1/R3 from the intercepted instruction (QEMU's
    /// handle_diag_308, checks in its order). `blocks` is where subcodes 5, 6, 8 and 9 move the
    /// block: guest memory, or the SIDA of a protected CPU, where the Ultravisor has already
    /// checked the address. Subcodes 8 to 10 need the unpack facility (161).
    func diagnose(vcpu: any GuestRegisters, blocks: any GuestMemoryAccess, memorySize: UInt64, r1: Int, r3: Int,
                  protected: Bool, unpackFacility: Bool) -> DiagnoseAction {
        let subcode = vcpu.gpr(r3)
        guard subcode & ~0xFFFF == 0 else { return .program(.specification) }
        guard subcode < IPLSubcode.setProtectedParameters || unpackFacility else { return .program(.specification) }
        switch subcode {
        case IPLSubcode.modifiedClear: return .resetAndLoadPSW(clearAll: true)
        case IPLSubcode.loadNormal: return .resetAndLoadPSW(clearAll: false)
        case IPLSubcode.loadClear: return .reIPL
        case IPLSubcode.setIPLParameters, IPLSubcode.storeIPLParameters,
             IPLSubcode.setProtectedParameters, IPLSubcode.storeProtectedParameters:
            let address = vcpu.gpr(r1)
            if !protected {
                guard r1 & 1 == 0, address & 0xFFF == 0 else { return .program(.specification) }
                guard address < memorySize, UInt64(IPLParameters.maximumLength) <= memorySize - address else {
                    return .program(.addressing)
                }
            }
            let response: UInt64
            switch subcode {
            case IPLSubcode.setIPLParameters, IPLSubcode.setProtectedParameters:
                response = store(from: blocks, address: address, protectedBlock: subcode == IPLSubcode.setProtectedParameters,
                                 memorySize: memorySize)
            default:
                let stored = subcode == IPLSubcode.storeIPLParameters ? block : protectedBlock?.bytes
                if let stored {
                    _ = try? blocks.writeAbsolute(address, stored)
                    response = IPLResponse.ok
                } else {
                    response = IPLResponse.noConfiguration
                }
            }
            vcpu.setGPR(r1 + 1, response)
            return .resume
        case IPLSubcode.enterProtectedMode:
            guard protectedBlock != nil else {
                vcpu.setGPR(r1 + 1, IPLResponse.noProtectedConfiguration)
                return .resume
            }
            return .enterProtectedMode
        default:
            return .program(.specification)
        }
    }

    /// Validates and keeps the block at `address`: its length (first word) at most 4 KiB, then
    /// QEMU's iplb_valid (a known non-PV type with that type's length) or iplb_valid_pv. An
    /// invalid block leaves the stored one as it was.
    private func store(from memory: any GuestMemoryAccess, address: UInt64, protectedBlock isProtected: Bool,
                       memorySize: UInt64) -> UInt64 {
        guard let header = try? memory.readAbsolute(address, count: IPLParameters.blockTypeOffset + 1) else { return IPLResponse.invalid }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length <= IPLParameters.maximumLength, length >= IPLParameters.blockTypeOffset + 1,
              let bytes = try? memory.readAbsolute(address, count: length) else { return IPLResponse.invalid }
        if isProtected {
            guard let parsed = ProtectedIPLBlock(bytes, memorySize: memorySize) else { return IPLResponse.invalid }
            protectedBlock = parsed
        } else {
            guard let minimum = IPLParameters.minimumLength[header[IPLParameters.blockTypeOffset]], length >= minimum else {
                return IPLResponse.invalid
            }
            block = bytes
        }
        return IPLResponse.ok
    }
}

/// An IPL parameter block of type PV (pbt 5, spec se-image-format.md §6).
struct ProtectedIPLBlock: Equatable {
    struct Component: Equatable {
        let tweakPrefix: UInt64
        let address: UInt64
        let size: UInt64
    }
    static let type: UInt8 = 5
    /// QEMU's S390_IPLB_MIN_PV_LEN.
    static let minimumLength = 148
    /// QEMU's ipl_valid_pv_header limit: two pages.
    static let maximumHeaderLength: UInt64 = 8192

    let bytes: [UInt8]
    let headerAddress: UInt64
    let headerLength: UInt64
    let components: [Component]

    /// QEMU's iplb_valid_pv: type 5, at least 148 bytes, a header of at most 8 KiB inside guest
    /// memory, at least one component, every component page aligned and their tweak prefixes
    /// strictly increasing. Decision: the component list must also fit in the block's length
    /// (QEMU would read past it).
    init?(_ bytes: [UInt8], memorySize: UInt64) {
        func u32(_ offset: Int) -> UInt64 { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt64($1) } }
        func u64(_ offset: Int) -> UInt64 { bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        guard bytes.count >= Self.minimumLength, bytes[IPLParameters.blockTypeOffset] == Self.type else { return nil }
        headerAddress = u64(0x78)
        headerLength = u64(0x80)
        guard headerLength <= Self.maximumHeaderLength, headerAddress < memorySize, headerLength <= memorySize - headerAddress else {
            return nil
        }
        let count = Int(u32(0x74))
        guard count >= 1, 0x88 + 24 * count <= bytes.count else { return nil }
        var components: [Component] = []
        for index in 0..<count {
            let entry = 0x88 + 24 * index
            let component = Component(tweakPrefix: u64(entry), address: u64(entry + 8), size: u64(entry + 16))
            guard component.address & 0xFFF == 0 else { return nil }
            if let previous = components.last, component.tweakPrefix <= previous.tweakPrefix { return nil }
            components.append(component)
        }
        self.bytes = bytes
        self.components = components
    }
}
