// The Ultravisor model: host calls (spec kvm-pv-ioctl §5.3, §5.5, §5.7; se-image-format §7.3, §8).
import SecureExecution

/// A fake IBM Z Ultravisor: secure configurations and CPUs, per-page ownership, the image
/// unpack/verify path and the guest UV calls.
///
/// Thread-safe. `lock` guards the handle tables; each configuration has its own lock for its image
/// state (so unpacks of different configurations run concurrently), and each storage one for its
/// page states. Lock order: `lock` → configuration lock → storage lock; none is held while
/// calling back except `SecureStorage` methods.
public final class Ultravisor: @unchecked Sendable {
    /// The QUI values and installed calls.
    public let configuration: UltravisorConfiguration
    private let hostKey: HostPrivateKey
    private let ownHostKeyHash: [UInt8]

    private let lock = UVLock()
    private var configurations: [UInt64: ConfigurationRecord] = [:]
    private var cpus: [UInt64: CPURecord] = [:]
    private var storages: [ObjectIdentifier: StoragePages] = [:]

    /// A UV holding `hostKey` (the private half of the host-key document, se-image-format §3).
    public init(hostKey: HostPrivateKey, configuration: UltravisorConfiguration = .default) {
        self.hostKey = hostKey
        self.configuration = configuration
        ownHostKeyHash = hostKey.publicKey.hash
    }

    /// SHA-256 over the host public key's coordinate blob, the `phkh` of its key slots (se-image-format §2.3).
    public var hostKeyHash: [UInt8] { ownHostKeyHash }

    /// The public half of the host key: what a host-key document publishes, so images can be
    /// sealed for this host.
    public var hostPublicKey: HostKey { hostKey.publicKey }

    /// Live configurations (for diagnostics/tests).
    public var configurationCount: Int { lock.withLock { configurations.count } }

    /// Whether `handle` is a live configuration that passed VERIFY.
    public func isVerified(_ handle: UInt64) -> Bool {
        guard let record = configurationRecord(handle) else { return false }
        return record.lock.withLock { record.verified }
    }

    /// Live secure CPUs of a configuration (0 for an invalid handle).
    public func secureCPUCount(configuration handle: UInt64) -> Int {
        lock.withLock { configurations[handle]?.cpus.count ?? 0 }
    }

    private func configurationRecord(_ handle: UInt64) -> ConfigurationRecord? {
        lock.withLock { configurations[handle] }
    }

    private func cpuRecord(_ handle: UInt64) -> CPURecord? {
        lock.withLock { cpus[handle] }
    }

    private func pagesRecord(_ storage: any SecureStorage) -> StoragePages? {
        lock.withLock { storages[ObjectIdentifier(storage)] }
    }

    // MARK: - Configurations (CREATE_SEC_CONF 0x100, DESTROY_SEC_CONF 0x101/0x102)

    /// CREATE_SEC_CONF: a configuration over all of `storage`; from then on every page of it is
    /// secure and owned by the configuration (zero on first touch after VERIFY), except the pages the
    /// guest shares (se-image-format §8 item 5).
    ///
    /// Check order (ours): guest storage length (0, not a 1 MiB multiple, above
    /// `maximumGuestStorageAddress`, above the storage size) → base storage → variable storage →
    /// flags → configuration count → storage already owned by a live configuration. Pages a dead
    /// configuration still owns are destroyed here (cleared unless DESTROY_SEC_CONF cleared them), the
    /// eager form of KVM's destroy-on-fault for a new boot (kvm-pv-ioctl §3.5).
    ///
    /// Returns `.executed` and a new handle, or a `create…` response and handle 0 (never NEED_DESTROY).
    public func createSecureConfiguration(storage: any SecureStorage, guestStorageLength: UInt64, baseStorageLength: UInt64,
                                          variableStorageLength: UInt64, flags: UInt16) -> (response: UVResponse, handle: UInt64) {
        let qui = configuration
        guard guestStorageLength > 0, guestStorageLength % uvSegmentSize == 0,
              guestStorageLength <= qui.maximumGuestStorageAddress, guestStorageLength <= storage.size
        else { return (.createInvalidGuestStorage, 0) }
        guard baseStorageLength >= qui.baseStorageLength else { return (.createBaseStorageTooSmall, 0) }
        guard variableStorageLength >= qui.minimumVariableStorageLength(guestStorageLength: guestStorageLength) else {
            return (.createVariableStorageTooSmall, 0)
        }
        let apFlags: UInt16 = 0x0003
        guard flags & ~apFlags == 0, flags == 0 || qui.featureIndications & (1 << (63 - 4)) != 0 else {
            return (.createUnsupportedFlags, 0)
        }
        return lock.withLock { () -> (response: UVResponse, handle: UInt64) in
            guard configurations.count < Int(qui.maximumConfigurations) else { return (.createTooManyConfigurations, 0) }
            let key = ObjectIdentifier(storage)
            let pages: StoragePages
            if let existing = storages[key] {
                if let owner = existing.owner, owner.alive { return (.createStorageInUse, 0) }
                pages = existing
            } else {
                pages = StoragePages(storage: storage)
                storages[key] = pages
            }
            let record = ConfigurationRecord(handle: nextHandle(tag: configurationHandleTag), pages: pages,
                                             guestStorageLength: guestStorageLength, flags: flags)
            pages.lock.withLock {
                if let dead = pages.owner, !dead.contentsCleared {
                    pages.clearPopulated(in: 0 ..< pages.pageCount) { $0 == .owned || $0 == .imported }
                }
                pages.resetStates()
                pages.owner = record
            }
            configurations[record.handle] = record
            return (.executed, record.handle)
        }
    }

    /// DESTROY_SEC_CONF: refused with `.invalidState` (rc 3) while secure CPUs exist. On success the
    /// UV clears every page the configuration owns at once (kvm-pv-ioctl §3.4: "DESTROY_SEC_CONF itself
    /// cleans and releases the configuration's memory"); the pages stay secure, owned by the dead
    /// configuration (host-inaccessible), until DESTR_SEC_STOR makes each one non-secure, which is then
    /// bookkeeping only.
    public func destroySecureConfiguration(_ handle: UInt64) -> UVResponse {
        destroy(handle, fast: false)
    }

    /// DESTROY_SEC_CONF_FAST (installed-call bit 23; rc 2 when not installed): like DESTROY_SEC_CONF,
    /// but the pages are not cleared now; each DESTR_SEC_STOR clears its page. Refused with rc 0x104
    /// while secure CPUs exist (`fastDestroyCPUsExist`).
    public func destroySecureConfigurationFast(_ handle: UInt64) -> UVResponse {
        guard configuration.fastDestroyAvailable else { return .invalidCommand }
        return destroy(handle, fast: true)
    }

    private func destroy(_ handle: UInt64, fast: Bool) -> UVResponse {
        let found: (record: ConfigurationRecord?, response: UVResponse) = lock.withLock {
            guard let record = configurations[handle] else { return (nil, .invalidConfigurationHandle) }
            guard record.cpus.isEmpty else { return (nil, fast ? .fastDestroyCPUsExist : .invalidState) }
            configurations[handle] = nil
            record.alive = false
            return (record, .executed)
        }
        guard let record = found.record else { return found.response }
        record.lock.withLock {
            record.cipher = nil
            record.secrets = nil
            record.accumulator = ComponentDigestAccumulator()
        }
        let pages = record.pages
        let verified = record.lock.withLock { record.verified }
        let released = pages.lock.withLock { () -> Bool in
            if !fast {
                // Before VERIFY no secure guest ran: only unpacked (imported) pages are secure.
                pages.clearPopulated(in: 0 ..< pages.pageCount) { (state: PageState) in
                    state == .imported || (verified && state == .owned)
                }
                record.contentsCleared = true
            }
            return pages.nonSecureCount == pages.pageCount
        }
        if released { releaseIfUnowned(pages) }
        return .executed
    }

    /// Drops the page table of a storage whose owner is dead and owns no page any more.
    private func releaseIfUnowned(_ pages: StoragePages) {
        lock.withLock {
            let key = ObjectIdentifier(pages.storage)
            guard storages[key] === pages else { return }
            let done = pages.lock.withLock { () -> Bool in
                guard pages.owner?.alive != true, pages.nonSecureCount == pages.pageCount else { return false }
                pages.owner = nil
                return true
            }
            if done { storages[key] = nil }
        }
    }

    /// The host frees `storage` (the munmap analogue): the UV forgets its page states, and pages of a
    /// dead configuration are released with it. Returns false, changing nothing, while a live
    /// configuration uses the storage.
    @discardableResult
    public func storageReleased(_ storage: any SecureStorage) -> Bool {
        lock.withLock {
            let key = ObjectIdentifier(storage)
            guard let pages = storages[key] else { return true }
            let live = pages.lock.withLock { pages.owner?.alive == true }
            if live { return false }
            pages.lock.withLock { pages.owner = nil }
            storages[key] = nil
            return true
        }
    }

    // MARK: - CPUs (CREATE_SEC_CPU 0x120, DESTROY_SEC_CPU 0x121, resets, CPU_SET_STATE 0x330)

    /// CREATE_SEC_CPU. Check order: configuration handle (0x20) → CPU number ≤ max_guest_cpu_id
    /// (`cpuNumberInvalid`) → number unused in the configuration (`cpuNumberInUse`) → donated storage
    /// ≥ cpu_stor_len (`cpuStorageTooSmall`). A new CPU is stopped.
    public func createSecureCPU(configuration handle: UInt64, cpuNumber: UInt16,
                                storageLength: UInt64) -> (response: UVResponse, handle: UInt64) {
        lock.withLock { () -> (response: UVResponse, handle: UInt64) in
            guard let record = configurations[handle] else { return (.invalidConfigurationHandle, 0) }
            guard cpuNumber <= configuration.maximumGuestCPUID else { return (.cpuNumberInvalid, 0) }
            guard !record.cpus.values.contains(cpuNumber) else { return (.cpuNumberInUse, 0) }
            guard storageLength >= configuration.cpuStorageLength else { return (.cpuStorageTooSmall, 0) }
            let cpu = CPURecord(handle: nextHandle(tag: cpuHandleTag), configuration: record, number: cpuNumber)
            cpus[cpu.handle] = cpu
            record.cpus[cpu.handle] = cpuNumber
            return (.executed, cpu.handle)
        }
    }

    /// DESTROY_SEC_CPU: rc 0x21 for an unknown handle, else executed.
    public func destroySecureCPU(_ handle: UInt64) -> UVResponse {
        lock.withLock {
            guard let cpu = cpus.removeValue(forKey: handle) else { return .invalidCPUHandle }
            cpu.configuration.cpus[handle] = nil
            return .executed
        }
    }

    /// CPU_RESET / CPU_RESET_INITIAL / CPU_RESET_CLEAR: executed for a valid CPU handle (the register
    /// state is the kernel model's); rc 0x21 otherwise.
    public func resetCPU(_ cpuHandle: UInt64, kind: UVCPUResetKind) -> UVResponse {
        cpuRecord(cpuHandle) == nil ? .invalidCPUHandle : .executed
    }

    /// CPU_SET_STATE (kvm-pv-ioctl §5.4). `.operatingLoad` on a verified configuration returns the SE
    /// header's PSW (mask, address) for the kernel model to load (se-image-format §8 item 4); before
    /// VERIFY it is refused with `.invalidState`. After PREPARE_RESET it succeeds with no PSW: the
    /// reboot loads the reset PSW from absolute 0, which the kernel model does (§8 item 6). The UV
    /// records the state; 1, 2, 3 always succeed.
    public func setCPUState(_ cpuHandle: UInt64, _ state: UVCPUState) -> (response: UVResponse, loadPSW: (mask: UInt64, address: UInt64)?) {
        guard let cpu = cpuRecord(cpuHandle) else { return (.invalidCPUHandle, nil) }
        var psw: (mask: UInt64, address: UInt64)? = nil
        if state == .operatingLoad {
            let record = cpu.configuration
            let result = record.lock.withLock { () -> (UVResponse, (mask: UInt64, address: UInt64)?) in
                if record.rebooted { return (.executed, nil) }
                guard record.verified, let secrets = record.secrets else { return (.invalidState, nil) }
                return (.executed, (secrets.pswMask, secrets.pswAddress))
            }
            guard result.0.succeeded else { return (result.0, nil) }
            psw = result.1
        }
        lock.withLock { cpu.state = state == .operatingLoad ? .operating : state }
        return (.executed, psw)
    }

    // MARK: - Image (SET_SEC_CONF_PARAMS 0x300, UNPACK_IMG 0x301, VERIFY_IMG 0x302)

    /// SET_SEC_CONF_PARAMS with the `sec_header_len` bytes at `header` (se-image-format §8 item 1).
    ///
    /// Check order: handle (0x20) → header already set (`.invalidState`, allowed once per
    /// configuration) → `header.count` = `sehs` (0x10A/0x31) → parse errors (magic, version, nks, sea,
    /// sizes: `SEHeaderError.uvResponse`) → version ∈ supp_se_hdr_versions (0x104/0x01) → PCF ⊆
    /// supp_se_hdr_pcf (0x106/0x30) → open: key slot, customer key, tags (`SEHeaderError.uvResponse`)
    /// → SCF ⊆ supported (0x109/0x00) → XTS key halves differ (0x108/0x08). A failure changes nothing.
    /// Success stores the XTS key, PSW, digests and resets the running digests.
    public func setSecureConfigurationParameters(_ handle: UInt64, header: UnsafeRawBufferPointer) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        return record.lock.withLock { () -> UVResponse in
            guard !record.headerSet else { return .invalidState }
            guard header.count >= 0x10 else { return .sscHeaderLengthMismatch }
            let sehs = header.loadBigEndianUInt32(at: 0x0C)
            guard UInt64(sehs) == UInt64(header.count) else { return .sscHeaderLengthMismatch }
            let parsed: SEHeader
            do throws(SEHeaderError) {
                parsed = try SEHeader(parsing: Array(header))
            } catch {
                return UVResponse(rc: error.uvResponse.rc, rrc: error.uvResponse.rrc)
            }
            guard configuration.supportedHeaderVersions & (1 << 63) != 0 else { return .sscHeaderVersion }
            guard parsed.plaintextControlFlags & ~configuration.supportedPlaintextControlFlags == 0 else {
                return .sscUnsupportedPCF
            }
            let secrets: SEEncryptedArea
            do throws(SEHeaderError) {
                secrets = try parsed.open(with: hostKey).secrets
            } catch {
                return UVResponse(rc: error.uvResponse.rc, rrc: error.uvResponse.rrc)
            }
            guard secrets.secretControlFlags & ~configuration.supportedSecretControlFlags == 0 else {
                return .sscUnsupportedSCF
            }
            var cipher: AESXTSContext? = nil
            if parsed.plaintextControlFlags & SEImage.noComponentEncryption == 0 {
                do {
                    cipher = try AESXTSContext(key: secrets.xtsKey, encrypting: false)
                } catch {
                    return .sscInvalidComponentKey
                }
            }
            record.headerSet = true
            record.expectedDigests = parsed.digests
            record.plaintextControlFlags = parsed.plaintextControlFlags
            record.secrets = secrets
            record.bootHeaderTags = parsed.bootHeaderTags
            record.cipher = cipher
            record.accumulator = ComponentDigestAccumulator()
            return .executed
        }
    }

    /// UNPACK_IMG: one 4 KiB page at guest absolute `guestAddress` (se-image-format §8 item 2).
    ///
    /// Checks: handle (0x20) → header set and not verified (`.invalidState`) → address 4K aligned
    /// (0x101/1) and below the guest storage length (0x101/0). Then PLD ← the page as stored, ALD ←
    /// the address (u64 BE), TLD ← tweak.0 ‖ tweak.1 (16 B BE); then, unless PCF bit 35 is set, the
    /// page is decrypted in place with AES-256-XTS. No per-page comparison: a bad page shows up at
    /// VERIFY. The page becomes `imported` (kept at VERIFY). No allocation per page.
    public func unpack(_ handle: UInt64, guestAddress: UInt64, tweak: (UInt64, UInt64)) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        return record.lock.withLock { () -> UVResponse in
            guard record.headerSet, !record.verified else { return .invalidState }
            guard guestAddress % uvPageSize == 0 else { return .addressNotAligned }
            guard guestAddress < record.addressLimit else { return .addressOutsideStorage }
            let page = record.pages.storage.hostPointer(guestAddress)
            record.accumulator.add(page: UnsafeRawBufferPointer(start: page, count: Int(uvPageSize)),
                                   address: guestAddress, tweak: tweak)
            if let cipher = record.cipher {
                do {
                    try cipher.crypt(page, count: Int(uvPageSize), tweak: tweak)
                } catch {
                    return .unpackCryptoFailure
                }
            }
            record.pages.lock.withLock { record.pages.setState(guestAddress / uvPageSize, .imported) }
            return .executed
        }
    }

    /// VERIFY_IMG (se-image-format §8 item 3): handle (0x20) → header set and not yet verified
    /// (`.invalidState`) → page count vs `nep` (0x102/0x1D) → ALD (0x1A) → PLD (0x1B) → TLD (0x1C),
    /// the order of §8 item 3 (the real UV's order is unknown). A failure leaves the state as it was.
    ///
    /// On success the pages that were neither unpacked/imported nor shared read as zero from now on
    /// (§8 item 5, "all non-specified pages start out as zero pages"): every populated such range is
    /// cleared, and destroyed pages become secure again.
    public func verify(_ handle: UInt64) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        return record.lock.withLock { () -> UVResponse in
            guard record.headerSet, !record.verified, let expected = record.expectedDigests else { return .invalidState }
            let actual = record.accumulator.finalize()
            guard actual.pageCount == expected.pageCount else { return .verifyPageCountMismatch }
            guard actual.addressListDigest == expected.addressListDigest else { return .verifyAddressListMismatch }
            guard actual.pageListDigest == expected.pageListDigest else { return .verifyPageListMismatch }
            guard actual.tweakListDigest == expected.tweakListDigest else { return .verifyTweakListMismatch }
            record.verified = true
            record.markRun()
            record.cipher = nil
            record.accumulator = ComponentDigestAccumulator()
            let pages = record.pages
            pages.lock.withLock {
                pages.clearPopulated(in: 0 ..< pages.pageCount) { $0 == .owned || $0 == .nonSecure }
                pages.replaceAll(.nonSecure, with: .owned)
            }
            return .executed
        }
    }

    /// The boot header tags `pld ‖ ald ‖ tld ‖ tag` of a configuration's header (for attestation,
    /// se-image-format §8); nil before SSC or for an invalid handle.
    public func bootHeaderTags(_ handle: UInt64) -> [UInt8]? {
        guard let record = configurationRecord(handle) else { return nil }
        return record.lock.withLock { record.headerSet ? record.bootHeaderTags : nil }
    }

    // MARK: - Resets and sharing (PREPARE_RESET 0x320, SET_UNSHARE_ALL 0x340, PIN/UNPIN 0x341/0x342)

    /// PREPARE_RESET (se-image-format §8 item 6): unshares every page and marks the configuration
    /// rebooted (OPR_LOAD then loads no header PSW). rc 0x20 for an unknown handle.
    public func prepareReset(_ handle: UInt64) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        record.lock.withLock { record.rebooted = true }
        record.pages.lock.withLock { record.pages.replaceAll(.shared, with: .owned) }
        return .executed
    }

    /// SET_UNSHARE_ALL: every shared page of the configuration becomes secure again (content kept).
    public func unshareAll(_ handle: UInt64) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        record.pages.lock.withLock { record.pages.replaceAll(.shared, with: .owned) }
        return .executed
    }

    /// PIN_PAGE_SHARED: executed for a shared page; `pinPageNotShared` (0x102) otherwise, including
    /// storage no configuration owns. Pinning has no further effect in this model.
    public func pinShared(storage: any SecureStorage, guestAddress: UInt64) -> UVResponse {
        if let failure = checkPageAddress(guestAddress, in: storage) { return failure }
        guard let pages = pagesRecord(storage) else { return .pinPageNotShared }
        return pages.lock.withLock {
            pages.owner != nil && pages.state(guestAddress / uvPageSize) == .shared ? .executed : .pinPageNotShared
        }
    }

    /// UNPIN_PAGE_SHARED (KVM's make-secure after REMOVE_SHARED_ACCESS, se-image-format §9.2): a
    /// shared page becomes secure (content kept); any other page is left as it is. Executed.
    public func unpinShared(storage: any SecureStorage, guestAddress: UInt64) -> UVResponse {
        if let failure = checkPageAddress(guestAddress, in: storage) { return failure }
        guard let pages = pagesRecord(storage) else { return .executed }
        pages.lock.withLock {
            let page = guestAddress / uvPageSize
            if pages.owner != nil, pages.state(page) == .shared { pages.setState(page, .owned) }
        }
        return .executed
    }

    private func checkPageAddress(_ address: UInt64, in storage: any SecureStorage) -> UVResponse? {
        guard address % uvPageSize == 0 else { return .addressNotAligned }
        guard address < storage.size else { return .addressOutsideStorage }
        return nil
    }

    // MARK: - Pages (CONV_TO_SEC_STOR 0x200, DESTR_SEC_STOR 0x202; kvm-pv-ioctl §5.7)

    /// CONV_TO_SEC_STOR: the page becomes secure for the configuration and is kept at VERIFY. A
    /// non-secure (destroyed) page is cleared first, so the host cannot inject content (our
    /// decision: there is no export, so there is no encrypted content to import). Checks: handle
    /// (0x20), address aligned (0x101/1) and below the guest storage length (0x101/0).
    public func importPage(_ handle: UInt64, guestAddress: UInt64) -> UVResponse {
        guard let record = configurationRecord(handle) else { return .invalidConfigurationHandle }
        guard guestAddress % uvPageSize == 0 else { return .addressNotAligned }
        guard guestAddress < record.addressLimit else { return .addressOutsideStorage }
        let pages = record.pages
        pages.lock.withLock {
            let page = guestAddress / uvPageSize
            if pages.state(page) == .nonSecure { pages.storage.clear(guestAddress ..< guestAddress + uvPageSize) }
            pages.setState(page, .imported)
        }
        return .executed
    }

    /// DESTR_SEC_STOR: the page is cleared and becomes non-secure (host-accessible). O(1): one state
    /// byte, plus one `clear` unless DESTROY_SEC_CONF already cleared the owner's pages; shared pages
    /// are not cleared (the host could read them anyway). A page that is not secure gives rc 1 (newer
    /// firmware; older firmware's 0x107/0x0D is not reproduced, kvm-pv-ioctl §5.2). Safe to call
    /// concurrently from several threads. When a dead configuration's last page is destroyed, the
    /// storage's page table is released.
    public func destroyPage(storage: any SecureStorage, guestAddress: UInt64) -> UVResponse {
        if let failure = checkPageAddress(guestAddress, in: storage) { return failure }
        guard let pages = pagesRecord(storage) else { return .executed }
        let released = pages.lock.withLock { () -> Bool in
            guard let owner = pages.owner else { return false }
            let page = guestAddress / uvPageSize
            switch pages.state(page) {
            case .nonSecure: return false
            case .shared: break
            case .owned where !owner.hasRun:
                break   // never touched by a secure guest: nothing secure to clear
            case .owned, .imported:
                if !(owner.contentsCleared && !owner.alive) {
                    storage.clear(guestAddress ..< guestAddress + uvPageSize)
                }
            }
            pages.setState(page, .nonSecure)
            return !owner.alive && pages.nonSecureCount == pages.pageCount
        }
        if released { releaseIfUnowned(pages) }
        return .executed
    }

    /// DESTR_SEC_STOR over every page of `range` (page aligned) in one call, as a teardown walk
    /// issues it per page: the same states as `destroyPage`, with the clears of adjacent pages
    /// merged into one `storage.clear` per run and done outside the page-state lock, so workers
    /// on disjoint ranges run concurrently.
    public func destroyPages(storage: any SecureStorage, _ range: Range<UInt64>) -> UVResponse {
        guard range.lowerBound % uvPageSize == 0, range.upperBound % uvPageSize == 0 else { return .addressNotAligned }
        guard range.upperBound <= storage.size else { return .addressOutsideStorage }
        guard let pages = pagesRecord(storage) else { return .executed }
        var clears: [Range<UInt64>] = []
        let released = pages.lock.withLock { () -> Bool in
            guard let owner = pages.owner else { return false }
            let pageRange = range.lowerBound / uvPageSize ..< range.upperBound / uvPageSize
            if !(owner.contentsCleared && !owner.alive) {
                let untouchedSecure = owner.hasRun
                pages.forEachRun(in: pageRange, where: { $0 == .imported || (untouchedSecure && $0 == .owned) }) { run in
                    clears.append(run.lowerBound * uvPageSize ..< run.upperBound * uvPageSize)
                }
            }
            for page in pageRange { pages.setState(page, .nonSecure) }
            return !owner.alive && pages.nonSecureCount == pages.pageCount
        }
        for run in clears { storage.clear(run) }
        if released { releaseIfUnowned(pages) }
        return .executed
    }

    /// True if the host may read/write every byte of `range` of `storage`: no live or dead secure
    /// configuration owns any page in it, or every page in it is shared or destroyed. False for a
    /// range that leaves the storage.
    public func isHostAccessible(storage: any SecureStorage, _ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        guard range.upperBound <= storage.size else { return false }
        guard let pages = pagesRecord(storage) else { return true }
        return pages.lock.withLock {
            guard let owner = pages.owner else { return true }
            let first = range.lowerBound / uvPageSize
            let end = min(pages.pageCount, (range.upperBound + uvPageSize - 1) / uvPageSize)
            var accessible = true
            let untouchedSecure = owner.hasRun
            pages.forEachRun(in: first ..< end, where: { $0 == .imported || (untouchedSecure && $0 == .owned) }) { _ in accessible = false }
            return accessible
        }
    }

    // MARK: - Guest calls (se-image-format §9.1, §9.2) — see GuestCalls.swift

    /// Guest-side lookup: the live configuration of a secure CPU.
    func configuration(ofCPU handle: UInt64?) -> ConfigurationRecord? {
        guard let handle else { return nil }
        return lock.withLock {
            guard let cpu = cpus[handle], cpu.configuration.alive else { return nil }
            return cpu.configuration
        }
    }
}

extension UnsafeRawBufferPointer {
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        (0 ..< 4).reduce(0) { $0 << 8 | UInt32(self[offset + $1]) }
    }
}
