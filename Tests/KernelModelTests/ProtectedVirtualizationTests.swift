// KVM_S390_PV_COMMAND at the kernel-model level: a real SE image sealed for the host's
// Ultravisor, the protect sequence QEMU issues, and tampering with every byte of the header
// (../shared/spec/kvm-pv-ioctl.md §2.1-§2.6, se-image-format.md §7.4, §8).
import Foundation
@testable import KernelModel
import SecureExecution
import Testing
import Ultravisor

/// copy_from_user/copy_to_user over this process's own memory (the tests pass real pointers).
struct ProcessMemory: UserCopy {
    func read(_ address: UInt64, count: Int) throws(Errno) -> [UInt8] {
        guard let source = UnsafeRawPointer(bitPattern: UInt(address)) else { throw .EFAULT }
        return [UInt8](UnsafeRawBufferPointer(start: source, count: count))
    }
    func write(_ bytes: [UInt8], to address: UInt64) throws(Errno) {
        guard let target = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { throw .EFAULT }
        target.copyMemory(from: bytes, byteCount: bytes.count)
    }
}

/// An SE image sealed for this process's Ultravisor, loaded into a fresh VM with one vCPU.
final class ProtectedFixture {
    let machine: TestVM
    let image: SEImage
    let kernel: [UInt8]

    init(memory: UInt64 = 16 << 20) throws {
        let ultravisor = try #require(HostFirmware.ultravisor)
        kernel = (0..<0x5000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var configuration = SEImageConfiguration(kernel: kernel, parmfile: Array("pv test".utf8), hostKeys: [ultravisor.hostPublicKey])
        configuration.plaintextControlFlags = SEImage.defaultPlaintextControlFlags
        let loaders = SEBootLoaders(stage3a: [UInt8](repeating: 0xA3, count: 0x800), stage3bReloc: [UInt8](repeating: 0xB3, count: 0x200))
        image = try SEImage.build(configuration, loaders: loaders, keys: .random())
        machine = try TestVM(memory: memory, cpus: 1)
        try load(image.bytes)
    }

    /// Writes an image at absolute 0 in MEM_OP-sized chunks.
    func load(_ bytes: [UInt8]) throws {
        for start in stride(from: 0, to: bytes.count, by: 65536) {
            try machine.vm.writeAbsolute(UInt64(start), bytes[start..<min(start + 65536, bytes.count)])
        }
    }

    var vm: VirtualMachine { machine.vm }

    func command(_ command: PVCommand, _ data: UnsafeRawPointer? = nil) -> PVCommandResult {
        vm.protectedVirtualizationCommand(command.rawValue, data: UInt64(UInt(bitPattern: data)), user: ProcessMemory())
    }

    func setSecureParameters(_ header: [UInt8]) -> PVCommandResult {
        header.withUnsafeBytes { bytes in
            let parameters: [UInt64] = [UInt64(UInt(bitPattern: bytes.baseAddress)), UInt64(bytes.count)]
            return parameters.withUnsafeBytes { command(.setSecureParameters, $0.baseAddress) }
        }
    }

    func unpack(address: UInt64, size: UInt64, tweak: UInt64) -> PVCommandResult {
        [address, size, tweak].withUnsafeBytes { command(.unpack, $0.baseAddress) }
    }

    /// ENABLE, SET_SEC_PARMS, UNPACK of every component, VERIFY (QEMU's s390_machine_protect);
    /// the first failing step's result, or VERIFY's.
    func protect(header: [UInt8]? = nil, components: [(address: UInt64, size: UInt64, tweak: UInt64)]? = nil) -> PVCommandResult {
        let enabled = command(.enable)
        guard enabled.error == nil else { return enabled }
        let parameters = setSecureParameters(header ?? image.header.bytes)
        guard parameters.error == nil else { return parameters }
        let list = components ?? image.components.map { ($0.component.address, UInt64($0.component.preparedSize), $0.component.tweak.prefix) }
        for component in list {
            let unpacked = unpack(address: component.address, size: component.size, tweak: component.tweak)
            guard unpacked.error == nil else { return unpacked }
        }
        return command(.verify)
    }
}

@Suite("KVM_S390_PV_COMMAND (kvm-pv-ioctl §2)")
struct ProtectedVirtualizationTests {
    @Test("the protect sequence succeeds; secure pages are unreachable by MEM_OP; DISABLE clears them")
    func protectAndDisable() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.vm.isProtected)
        let kernelPage = try #require(fixture.image.components.first).component.address
        #expect(throws: MemoryOperationError.errno(.EINVAL)) { try fixture.vm.readAbsolute(kernelPage, count: 16) }
        #expect(throws: MemoryOperationError.errno(.EINVAL)) { try fixture.vm.writeAbsolute(0x1000, [1]) }
        // The decrypted kernel is in guest memory; the VMM sees none of it until DISABLE, which clears it.
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(!fixture.vm.isProtected)
        #expect(try fixture.vm.readAbsolute(kernelPage, count: 4096) == [UInt8](repeating: 0, count: 4096))
    }

    @Test("commands that need protection are EINVAL without it, with rc/rrc untouched")
    func notProtected() throws {
        let fixture = try ProtectedFixture()
        for command in [PVCommand.disable, .setSecureParameters, .unpack, .verify, .prepareReset, .unshareAll, .dump] {
            #expect(fixture.command(command) == .failure(.EINVAL), "\(command)")
        }
        #expect(fixture.command(.asyncCleanupPrepare) == .failure(.EINVAL))
        #expect(fixture.vm.protectedVirtualizationCommand(11, data: 0, user: ProcessMemory()) == .failure(.ENOTTY))
    }

    @Test("ENABLE twice is EINVAL; SET_SEC_PARMS checks its length and pointers in Linux's order")
    func enableAndParameters() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.command(.enable) == .success(.executed))
        #expect(fixture.command(.enable) == .failure(.EINVAL))
        #expect(fixture.command(.setSecureParameters, nil) == .failure(.EFAULT))
        let tooLong: [UInt64] = [1, 8193]
        #expect(tooLong.withUnsafeBytes { fixture.command(.setSecureParameters, $0.baseAddress) } == .failure(.EINVAL))
        let empty: [UInt64] = [1, 0]
        #expect(empty.withUnsafeBytes { fixture.command(.setSecureParameters, $0.baseAddress) } == .failure(.ENOMEM))
        let badOrigin: [UInt64] = [0, 640]
        #expect(badOrigin.withUnsafeBytes { fixture.command(.setSecureParameters, $0.baseAddress) } == .failure(.EFAULT))
        let header = fixture.image.header.bytes
        #expect(fixture.setSecureParameters(Array(header.dropLast(16))) == .failure(.EINVAL, UVResponse(rc: 0x10A, rrc: 0x31)))
        #expect(fixture.setSecureParameters(header) == .success(.executed))
        #expect(fixture.command(.disable) == .success(.executed))
    }

    @Test("UNPACK: alignment, size and memslot checks")
    func unpackChecks() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.command(.enable).error == nil)
        #expect(fixture.command(.unpack, nil) == .failure(.EFAULT))
        #expect(fixture.unpack(address: 0x15001, size: 4096, tweak: 1).error == .EINVAL)
        #expect(fixture.unpack(address: 0x15000, size: 100, tweak: 1).error == .EINVAL)
        #expect(fixture.unpack(address: 0x15000, size: 0, tweak: 1).error == .EINVAL)
        #expect(fixture.unpack(address: 32 << 20, size: 4096, tweak: 1).error == .EFAULT)
        // Before SET_SEC_PARMS the UV refuses (invalid state).
        let early = fixture.unpack(address: 0x15000, size: 4096, tweak: 1)
        #expect(early.error == .EINVAL && early.response?.rc == 0x0003)
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("a flipped bit in any byte of the header is refused by SET_SEC_PARMS (EINVAL, a UV rc)")
    func everyHeaderByte() throws {
        let fixture = try ProtectedFixture()
        let header = fixture.image.header.bytes
        var refused = 0
        for offset in header.indices {
            var tampered = header
            tampered[offset] ^= 0x01
            #expect(fixture.command(.enable).error == nil)
            let result = fixture.setSecureParameters(tampered)
            if result.error == .EINVAL, let rc = result.response?.rc, [0x104, 0x106, 0x108, 0x109, 0x10A].contains(rc) {
                refused += 1
            } else {
                Issue.record("byte \(offset): \(result)")
            }
            #expect(fixture.command(.disable).error == nil)
        }
        #expect(refused == header.count)
    }

    @Test("tampered components, tweaks, addresses or a missing component fail VERIFY with the spec's rrc")
    func componentTampering() throws {
        let fixture = try ProtectedFixture()
        let components = fixture.image.components.map { ($0.component.address, UInt64($0.component.preparedSize), $0.component.tweak.prefix) }
        // A flipped byte in each component (the image is reloaded for every case).
        for (index, component) in components.enumerated() {
            var bytes = fixture.image.bytes
            bytes[Int(component.0) + index * 37 % Int(component.1)] ^= 0x80
            try fixture.load(bytes)
            #expect(fixture.protect() == .failure(.EINVAL, UVResponse(rc: 0x102, rrc: 0x1B)))
            #expect(fixture.command(.disable).error == nil)
        }
        try fixture.load(fixture.image.bytes)
        var wrongTweak = components
        wrongTweak[0].2 ^= 1
        #expect(fixture.protect(components: wrongTweak) == .failure(.EINVAL, UVResponse(rc: 0x102, rrc: 0x1C)))
        #expect(fixture.command(.disable).error == nil)
        try fixture.load(fixture.image.bytes)
        #expect(fixture.protect(components: Array(components.dropLast())) == .failure(.EINVAL, UVResponse(rc: 0x102, rrc: 0x1D)))
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("an image for another host key: SET_SEC_PARMS rc 0x108 rrc 0x5, the VM stays usable")
    func wrongHostKey() throws {
        let fixture = try ProtectedFixture()
        let other = HostPrivateKey(.init())
        let configuration = SEImageConfiguration(kernel: fixture.kernel, hostKeys: [other.publicKey])
        let loaders = SEBootLoaders(stage3a: [UInt8](repeating: 0, count: 0x800), stage3bReloc: [UInt8](repeating: 0, count: 0x200))
        let foreign = try SEImage.build(configuration, loaders: loaders, keys: .random())
        #expect(fixture.protect(header: foreign.header.bytes) == .failure(.EINVAL, UVResponse(rc: 0x108, rrc: 0x05)))
        #expect(fixture.command(.disable) == .success(.executed))
        // Pages never unpacked (the loader area) survive the failed attempt, as on real machines.
        #expect(try fixture.vm.readAbsolute(0x10000, count: 4) == [0xA3, 0xA3, 0xA3, 0xA3])
    }

    @Test("INFO works unprotected: length checks, 80 and 40 bytes written, rc/rrc untouched")
    func info() throws {
        let fixture = try ProtectedFixture()
        var buffer = [UInt8](repeating: 0, count: 80)
        func info(id: UInt32, maximum: UInt32) -> PVCommandResult {
            buffer = [UInt8](repeating: 0, count: 80)
            buffer.withUnsafeMutableBytes { $0.storeBytes(of: id, as: UInt32.self); $0.storeBytes(of: maximum, toByteOffset: 4, as: UInt32.self) }
            return buffer.withUnsafeBytes { fixture.command(.info, $0.baseAddress) }
        }
        #expect(info(id: 0, maximum: 15) == .failure(.EINVAL))
        #expect(info(id: 0, maximum: 79) == .failure(.EINVAL))
        #expect(info(id: 1, maximum: 39) == .failure(.EINVAL))
        #expect(info(id: 2, maximum: 80) == .failure(.EINVAL))
        #expect(info(id: 0, maximum: 80) == .success(nil))
        #expect(buffer.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt32.self) } == 80)
        #expect(buffer.withUnsafeBytes { $0.load(fromByteOffset: 48, as: UInt64.self) } == 248)
        #expect(info(id: 1, maximum: 80) == .success(nil))
        #expect(buffer.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt32.self) } == 40)
    }

    @Test("a protected vCPU: LOAD takes the header PSW, its intercepts are PV_INSTR, the SIDA holds the SCCB")
    func protectedVCPU() throws {
        let fixture = try ProtectedFixture()
        let vcpu = fixture.machine.vcpus[0]
        #expect(throws: Errno(6)) { try vcpu.setMPState(.load) }
        #expect(fixture.protect() == .success(.executed))
        #expect(vcpu.isProtected)
        #expect(throws: Errno.E2BIG) { try vcpu.readSIDA(offset: 4096, count: 1) }
        try vcpu.setMPState(.load)
        let stage3b = try #require(fixture.image.components.last).component.address
        #expect(vcpu.cpu.psw.address == stage3b)
        #expect(vcpu.psw.address == 0, "the host does not see a protected PSW")
        #expect(throws: MemoryOperationError.errno(.EINVAL)) { try vcpu.readLogical(0, count: 8) }
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(!vcpu.isProtected)
    }
}

@Suite("KVM_PV_ASYNC_CLEANUP_PREPARE / PERFORM (kvm-pv-ioctl §2.8, §2.9, §3.2)")
struct AsynchronousTeardownTests {
    /// Above 2 GiB: the guest_memfd is sparse, so this costs only what is written.
    static let largeMemory: UInt64 = 3 << 30

    @Test("PREPARE needs protection; PERFORM needs a set-aside configuration (rc/rrc untouched)")
    func preconditions() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        #expect(fixture.command(.asyncCleanupPrepare) == .failure(.EINVAL))
        #expect(fixture.command(.asyncCleanupPerform) == .failure(.EINVAL))
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.command(.asyncCleanupPerform) == .failure(.EINVAL), "PERFORM in P with nothing set aside")
        #expect(fixture.command(.disable).error == nil)
    }

    @Test("PREPARE: rc 1 rrc 42, the VM is no longer protected and its memory is fresh; PERFORM destroys the old one once")
    func prepareAndPerform() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        let vm = fixture.vm
        #expect(fixture.protect() == .success(.executed))
        #expect(fixture.command(.asyncCleanupPrepare) == .success(UVResponse(rc: 1, rrc: 42)))
        #expect(!vm.isProtected)
        #expect(vm.protectedCount.load(ordering: .relaxed) == 1, "the set-aside configuration still counts")
        #expect(vm.lock.withLock { vm.protectedState.setAside != nil })
        let kernelPage = try #require(fixture.image.components.first).component.address
        #expect(try vm.readAbsolute(kernelPage, count: 4096) == [UInt8](repeating: 0, count: 4096))
        #expect(fixture.command(.verify) == .failure(.EINVAL))
        // The next boot on the same VM while the old configuration is still set aside.
        try fixture.load(fixture.image.bytes)
        #expect(fixture.protect() == .success(.executed))
        #expect(vm.protectedCount.load(ordering: .relaxed) == 2)
        #expect(fixture.command(.asyncCleanupPerform) == .success(nil), "fast destroy: rc/rrc left as passed")
        #expect(vm.protectedCount.load(ordering: .relaxed) == 1)
        #expect(fixture.command(.asyncCleanupPerform) == .failure(.EINVAL))
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(vm.protectedCount.load(ordering: .relaxed) == 0)
    }

    @Test("PREPARE twice without PERFORM: EINVAL, the VM is left protected without secure CPUs; DISABLE cleans everything")
    func prepareTwice() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        let vm = fixture.vm
        #expect(fixture.protect().error == nil)
        #expect(fixture.command(.asyncCleanupPrepare).error == nil)
        try fixture.load(fixture.image.bytes)
        #expect(fixture.protect().error == nil)
        #expect(fixture.command(.asyncCleanupPrepare) == .failure(.EINVAL))
        #expect(vm.isProtected && !fixture.machine.vcpus[0].isProtected, "P0: protected, no secure CPUs")
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(vm.protectedCount.load(ordering: .relaxed) == 0)
        #expect(vm.lock.withLock { vm.protectedState.setAside == nil && vm.protectedState.needCleanup.isEmpty })
        #expect(fixture.command(.asyncCleanupPerform) == .failure(.EINVAL))
    }

    @Test("a guest of at most 2 GiB cannot be set aside (segment-table ASCE): EINVAL, then DISABLE")
    func smallGuest() throws {
        let fixture = try ProtectedFixture()
        #expect(fixture.protect().error == nil)
        #expect(fixture.command(.asyncCleanupPrepare) == .failure(.EINVAL))
        #expect(fixture.vm.isProtected)
        #expect(fixture.command(.disable) == .success(.executed))
        #expect(fixture.vm.protectedCount.load(ordering: .relaxed) == 0)
    }

    @Test("DISABLE of a VM that is not protected is EINVAL even with a set-aside configuration")
    func disableWithLeftovers() throws {
        let fixture = try ProtectedFixture(memory: Self.largeMemory)
        #expect(fixture.protect().error == nil)
        #expect(fixture.command(.asyncCleanupPrepare).error == nil)
        #expect(fixture.command(.disable) == .failure(.EINVAL))
        #expect(fixture.command(.asyncCleanupPerform) == .success(nil))
        #expect(fixture.vm.protectedCount.load(ordering: .relaxed) == 0)
    }
}

@Suite("KVM_S390_MEM_OP absolute")
struct AbsoluteMemoryOperationTests {
    /// Found by `s390pv fuzz --seed 20261122` (call #626614): an absolute read in a memslot beyond
    /// a gap was an addressing exception; KVM reaches every memslot.
    @Test("reaches a memslot beyond a gap that the CPUs cannot address")
    func memslotBeyondGap() throws {
        let vm = try KVM.createVM(VMConfiguration(memorySize: 32 << 20))
        let high: UInt64 = 4 << 30
        let memfd = try vm.createGuestMemfd(size: 1 << 20, flags: 0)
        try vm.setMemoryRegion(slot: 1, flags: 1 << 2, guestAddress: high, size: 1 << 20, userspaceAddress: 0,
                               memfd: .success(memfd), memfdOffset: 0)
        #expect(vm.memorySize == 32 << 20, "the CPUs see the run from 0 only")
        try vm.writeAbsolute(high + 0x19BD2, [1, 2, 3])
        #expect(try vm.readAbsolute(high + 0x19BD2, count: 3795).prefix(3) == [1, 2, 3])
        #expect(throws: MemoryOperationError.programException(.addressing)) { try vm.readAbsolute(high - 4096, count: 16) }
        #expect(throws: MemoryOperationError.programException(.addressing)) { try vm.readAbsolute(high + (1 << 20) - 8, count: 16) }
    }
}
