// The VM's TOD through the KVM TOD device attributes (group KVM_S390_VM_TOD), and s390pv's
// clock-namespace offset attribute (issue 6).
import CKVM
import KernelABI

extension VMFd {
    private func todAttribute<T>(_ request: UInt, _ attribute: UInt64, _ value: inout T) throws(KVMError) {
        try withUnsafeMutablePointer(to: &value) { pointer throws(KVMError) in
            var request_ = kvm_device_attr()
            request_.group = UInt32(KVM_S390_VM_TOD)
            request_.attr = attribute
            request_.addr = UInt64(UInt(bitPattern: pointer))
            try kvmIoctl(fd, request, &request_)
        }
    }

    /// KVM_GET_DEVICE_ATTR KVM_S390_VM_TOD_EXT: the guest TOD now (epoch index 0 here).
    public func guestTOD() throws(KVMError) -> UInt64 {
        var clock = kvm_s390_vm_tod_clock()
        try todAttribute(S390PV_KVM_GET_DEVICE_ATTR, UInt64(KVM_S390_VM_TOD_EXT), &clock)
        return clock.tod
    }

    /// KVM_SET_DEVICE_ATTR KVM_S390_VM_TOD_EXT: the guest TOD reads `tod` now. ERANGE outside
    /// epoch 0, EACCES once a vCPU has run, EOPNOTSUPP for a protected VM.
    public func setGuestTOD(_ tod: UInt64) throws(KVMError) {
        var clock = kvm_s390_vm_tod_clock()
        clock.tod = tod
        try todAttribute(S390PV_KVM_SET_DEVICE_ATTR, UInt64(KVM_S390_VM_TOD_EXT), &clock)
    }

    /// The clock-namespace offset (TOD units, 4096 per microsecond) of the guest TOD.
    public func clockOffset() throws(KVMError) -> Int64 {
        var offset: Int64 = 0
        try todAttribute(S390PV_KVM_GET_DEVICE_ATTR, S390PV_KVM_S390_VM_TOD_OFFSET, &offset)
        return offset
    }

    /// Sets the clock-namespace offset exactly (no read-modify of the host TOD in between).
    public func setClockOffset(_ offset: Int64) throws(KVMError) {
        var value = offset
        try todAttribute(S390PV_KVM_SET_DEVICE_ATTR, S390PV_KVM_S390_VM_TOD_OFFSET, &value)
    }
}
