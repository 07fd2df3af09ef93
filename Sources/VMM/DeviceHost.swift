// What the machine's devices need of it, as narrow interfaces: the SCLP and DIAG 308 handling
// work on these, the machine provides them through KVM ioctls (VMFd, VCPUFd).
import KVMIoctls

/// Guest absolute storage, as KVM_S390_MEM_OP offers it.
protocol GuestMemoryAccess: AnyObject, Sendable {
    func readAbsolute(_ address: UInt64, count: Int) throws -> [UInt8]
    func writeAbsolute(_ address: UInt64, _ bytes: [UInt8]) throws
}

/// What the SCLP needs: guest memory and the service-signal interruption line.
protocol SCLPHost: GuestMemoryAccess {
    func injectServiceSignal(parameter: UInt32) throws
}

/// The general registers of the CPU that executed an intercepted instruction.
protocol GuestRegisters: AnyObject {
    func gpr(_ index: Int) -> UInt64
    func setGPR(_ index: Int, _ value: UInt64)
}

/// The Secure Instruction Data Area of a protected CPU (KVM_S390_MEM_OP SIDA_READ/WRITE).
protocol SIDAAccess: AnyObject {
    func readSIDA(offset: UInt32, count: Int) throws(KVMError) -> [UInt8]
    func writeSIDA(offset: UInt32, _ bytes: [UInt8]) throws(KVMError)
}

extension VMFd: SCLPHost {}
extension VCPUFd: SIDAAccess {}
extension VCPUFd: GuestRegisters {}
