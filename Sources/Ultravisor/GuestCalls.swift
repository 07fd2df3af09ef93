// UV calls issued by a guest CPU (UVC B9A4; spec se-image-format §9.1, §9.2; kvm-unit-tests
// s390x/uv-guest.c).

extension Ultravisor {
    /// Result of a guest UVC.
    public enum GuestCallResult: Equatable, Sendable {
        /// The call ran and stored rc/rrc in the control block; cc 0 for rc 1, else 1.
        case completed(conditionCode: UInt8, notification: GuestCallNotification?)
        /// The control block itself is unusable: 0x05 addressing (outside storage), 0x06
        /// specification (not 8-byte aligned, kvm-pv-ioctl §5.5). Nothing was stored.
        case programException(code: UInt16)
    }

    /// What the host must do after a guest call (the SIE notification intercept, se-image-format §9.2).
    public enum GuestCallNotification: Equatable, Sendable {
        /// REMOVE_SHARED_ACCESS succeeded for this page: the host pins it back (KVM: UNPIN_PAGE_SHARED).
        case sharedAccessRemoved(guestAddress: UInt64)
    }

    /// Program-interruption codes of a guest UVC.
    public static let addressingException: UInt16 = 0x05
    public static let specificationException: UInt16 = 0x06

    /// A UVC (B9A4) issued by a guest CPU: the control block is at guest absolute
    /// `controlBlockAddress` of `storage`. `cpuHandle` is the secure CPU (nil: the guest is not
    /// protected). The privileged-operation check (problem state) is the CPU's.
    ///
    /// Order: block 8-byte aligned (else PGM 0x06) → header inside storage (else PGM 0x05) → command
    /// installed for this caller (else rc 2, whatever the length, as uv-guest.c's invalid-command
    /// test expects) → block of `len` bytes inside storage (else PGM 0x05) → the command's checks.
    /// rc/rrc go to bytes 4…7 of the block, big-endian.
    ///
    /// Callers (our decision for a non-protected guest): QUI works and shows only bit 0 (so Linux
    /// finds no protected guest, bits 8/9 clear); every other command is rc 2. A protected guest sees
    /// QUI, SET_SHARED_ACCESS and REMOVE_SHARED_ACCESS (bits 0, 8, 9); host-only and unknown commands
    /// are rc 2.
    public func guestCall(storage: any SecureStorage, cpuHandle: UInt64?, controlBlockAddress address: UInt64) -> GuestCallResult {
        guard address % 8 == 0 else { return .programException(code: Self.specificationException) }
        let size = storage.size
        guard size >= 8, address <= size - 8 else { return .programException(code: Self.addressingException) }
        let header = storage.hostPointer(address)
        let length = UInt64(load16(header, 0))
        let command = UVCommand(rawValue: load16(header, 2))
        let record = configuration(ofCPU: cpuHandle)

        func complete(_ response: UVResponse, _ notification: GuestCallNotification? = nil) -> GuestCallResult {
            store16(header, 4, response.rc)
            store16(header, 6, response.rrc)
            return .completed(conditionCode: response.conditionCode, notification: notification)
        }

        let installed: [UInt64] = record == nil ? configuration.nonProtectedGuestInstalledCalls
                                                : configuration.guestInstalledCalls
        guard let command, let bit = command.installedCallBit, installed[bit / 64] & (1 << (63 - UInt64(bit % 64))) != 0 else {
            return complete(.invalidCommand)
        }
        guard address + max(length, 8) <= size else { return .programException(code: Self.addressingException) }

        switch command {
        case .query:
            // Minimum 0xA8 (rc 5); shorter than 0x120: the part that fits, rc 0x100 (§9.2).
            guard length >= 0xA8 else { return complete(.invalidLength) }
            let block = configuration.queryBlock(installedCalls: installed)
            let end = Int(min(length, UInt64(block.count)))
            block.withUnsafeBytes { source in
                (header + 8).copyMemory(from: source.baseAddress! + 8, byteCount: end - 8)
            }
            return complete(length >= UInt64(block.count) ? .executed : .moreData)

        case .setSharedAccess, .removeSharedAccess:
            // Length exactly 0x30 (rc 5); paddr outside guest storage rc 0x101 (§9.2, uv-guest.c).
            guard length == 0x30 else { return complete(.invalidLength) }
            guard let record else { return complete(.invalidCommand) }
            let paddr = load64(header, 0x20)
            guard paddr < record.addressLimit else { return complete(.addressOutsideStorage) }
            let pageAddress = paddr & ~(uvPageSize - 1)
            let pages = record.pages
            pages.lock.withLock {
                guard pages.owner === record else { return }
                pages.setState(pageAddress / uvPageSize, command == .setSharedAccess ? .shared : .owned)
            }
            return complete(.executed, command == .removeSharedAccess ? .sharedAccessRemoved(guestAddress: pageAddress) : nil)

        default:
            return complete(.invalidCommand)
        }
    }

    private func load16(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    private func load64(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt64 {
        UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    private func store16(_ base: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt16) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
}
