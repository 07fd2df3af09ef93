import ArgumentParser
import CKVM
import Foundation
import KVMIoctls

/// `s390pv info`: what the emulated host offers protected guests, read through the ioctl
/// surface as a VMM would (KVM_CHECK_EXTENSION, KVM_PV_INFO).
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel model's protected-virtualization capabilities and the Ultravisor's query values.")

    @OptionGroup var hostKeyOptions: HostKeyOptions

    /// Capabilities a PV-aware VMM reads (spec kvm-pv-ioctl.md §1.2), with their numbers.
    static let capabilities: [(name: String, number: Int32)] = [
        ("KVM_CAP_S390_PROTECTED", KVM_CAP_S390_PROTECTED), ("KVM_CAP_S390_PROTECTED_DUMP", KVM_CAP_S390_PROTECTED_DUMP),
        ("KVM_CAP_S390_PROTECTED_ASYNC_DISABLE", KVM_CAP_S390_PROTECTED_ASYNC_DISABLE),
        ("KVM_CAP_S390_VCPU_RESETS", KVM_CAP_S390_VCPU_RESETS), ("KVM_CAP_S390_USER_STSI", KVM_CAP_S390_USER_STSI),
        ("KVM_CAP_GUEST_MEMFD", KVM_CAP_GUEST_MEMFD),
    ]

    /// UV calls by installed-call bit (spec kvm-pv-ioctl.md §5.3).
    static let callNames: [Int: String] = [
        0: "QUI", 1: "INIT_UV", 2: "CREATE_SEC_CONF", 3: "DESTROY_SEC_CONF", 4: "CREATE_SEC_CPU", 5: "DESTROY_SEC_CPU",
        6: "CONV_TO_SEC_STOR", 7: "CONV_FROM_SEC_STOR", 8: "SET_SHARED_ACCESS", 9: "REMOVE_SHARED_ACCESS",
        11: "SET_SEC_CONF_PARAMS", 13: "UNPACK_IMG", 14: "VERIFY_IMG", 15: "CPU_RESET", 16: "CPU_RESET_INITIAL",
        17: "CPU_SET_STATE", 18: "PREPARE_RESET", 19: "CPU_RESET_CLEAR", 20: "SET_UNSHARE_ALL", 21: "PIN_PAGE_SHARED",
        22: "UNPIN_PAGE_SHARED", 23: "DESTROY_SEC_CONF_FAST", 24: "DUMP_INIT", 25: "DUMP_CONF_STOR_STATE", 26: "DUMP_CPU",
        27: "DUMP_COMPLETE", 28: "RETR_ATTEST", 29: "ADD_SECRET", 30: "LIST_SECRETS", 31: "LOCK_SECRETS",
        33: "RETR_SECRET", 34: "QUERY_KEYS",
    ]

    func run() throws {
        let keyPath = hostKeyOptions.install()
        let system: KVMSystem
        do { system = try KVMSystem() } catch { fail("cannot open the kernel model: \(error)") }
        print("host key: \(keyPath)")
        for (name, number) in Info.capabilities {
            print("\(name) (\(number)): \(system.checkExtension(number))")
        }
        guard system.isProtectedVirtualizationHost else {
            print("protected virtualization: not available")
            return
        }
        let info: PVVMInfo
        do { info = try system.createVM().protectedVirtualizationInfo() } catch { fail("KVM_PV_INFO failed: \(error)") }
        print("ultravisor (KVM_PV_INFO_VM):")
        print("  max CPUs: \(info.maxCPUs)")
        print("  max guests: \(info.maxGuests)")
        print("  max guest address: 0x\(String(info.maxGuestAddress, radix: 16))")
        print("  feature indication: 0x\(String(info.featureIndication, radix: 16))")
        let installed = (0..<256).filter { bit in info.installedCalls[bit / 64] >> (63 - UInt64(bit % 64)) & 1 != 0 }
        print("  installed calls: " + installed.map { Info.callNames[$0] ?? "bit \($0)" }.joined(separator: " "))
    }
}
