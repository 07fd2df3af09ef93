// Fault-injection hooks of the ioctl surface for in-process harnesses (`s390pv faults`): the
// counterpart of Linux's hwpoison injector (MADV_HWPOISON, debugfs corrupt-pfn), addressed by
// model file descriptor. Not part of any Linux uAPI.
import KernelModel
import RestrictedMemory

extension KVMDevice {
    /// Memory failure on the populated pages of guest [address, address + length) of the VM of
    /// `vmFD`: in its own memory (`tornDown` false: its vCPUs stop at their next KVM_RUN with an
    /// internal error), or in the detached memory of its set-aside, leftover or
    /// being-torn-down configurations (`tornDown` true). Returns the guest ranges marked (empty
    /// when no page there was populated), or -EBADF / -EINVAL as errno.
    public static func injectMemoryFailure(vmFD: Int32, address: UInt64, length: UInt64,
                                           tornDown: Bool) -> Result<[Range<UInt64>], Errno> {
        guard case .vm(let file)? = FileTable.shared.lookup(vmFD) else { return .failure(.EBADF) }
        let (end, overflow) = address.addingReportingOverflow(length)
        guard !overflow, length > 0 else { return .failure(.EINVAL) }
        do { return .success(try file.vm.injectMemoryFailure(guestRange: address..<end, tornDown: tornDown)) } catch { return .failure(error) }
    }

    /// Failed pages still marked in the VM of `vmFD`: in its own memory, and in the detached
    /// memory of its set-aside and leftover configurations (guest ranges). nil for a bad fd.
    public static func failedRanges(vmFD: Int32) -> (guest: [Range<UInt64>], detached: [Range<UInt64>])? {
        guard case .vm(let file)? = FileTable.shared.lookup(vmFD) else { return nil }
        return file.vm.failedGuestRanges
    }

    /// Model descriptors of every open VM (to find the VM of an in-process Machine).
    public static var vmDescriptors: [Int32] { FileTable.shared.descriptors(where: { if case .vm = $0 { true } else { false } }) }

    /// Model descriptors open in this process (all kinds): a leak figure.
    public static var openDescriptorCount: Int { FileTable.shared.openCount }
}

extension FileTable {
    /// Descriptors whose file satisfies `predicate`, sorted.
    func descriptors(where predicate: (KVMFile) -> Bool) -> [Int32] {
        snapshot().filter { predicate($0.value) }.map(\.key).sorted()
    }
}
