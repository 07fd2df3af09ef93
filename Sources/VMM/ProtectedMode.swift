// Secure Execution in the machine, as QEMU's s390_machine_protect / s390_machine_unprotect and
// s390_pv_prepare_reset drive it (../shared/spec/kvm-pv-ioctl.md §6.1, §6.1b, §6.2;
// se-image-format.md §7). Everything goes through KVM_S390_PV_COMMAND and the SIDA.
import Foundation
import KVMIoctls

extension Machine {
    /// DIAG 308 subcode 10 (S390_RESET_PV): reset the CPUs, protect the VM from the stored PV
    /// IPIB, and start the IPL CPU in the LOAD state, which takes the start PSW from the SE
    /// header. On failure the VM is unprotected and the guest continues after the DIAG with
    /// command ‖ rrc ‖ rc ‖ 0x0A02 in R1+1 (the 2025 QEMU form with the KVM PV command number,
    /// decision for spec §9 item 11).
    func enterProtectedMode(_ vcpu: VCPUFd, responseRegister: Int) {
        guard let block = iplParameters.protectedBlock else { return }
        resetOthers(than: vcpu, clear: true)
        do throws(KVMError) { try vcpu.normalReset() } catch {
            return finish(.checkStop(cpu: vcpu.id, reason: "reset failed: \(error)"))
        }
        do throws(PVCommandError) {
            try protect(block)
        } catch {
            report(error)
            // ENABLE's CPU step failed after the configuration was created (ENOMEM with
            // CREATE_SEC_CONF's rc 1): the kernel leaves the service signal masked (spec
            // kvm-pv-ioctl §2.1 step 5), so a guest continued as QEMU does would wait for its
            // SCLP answers for ever. A clean stop with one line instead.
            if error.command == .enable, error.errno == ENOMEM, error.rc == 1 {
                return finish(.vmmFailure("cannot enter protected mode: \(error) (the kernel leaves the service signal masked)"))
            }
            // Synchronously: the guest continues after the DIAG, and the kernel model's PREPARE
            // gives the VM fresh memory (where Linux keeps the non-secure pages), so the
            // asynchronous path would take the loader's own code away from under it.
            guard unprotect(vcpu, allowAsynchronous: false) != nil else { return }
            let response = UInt64(error.command.rawValue) << 48 | UInt64(error.rrc) << 32 | UInt64(error.rc) << 16
                | IPLResponse.cannotEnterProtectedMode
            vcpu.setGPR(responseRegister, response)
            return setOperating(vcpu, true)
        }
        do throws(KVMError) { try vcpu.loadProtectedState() } catch {
            return finish(.checkStop(cpu: vcpu.id, reason: "KVM_SET_MP_STATE LOAD failed: \(error)"))
        }
        noteProtectedStart()
        setOperating(vcpu, true)
    }

    /// s390_machine_protect: ENABLE, INFO, SET_SEC_PARMS with the header read from guest memory
    /// (before ENABLE: afterwards guest memory is secure), UNPACK per component in IPIB order
    /// (sizes rounded up to 4 KiB), VERIFY.
    private func protect(_ block: ProtectedIPLBlock) throws(PVCommandError) {
        let header = (try? vm.readAbsolute(block.headerAddress, count: Int(block.headerLength))) ?? []
        try vm.protectedVirtualizationCommand(.enable)
        isProtected = true
        _ = try? vm.protectedVirtualizationInfo()
        try vm.setSecureParameters(header: header)
        for component in block.components {
            try vm.unpack(address: component.address, size: (component.size + 0xFFF) & ~0xFFF, tweak: component.tweakPrefix)
        }
        try vm.protectedVirtualizationCommand(.verify)
    }

    /// s390_machine_unprotect: the asynchronous teardown when `configuration.teardown` and the
    /// kernel allow it, else KVM_PV_DISABLE; a failing DISABLE ends the machine, as QEMU exits.
    /// A reboot (`rebootRequested`: when the guest asked) is logged for `protectedReboots`.
    /// Whether the teardown is asynchronous; nil when the machine has ended.
    /// `allowAsynchronous` false forces KVM_PV_DISABLE (the guest keeps running on its memory).
    @discardableResult
    func unprotect(_ vcpu: VCPUFd, rebootRequested: ContinuousClock.Instant? = nil, allowAsynchronous: Bool = true) -> Bool? {
        guard isProtected else { return false }
        let asynchronous = allowAsynchronous && unprotectAsynchronously(rebootRequested: rebootRequested)
        if !asynchronous {
            do throws(PVCommandError) {
                try vm.protectedVirtualizationCommand(.disable)
            } catch {
                finish(.vmmFailure(error.description))
                return nil
            }
            if let rebootRequested { noteReboot(requested: rebootRequested, asynchronous: false) }
        }
        isProtected = false
        return asynchronous
    }

    /// s390_pv_vm_try_disable_async: skipped for memory of at most 2 GiB (the kernel refuses a
    /// segment-table guest) or without KVM_CAP_S390_PROTECTED_ASYNC_DISABLE; otherwise
    /// KVM_PV_ASYNC_CLEANUP_PREPARE and a detached `async_cleanup` thread issuing PERFORM, whose
    /// failure ends the machine (QEMU exits with status 1). False to fall back to DISABLE.
    private func unprotectAsynchronously(rebootRequested: ContinuousClock.Instant?) -> Bool {
        switch configuration.teardown {
        case .sync: return false
        case .automatic: guard asyncTeardownCapable, configuration.memorySize > 2 << 30 else { return false }
        case .async: guard asyncTeardownCapable else { return false }
        }
        do throws(PVCommandError) {
            try vm.protectedVirtualizationCommand(.asyncCleanupPrepare)
        } catch {
            report(error)
            return false
        }
        let vm = self.vm
        let thread = Thread { [weak self] in
            do throws(PVCommandError) {
                try vm.protectedVirtualizationCommand(.asyncCleanupPerform)
                self?.teardownFinished()
            } catch {
                self?.finish(.vmmFailure(error.description))
                self?.teardownFinished()
            }
        }
        thread.name = "async_cleanup"
        // Logged before the thread can finish, so its end finds the record.
        if let rebootRequested { noteReboot(requested: rebootRequested, asynchronous: true) }
        teardownStarted()
        thread.start()
        return true
    }

    /// DIAG 308 subcodes 0 and 1 of a protected guest (s390_pv_prepare_reset): all CPUs stop,
    /// UNSHARE_ALL and PREP_RESET (fatal on error), the CPU resets (each also resets the secure
    /// CPU), then LOAD and OPERATING on the IPL CPU. The VM stays protected.
    func resetProtected(_ vcpu: VCPUFd, clearAll: Bool) {
        resetOthers(than: vcpu, clear: clearAll)
        setOperating(vcpu, false)
        do throws(PVCommandError) {
            try vm.protectedVirtualizationCommand(.unshareAll)
            try vm.protectedVirtualizationCommand(.prepareReset)
        } catch {
            return finish(.checkStop(cpu: vcpu.id, reason: error.description))
        }
        do throws(KVMError) {
            if clearAll { try vcpu.clearReset() } else { try vcpu.initialReset() }
            try vcpu.loadProtectedState()
        } catch {
            return finish(.checkStop(cpu: vcpu.id, reason: "protected reset failed: \(error)"))
        }
        setOperating(vcpu, true)
    }

    /// QEMU's error_report lines for a failed protect, with its hint for rc 0x108.
    private func report(_ error: PVCommandError) {
        var text = "s390pv: \(error)\n"
        if error.command == .setSecureParameters {
            text += "s390pv: Failed to set secure execution parameters\n"
            if error.rc == 0x108 { text += "s390pv: Please check whether the image is correctly encrypted for this host\n" }
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// DIAG 308 subcodes 5/6/8/9 of a protected CPU move the IPL block through the SIDA (QEMU's
/// s390_cpu_pv_mem_read/write at offset 0); the guest address was checked by the Ultravisor.
final class SIDABlock: GuestMemoryAccess, @unchecked Sendable {
    private let vcpu: VCPUFd
    init(vcpu: VCPUFd) { self.vcpu = vcpu }
    func readAbsolute(_ address: UInt64, count: Int) throws -> [UInt8] { try vcpu.readSIDA(offset: 0, count: count) }
    func writeAbsolute(_ address: UInt64, _ bytes: [UInt8]) throws { try vcpu.writeSIDA(offset: 0, bytes) }
}
