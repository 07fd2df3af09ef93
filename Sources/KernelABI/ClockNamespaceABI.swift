// s390pv's private TOD attribute: the VM's clock-namespace offset (issue 6).
import CKVM

/// KVM_SET/GET/HAS_DEVICE_ATTR on the VM fd, group KVM_S390_VM_TOD (1), attribute 0x100 (Linux
/// uses 0-2): a signed 64-bit offset in TOD units (4096 per microsecond) that the guest TOD has
/// relative to the host TOD. Setting it follows the clock namespace's rules (ERANGE, then EACCES
/// once a vCPU has run) and, like every TOD setter, answers EOPNOTSUPP for a protected VM.
/// Getting an offset that does not fit 64 bits (about ±71 years, possible through TOD_EXT) is ERANGE.
public let S390PV_KVM_S390_VM_TOD_OFFSET: UInt64 = 0x100
