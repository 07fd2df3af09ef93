// The fake UV's QUI values and installed calls in one record (spec kvm-pv-ioctl §5.6, §9 item 2;
// se-image-format §9.2). No values of real z15/z16/z17 machines are public; every default below is
// our choice, small enough to cost little and consistent with the capabilities the kernel model
// derives from it.

/// The QUI values and installed calls; one record with documented defaults (spec kvm-pv-ioctl §9 item 2).
public struct UltravisorConfiguration: Sendable {
    /// Every default below.
    public static let `default` = UltravisorConfiguration()

    /// Installed-call bit 23 (DESTROY_SEC_CONF_FAST). Default true: mainline's fast destroy path
    /// at mm teardown is then exercised (kvm-pv-ioctl §3.2, §8).
    public var fastDestroyAvailable: Bool = true
    /// uv_base_stor_len: 1 MiB. The host reserves it at boot for INIT_UV (§5.6); the kernel model
    /// only has to account for it.
    public var uvBaseStorageLength: UInt64 = 0x10_0000
    /// conf_base_phys_stor_len: 16 KiB per configuration (donated at CREATE_SEC_CONF).
    public var baseStorageLength: UInt64 = 0x4000
    /// conf_base_virt_stor_len: 4 KiB, added to the variable storage (Linux pv.c `vlen +=`).
    public var baseVirtualStorageLength: UInt64 = 0x1000
    /// conf_virt_var_stor_len: 16 bytes per 1 MiB of guest storage (1 MiB for a 64 GiB guest).
    public var variableStorageLengthPerMiB: UInt64 = 0x10
    /// cpu_stor_len: 8 KiB per secure CPU (donated at CREATE_SEC_CPU).
    public var cpuStorageLength: UInt64 = 0x2000
    /// max_num_sec_conf: 256 live configurations.
    public var maximumConfigurations: UInt32 = 256
    /// The guest storage limit: 64 GiB, the kernel model's memory limit. QUI reports the highest
    /// address, `limit − 1`; Linux's `ALIGN(max_guest_stor_addr, 4K)` (§5.6) gives the limit back.
    public var maximumGuestStorageAddress: UInt64 = 64 << 30
    /// max_guest_cpu_id: 247, so 248 CPUs (`/sys/firmware/uv/query/max_cpus`), s390pv's `--cpus` limit.
    public var maximumGuestCPUID: UInt16 = 247
    /// uv_feature_indications: MISC (bit 0) only. MISC lets KVM import without exporting first
    /// (kvm-pv-ioctl §3.3: no "export before import"); this UV has no AIV/AP support (bits 1, 4, 5).
    public var featureIndications: UInt64 = 1 << 63
    /// supp_se_hdr_versions: MSB-0 bit n announces version (n+1)·0x100 (s390-tools
    /// `collect_version_flags`); bit 0 = version 0x100, the only one defined (se-image-format §2.1).
    public var supportedHeaderVersions: UInt64 = 1 << 63
    /// supp_se_hdr_pcf: the PCF bits SSC accepts (se-image-format §2.4): no component encryption
    /// (bit 35), the four PCKMO bits (56–59) and backup keys (62). Not bit 34 (dumping): the dump calls
    /// are not installed.
    public var supportedPlaintextControlFlags: UInt64 = 0x0000_0000_1000_00F2
    /// The SCF bits SSC accepts (not a QUI field): both defined bits (se-image-format §2.4). They
    /// only concern secrets, which this UV does not install, so accepting them is harmless.
    public var supportedSecretControlFlags: UInt64 = 0x6000_0000_0000_0000
    /// conf_dump_storage_state_len / conf_dump_finalize_len: 0, dump calls (24–27) are not installed,
    /// so KVM_CAP_S390_PROTECTED_DUMP is 0 (§9 item 2).
    public var dumpStorageStateLength: UInt64 = 0
    public var dumpFinalizeLength: UInt64 = 0
    /// Attestation and secret fields: 0, RETR_ATTEST and the secret calls are not installed.
    public var supportedAttestationRequestVersions: UInt64 = 0
    public var supportedAttestationFlags: UInt64 = 0
    public var supportedAddSecretRequestVersions: UInt64 = 0
    public var supportedAddSecretPCF: UInt64 = 0
    public var supportedSecretTypes: UInt64 = 0
    public var maximumAssociatedSecrets: UInt16 = 0
    public var maximumRetrievableSecrets: UInt16 = 0

    public init() {}

    /// The commands this UV implements and announces: everything of kvm-pv-ioctl §5.3 except
    /// export (7, not needed: the model refuses host access to secure pages instead, se-image-format
    /// §8 item 5), the dump calls (24–27), attestation and secrets (28–31, 33), QUERY_KEYS (34), and
    /// FAST (23) unless `fastDestroyAvailable`. DESTR_SEC_STOR is implemented but has no bit.
    public var installedCommands: [UVCommand] {
        UVCommand.allCases.filter { command in
            switch command {
            case .convertFromSecureStorage, .dumpInit, .dumpConfigurationStorageState, .dumpCPU, .dumpComplete,
                 .retrieveAttestation, .addSecret, .listSecrets, .lockSecrets, .retrieveSecret, .queryKeys:
                false
            case .destroySecureConfigurationFast: fastDestroyAvailable
            default: true
            }
        }
    }

    /// Whether `command` is installed (DESTR_SEC_STOR always is).
    public func isInstalled(_ command: UVCommand) -> Bool { installedCommands.contains(command) }

    /// inst_calls_list as the host sees it: every installed command's bit (4 words, MSB-0).
    public var hostInstalledCalls: [UInt64] { Self.bits(installedCommands) }
    /// inst_calls_list as a protected guest sees it: only the guest calls (se-image-format §9.2:
    /// host-only bits 1–7, 11, 13–27 absent; 8 and 9 present).
    public var guestInstalledCalls: [UInt64] { Self.bits(installedCommands.filter(\.isGuestCall)) }
    /// inst_calls_list as a non-protected guest sees it: QUI only, so Linux's check for bits 8 and 9
    /// (arch/s390/boot/uv.c) finds no protected guest (our decision).
    public var nonProtectedGuestInstalledCalls: [UInt64] { Self.bits(installedCommands.filter { $0 == .query }) }

    static func bits(_ commands: [UVCommand]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: 4)
        for bit in commands.compactMap(\.installedCallBit) { words[bit / 64] |= 1 << (63 - UInt64(bit % 64)) }
        return words
    }

    /// Size of the QUI control block (kvm-pv-ioctl §5.6).
    public static let queryBlockSize = 0x120

    /// QUI control-block bytes (0x120 layout, big-endian) as the host sees them, and as a protected
    /// guest sees them (host-only bits cleared; spec se-image-format §9.2). The header (len, cmd,
    /// rc, rrc) is filled in as a successful full-length QUI would leave it.
    public func queryBlock(forGuest: Bool) -> [UInt8] {
        queryBlock(installedCalls: forGuest ? guestInstalledCalls : hostInstalledCalls)
    }

    /// The QUI block with a given inst_calls_list (§5.6 offsets).
    func queryBlock(installedCalls: [UInt64]) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: Self.queryBlockSize)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            for index in 0 ..< MemoryLayout<T>.size {
                block[offset + index] = UInt8(truncatingIfNeeded: value >> ((MemoryLayout<T>.size - 1 - index) * 8))
            }
        }
        put(UInt16(Self.queryBlockSize), 0x00)
        put(UVCommand.query.rawValue, 0x02)
        put(UInt16(1), 0x04)
        for (index, word) in installedCalls.enumerated() { put(word, 0x10 + 8 * index) }
        put(uvBaseStorageLength, 0x40)
        put(baseStorageLength, 0x50)
        put(baseVirtualStorageLength, 0x58)
        put(variableStorageLengthPerMiB, 0x60)
        put(cpuStorageLength, 0x68)
        put(maximumConfigurations, 0x7C)
        put(maximumGuestStorageAddress == 0 ? 0 : maximumGuestStorageAddress - 1, 0x80)
        put(maximumGuestCPUID, 0x9E)
        put(featureIndications, 0xA0)
        put(supportedHeaderVersions, 0xB0)
        put(supportedPlaintextControlFlags, 0xB8)
        put(dumpStorageStateLength, 0xC8)
        put(dumpFinalizeLength, 0xD0)
        put(supportedAttestationRequestVersions, 0xE0)
        put(supportedAttestationFlags, 0xE8)
        put(supportedAddSecretRequestVersions, 0xF8)
        put(supportedAddSecretPCF, 0x100)
        put(supportedSecretTypes, 0x108)
        put(maximumAssociatedSecrets, 0x110)
        put(maximumRetrievableSecrets, 0x112)
        return block
    }

    /// Minimum variable storage for a guest of `guestStorageLength` bytes: ALIGN(per-MiB × MiB, 4K)
    /// + conf_base_virt_stor_len (Linux pv.c, kvm-pv-ioctl §5.6).
    public func minimumVariableStorageLength(guestStorageLength: UInt64) -> UInt64 {
        let perGuest = variableStorageLengthPerMiB &* (guestStorageLength / uvSegmentSize)
        return ((perGuest &+ uvPageSize - 1) & ~(uvPageSize - 1)) &+ baseVirtualStorageLength
    }
}
