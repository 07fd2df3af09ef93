// UV response codes, command codes and CPU states (spec kvm-pv-ioctl §5.1–§5.4, se-image-format §7.4).

/// The rc/rrc pair a UV control block carries back (spec kvm-pv-ioctl §5.2).
public struct UVResponse: Equatable, Sendable, CustomStringConvertible {
    public var rc: UInt16
    public var rrc: UInt16

    public init(rc: UInt16, rrc: UInt16 = 0) {
        self.rc = rc
        self.rrc = rrc
    }

    /// rc 1: executed (spec kvm-pv-ioctl §5.2).
    public static let executed = UVResponse(rc: 1, rrc: 0)
    public var succeeded: Bool { rc == 1 }
    /// UVC condition code: 0 for rc 1, else 1 (this UV never answers busy/partial, spec §5.1).
    public var conditionCode: UInt8 { rc == 1 ? 0 : 1 }

    /// e.g. "rc 0x0108 rrc 0x0005 (no key slot for this host key)".
    public var description: String {
        func hex(_ value: UInt16) -> String {
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        let text = "rc \(hex(rc)) rrc \(hex(rrc))"
        return Self.meaning(rc: rc, rrc: rrc).map { "\(text) (\($0))" } ?? text
    }

    /// Decoded reasons: se-image-format §7.4 (stage3a's decoder and the generic table), then this
    /// UV's own codes (`UVResponse` statics below). rc values ≥ 0x100 are command-specific; the
    /// text names the SSC/VERIFY meaning first because that is what a failed boot reports.
    static func meaning(rc: UInt16, rrc: UInt16) -> String? {
        switch (rc, rrc) {
        case (0x0102, 0x001A): return "VERIFY: address list digest mismatch"
        case (0x0102, 0x001B): return "VERIFY: page list digest mismatch"
        case (0x0102, 0x001C): return "VERIFY: tweak list digest mismatch"
        case (0x0102, 0x001D): return "VERIFY: page count mismatch"
        case (0x0104, 0x0001): return "SE header version mismatch"
        case (0x0106, 0x0030): return "unsupported plaintext control flag"
        case (0x0108, 0x0005): return "no key slot for this host key"
        case (0x0108, 0x000B): return "invalid customer ECDH key"
        case (0x0108, 0x0034): return "backup host key mismatch"
        case (0x0108, _): return "image not correctly encrypted for this host"
        case (0x0109, 0x0000): return "unsupported secret control flag"
        case (0x010A, 0x0031): return "SE header length mismatch"
        case (0x010A, 0x0039): return "invalid encrypted-area size"
        case (0x010A, 0x0040): return "no key slots"
        case (0x0101, 0x0001): return "address not page aligned"
        case (0x0101, _): return "address outside guest storage"
        default: break
        }
        switch rc {
        case 0x0001: return "executed"
        case 0x0002: return "invalid command or not installed"
        case 0x0003: return "invalid state"
        case 0x0005: return "invalid control-block length"
        case 0x0007: return "no resume"
        case 0x0020: return "invalid configuration handle"
        case 0x0021: return "invalid CPU handle"
        case 0x0100: return "more data than the control block holds"
        case 0x0103: return "SE header not accessible"
        default: return nil
        }
    }
}

// MARK: - The rc/rrc table (spec kvm-pv-ioctl §9 item 3)
//
// Every failure this UV can produce. Codes of kvm-pv-ioctl §5.2 / se-image-format §7.4 where one
// fits; otherwise our choice in the command-specific range (≥ 0x100), where a value means something
// only together with the command that returned it. NEED_DESTROY (0x8000) is never produced:
// CREATE_SEC_CONF validates everything before it creates anything.
extension UVResponse {
    /// rc 2: command unknown, not installed, or not available to this caller (guest calls to host-only
    /// commands, spec se-image-format §9.2; DESTROY_SEC_CONF_FAST when bit 23 is off).
    public static let invalidCommand = UVResponse(rc: 0x0002)
    /// rc 3: the configuration is in the wrong state: SSC a second time; UNPACK before SSC or after
    /// VERIFY; VERIFY before SSC or a second time; OPR_LOAD before VERIFY; DESTROY_SEC_CONF while
    /// secure CPUs exist (kvm-pv-ioctl §5.2 "invalid state").
    public static let invalidState = UVResponse(rc: 0x0003)
    /// rc 5: a guest control block has the wrong length (se-image-format §9.2).
    public static let invalidLength = UVResponse(rc: 0x0005)
    /// rc 0x20 / 0x21: unknown (or already destroyed) configuration / CPU handle (se-image-format §7.4).
    public static let invalidConfigurationHandle = UVResponse(rc: 0x0020)
    public static let invalidCPUHandle = UVResponse(rc: 0x0021)
    /// rc 0x100: QUI control block shorter than 0x120; the data that fits was stored (§9.2).
    public static let moreData = UVResponse(rc: 0x0100)

    /// Page and unpack addresses (UNPACK, CONV_TO_SEC_STOR, DESTR_SEC_STOR, PIN/UNPIN, guest share
    /// calls): rc 0x101 as the guest share calls return for an address outside storage
    /// (kvm-unit-tests uv-guest.c "invalid memory"); rrc 1 marks a misaligned address. Not 0x10A,
    /// which KVM would treat as "fault in and retry" (se-image-format §7.4) and loop.
    public static let addressOutsideStorage = UVResponse(rc: 0x0101, rrc: 0)
    public static let addressNotAligned = UVResponse(rc: 0x0101, rrc: 1)

    /// CREATE_SEC_CONF: guest storage length 0, not a 1 MiB multiple, above the QUI maximum or
    /// larger than the storage.
    public static let createInvalidGuestStorage = UVResponse(rc: 0x0102)
    /// CREATE_SEC_CONF: donated base storage shorter than conf_base_phys_stor_len (§5.6).
    public static let createBaseStorageTooSmall = UVResponse(rc: 0x0103)
    /// CREATE_SEC_CONF: donated variable storage shorter than the §5.6 formula.
    public static let createVariableStorageTooSmall = UVResponse(rc: 0x0104)
    /// CREATE_SEC_CONF: max_num_sec_conf live configurations already exist.
    public static let createTooManyConfigurations = UVResponse(rc: 0x0105)
    /// CREATE_SEC_CONF: the storage already belongs to a live configuration.
    public static let createStorageInUse = UVResponse(rc: 0x0106)
    /// CREATE_SEC_CONF: flags other than ap_instr_intr/ap_allow_instr, or AP flags while the AP
    /// feature (bit 4) is not indicated (§5.5, §5.6).
    public static let createUnsupportedFlags = UVResponse(rc: 0x0107)

    /// DESTROY_SEC_CONF_FAST while secure CPUs exist. kvm-pv-ioctl §9 item 3 asks for a meaning of
    /// rc 0x104, which the kernel tolerates without a warning: the kernel only issues FAST after
    /// destroying every CPU, so a refusal for CPUs is the benign case it tolerates.
    public static let fastDestroyCPUsExist = UVResponse(rc: 0x0104)

    /// CREATE_SEC_CPU: CPU number above max_guest_cpu_id.
    public static let cpuNumberInvalid = UVResponse(rc: 0x0102)
    /// CREATE_SEC_CPU: a secure CPU with this number exists in the configuration.
    public static let cpuNumberInUse = UVResponse(rc: 0x0103)
    /// CREATE_SEC_CPU: donated CPU storage shorter than cpu_stor_len (§5.6).
    public static let cpuStorageTooSmall = UVResponse(rc: 0x0104)

    /// SSC: the header's XTS key has equal halves, which AES-XTS rejects (se-image-format §4); in
    /// the 0x108 "not correctly encrypted for this host" family.
    public static let sscInvalidComponentKey = UVResponse(rc: 0x0108, rrc: 0x0008)
    /// SSC: unsupported PCF bit (se-image-format §7.4).
    public static let sscUnsupportedPCF = UVResponse(rc: 0x0106, rrc: 0x0030)
    /// SSC: unsupported SCF bit (se-image-format §7.4).
    public static let sscUnsupportedSCF = UVResponse(rc: 0x0109, rrc: 0x0000)
    /// SSC: `sec_header_len` ≠ `sehs` (se-image-format §7.4).
    public static let sscHeaderLengthMismatch = UVResponse(rc: 0x010A, rrc: 0x0031)
    /// SSC: header version not in supp_se_hdr_versions (se-image-format §7.4).
    public static let sscHeaderVersion = UVResponse(rc: 0x0104, rrc: 0x0001)

    /// VERIFY mismatches (se-image-format §7.4, §8 item 3).
    public static let verifyAddressListMismatch = UVResponse(rc: 0x0102, rrc: 0x001A)
    public static let verifyPageListMismatch = UVResponse(rc: 0x0102, rrc: 0x001B)
    public static let verifyTweakListMismatch = UVResponse(rc: 0x0102, rrc: 0x001C)
    public static let verifyPageCountMismatch = UVResponse(rc: 0x0102, rrc: 0x001D)
    /// UNPACK: libcrypto failed (should not happen; keys are checked at SSC).
    public static let unpackCryptoFailure = UVResponse(rc: 0x0103, rrc: 0x0000)

    /// PIN_PAGE_SHARED on a page that is not shared.
    public static let pinPageNotShared = UVResponse(rc: 0x0102)
}

/// UVC command codes (spec kvm-pv-ioctl §5.3).
public enum UVCommand: UInt16, Sendable, CaseIterable {
    case query = 0x0001
    case queryKeys = 0x0002
    case initUV = 0x000F
    case createSecureConfiguration = 0x0100
    case destroySecureConfiguration = 0x0101
    case destroySecureConfigurationFast = 0x0102
    case createSecureCPU = 0x0120
    case destroySecureCPU = 0x0121
    case convertToSecureStorage = 0x0200
    case convertFromSecureStorage = 0x0201
    case destroySecureStorage = 0x0202
    case setSecureConfigurationParameters = 0x0300
    case unpackImage = 0x0301
    case verifyImage = 0x0302
    case cpuReset = 0x0310
    case cpuResetInitial = 0x0311
    case prepareReset = 0x0320
    case cpuResetClear = 0x0321
    case cpuSetState = 0x0330
    case setUnshareAll = 0x0340
    case pinPageShared = 0x0341
    case unpinPageShared = 0x0342
    case dumpInit = 0x0400
    case dumpConfigurationStorageState = 0x0401
    case dumpCPU = 0x0402
    case dumpComplete = 0x0403
    case setSharedAccess = 0x1000
    case removeSharedAccess = 0x1001
    case retrieveAttestation = 0x1020
    case addSecret = 0x1031
    case listSecrets = 0x1033
    case lockSecrets = 0x1034
    case retrieveSecret = 0x1035

    /// The inst_calls_list bit (MSB-0) that announces the command; nil for DESTR_SEC_STOR (§5.3).
    public var installedCallBit: Int? {
        switch self {
        case .query: 0
        case .queryKeys: 34
        case .initUV: 1
        case .createSecureConfiguration: 2
        case .destroySecureConfiguration: 3
        case .destroySecureConfigurationFast: 23
        case .createSecureCPU: 4
        case .destroySecureCPU: 5
        case .convertToSecureStorage: 6
        case .convertFromSecureStorage: 7
        case .destroySecureStorage: nil
        case .setSecureConfigurationParameters: 11
        case .unpackImage: 13
        case .verifyImage: 14
        case .cpuReset: 15
        case .cpuResetInitial: 16
        case .prepareReset: 18
        case .cpuResetClear: 19
        case .cpuSetState: 17
        case .setUnshareAll: 20
        case .pinPageShared: 21
        case .unpinPageShared: 22
        case .dumpInit: 24
        case .dumpConfigurationStorageState: 25
        case .dumpCPU: 26
        case .dumpComplete: 27
        case .setSharedAccess: 8
        case .removeSharedAccess: 9
        case .retrieveAttestation: 28
        case .addSecret: 29
        case .listSecrets: 30
        case .lockSecrets: 31
        case .retrieveSecret: 33
        }
    }

    /// Commands a protected guest may issue (se-image-format §9.2 install bits 0, 8, 9, 28–31, 33, 34).
    public var isGuestCall: Bool {
        switch self {
        case .query, .setSharedAccess, .removeSharedAccess, .retrieveAttestation, .addSecret, .listSecrets,
             .lockSecrets, .retrieveSecret, .queryKeys: true
        default: false
        }
    }
}

/// CPU states of CPU_SET_STATE (spec kvm-pv-ioctl §5.4).
public enum UVCPUState: UInt8, Sendable {
    case operating = 1, stopped = 2, checkStop = 3, operatingLoad = 5
}

/// The three secure-CPU resets (CPU_RESET, CPU_RESET_INITIAL, CPU_RESET_CLEAR, §5.3).
public enum UVCPUResetKind: Sendable {
    case normal, initial, clear
}
