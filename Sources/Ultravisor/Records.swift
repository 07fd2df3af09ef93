// Secure configurations and CPUs as the UV keeps them (spec se-image-format §8, kvm-pv-ioctl §9 item 13).
import SecureExecution
import Synchronization

/// Handles: one process-wide counter, so a handle is never reused within a process, even across
/// `Ultravisor` instances; a distinct high byte for configuration (0x0C…) and CPU (0x0D…) handles,
/// so one kind is never accepted as the other and both are non-zero (kvm-pv-ioctl §9 item 13).
private let handleCounter = Atomic<UInt64>(0)
let configurationHandleTag: UInt64 = 0x0C00_0000_0000_0000
let cpuHandleTag: UInt64 = 0x0D00_0000_0000_0000

func nextHandle(tag: UInt64) -> UInt64 {
    tag | handleCounter.add(1, ordering: .relaxed).newValue
}

/// One secure configuration (se-image-format §8 "state per secure configuration").
///
/// Locks: `cpuNumbers`/`cpus`/`alive` under `Ultravisor.lock`; the image state under `lock`;
/// `contentsCleared` under `pages.lock`. Order: Ultravisor.lock → lock → pages.lock.
final class ConfigurationRecord: @unchecked Sendable {
    let handle: UInt64
    let pages: StoragePages
    let guestStorageLength: UInt64
    let flags: UInt16
    let lock = UVLock()

    // Ultravisor.lock
    var cpus: [UInt64: UInt16] = [:]
    var alive = true

    // lock
    var headerSet = false
    var verified = false
    /// PREPARE_RESET happened: OPR_LOAD no longer loads the header PSW (se-image-format §8 item 6).
    var rebooted = false
    var expectedDigests: ComponentDigests?
    var plaintextControlFlags: UInt64 = 0
    var secrets: SEEncryptedArea?
    var bootHeaderTags: [UInt8] = []
    var accumulator = ComponentDigestAccumulator()
    /// nil when PCF bit 35 (no component encryption) is set, or before SSC.
    var cipher: AESXTSContext?

    /// Set by the first successful VERIFY, never cleared: from then on a secure guest may have
    /// touched any page, so pages it has not been given explicitly count as secure too ("secure
    /// on first touch"); before it, only unpacked pages are secure, and a failed boot leaves the
    /// rest of memory (the loader, header and IPIB) as it was. Read under `pages.lock`.
    private let ranFlag = Atomic<Bool>(false)
    var hasRun: Bool { ranFlag.load(ordering: .acquiring) }
    func markRun() { ranFlag.store(true, ordering: .releasing) }

    // pages.lock
    /// DESTROY_SEC_CONF cleared the configuration's pages already, so destroying a page is
    /// bookkeeping only (kvm-pv-ioctl §3.4 order rationale). False after DESTROY_SEC_CONF_FAST.
    var contentsCleared = false

    init(handle: UInt64, pages: StoragePages, guestStorageLength: UInt64, flags: UInt16) {
        self.handle = handle
        self.pages = pages
        self.guestStorageLength = guestStorageLength
        self.flags = flags
    }

    /// Highest exclusive guest address the configuration's page operations accept.
    var addressLimit: UInt64 { min(guestStorageLength, pages.size) }
}

/// One secure CPU.
final class CPURecord: @unchecked Sendable {
    let handle: UInt64
    let configuration: ConfigurationRecord
    let number: UInt16
    /// Under Ultravisor.lock.
    var state: UVCPUState = .stopped

    init(handle: UInt64, configuration: ConfigurationRecord, number: UInt16) {
        self.handle = handle
        self.configuration = configuration
        self.number = number
    }
}
