import Foundation
import RestrictedMemory
import S390CPU
import Synchronization

/// A VM: guest memory, vCPUs, floating interruptions and the TOD clock (KVM's `struct kvm`).
/// Thread-safe: vCPU threads and the VMM call in concurrently.
public final class VirtualMachine: @unchecked Sendable {
    public let configuration: VMConfiguration
    let memory: RestrictedMemory
    let storage: GuestStorage
    let model: CPUModel
    public let clock = TODClock()
    let floating = FloatingInterruptions()
    let storageKeys: StorageKeys
    let translationEpoch = TranslationEpoch()
    /// Serializes vCPU creation and CPU-state changes across vCPUs (the role of kvm->lock).
    let lock = NSLock()
    private var vcpus: [UInt16: VirtualCPU] = [:]
    /// The same vCPUs in creation order, for broadcasts (copy-on-write, read without sorting).
    private var vcpuList: [VirtualCPU] = []

    init(configuration: VMConfiguration, memory: RestrictedMemory) {
        self.configuration = configuration
        self.memory = memory
        self.storage = GuestStorage(base: memory.base, size: memory.size)
        self.storageKeys = StorageKeys(storageSize: memory.size)
        self.model = CPUModel()
    }

    /// KVM_CREATE_VCPU: EEXIST for a used id, EINVAL beyond the maximum.
    public func createVCPU(id: UInt16) throws(Errno) -> VirtualCPU {
        lock.lock(); defer { lock.unlock() }
        guard Int(id) < configuration.maxCPUs else { throw .EINVAL }
        guard vcpus[id] == nil else { throw .EEXIST }
        let cpu = CPU(address: id, model: model, storage: storage, clock: clock, floating: floating, storageKeys: storageKeys,
                      translationEpoch: translationEpoch)
        cpu.identity = configuration.identity
        let vcpu = VirtualCPU(vm: self, cpu: cpu)
        vcpus[id] = vcpu
        vcpuList.append(vcpu)
        return vcpu
    }

    func vcpu(address: UInt16) -> VirtualCPU? {
        lock.lock(); defer { lock.unlock() }
        return vcpus[address]
    }

    var allVCPUs: [VirtualCPU] {
        lock.lock(); defer { lock.unlock() }
        return vcpuList
    }

    public var memorySize: UInt64 { memory.size }

    // MARK: KVM_S390_MEM_OP with KVM_S390_MEMOP_ABSOLUTE_READ/WRITE

    /// Reads guest absolute storage; a range outside memory is the addressing exception (Linux
    /// returns PGM_ADDRESSING as a positive ioctl result).
    public func readAbsolute(_ address: UInt64, count: Int) throws(MemoryOperationError) -> [UInt8] {
        try checkAbsolute(address, count)
        return [UInt8](UnsafeRawBufferPointer(start: storage.base + Int(address), count: count))
    }

    public func writeAbsolute(_ address: UInt64, _ bytes: some Collection<UInt8>) throws(MemoryOperationError) {
        try checkAbsolute(address, bytes.count)
        UnsafeMutableRawBufferPointer(start: storage.base + Int(address), count: bytes.count).copyBytes(from: bytes)
    }

    private func checkAbsolute(_ address: UInt64, _ count: Int) throws(MemoryOperationError) {
        guard count >= 0, count <= 65536 else { throw .errno(.E2BIG) }
        guard address < storage.size, UInt64(count) <= storage.size - address else { throw .programException(.addressing) }
    }

    // MARK: KVM_S390_INTERRUPT (floating)

    /// KVM_S390_INT_SERVICE: a service-signal interruption with `parameter` (SCCB | pending).
    public func injectServiceSignal(parameter: UInt32) {
        floating.postServiceSignal(parameter: parameter)
        for vcpu in allVCPUs { vcpu.doorbell.ring() }
    }

    /// Makes every vCPU return from KVM_RUN (as a signal to each vCPU thread would).
    public func kickAll() {
        for vcpu in allVCPUs { vcpu.kick() }
    }
}

/// How a memory operation failed: an errno, or the program-interruption code the guest would
/// see (Linux returns it as a positive ioctl result).
public enum MemoryOperationError: Error, Equatable {
    case errno(Errno)
    case programException(ProgramInterruptionCode)
}

extension Errno {
    public static let E2BIG = Errno(7)
}
