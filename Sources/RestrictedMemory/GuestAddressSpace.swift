// A VM's reserved host range for guest absolute addresses, with memslots of GuestMemfd files
// mapped into it. Only the kernel model uses it.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class GuestAddressSpace: @unchecked Sendable {
    /// One memslot: [guestAddress, guestAddress + length) shows [fileOffset, fileOffset + length) of `memfd`.
    public struct Slot: Sendable {
        public let guestAddress: UInt64
        public let length: UInt64
        public let memfd: GuestMemfd
        public let fileOffset: UInt64
        public var guestRange: Range<UInt64> { guestAddress..<guestAddress + length }
    }

    /// Host address of guest absolute address 0. Only the kernel model may use it.
    public let base: UnsafeMutableRawPointer
    /// Size of the reservation: guest addresses below it can be mapped.
    public let maxBytes: UInt64
    private let slotList = Mutex<[Slot]>([])

    /// Reserves `maxBytes` (nonzero, page aligned, else EINVAL) of host address space, PROT_NONE
    /// and MAP_NORESERVE, so it costs neither memory nor commit charge.
    public init(maxBytes: UInt64) throws(MemoryErrno) {
        guard maxBytes > 0, maxBytes % GuestMemfd.pageSize == 0, maxBytes <= UInt64(Int.max) else { throw .EINVAL }
        guard let reserved = mmap(nil, Int(maxBytes), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reserved != MAP_FAILED else { throw .ENOMEM }
        base = reserved
        self.maxBytes = maxBytes
    }

    deinit {
        for slot in slotList.withLock({ $0 }) {
            try? slot.memfd.unmap(at: base + Int(slot.guestAddress), length: slot.length)
        }
        munmap(base, Int(maxBytes))
    }

    public var slots: [Slot] { slotList.withLock { $0 } }

    /// Maps [fileOffset, fileOffset + length) of `memfd` at guest address `guestAddress`.
    /// Alignment or bounds wrong → EINVAL; overlapping an existing slot → EEXIST.
    public func map(_ memfd: GuestMemfd, fileOffset: UInt64, length: UInt64, at guestAddress: UInt64) throws(MemoryErrno) {
        guard length > 0, guestAddress % GuestMemfd.pageSize == 0, length % GuestMemfd.pageSize == 0,
              guestAddress <= maxBytes, length <= maxBytes - guestAddress else { throw .EINVAL }
        let range = guestAddress..<guestAddress + length
        try slotList.withLock { slots throws(MemoryErrno) in
            guard !slots.contains(where: { $0.guestRange.overlaps(range) }) else { throw .EEXIST }
            try memfd.map(at: base + Int(guestAddress), fileOffset: fileOffset, length: length)
            slots.append(Slot(guestAddress: guestAddress, length: length, memfd: memfd, fileOffset: fileOffset))
        }
    }

    /// Removes the slot that starts at `guestAddress` (none → ENOENT); its range is reserved again.
    public func unmap(at guestAddress: UInt64) throws(MemoryErrno) {
        try slotList.withLock { slots throws(MemoryErrno) in
            guard let index = slots.firstIndex(where: { $0.guestAddress == guestAddress }) else { throw .ENOENT }
            let slot = slots[index]
            try slot.memfd.unmap(at: base + Int(slot.guestAddress), length: slot.length)
            slots.remove(at: index)
        }
    }

    /// The slot containing `guestAddress`, if any.
    public func slot(containing guestAddress: UInt64) -> Slot? {
        slotList.withLock { $0.first { $0.guestRange.contains(guestAddress) } }
    }
}
