// The guest TOD the VMM gives a VM before its first run: the VM's clock namespace (issue 6),
// set only through the KVM TOD device attributes (KVMIoctls).
import Glibc
import KVMIoctls

/// How the guest TOD relates to the host clock. The kernel model keeps the resulting offset in
/// the VM's clock namespace, fixed from the first KVM_RUN and kept across reboots.
public enum GuestClock: Sendable, Equatable {
    /// Guest TOD = host TOD (offset 0).
    case host
    /// Guest TOD = host TOD + the offset (`--clock-offset`).
    case offset(seconds: Int64, nanoseconds: Int64)
    /// The guest TOD reads this Unix time at start and runs on from there (`--clock-epoch`).
    case epoch(unixSeconds: Int64, nanoseconds: Int64)

    static let unitsPerSecond: Int128 = 4_096_000_000
    /// Seconds from 1900-01-01 (TOD epoch) to 1970-01-01.
    static let unixEpochSeconds: Int128 = 2_208_988_800

    /// The host's TOD now (CLOCK_REALTIME in TOD units).
    static func hostTOD() -> Int128 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return units(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec)) + unixEpochSeconds * unitsPerSecond
    }

        static func units(seconds: Int64, nanoseconds: Int64) -> Int128 {
        Int128(seconds) * unitsPerSecond + Int128(nanoseconds) * 4096 / 1000
    }
}

extension Machine {
    /// Sets the VM's clock namespace before the first KVM_RUN (called from init).
    func applyGuestClock() throws(MachineError) {
        let range = "the guest TOD must stay within epoch 0, 1900-01-01 to 2042-09-17 UTC"
        let option: String
        let set: () throws(KVMError) -> Void
        switch configuration.guestClock {
        case .host:
            return
        case .offset(let seconds, let nanoseconds):
            option = "--clock-offset"
            let units = GuestClock.units(seconds: seconds, nanoseconds: nanoseconds)
            if let offset = Int64(exactly: units) {
                set = { [vm] () throws(KVMError) in try vm.setClockOffset(offset) }
            } else {
                // Beyond the s64 offset attribute (about 71 years): the TOD setter, host TOD + offset.
                guard let tod = UInt64(exactly: GuestClock.hostTOD() + units) else {
                    throw .configuration("\(option) is out of range (ERANGE): \(range)")
                }
                set = { [vm] () throws(KVMError) in try vm.setGuestTOD(tod) }
            }
        case .epoch(let seconds, let nanoseconds):
            option = "--clock-epoch"
            let units = GuestClock.units(seconds: seconds, nanoseconds: nanoseconds) + GuestClock.unixEpochSeconds * GuestClock.unitsPerSecond
            guard let tod = UInt64(exactly: units) else {
                throw .configuration("\(option) is out of range (ERANGE): \(range)")
            }
            set = { [vm] () throws(KVMError) in try vm.setGuestTOD(tod) }
        }
        do { try set() } catch {
            if error.errno == 34 { throw .configuration("\(option) is out of range (ERANGE): \(range)") }
            throw .kernel("cannot set the guest TOD (\(option)): \(error)")
        }
    }
}
