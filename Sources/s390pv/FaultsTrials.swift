// The in-process trial classes of `s390pv faults` (Faults.swift): VMs made through the ioctl
// surface (KVMIoctls), the VMM's Machine for the guest-level trials, failure points armed through
// FaultInjection, memory failures through KVMDevice's hwpoison-style hook.
import CSyscalls
import FaultInjection
import Foundation
import KVMIoctls
import KernelABI
import KernelModel
import RestrictedMemory
import VMM

final class FaultsHarness {
    static let gib: UInt64 = 1 << 30
    static let page: UInt64 = 4096
    /// BRC 15,* : the guest of the running-guest trials spins in place.
    static let loop: [UInt8] = [0xA7, 0xF4, 0x00, 0x00]

    let image: FuzzImage
    /// The same kernel with a 2 MiB ramdisk: more unpacked (secure, populated) pages to tear down.
    let teardownImage: FuzzImage
    let imagePath: String
    let verbose: Bool
    var random: SplitMix64
    var report = FaultsReport()
    private let system: KVMSystem

    /// A VM made through the ioctl surface: memory in 1 GiB guest_memfds (as the VMM makes it).
    struct Guest {
        let vm: VMFd
        let memfds: [GuestMemfdFd]
        let vcpu: VCPUFd
        let size: UInt64
    }

    init(image: FuzzImage, teardownImage: FuzzImage, imagePath: String, seed: UInt64, verbose: Bool) throws {
        self.image = image
        self.teardownImage = teardownImage
        self.imagePath = imagePath
        self.verbose = verbose
        random = SplitMix64(seed: seed)
        system = try KVMSystem()
    }

    func note(_ text: @autoclosure () -> String) { if verbose { print("faults: \(text())") } }

    // MARK: Building blocks

    func makeGuest(size: UInt64) throws(KVMError) -> Guest {
        let vm = try system.createVM()
        var memfds: [GuestMemfdFd] = []
        var address: UInt64 = 0
        while address < size {
            let length = min(Self.gib, size - address)
            let memfd = try vm.createGuestMemfd(size: length)
            try vm.setMemoryRegion(slot: UInt32(memfds.count), guestAddress: address, size: length, memfd: memfd, offset: 0)
            memfds.append(memfd)
            address += length
        }
        return Guest(vm: vm, memfds: memfds, vcpu: try vm.createVCPU(id: 0), size: size)
    }

    /// Writes `bytes` at guest absolute `address` in MEM_OP-sized chunks.
    func write(_ guest: Guest, _ address: UInt64, _ bytes: [UInt8]) throws(MemoryAccessFailure) {
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 65536, bytes.count)
            try guest.vm.writeAbsolute(address + UInt64(offset), Array(bytes[offset..<end]))
            offset = end
        }
    }

    /// Populates `count` random pages of guest [range) (a non-zero pattern); their addresses.
    func populate(_ guest: Guest, pages count: Int, in range: Range<UInt64>) throws(MemoryAccessFailure) -> [UInt64] {
        let pages = UInt64(range.count) / Self.page
        var chosen = Set<UInt64>()
        while chosen.count < count { chosen.insert(range.lowerBound + UInt64(random.below(Int(pages))) * Self.page) }
        let pattern = [UInt8](repeating: 0xC3, count: Int(Self.page))
        for address in chosen { try guest.vm.writeAbsolute(address, pattern) }
        return chosen.sorted()
    }

    /// QEMU's s390_machine_protect on an ioctl-level VM: the image (default: `image`) at 0,
    /// ENABLE, SET_SEC_PARMS, UNPACK of every component, VERIFY.
    func protect(_ guest: Guest, _ image: FuzzImage? = nil) throws {
        let image = image ?? self.image
        try write(guest, 0, image.bytes)
        try guest.vm.protectedVirtualizationCommand(.enable)
        try guest.vm.setSecureParameters(header: image.header)
        for component in image.components { try guest.vm.unpack(address: component.address, size: component.size, tweak: component.tweak) }
        try guest.vm.protectedVirtualizationCommand(.verify)
    }

    /// KVM_RUN right after a kick: `.interrupted` unless the VM is stopped by a memory failure
    /// (checked first at every KVM_RUN).
    func runAfterKick(_ vcpu: VCPUFd) -> Result<KVMIoctls.VCPUExit, KVMError> {
        vcpu.kick()
        do throws(KVMError) { return .success(try vcpu.run()) } catch { return .failure(error) }
    }

    /// The PV commands' results as "errno rc/rrc" for messages.
    func describe(_ error: Error) -> String {
        if let error = error as? PVCommandError { return "\(FaultInjection.errnoName(error.errno)) rc 0x\(String(error.rc, radix: 16)) rrc 0x\(String(error.rrc, radix: 16))" }
        if let error = error as? KVMError { return FaultInjection.errnoName(error.errno) }
        return "\(error)"
    }

    /// Arms `point` for `body` (all threads: the VMM's ioctls run on its vCPU threads).
    @discardableResult
    func armed<T>(_ point: FailurePoint, _ attributes: FaultAttributes, _ body: () throws -> T) rethrows -> T {
        do { try FaultInjection.configure(point, attributes, seed: random.next()) } catch { fail("faults: \(error)", status: 1) }
        defer { FaultInjection.clear(point) }
        return try body()
    }

    /// Whatever the model and the VMM create once per process, before the leak baseline.
    func warmUp() {
        let before = report
        runningGuestFailures(trials: 1)
        teardownFailures(trials: 1, asynchronous: true)
        teardownFailures(trials: 1, asynchronous: false)
        allocationFailures(rounds: 1)
        vmmAllocationFailures(rounds: 1, only: [.detachFiles])
        // A dispatch timer starts libdispatch's manager thread and descriptors for good.
        let fired = DispatchSemaphore(value: 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(1)) { fired.signal() }
        fired.wait()
        usleep(50_000)
        // The warm-up's outcomes are not this run's figures, but its surprises are.
        let surprises = report.unexpected
        report = before
        for surprise in surprises { report.unexpected("warm-up", surprise) }
    }

    // MARK: Memory failure while a guest runs

    /// A spinning guest on an ioctl-level VM; a memory failure on one of its populated pages at a
    /// random moment must end its KVM_RUN with KVM_EXIT_INTERNAL_ERROR (every later KVM_RUN too),
    /// and closing the VM must free everything.
    func runningGuestFailures(trials: Int) {
        let name = "memory failure, running guest (KVM_RUN)"
        for trial in 0..<trials {
            do {
                let guest = try makeGuest(size: 64 << 20)
                try guest.vm.writeAbsolute(0x10000, Self.loop)
                try guest.vcpu.setInitialPSW(PSW(mask: 0x0000_0001_8000_0000, address: 0x10000))
                try guest.vcpu.setMPState(operating: true)
                let pages = try populate(guest, pages: 64, in: 0x100000..<guest.size)
                final class Exit: @unchecked Sendable { var value: KVMIoctls.VCPUExit?; var error: KVMError? }
                let exit = Exit()
                let vcpu = guest.vcpu
                let thread = fuzzSpawn {
                    do throws(KVMError) {
                        var result = try vcpu.run()
                        while result == .interrupted { result = try vcpu.run() }
                        exit.value = result
                    } catch { exit.error = error }
                }
                usleep(UInt32(random.below(3000)))
                let target = pages[random.below(pages.count)] + UInt64(random.below(Int(Self.page)))
                let marked = KVMDevice.injectMemoryFailure(vmFD: guest.vm.descriptor, address: target, length: 1, tornDown: false)
                let page = target & ~(Self.page - 1)
                pthread_join(thread, nil)
                guard case .success(let ranges) = marked, ranges == [page..<page + Self.page] else {
                    report.unexpected(name, "trial \(trial): the failure at 0x\(String(target, radix: 16)) marked \(marked)")
                    continue
                }
                guard exit.value == .memoryFault(guestAddress: page, size: Self.page) else {
                    report.unexpected(name, "trial \(trial): KVM_RUN ended with \(String(describing: exit.value)) \(String(describing: exit.error)), want EHWPOISON with KVM_EXIT_MEMORY_FAULT at 0x\(String(page, radix: 16))")
                    continue
                }
                guard case .success(.memoryFault(page, Self.page)) = runAfterKick(guest.vcpu) else {
                    report.unexpected(name, "trial \(trial): a later KVM_RUN ran on over the failed page")
                    continue
                }
                note("\(name) \(trial): page 0x\(String(page, radix: 16)), VM stopped")
                report.count(name, "KVM_RUN: EHWPOISON, KVM_EXIT_MEMORY_FAULT at the failed page, VM stopped, closed")
            } catch {
                report.unexpected(name, "trial \(trial): setup failed: \(describe(error))")
            }
        }
    }

    /// The VMM running the protected memtouch guest (3 GiB, asynchronous teardown at each
    /// reboot); a memory failure on a populated page of its first 20 MiB at a random moment.
    /// Documented outcomes: the machine stops at KVM_RUN's EHWPOISON (`s390pv run`:
    /// one line, exit status 3); or the failed page went with a reboot's teardown before any
    /// KVM_RUN met it, or the guest ended before a populated page was hit, and it completed.
    func vmmRunningFailures(trials: Int) {
        let name = "memory failure, running protected guest (VMM)"
        for trial in 0..<trials {
            let outcome = runMachine { machine, finished in
                // Early enough for a release build, where the guest is done in well under a second.
                usleep(UInt32(20_000 + random.below(130_000)))
                guard let vmFD = KVMDevice.vmDescriptors.last else { return "no VM" }
                for _ in 0..<2000 where !finished() {
                    // The image and the 16 MiB memtouch writes: the populated part of guest memory.
                    let target = UInt64(random.below(20 << 20)) & ~(Self.page - 1)
                    if case .success(let ranges) = KVMDevice.injectMemoryFailure(vmFD: vmFD, address: target, length: Self.page, tornDown: false),
                       !ranges.isEmpty {
                        return "0x\(String(target, radix: 16))"
                    }
                }
                return nil
            }
            switch outcome.run {
            case .checkStop(_, let reason)? where reason.contains("memory page has hardware error") && outcome.injected != nil:
                report.count(name, "VM stopped: KVM_RUN EHWPOISON, memory page has hardware error (s390pv run: one line, exit 3)")
            case .stopped(let status)? where status == nil || status == 1:
                report.count(name, outcome.injected == nil ? "guest completed before a populated page was hit"
                                                           : "failed page torn down at a reboot before a KVM_RUN met it; guest completed")
            default:
                report.unexpected(name, "trial \(trial): \(String(describing: outcome.run)) after a failure at \(outcome.injected ?? "no page"); console: \(outcome.console.suffix(300))")
            }
        }
    }

    /// Runs the sealed memtouch image on a Machine (3 GiB, asynchronous teardown) while `action`
    /// runs on this thread (given the machine and whether its run has ended). Returns the run's
    /// outcome (nil: the machine could not be made, `error` says why), what `action` returned,
    /// the console text and the reboot log.
    func runMachine(_ action: (Machine, () -> Bool) -> String? = { _, _ in nil })
        -> (run: RunOutcome?, error: String?, injected: String?, console: String, reboots: [ProtectedReboot]) {
        var configuration = MachineConfiguration(imagePath: imagePath)
        configuration.memorySize = 3 << 30
        configuration.teardown = .async
        configuration.timeout = .seconds(120)
        let console = Console(output: FileHandle(forWritingAtPath: "/dev/null")!, capture: true)
        let machine: Machine
        do { machine = try Machine(configuration, console: console) } catch { return (nil, error.description, nil, "", []) }
        final class Result: @unchecked Sendable { var outcome: RunOutcome?; let done = DispatchSemaphore(value: 0); var finished = false }
        let result = Result()
        let thread = fuzzSpawn {
            result.outcome = machine.run()
            result.finished = true
            result.done.signal()
        }
        let injected = action(machine) { result.finished }
        result.done.wait()
        pthread_join(thread, nil)
        return (result.outcome, nil, injected, console.text, machine.protectedReboots)
    }

    // MARK: Memory failure while a teardown runs

    /// A protected 3 GiB guest (the image with a 2 MiB ramdisk: its unpacked pages are the
    /// populated secure memory; VERIFY clears everything else) is torn down by PERFORM (after
    /// PREPARE) or DISABLE while memory failures hit random secure pages. The teardown must
    /// succeed; the failure marks go with the pages it frees (PERFORM: the detached memory;
    /// DISABLE: the secure pages it destroys); a failure after a page was freed finds no page;
    /// the rebooted guest has no stale mark and runs.
    func teardownFailures(trials: Int, asynchronous: Bool) {
        let name = asynchronous ? "memory failure during PERFORM (async teardown)" : "memory failure during DISABLE (sync teardown)"
        let secure = teardownImage.components.flatMap { component in
            stride(from: component.address, to: component.address + component.size, by: Int(Self.page)).map { $0 }
        }
        for trial in 0..<trials {
            do {
                let guest = try makeGuest(size: 3 * Self.gib)
                try protect(guest, teardownImage)
                // A failure before the teardown too: its mark must go with the page.
                let early = secure[random.below(secure.count)]
                guard case .success(let earlyMarked) = KVMDevice.injectMemoryFailure(vmFD: guest.vm.descriptor, address: early, length: Self.page, tornDown: false),
                      earlyMarked == [early..<early + Self.page] else {
                    report.unexpected(name, "trial \(trial): a secure page before the teardown could not be failed")
                    continue
                }
                if asynchronous {
                    let prepared = try guest.vm.protectedVirtualizationCommand(.asyncCleanupPrepare)
                    guard prepared == (1, 42) else { report.unexpected(name, "trial \(trial): PREPARE gave \(prepared)"); continue }
                }
                final class Outcome: @unchecked Sendable { var response: (rc: UInt16, rrc: UInt16)?; var error: Error? }
                let outcome = Outcome()
                let vm = guest.vm
                let thread = fuzzSpawn {
                    do { outcome.response = try vm.protectedVirtualizationCommand(asynchronous ? .asyncCleanupPerform : .disable) } catch { outcome.error = error }
                }
                var marked = 0, missed = 0
                for _ in 0..<8 {
                    usleep(UInt32(random.below(300)))
                    let target = secure[random.below(secure.count)]
                    switch KVMDevice.injectMemoryFailure(vmFD: guest.vm.descriptor, address: target, length: Self.page, tornDown: asynchronous) {
                    case .success(let ranges) where ranges.isEmpty: missed += 1
                    case .success: marked += 1
                    case .failure(let error): report.unexpected(name, "trial \(trial): injection refused: \(error)")
                    }
                }
                pthread_join(thread, nil)
                let want: (UInt16, UInt16) = asynchronous ? (0, 0) : (1, 0)
                guard let response = outcome.response, response == want else {
                    report.unexpected(name, "trial \(trial): the teardown gave \(String(describing: outcome.response)) \(outcome.error.map(describe) ?? "")")
                    continue
                }
                guard let failed = KVMDevice.failedRanges(vmFD: guest.vm.descriptor), failed.detached.isEmpty, failed.guest.isEmpty else {
                    report.unexpected(name, "trial \(trial): failure marks left after the teardown: \(String(describing: KVMDevice.failedRanges(vmFD: guest.vm.descriptor)))")
                    continue
                }
                if marked == 0 {
                    report.count(name, "teardown completed; the failure before it went with its page, those during it found every page already freed")
                } else {
                    report.count(name, "teardown completed; failed pages (before and during it) freed with the torn-down memory")
                }
                note("\(name) \(trial): \(marked) marked during the teardown, \(missed) found the page freed")
                // The reboot: the same VM boots the image again; no stale mark may stop it.
                try protect(guest, teardownImage)
                try guest.vcpu.loadProtectedState()
                try guest.vcpu.setMPState(operating: true)
                let exit = runAfterKick(guest.vcpu)
                guard case .success(.interrupted) = exit else {
                    report.unexpected(name, "trial \(trial): the rebooted guest's KVM_RUN gave \(String(describing: exit)), want EINTR (no stale failure mark)")
                    continue
                }
                try guest.vm.protectedVirtualizationCommand(.disable)
            } catch {
                report.unexpected(name, "trial \(trial): \(describe(error))")
            }
        }
    }

    // MARK: Allocation failures at the ioctl level

    /// Every failure point with its errno, on fresh VMs: the ioctl must return the documented
    /// errno and leave the state Linux leaves (checked by what the next commands do), and the
    /// UV's configurations must be back to where they were.
    func allocationFailures(rounds: Int) {
        let name = "allocation failure (ioctl)"
        guard let ultravisor = HostFirmware.ultravisor else { return }
        for round in 0..<rounds {
            for errno: Int32 in [12, 28] {
                let base = ultravisor.configurationCount
                check(name, "KVM_CREATE_GUEST_MEMFD: -\(FaultInjection.errnoName(errno)) (gmem_files)", round) {
                    let vm = try system.createVM()
                    do {
                        _ = try armed(.guestMemfdFiles, FaultAttributes(errno: errno, times: 1)) { try vm.createGuestMemfd(size: 64 << 20) }
                        return "KVM_CREATE_GUEST_MEMFD succeeded"
                    } catch let error as KVMError where error.errno == errno {
                        _ = try vm.createGuestMemfd(size: 64 << 20)   // the next one works
                        return nil
                    }
                }
                check(name, "KVM_PV_UNPACK: -\(errno == 12 ? "ENOMEM" : "EFAULT") (pv_unpack_fault \(FaultInjection.errnoName(errno))), DISABLE cleans up", round) {
                    let guest = try makeGuest(size: 16 << 20)
                    try write(guest, 0, image.bytes)
                    try guest.vm.protectedVirtualizationCommand(.enable)
                    try guest.vm.setSecureParameters(header: image.header)
                    let component = image.components[0]
                    let failAt = 1 + random.below(Int(component.size / Self.page))
                    do {
                        try armed(.unpackFault, FaultAttributes(errno: errno, interval: failAt, times: 1)) {
                            try guest.vm.unpack(address: component.address, size: component.size, tweak: component.tweak)
                        }
                        return "UNPACK succeeded"
                    } catch let error as PVCommandError where error.errno == (errno == 12 ? 12 : 14) {
                        try guest.vm.protectedVirtualizationCommand(.disable)
                        try protect(guest)
                        try guest.vm.protectedVirtualizationCommand(.disable)
                        return ultravisor.configurationCount == base ? nil : "UV configurations \(ultravisor.configurationCount - base) above the start"
                    }
                }
                check(name, "KVM_PV_ASYNC_CLEANUP_PREPARE: -ENOMEM (gmem_detach \(FaultInjection.errnoName(errno))), still protected; DISABLE (QEMU's fallback) succeeds", round) {
                    let guest = try makeGuest(size: 3 * Self.gib)
                    try protect(guest)
                    do {
                        try armed(.detachFiles, FaultAttributes(errno: errno, times: 1)) { try guest.vm.protectedVirtualizationCommand(.asyncCleanupPrepare) }
                        return "PREPARE succeeded"
                    } catch let error as PVCommandError where error.errno == 12 {
                        // The configuration is intact (no fast destroy happened): the UV still has it,
                        // and DISABLE, which needs a protected VM, destroys it.
                        guard ultravisor.configurationCount == base + 1 else { return "the configuration is gone" }
                        try guest.vm.protectedVirtualizationCommand(.disable)
                        try protect(guest)
                        guard try guest.vm.protectedVirtualizationCommand(.asyncCleanupPrepare) == (1, 42) else { return "PREPARE afterwards" }
                        try guest.vm.protectedVirtualizationCommand(.asyncCleanupPerform)
                        return ultravisor.configurationCount == base ? nil : "UV configurations \(ultravisor.configurationCount - base) above the start"
                    }
                }
            }
            let base = ultravisor.configurationCount
            check(name, "KVM_PV_ENABLE: -ENOMEM (pv_enable_storage), rc/rrc untouched, not protected", round) {
                let guest = try makeGuest(size: 16 << 20)
                do {
                    try armed(.enableStorage, FaultAttributes(errno: 12, times: 1)) { try guest.vm.protectedVirtualizationCommand(.enable) }
                    return "ENABLE succeeded"
                } catch let error as PVCommandError where error.errno == 12 && error.rc == 0 && error.rrc == 0 {
                    do { try guest.vm.protectedVirtualizationCommand(.disable); return "DISABLE after the failed ENABLE succeeded" } catch let error as PVCommandError where error.errno == 22 {}
                    try protect(guest)
                    try guest.vm.protectedVirtualizationCommand(.disable)
                    return ultravisor.configurationCount == base ? nil : "UV configurations \(ultravisor.configurationCount - base) above the start"
                }
            }
            check(name, "KVM_PV_ENABLE: -ENOMEM (pv_cpu_storage), CREATE_SEC_CONF's rc, configuration destroyed again", round) {
                let guest = try makeGuest(size: 16 << 20)
                do {
                    try armed(.cpuStorage, FaultAttributes(errno: 12, times: 1)) { try guest.vm.protectedVirtualizationCommand(.enable) }
                    return "ENABLE succeeded"
                } catch let error as PVCommandError where error.errno == 12 && error.rc == 1 {
                    guard ultravisor.configurationCount == base else { return "the configuration stayed" }
                    try protect(guest)
                    try guest.vm.protectedVirtualizationCommand(.disable)
                    return nil
                }
            }
            check(name, "KVM_CREATE_VCPU of a protected VM: -ENOMEM (pv_cpu_storage), the id stays free", round) {
                let guest = try makeGuest(size: 16 << 20)
                try protect(guest)
                do {
                    _ = try armed(.cpuStorage, FaultAttributes(errno: 12, times: 1)) { try guest.vm.createVCPU(id: 1) }
                    return "KVM_CREATE_VCPU succeeded"
                } catch let error as KVMError where error.errno == 12 {
                    _ = try guest.vm.createVCPU(id: 1)
                    try guest.vm.protectedVirtualizationCommand(.disable)
                    return nil
                }
            }
            check(name, "KVM_PV_SET_SEC_PARMS: -ENOMEM (pv_sec_parms), still protected", round) {
                let guest = try makeGuest(size: 16 << 20)
                try write(guest, 0, image.bytes)
                try guest.vm.protectedVirtualizationCommand(.enable)
                do {
                    try armed(.secureParameters, FaultAttributes(errno: 12, times: 1)) { try guest.vm.setSecureParameters(header: image.header) }
                    return "SET_SEC_PARMS succeeded"
                } catch let error as PVCommandError where error.errno == 12 {
                    try guest.vm.protectedVirtualizationCommand(.disable)
                    return ultravisor.configurationCount == base ? nil : "UV configurations \(ultravisor.configurationCount - base) above the start"
                }
            }
        }
    }

    /// One trial: `body` returns nil when everything went as documented, else what did not;
    /// an error thrown is unexpected too.
    private func check(_ name: String, _ outcome: String, _ round: Int, _ body: () throws -> String?) {
        do {
            if let problem = try body() {
                report.unexpected(name, "\(outcome) (round \(round)): \(problem)")
            } else {
                note("\(name): \(outcome)")
                report.count(name, outcome)
            }
        } catch {
            report.unexpected(name, "\(outcome) (round \(round)): \(describe(error))")
        }
    }

    // MARK: Allocation failures through the VMM

    /// The VMM booting and rebooting the protected memtouch guest with one failure point armed
    /// once. Documented outcomes: at boot, the VM cannot be created (one line, `s390pv run`
    /// exit 2) or the protect step fails and the guest gets DIAG 308's 0xa02 response (the
    /// loader prints the refusal and stops; `s390pv run` exit 3); at a reboot, PREPARE's failure
    /// falls back to DISABLE and the guest completes, and a failing re-ENABLE is refused as at boot.
    func vmmAllocationFailures(rounds: Int, only: Set<FailurePoint>? = nil) {
        let name = "allocation failure (VMM)"
        let cases: [(FailurePoint, FaultAttributes, String)] = [
            (.guestMemfdFiles, FaultAttributes(errno: 28, times: 1), "boot"),
            (.enableStorage, FaultAttributes(errno: 12, times: 1), "boot"),
            (.cpuStorage, FaultAttributes(errno: 12, times: 1), "boot"),
            (.secureParameters, FaultAttributes(errno: 12, times: 1), "boot"),
            (.unpackFault, FaultAttributes(errno: 12, interval: 1 + random.below(8), times: 1), "boot"),
            (.detachFiles, FaultAttributes(errno: 28, times: 1), "reboot"),
            (.enableStorage, FaultAttributes(errno: 12, interval: 2, times: 1), "reboot"),
        ]
        for round in 0..<rounds {
            for (point, attributes, when) in cases where only?.contains(point) ?? true {
                let label = "\(when): \(point) \(FaultInjection.errnoName(attributes.errno))"
                let result = armed(point, attributes) { runMachine() }
                let refusal = result.console.contains("Secure Execution: cannot boot the protected image (DIAG 308 subcode 10 response")
                switch (point, when, result.run) {
                case (.guestMemfdFiles, _, nil) where result.error?.contains("cannot create the VM") == true:
                    report.count(name, "\(label): VM not created, one line (s390pv run: exit 2)")
                case (.detachFiles, _, .stopped(let status)?) where (status == nil || status == 1)
                        && result.reboots.first?.asynchronous == false && result.reboots.dropFirst().allSatisfy(\.asynchronous):
                    report.count(name, "\(label): PREPARE -ENOMEM, fell back to DISABLE; guest completed")
                case (.cpuStorage, _, .vmmFailure(let reason)?) where reason.hasPrefix("cannot enter protected mode: KVM PV command 0 (KVM_PV_ENABLE) failed: header rc 1 rrc 0 IOCTL rc: -12"):
                    report.count(name, "\(label): ENABLE -ENOMEM after CREATE_SEC_CONF (service signal left masked): the VMM stops, one line (s390pv run: exit 1)")
                case (_, _, .disabledWait?) where refusal, (_, _, .stopped?) where refusal:
                    report.count(name, "\(label): protect failed, DIAG 308 answered 0xa02, the loader stopped (s390pv run: exit \(result.run.map(Self.exitStatus) ?? 0))")
                default:
                    report.unexpected(name, "\(label) (round \(round)): \(String(describing: result.run)) \(result.error ?? ""); console: \(result.console.suffix(400))")
                }
            }
        }
    }

    /// The exit status `s390pv run` gives an outcome (Run.swift).
    static func exitStatus(_ outcome: RunOutcome) -> Int32 {
        switch outcome {
        case .stopped(let status): status == nil || status == 1 ? 0 : status == 77 ? 77 : 1
        case .disabledWait, .checkStop: 3
        case .vmmFailure: 1
        case .terminated(let signal): 128 + signal
        case .timeout: 4
        }
    }
}
