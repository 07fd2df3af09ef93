// Each failure point of the kernel model (FaultInjection) meets Linux's error path: the errno,
// the rc/rrc, and the state left behind (spec kvm-pv-ioctl.md §2.1, §2.3, §2.4, §2.8); memory
// failures in guest memory and in memory being torn down (memory-clock-pidfd.md §1.3). Points are
// armed for the test's own thread only (other suites run in parallel in this process).
import FaultInjection
import Foundation
@testable import KernelModel
import RestrictedMemory
import S390CPU
import Testing
import Ultravisor

@Suite("Failure points of the kernel model", .serialized)
struct FailurePointTests {
    static let largeMemory: UInt64 = 3 << 30

    /// Arms `point` for this thread with `errno`, `times` failures, runs `body`, disarms.
    func failing<T>(_ point: FailurePoint, _ errno: Int32 = 12, times: Int = 1, _ body: () throws -> T) throws -> T {
        try FaultInjection.configure(point, FaultAttributes(errno: errno, times: times, onlyConfiguringThread: true))
        defer { FaultInjection.clear(point) }
        return try body()
    }

    /// Whether the UV still holds configuration `handle` (verified): a per-VM check, where the
    /// UV's global count would change under tests running in parallel.
    func configurationExists(_ handle: UInt64) -> Bool { HostFirmware.ultravisor!.isVerified(handle) }

    @Test("KVM_CREATE_GUEST_MEMFD: the backing files' errno (ENOMEM, ENOSPC) comes back; the next one succeeds")
    func guestMemfdFiles() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 0))
        for errno in [Errno.ENOMEM, .ENOSPC] {
            try failing(.guestMemfdFiles, errno.rawValue) {
                #expect(throws: errno) { _ = try vm.createGuestMemfd(size: 16 << 20, flags: 0) }
            }
        }
        let memfd = try vm.createGuestMemfd(size: 16 << 20, flags: 0)   // negative control: disarmed
        #expect(memfd.backingFileCount == 1)
    }

    @Test("ENABLE: the donated storage fails → ENOMEM before CREATE_SEC_CONF (rc/rrc untouched, no configuration, mask bit not set)")
    func enableStorage() throws {
        let fixture = try ProtectedFixture()
        let result = try failing(.enableStorage) { fixture.command(.enable) }
        #expect(result == .failure(.ENOMEM))
        #expect(!fixture.vm.isProtected && fixture.vm.protectedCount.load(ordering: .relaxed) == 0, "no configuration")
        #expect(!fixture.vm.floating.isServiceSignalMasked, "kvm_s390_handle_pv breaks out before set_bit")
        #expect(fixture.protect() == .success(.executed), "the next ENABLE (disarmed) protects")
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("ENABLE: a secure CPU's storage fails → ENOMEM with CREATE_SEC_CONF's rc/rrc; everything undone")
    func cpuStorageAtEnable() throws {
        let fixture = try ProtectedFixture()
        let result = try failing(.cpuStorage) { fixture.command(.enable) }
        #expect(result == .failure(.ENOMEM, .executed))
        #expect(!fixture.vm.isProtected && fixture.vm.protectedCount.load(ordering: .relaxed) == 0, "the configuration was destroyed again")
        #expect(!fixture.machine.vcpus[0].isProtected)
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("KVM_CREATE_VCPU of a protected VM: the secure CPU's storage fails → ENOMEM, the id stays free")
    func cpuStorageAtCreate() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.protect() == .success(.executed))
        try failing(.cpuStorage) {
            #expect(throws: Errno.ENOMEM) { _ = try fixture.vm.createVCPU(id: 1) }
        }
        #expect(!fixture.vm.hasVCPU(id: 1))
        let vcpu = try fixture.vm.createVCPU(id: 1)
        #expect(vcpu.isProtected)
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("SET_SEC_PARMS: the header copy fails → ENOMEM, the VM stays protected and usable")
    func secureParameters() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.command(.enable).error == nil)
        let result = try failing(.secureParameters) { fixture.setSecureParameters(fixture.image.header.bytes) }
        #expect(result == .failure(.ENOMEM))
        #expect(fixture.vm.isProtected)
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("UNPACK: the fault-in fails → ENOMEM stays ENOMEM, ENOSPC (SIGBUS) is EFAULT, rc/rrc 0/0; DISABLE cleans up")
    func unpackFault() throws {
        for (injected, expected) in [(Errno.ENOMEM, Errno.ENOMEM), (.ENOSPC, .EFAULT)] {
            let fixture = try ProtectedFixture()
            #expect(fixture.command(.enable).error == nil)
            #expect(fixture.setSecureParameters(fixture.image.header.bytes).error == nil)
            let component = try #require(fixture.image.components.first).component
            // The third page's fault-in fails: two pages were unpacked.
            try FaultInjection.configure(.unpackFault, FaultAttributes(errno: injected.rawValue, interval: 3, times: 1, onlyConfiguringThread: true))
            let result = fixture.unpack(address: component.address, size: UInt64(component.preparedSize), tweak: component.tweak.prefix)
            FaultInjection.clear(.unpackFault)
            #expect(result == .failure(expected, UVResponse(rc: 0, rrc: 0)), "unpack_one's rc/rrc of the UVC never issued")
            #expect(fixture.vm.isProtected)
            #expect(fixture.command(.disable) == .success(.executed))
            #expect(fixture.vm.protectedCount.load(ordering: .relaxed) == 0, "DISABLE destroyed the configuration")
            try fixture.load(fixture.image.bytes)
            #expect(fixture.protect() == .success(.executed), "disarmed, the boot succeeds")
            #expect(fixture.command(.disable).error == nil)
        }
    }

    @Test("PREPARE: the fresh memory cannot be allocated → ENOMEM before the fast destroy; configuration, handle and memory as they were")
    func prepareAllocationFirst() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        let vm = fixture.vm
        #expect(fixture.protect() == .success(.executed))
        let handle = vm.lock.withLock { vm.protectedState.handle }
        let kernelPage = try #require(fixture.image.components.first).component.address
        for errno in [Errno.ENOMEM, .ENOSPC] {
            let result = try failing(.detachFiles, errno.rawValue) { fixture.command(.asyncCleanupPrepare) }
            #expect(result == .failure(.ENOMEM), "kvm_s390_pv_set_aside's allocation: -ENOMEM whatever the host said")
            #expect(vm.isProtected && vm.lock.withLock { vm.protectedState.handle } == handle, "the handle is still the live configuration's")
            #expect(vm.lock.withLock { vm.protectedState.setAside == nil })
            #expect(configurationExists(handle), "no fast destroy happened")
            #expect(throws: MemoryOperationError.errno(.EINVAL), "the secure page is still secure (not detached)") {
                _ = try vm.readAbsolute(kernelPage, count: 8)
            }
        }
        // What QEMU does next: DISABLE, whose configuration destroy must succeed.
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(!configurationExists(handle) && vm.protectedCount.load(ordering: .relaxed) == 0)
        // Negative control: disarmed, PREPARE sets the configuration aside.
        try fixture.load(fixture.image.bytes)
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.command(.asyncCleanupPrepare) == .success(UVResponse(rc: 1, rrc: 42)))
        #expect(fixture.command(.asyncCleanupPerform).error == nil)
        #expect(vm.protectedCount.load(ordering: .relaxed) == 0)
    }

    @Test("a memory failure goes with the pages PREPARE sets aside; PERFORM frees them with their marks; the guest keeps none")
    func failureMarksGoWithTornDownPages() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        let vm = fixture.vm
        #expect(fixture.protect() == .success(.executed))
        // The unpacked pages are the populated ones (VERIFY clears the rest).
        let kernelPage = try #require(fixture.image.components.first).component.address
        let marked = try vm.injectMemoryFailure(guestRange: kernelPage..<kernelPage + 4096, tornDown: false)
        #expect(marked == [kernelPage..<kernelPage + 4096])
        #expect(try vm.injectMemoryFailure(guestRange: 0x8000_0000..<0x8000_1000, tornDown: false).isEmpty, "a hole has no page to fail")
        #expect(vm.failedGuestPage != nil)
        #expect(fixture.command(.asyncCleanupPrepare).error == nil)
        #expect(vm.failedGuestRanges.guest.isEmpty, "the rebooted guest's memory has no stale mark")
        #expect(vm.failedGuestRanges.detached == [kernelPage..<kernelPage + 4096])
        #expect(vm.failedGuestPage == nil, "the failed page is no longer the guest's")
        // A failure while the old memory waits for PERFORM: also the old memory's.
        let next = kernelPage + 4096
        #expect(try vm.injectMemoryFailure(guestRange: next..<next + 4096, tornDown: true) == [next..<next + 4096])
        #expect(vm.failedGuestRanges.detached == [kernelPage..<kernelPage + 8192])
        #expect(vm.failedGuestPage == nil)
        #expect(fixture.command(.asyncCleanupPerform).error == nil)
        #expect(vm.failedGuestRanges.detached.isEmpty && vm.failedGuestRanges.guest.isEmpty, "the marks went with the old memory")
        #expect(vm.lock.withLock { vm.protectedState.setAside == nil && vm.protectedState.needCleanup.isEmpty })
        #expect(vm.protectedCount.load(ordering: .relaxed) == 0)
    }

    @Test("a memory failure in a protected guest's memory is freed by DISABLE: the rebooted guest is not stopped")
    func failureMarksFreedByDisable() throws {
        let fixture = try ProtectedFixture()
        let vm = fixture.vm
        #expect(fixture.protect() == .success(.executed))
        let kernelPage = try #require(fixture.image.components.first).component.address
        #expect(try vm.injectMemoryFailure(guestRange: kernelPage..<kernelPage + 4096, tornDown: false) == [kernelPage..<kernelPage + 4096])
        #expect(vm.failedGuestPage == kernelPage)
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(vm.failedGuestRanges.guest.isEmpty)
        #expect(vm.failedGuestPage == nil)
    }
}
