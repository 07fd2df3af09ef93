// SIGNAL PROCESSOR as KVM splits it without KVM_CAP_S390_USER_SIGP (arch/s390/kvm/sigp.c):
// the kernel answers sense, external call, emergency signals, stops, store status, set prefix,
// sense running status and set architecture; START, RESTART, the CPU resets and every other
// order go to userspace as an instruction intercept once the target is known to exist.
// Orders and status bits: spec s390x-cpu.md section 7.5.
import Foundation
import S390CPU

enum SIGPOrder: UInt8 {
    case sense = 0x01, externalCall = 0x02, emergencySignal = 0x03, start = 0x04, stop = 0x05, restart = 0x06
    case stopAndStoreStatus = 0x09, initialCPUReset = 0x0B, cpuReset = 0x0C, setPrefix = 0x0D
    case storeStatusAtAddress = 0x0E, setArchitecture = 0x12, conditionalEmergencySignal = 0x13
    case senseRunningStatus = 0x15, storeAdditionalStatus = 0x17
}

enum SIGPStatus {
    static let externalCallPending: UInt32 = 0x80
    static let stopped: UInt32 = 0x40
    static let checkStop: UInt32 = 0x10
    static let invalidOrder: UInt32 = 0x02
    static let invalidParameter: UInt32 = 0x100
    static let incorrectState: UInt32 = 0x200
    static let notRunning: UInt32 = 0x400
}

extension VirtualCPU {
    /// Executes the intercepted SIGP (RS format: R1, R3, B2/D2 in IPA/IPB) and sets the CC;
    /// false when the order is userspace's to complete.
    func handleSignalProcessor(ipa: UInt16, ipb: UInt32) -> Bool {
        let r1 = Int(ipa >> 4 & 0xF), r3 = Int(ipa & 0xF)
        let base = Int(ipb >> 28), displacement = UInt64(ipb >> 16 & 0xFFF)
        let orderCode = UInt8(truncatingIfNeeded: displacement &+ (base == 0 ? 0 : cpu.gpr[base]))
        let parameter = r1 & 1 == 1 ? cpu.gpr[r1] : cpu.gpr[r1 | 1]
        let targetAddress = UInt16(truncatingIfNeeded: cpu.gpr[r3])

        let result = signal(orderCode: orderCode, targetAddress: targetAddress, parameter: parameter)
        if result == .userspace { return false }
        if case .status(let status) = result {
            cpu.gpr[r1] = (cpu.gpr[r1] & 0xFFFF_FFFF_0000_0000) | UInt64(status)
        }
        cpu.conditionCode = result.conditionCode
        return true
    }

    enum SIGPResult: Equatable {
        case accepted, status(UInt32), busy, notOperational
        /// The VMM completes the order (START, RESTART, resets, anything unknown here).
        case userspace
        var conditionCode: UInt8 {
            switch self {
            case .accepted: 0
            case .status: 1
            case .busy: 2
            case .notOperational, .userspace: 3
            }
        }
    }

    func signal(orderCode: UInt8, targetAddress: UInt16, parameter: UInt64) -> SIGPResult {
        // s390pv always runs z/Architecture (CZAM): QEMU answers "invalid parameter".
        if orderCode == SIGPOrder.setArchitecture.rawValue { return .status(SIGPStatus.invalidParameter) }
        guard let vm, let target = vm.vcpu(address: targetAddress) else { return .notOperational }
        guard let order = SIGPOrder(rawValue: orderCode) else { return .userspace }
        // A pending stop has priority over every order but another stop (handle_sigp_dst).
        if target.cpu.interruptions.stopPending && order != .stop && order != .stopAndStoreStatus { return .busy }
        switch order {
        case .sense:
            var status: UInt32 = 0
            if target.mpState == .stopped { status |= SIGPStatus.stopped }
            if target.mpState == .checkStop { status |= SIGPStatus.checkStop }
            if target.cpu.interruptions.externalCallPending { status |= SIGPStatus.externalCallPending }
            return status == 0 ? .accepted : .status(status)
        case .externalCall:
            guard target.cpu.interruptions.postExternalCall(from: id) else { return .status(SIGPStatus.externalCallPending) }
            target.doorbell.ring()
            return .accepted
        case .emergencySignal, .conditionalEmergencySignal:
            target.cpu.interruptions.postEmergencySignal(from: id)
            target.doorbell.ring()
            return .accepted
        case .start, .restart, .initialCPUReset, .cpuReset, .storeAdditionalStatus:
            return .userspace
        case .stop, .stopAndStoreStatus:
            let storeStatus = order == .stopAndStoreStatus
            if target.mpState == .stopped {
                if storeStatus { _ = target.cpu.storeStatus(atAbsolute: target.cpu.prefix + 0x1200, inPrefixArea: true) }
            } else {
                target.cpu.interruptions.postStop(storeStatus: storeStatus)
                target.doorbell.ring()
            }
            return .accepted
        case .setPrefix:
            // KVM's __sigp_set_prefix validates the address before the target's state.
            let newPrefix = parameter & 0x7FFF_E000
            guard newPrefix + 0x2000 <= vm.memorySize else { return .status(SIGPStatus.invalidParameter) }
            guard target.mpState == .stopped else { return .status(SIGPStatus.incorrectState) }
            target.cpu.setPrefix(newPrefix)
            return .accepted
        case .storeStatusAtAddress:
            guard target.mpState == .stopped else { return .status(SIGPStatus.incorrectState) }
            let area = parameter & 0x7FFF_FE00
            guard target.cpu.storeStatus(atAbsolute: area, inPrefixArea: false) else { return .status(SIGPStatus.invalidParameter) }
            return .accepted
        case .senseRunningStatus:
            return target.mpState == .operating && !target.cpu.psw.isWait ? .accepted : .status(SIGPStatus.notRunning)
        case .setArchitecture:
            return .status(SIGPStatus.invalidParameter)
        }
    }
}
