import FaultInjection
// A protected vCPU: its secure-CPU handle, the SIDA, the secure interception register save area
// and the format-4 interceptions of ../shared/spec/se-image-format.md §9.4 (the part of SIE and
// the Ultravisor that sits between a protected guest and KVM).
import Foundation
import S390CPU
import Ultravisor

/// SIE format-4 interception codes (arch/s390/kvm/kvm-s390.h).
extension InterceptCode {
    /// PV_INSTR: a secure instruction intercept; the host emulates it through the SIDA and the
    /// normalised registers.
    public static let secureInstruction: UInt8 = 0x68
    /// PV_NOTIFY: the instruction has completed; the host is only told.
    public static let secureNotification: UInt8 = 0x6C
    /// PV_PREF: a prefix page is not secure.
    public static let securePrefix: UInt8 = 0x70
}

/// What the UV keeps of an intercepted secure instruction until the host re-enters the CPU.
enum SecureInstruction {
    /// DIAGNOSE: R1, R1+1 and R3 were presented in gr0-gr2; R1+1 (the response) is copied back.
    /// For DIAG 0x308 subcode 6, the IPIB the host wrote to the SIDA goes to `storeIPIBAt`.
    case diagnose(r1: Int, storeIPIBAt: UInt64?)
    /// SERVICE CALL: the SCCB at absolute `sccb` was copied into the SIDA and goes back.
    case serviceCall(sccb: UInt64)
    /// Any other instruction: its register operands were presented at their own numbers.
    case registers(written: [Int])
}

/// What became of an instruction intercept once the vCPU's protection is taken into account.
enum SecureInterceptOutcome {
    /// The vCPU is not protected: the plain intercept goes to the host.
    case notProtected
    /// The Ultravisor completed or refused the instruction itself.
    case completedByUltravisor
    /// The host sees this format-4 interception.
    case exit(VCPUExit)
}

/// The secure side of a vCPU (vcpu->arch.pv): created by KVM_PV_ENABLE or at vCPU creation in
/// a protected VM; only the vCPU thread touches it while the vCPU runs.
final class SecureCPU {
    static let sidaSize = 4096
    let handle: UInt64
    /// Secure Instruction Data Area: one zeroed page.
    let sida = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureCPU.sidaSize, alignment: 4096)
    /// pv_grregs: the only general registers the host sees (and the ones it may set).
    let interceptRegisters = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
    var pendingInstruction: SecureInstruction?
    /// CPU_SET_STATE OPR_LOAD succeeded: the Ultravisor has a state to run.
    var loaded = false

    init(handle: UInt64) {
        self.handle = handle
        sida.initializeMemory(as: UInt8.self, repeating: 0)
        interceptRegisters.initialize(repeating: 0, count: 16)
    }

    deinit {
        sida.deallocate()
        interceptRegisters.deallocate()
    }
}

extension VirtualCPU {
    public var isProtected: Bool { secureCPU != nil }

    /// kvm_s390_pv_create_cpu: CREATE_SEC_CPU for this vCPU. Context: VM lock held, the vCPU
    /// not running. Returns (nil, the UV's response) when the UVC was issued (the error is EIO
    /// when it failed); (ENOMEM, nil) when the donated CPU storage and SIDA page could not be
    /// allocated (failure point `pv_cpu_storage`, no UVC issued, rc/rrc not written). An already
    /// secure vCPU is refused (Linux: -EINVAL; here rc 0x0003).
    func makeSecure(_ ultravisor: Ultravisor, configuration: UInt64) -> (error: Errno?, response: UVResponse?) {
        guard secureCPU == nil else { return (.EIO, UVResponse(rc: 0x0003, rrc: 0)) }
        if let error = FaultInjection.shouldFail(.cpuStorage) { return (Errno(error), nil) }
        let (response, handle) = ultravisor.createSecureCPU(configuration: configuration, cpuNumber: id,
                                                            storageLength: ultravisor.configuration.cpuStorageLength)
        if response.succeeded { secureCPU = SecureCPU(handle: handle) }
        return (response.succeeded ? nil : .EIO, response)
    }

    /// kvm_s390_pv_destroy_cpu: DESTROY_SEC_CPU; the handle and SIDA go whatever the UV said.
    /// nil if the vCPU was not secure (the step is idempotent).
    func makeNonSecure(_ ultravisor: Ultravisor) -> UVResponse? {
        guard let secure = secureCPU else { return nil }
        let response = ultravisor.destroySecureCPU(secure.handle)
        secureCPU = nil
        return response
    }

    /// CPU_SET_STATE for KVM_SET_MP_STATE of a protected vCPU (spec kvm-pv-ioctl.md §2.10).
    /// OPR_LOAD loads the start PSW the SE header carries; after PREPARE_RESET (a reset that stays
    /// protected) the UV loads the short PSW at absolute 0 of secure storage (se-image-format §8.6).
    func setSecureState(_ state: UVCPUState) throws(Errno) {
        guard let secure = secureCPU, let ultravisor = HostFirmware.ultravisor, let vm else { throw Errno(6) }
        let (response, psw) = ultravisor.setCPUState(secure.handle, state)
        guard response.succeeded else { throw .EINVAL }
        if state == .operatingLoad { secure.loaded = true }
        if let psw {
            cpu.loadPSW(CPU.PSW(mask: psw.mask, address: psw.address))
        } else if state == .operatingLoad, vm.storage.size >= 8 {
            let short = UInt64(bigEndian: vm.storage.base.loadUnaligned(as: UInt64.self))
            // ESA/390 form: bit 12 is the format bit, the address is 31 bits (PoP 4-7).
            cpu.loadPSW(CPU.PSW(mask: short & 0xFFFF_FFFF_8000_0000 & ~(1 << 51), address: short & 0x7FFF_FFFF))
        }
    }

    /// The CPU_RESET* UVC after a KVM-side reset of a protected vCPU; rc/rrc are only logged in
    /// Linux, so only the errno is reported.
    func resetSecureCPU(_ kind: UVCPUResetKind) throws(Errno) {
        guard let secure = secureCPU, let ultravisor = HostFirmware.ultravisor else { return }
        secure.pendingInstruction = nil
        guard ultravisor.resetCPU(secure.handle, kind: kind).succeeded else { throw .EINVAL }
    }

    // MARK: KVM_S390_MEM_OP SIDA_READ / SIDA_WRITE

    /// Copies `count` bytes of the SIDA from `offset`: EINVAL when not protected, E2BIG past its end.
    public func readSIDA(offset: UInt32, count: Int) throws(Errno) -> [UInt8] {
        let range = try sidaRange(offset: offset, count: count)
        return Array(secureCPU!.sida[range])
    }

    public func writeSIDA(offset: UInt32, _ bytes: [UInt8]) throws(Errno) {
        let range = try sidaRange(offset: offset, count: bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: secureCPU!.sida[range]).copyBytes(from: bytes)
    }

    /// The SIDA of a protected vCPU is one page (sida_size).
    public static let sidaSize = SecureCPU.sidaSize

    /// E2BIG past the SIDA's end (checked first, as Linux sizes it even without a SIDA), then
    /// EINVAL for a vCPU that is not protected.
    private func sidaRange(offset: UInt32, count: Int) throws(Errno) -> Range<Int> {
        guard Int(offset) + count <= SecureCPU.sidaSize else { throw .E2BIG }
        guard secureCPU != nil else { throw .EINVAL }
        return Int(offset)..<Int(offset) + count
    }

    // MARK: Secure interceptions

    /// The UV completes an intercepted instruction as the host re-enters the vCPU: results in
    /// the normalised registers and the SIDA go back to the guest (not when the host injected
    /// a program interruption for it instead).
    func completeSecureInstruction(discard: Bool) {
        guard let secure = secureCPU, let pending = secure.pendingInstruction else { return }
        secure.pendingInstruction = nil
        guard !discard, let vm else { return }
        switch pending {
        case .diagnose(let r1, let storeIPIBAt):
            cpu.gpr[(r1 + 1) & 15] = secure.interceptRegisters[1]
            if let address = storeIPIBAt {
                let length = min(Int(UInt32(bigEndian: secure.sida.loadUnaligned(as: UInt32.self))), SecureCPU.sidaSize)
                copyToGuest(UnsafeRawBufferPointer(rebasing: secure.sida[0..<length]), absolute: address, storage: vm.storage)
            }
        case .serviceCall(let sccb):
            let length = min(Int(UInt16(bigEndian: secure.sida.loadUnaligned(as: UInt16.self))), SecureCPU.sidaSize)
            copyToGuest(UnsafeRawBufferPointer(rebasing: secure.sida[0..<length]), absolute: sccb, storage: vm.storage)
            cpu.conditionCode = 0
            // handle_pv_sclp: the answer may be delivered now, with the real SCCB address.
            vm.floating.replaceServiceSignalAddress(UInt32(truncatingIfNeeded: sccb))
            vm.floating.isServiceSignalMasked = false
            if vm.floating.servicePending { for vcpu in vm.allVCPUs { vcpu.doorbell.ring() } }
        case .registers(let written):
            for register in written { cpu.gpr[register] = secure.interceptRegisters[register] }
        }
    }

    /// Turns an instruction intercept of a protected vCPU into what the host may see: a
    /// PV_INSTR interception with normalised IPA/IPB, the operands in the intercept registers
    /// and data in the SIDA (se-image-format §9.4). Decision (spec §9.4 names only DIAG's
    /// normalisation): SERVC is presented as IPB 0x00010000 (command in gr0, gr1 = 0: the
    /// SCCB address stays hidden); other instructions keep IPA/IPB and see only the registers
    /// their R fields name.
    func secureIntercept(ipa: UInt16, ipb: UInt32) -> SecureInterceptOutcome {
        guard let secure = secureCPU, let vm else { return .notProtected }
        let registers = secure.interceptRegisters
        registers.update(repeating: 0, count: 16)
        switch ipa >> 8 {
        case 0x83:
            let r1 = Int(ipa >> 4 & 0xF), r3 = Int(ipa & 0xF)
            registers[0] = cpu.gpr[r1]
            registers[1] = cpu.gpr[(r1 + 1) & 15]
            registers[2] = cpu.gpr[r3]
            let code = diagnoseCode(ipa: ipa, ipb: ipb)
            registers[5] = code
            var storeIPIBAt: UInt64?
            if code == 0x308 {
                let ipib = cpu.realToAbsolute(cpu.gpr[r1])
                switch cpu.gpr[r3] {
                case 5: copyFromGuest(absolute: ipib, into: secure.sida, storage: vm.storage)
                case 6: storeIPIBAt = ipib
                // Dumps and (re-)entering PV are refused inside a protected guest (s390-pv-boot.rst).
                case 4, 7, 8, 9, 10:
                    try? cpu.injectProgramInterruption(.specification, ilc: 4)
                    return .completedByUltravisor
                default: break
                }
            }
            secure.pendingInstruction = .diagnose(r1: r1, storeIPIBAt: storeIPIBAt)
            return .exit(.sieIntercept(icptcode: InterceptCode.secureInstruction, ipa: 0x8302, ipb: 0x5000_0000))
        case 0xB2 where ipa == 0xB220:
            let fields = ipb >> 16 & 0xFF
            let sccb = cpu.realToAbsolute(cpu.gpr[Int(fields & 0xF)] & 0x7FFF_FFFF)
            registers[0] = cpu.gpr[Int(fields >> 4)]
            secure.sida.initializeMemory(as: UInt8.self, repeating: 0)
            copyFromGuest(absolute: sccb, into: secure.sida, storage: vm.storage)
            secure.pendingInstruction = .serviceCall(sccb: sccb)
            return .exit(.sieIntercept(icptcode: InterceptCode.secureInstruction, ipa: ipa, ipb: 0x0001_0000))
        default:
            let named = Self.registerOperands(ipa: ipa, ipb: ipb)
            for register in named { registers[register] = cpu.gpr[register] }
            secure.pendingInstruction = .registers(written: named)
            return .exit(.sieIntercept(icptcode: InterceptCode.secureInstruction, ipa: ipa, ipb: ipb))
        }
    }

    /// R1 and R1+1 and R3 of an RS instruction (SIGP), R1 and R2 of an RRE one.
    private static func registerOperands(ipa: UInt16, ipb: UInt32) -> [Int] {
        if ipa >> 8 == 0xB2 || ipa >> 8 == 0xB9 {
            let fields = Int(ipb >> 16 & 0xFF)
            return Array(Set([fields >> 4, fields & 0xF])).sorted()
        }
        let r1 = Int(ipa >> 4 & 0xF), r3 = Int(ipa & 0xF)
        return Array(Set([r1, (r1 + 1) & 15, r3])).sorted()
    }

    /// A UVC (B9A4) from the guest goes to the Ultravisor, never to the host (se-image-format
    /// §9.1). REMOVE_SHARED_ACCESS notifies KVM, which pins the page back (handle_pv_uvc).
    func handleUltravisorCall(ipb: UInt32) {
        guard let vm else { return }
        guard let ultravisor = HostFirmware.ultravisor else {
            try? cpu.injectProgramInterruption(.operation, ilc: 4)
            return
        }
        let fields = ipb >> 16 & 0xFF
        let block = cpu.realToAbsolute(cpu.gpr[Int(fields & 0xF)])
        switch ultravisor.guestCall(storage: vm.secureStorage, cpuHandle: secureCPU?.handle, controlBlockAddress: block) {
        case .completed(let conditionCode, let notification):
            cpu.conditionCode = conditionCode
            if case .sharedAccessRemoved(let address) = notification {
                _ = ultravisor.unpinShared(storage: vm.secureStorage, guestAddress: address)
            }
        case .programException(let code):
            try? cpu.injectProgramInterruption(ProgramInterruptionCode(rawValue: code), ilc: 4)
        }
    }

    private func copyFromGuest(absolute address: UInt64, into buffer: UnsafeMutableRawBufferPointer, storage: GuestStorage) {
        guard address < storage.size else { return }
        let count = min(UInt64(buffer.count), storage.size - address)
        buffer.baseAddress!.copyMemory(from: storage.base + Int(address), byteCount: Int(count))
    }

    private func copyToGuest(_ bytes: UnsafeRawBufferPointer, absolute address: UInt64, storage: GuestStorage) {
        guard address < storage.size, !bytes.isEmpty else { return }
        let count = min(UInt64(bytes.count), storage.size - address)
        (storage.base + Int(address)).copyMemory(from: bytes.baseAddress!, byteCount: Int(count))
    }
}
