// The reference model of `s390pv fuzz`: the VM-level PV state machine of KVM as
// ../shared/spec/kvm-pv-ioctl.md §1.5, §2 and §3 describe it, written from the spec alone (not
// from Sources/KernelModel). It predicts, for every KVM_S390_PV_COMMAND on a VM, the errno and
// what rc/rrc must be afterwards; where the spec leaves the outcome to the Ultravisor (a header
// it may or may not accept, a page it may or may not unpack) it gives the set of allowed
// results instead. The state it keeps is the spec's §3.1 table, reduced to what userspace can
// observe: current configuration (N/P/P0), the single set-aside slot, the need_cleanup list,
// the per-mm protected_count and the UV's number of live configurations.

/// What rc/rrc must look like after a call (§1.5: the struct is copied back whatever the
/// handler returned, so an rc/rrc the handler did not write reads back as the caller passed it).
enum FuzzRC: Equatable, CustomStringConvertible {
    /// Not written: the caller's values (also when the struct is never copied back).
    case untouched
    /// Written with this rc, and this rrc when given.
    case exact(UInt16, UInt16?)
    /// Written by a failing UVC: rc is neither "executed" (1) nor 0 (§2, "rc/rrc are copied").
    case uvError
    /// Anything (a UV answer the spec does not fix, or either of several paths).
    case any

    var description: String {
        switch self {
        case .untouched: "rc/rrc untouched"
        case .exact(let rc, let rrc?): "rc 0x\(String(rc, radix: 16)) rrc 0x\(String(rrc, radix: 16))"
        case .exact(let rc, nil): "rc 0x\(String(rc, radix: 16))"
        case .uvError: "a UV error rc"
        case .any: "any rc/rrc"
        }
    }

    func matches(rc: UInt16, rrc: UInt16, inputRC: UInt16, inputRRC: UInt16) -> Bool {
        switch self {
        case .untouched: rc == inputRC && rrc == inputRRC
        case .exact(let want, let wantRRC): rc == want && (wantRRC == nil || rrc == wantRRC!)
        case .uvError: rc != 1 && rc != 0 && !(rc == inputRC && rrc == inputRRC)
        case .any: true
        }
    }
}

/// A prediction: one errno (0 for success) is a model prediction proper; several are an
/// allowed set, for outcomes the spec leaves to the UV. `rc` applies per errno when given.
struct FuzzExpectation: CustomStringConvertible {
    var outcomes: [(errno: Int32, rc: FuzzRC)]
    var isPrediction: Bool { outcomes.count == 1 }

    static func one(_ errno: Int32, _ rc: FuzzRC) -> FuzzExpectation { FuzzExpectation(outcomes: [(errno, rc)]) }
    static func anyOf(_ outcomes: [(Int32, FuzzRC)]) -> FuzzExpectation { FuzzExpectation(outcomes: outcomes.map { ($0.0, $0.1) }) }

    func matches(errno: Int32, rc: UInt16, rrc: UInt16, inputRC: UInt16, inputRRC: UInt16) -> Bool {
        outcomes.contains { $0.errno == errno && $0.rc.matches(rc: rc, rrc: rrc, inputRC: inputRC, inputRRC: inputRRC) }
    }

    var description: String {
        outcomes.map { "\($0.errno == 0 ? "success" : "errno \(FuzzErrno.name($0.errno))") with \($0.rc)" }.joined(separator: " or ")
    }
}

enum FuzzErrno {
    static let EPERM: Int32 = 1, EINTR: Int32 = 4, EIO: Int32 = 5, ENXIO: Int32 = 6, EBADF: Int32 = 9, EAGAIN: Int32 = 11,
               ENOMEM: Int32 = 12, EFAULT: Int32 = 14, EEXIST: Int32 = 17, EINVAL: Int32 = 22, ENOTTY: Int32 = 25, E2BIG: Int32 = 7
    static func name(_ errno: Int32) -> String {
        let names: [Int32: String] = [0: "0", 1: "EPERM", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF", 11: "EAGAIN",
                                      12: "ENOMEM", 14: "EFAULT", 17: "EEXIST", 22: "EINVAL", 25: "ENOTTY"]
        return names[errno] ?? "\(errno)"
    }
}

/// Which user addresses a copy_from_user / copy_to_user may use (the fuzzer's arena).
protocol FuzzUserMemory {
    func isAccessible(_ address: UInt64, count: UInt64) -> Bool
}

/// The §3.1 state of one VM, as far as userspace can see it.
final class FuzzModelVM {
    /// §3.1 `handle != 0`.
    var isProtected = false
    /// vCPU id → whether it is a secure CPU (`cpuHandle != 0`).
    var vcpus: [UInt64: Bool] = [:]
    /// §3.1 `setAside`: nil, or whether the record was destroyed with DESTROY_SEC_CONF_FAST (handle 0).
    var setAside: Bool?? = nil
    /// §3.1 `needCleanup` (records: fast or not). Only an interrupted PERFORM or VM destruction fills it.
    var needCleanup: [Bool] = []
    /// The guest address-space limit: the end of the highest memslot (§2.1 guest_len).
    let limit: UInt64
    /// What the UV has seen of the current configuration (for VERIFY's outcome).
    enum Progress { case fresh, parameters, unpacked(Int), verified, unknown }
    var progress = Progress.fresh
    /// The memslots (guest address, size): UNPACK of a page outside them fails (§2.4, no memslot).
    let memslots: [(UInt64, UInt64)]
    /// The SE image is in guest memory as the boot sequence wrote it (encrypted, not yet unpacked).
    var imageLoaded = false

    init(memslots: [(UInt64, UInt64)]) {
        self.memslots = memslots
        limit = memslots.map { $0.0 + $0.1 }.max() ?? 0
    }

    func inMemslot(_ address: UInt64) -> Bool { memslots.contains { address >= $0.0 && address - $0.0 < $0.1 } }

    /// §3.2 state names.
    var stateName: String {
        guard isProtected else { return "N" }
        return vcpus.values.contains(true) ? "P" : "P0"
    }

    /// Live UV configurations this VM owns: the current one, a set-aside one not destroyed
    /// fast, leftovers not destroyed fast.
    var uvConfigurations: Int {
        (isProtected ? 1 : 0) + (setAside.map { $0 == true ? 0 : 1 } ?? 0) + needCleanup.filter { !$0 }.count
    }
    /// This VM's share of the per-mm protected_count (§3.3): current + set-aside + leftovers.
    var protectedCount: Int { (isProtected ? 1 : 0) + (setAside == nil ? 0 : 1) + needCleanup.count }
}

/// A decoded KVM_S390_PV_COMMAND: the 32-byte struct and where it and its data live.
struct FuzzPVRequest {
    var cmd: UInt32
    var rc: UInt16
    var rrc: UInt16
    var data: UInt64
    var flags: UInt32
    /// The struct's own address could be copied from (and back to).
    var structAccessible: Bool
}

/// Facts about the fuzzer's SE image the model needs (what a valid header is).
struct FuzzImageFacts {
    /// Address and length of a correct SE header in user memory, if an image is loaded.
    var headerAddress: UInt64?
    var headerLength: UInt64
    /// Number of components: UNPACKs in order of all of them make VERIFY pass.
    var componentCount: Int
}

/// The reference model proper.
struct FuzzReferenceModel {
    /// Whether the UV offers DESTROY_SEC_CONF_FAST (inst_calls bit 23, read through KVM_PV_INFO).
    var fastDestroy: Bool
    /// The `async_destroy` module parameter (§1.2, default 1).
    var asyncDestroy = true
    var image: FuzzImageFacts
    /// Self-test of the fuzzer (--mutate-model): a deliberately wrong model (PREPARE's rrc 43
    /// instead of 42) whose disagreements the fuzzer must find and minimise.
    var mutated = false

    static let twoGiB: UInt64 = 1 << 31
    static let headerLimit2025: UInt64 = 8192       // §2.3 step 3
    static let headerLimit2026: UInt64 = 1 << 20    // §4: 1 MiB from 2026

    private func u64(_ memory: [UInt8], _ offset: Int) -> UInt64 {
        memory[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }   // native (little-endian) order
    }
    private func u32(_ memory: [UInt8], _ offset: Int) -> UInt32 {
        memory[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Predicts a PV command and applies its effect on `vm`. `read(address, count)` returns the
    /// user bytes the kernel would copy (only called for accessible ranges). `apply` runs after
    /// the real call with its errno, so that where the model allows several outcomes the state
    /// follows the one that happened (never the other way round for predicted outcomes).
    func predict(_ request: FuzzPVRequest, vm: FuzzModelVM, memory: FuzzUserMemory,
                 read: (UInt64, Int) -> [UInt8]) -> (FuzzExpectation, (Int32) -> Void) {
        let none: (Int32) -> Void = { _ in }
        // §1.5 steps 2-4: PV host (always, here), copy-in, flags; then the struct is not copied back.
        guard request.structAccessible else { return (.one(FuzzErrno.EFAULT, .untouched), none) }
        guard request.flags == 0 else { return (.one(FuzzErrno.EINVAL, .untouched), none) }
        let EINVAL = FuzzErrno.EINVAL, EFAULT = FuzzErrno.EFAULT
        let notProtected = FuzzExpectation.one(EINVAL, .untouched)
        switch request.cmd {
        case 0:   // §2.1 ENABLE
            guard !vm.isProtected else { return (notProtected, none) }
            // rc/rrc of the last CREATE_SEC_CPU, or of CREATE_SEC_CONF: "executed".
            return (.one(0, .exact(1, 0)), { errno in
                guard errno == 0 else { return }
                vm.isProtected = true
                for id in vm.vcpus.keys { vm.vcpus[id] = true }
                vm.progress = .fresh
            })
        case 1:   // §2.2 DISABLE
            guard vm.isProtected else { return (notProtected, none) }
            return (.one(0, .exact(1, nil)), { errno in
                guard errno == 0 else { return }
                vm.isProtected = false
                for id in vm.vcpus.keys { vm.vcpus[id] = false }
                vm.setAside = nil
                vm.needCleanup = []
            })
        case 2:   // §2.3 SET_SEC_PARMS
            guard vm.isProtected else { return (notProtected, none) }
            guard memory.isAccessible(request.data, count: 16) else { return (.one(EFAULT, .untouched), none) }
            let parameters = read(request.data, 16)
            let origin = u64(parameters, 0), length = u64(parameters, 8)
            // The limit is 8 KiB in the 2025 code, 1 MiB from 2026 (§4): either is the spec.
            if length > FuzzReferenceModel.headerLimit2026 { return (.one(EINVAL, .untouched), none) }
            if length == 0 { return (.one(FuzzErrno.ENOMEM, .untouched), none) }
            let copies = memory.isAccessible(origin, count: length)
            if length > FuzzReferenceModel.headerLimit2025 {
                return (.anyOf([(EINVAL, .untouched), (copies ? EINVAL : EFAULT, copies ? .uvError : .untouched)]), none)
            }
            guard copies else { return (.one(EFAULT, .untouched), none) }
            let valid = image.headerAddress.map { origin == $0 && length == image.headerLength } ?? false
            let sameBytes = image.headerAddress.map { origin == $0 } ?? false
            if valid, case .fresh = vm.progress {
                // VERIFY can only pass if the components UNPACKed are the image's, in memory as written.
                return (.one(0, .exact(1, 0)), { errno in if errno == 0 { vm.progress = vm.imageLoaded ? .parameters : .unknown } })
            }
            if valid || sameBytes {
                // A second SET_SEC_CONF_PARAMS, or the right header with a wrong length: the UV's call.
                return (.anyOf([(0, .exact(1, nil)), (EINVAL, .uvError)]), { errno in if errno == 0 { vm.progress = .unknown } })
            }
            // Random bytes are no SE header (the UV refuses them: EINVAL with its rc).
            return (.one(EINVAL, .uvError), none)
        case 3:   // §2.4 UNPACK
            guard vm.isProtected else { return (notProtected, none) }
            guard memory.isAccessible(request.data, count: 24) else { return (.one(EFAULT, .untouched), none) }
            let unpack = read(request.data, 24)
            let address = u64(unpack, 0), size = u64(unpack, 8)
            guard address % 4096 == 0, size % 4096 == 0, size != 0 else { return (.one(EINVAL, .untouched), none) }
            let update: (Int32) -> Void = { errno in
                if case .fresh = vm.progress { return }   // the UV refused it: nothing unpacked
                vm.progress = .unknown
            }
            if case .fresh = vm.progress {
                // No SET_SEC_PARMS yet: the UV refuses UNPACK_IMG (§2.3 note); a page outside
                // every memslot may fail first with EFAULT (no memslot).
                if !vm.inMemslot(address) { return (.anyOf([(EINVAL, .uvError), (EFAULT, .untouched)]), update) }
                return (.one(EINVAL, .uvError), update)
            }
            return (.anyOf([(0, .exact(1, nil)), (EINVAL, .uvError), (EFAULT, .any), (FuzzErrno.EAGAIN, .any)]), update)
        case 4, 5, 6:   // §2.5 VERIFY, PREP_RESET, UNSHARE_ALL
            guard vm.isProtected else { return (notProtected, none) }
            if request.cmd == 4 {
                switch vm.progress {
                case .fresh: return (.one(EINVAL, .uvError), none)
                case .unpacked(let count) where count == image.componentCount:
                    return (.one(0, .exact(1, nil)), { errno in if errno == 0 { vm.progress = .verified } })
                default: break
                }
            }
            return (.anyOf([(0, .exact(1, nil)), (EINVAL, .uvError)]), none)
        case 7:   // §2.6 INFO: no "protected" precondition; rc/rrc never written
            guard memory.isAccessible(request.data, count: 16) else { return (.one(EFAULT, .untouched), none) }
            let header = read(request.data, 16)
            let id = u32(header, 0), lengthMax = u32(header, 4)
            guard lengthMax >= 16 else { return (.one(EINVAL, .untouched), none) }
            let written: UInt64
            switch id {
            case 0: written = 80
            case 1: written = 40
            default: return (.one(EINVAL, .untouched), none)
            }
            guard UInt64(lengthMax) >= written else { return (.one(EINVAL, .untouched), none) }
            return (.one(memory.isAccessible(request.data, count: written) ? 0 : EFAULT, .untouched), none)
        case 8:   // §2.7 DUMP: no dump is ever in progress here (INIT needs the UV's dump calls)
            guard vm.isProtected else { return (notProtected, none) }
            guard memory.isAccessible(request.data, count: 64) else { return (.one(EFAULT, .untouched), none) }
            let subcommand = u64(read(request.data, 64), 0)
            switch subcommand {
            case 0: return (.anyOf([(EINVAL, .any)]), none)              // DUMP_INIT: the UV's answer
            case 1, 2: return (.one(EINVAL, .untouched), none)           // not dumping
            default: return (.one(FuzzErrno.ENOTTY, .untouched), none)
            }
        case 9:   // §2.8 ASYNC_CLEANUP_PREPARE
            guard vm.isProtected, asyncDestroy else { return (notProtected, none) }
            // Step 1 destroys every secure CPU whatever follows (→ P0 on a later failure).
            let destroyCPUs = { for id in vm.vcpus.keys { vm.vcpus[id] = false } }
            if vm.setAside != nil { return (.one(EINVAL, .untouched), { _ in destroyCPUs() }) }
            if vm.limit <= FuzzReferenceModel.twoGiB { return (.one(EINVAL, .untouched), { _ in destroyCPUs() }) }
            let fast = fastDestroy
            return (.one(0, .exact(1, mutated ? 43 : 42)), { errno in
                destroyCPUs()
                guard errno == 0 else { return }
                vm.isProtected = false
                vm.setAside = .some(fast)
                vm.progress = .fresh
                vm.imageLoaded = false
            })
        case 10:  // §2.9 ASYNC_CLEANUP_PERFORM
            guard asyncDestroy, let record = vm.setAside else { return (.one(EINVAL, .untouched), none) }
            // A fast record is disposed of without a UVC: rc/rrc as passed in; otherwise the
            // rc/rrc of DESTROY_SEC_CONF.
            return (.one(0, record == true ? .untouched : .exact(1, nil)), { errno in
                if errno == 0 { vm.setAside = nil }
            })
        default:  // §1.5 step 7: unknown cmd → ENOTTY, struct copied back unchanged
            return (.one(FuzzErrno.ENOTTY, .untouched), none)
        }
    }

    /// A canonical UNPACK of component `index` (the boot sequence): the UV accepts it once the
    /// header is in and the components come in order.
    func predictCanonicalUnpack(index: Int, vm: FuzzModelVM) -> (FuzzExpectation, (Int32) -> Void)? {
        guard vm.isProtected else { return nil }
        let inOrder: Bool
        switch vm.progress {
        case .parameters: inOrder = index == 0
        case .unpacked(let count): inOrder = index == count
        default: inOrder = false
        }
        guard inOrder else { return nil }
        return (.one(0, .exact(1, nil)), { errno in vm.progress = errno == 0 ? .unpacked(index + 1) : .unknown })
    }

    // MARK: vCPU-level calls (§2.10, §1.5)

    /// KVM_CREATE_VCPU: a vCPU created while the VM is protected is made secure (§2.1).
    func predictCreateVCPU(id: UInt64, vm: FuzzModelVM) -> (Int32, (Int32) -> Void) {
        guard id < 248 else { return (FuzzErrno.EINVAL, { _ in }) }
        guard vm.vcpus[id] == nil else { return (FuzzErrno.EEXIST, { _ in }) }
        return (0, { errno in if errno == 0 { vm.vcpus[id] = vm.isProtected } })
    }

    /// KVM_SET_MP_STATE (§2.10).
    func predictMPState(_ state: UInt32?, secure: Bool) -> [Int32] {
        guard let state else { return [FuzzErrno.EFAULT] }
        switch state {
        case 5, 7: return secure ? [0, FuzzErrno.EINVAL] : [0]
        case 8: return secure ? [0, FuzzErrno.EINVAL] : [FuzzErrno.ENXIO]
        default: return [FuzzErrno.ENXIO]
        }
    }

    /// KVM_S390_PV_CPU_COMMAND (§1.5): only DUMP exists, and DUMP_CPU needs a dump in progress.
    func predictCPUCommand(structAccessible: Bool) -> [Int32] {
        structAccessible ? [FuzzErrno.EINVAL] : [FuzzErrno.EFAULT]
    }
}
