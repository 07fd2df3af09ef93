// Handles, CREATE limits, destroy, page ownership and the QUI record (kvm-pv-ioctl §5, §9 items 2, 3, 12, 13).
import Foundation
import SecureExecution
import Testing
@testable import Ultravisor

@Suite("Ultravisor configurations, CPUs and pages (kvm-pv-ioctl §5)")
struct LifecycleTests {
    let hostKey = freshHostKey()

    @Test("Handles are non-zero, distinct, and not accepted as the other kind; invalid handles give 0x20/0x21")
    func handles() throws {
        let fixture = try Fixture(hostKey: hostKey)
        let uv = fixture.uv
        #expect(fixture.config != 0 && fixture.cpu != 0 && fixture.config != fixture.cpu)
        #expect(uv.verify(fixture.cpu) == .invalidConfigurationHandle)
        #expect(uv.setCPUState(fixture.config, .operating).response == .invalidCPUHandle)
        #expect(uv.createSecureCPU(configuration: fixture.cpu, cpuNumber: 1, storageLength: 0x2000).response == .invalidConfigurationHandle)
        #expect(uv.destroySecureCPU(0) == .invalidCPUHandle)
        #expect(uv.resetCPU(0, kind: .clear) == .invalidCPUHandle)
        #expect(uv.destroySecureConfiguration(0) == .invalidConfigurationHandle)
        #expect(uv.prepareReset(1) == .invalidConfigurationHandle)
        #expect(uv.unshareAll(1) == .invalidConfigurationHandle)
        #expect(uv.importPage(1, guestAddress: 0) == .invalidConfigurationHandle)
        #expect(uv.setCPUState(fixture.cpu, .stopped).response == .executed)
        // Destroyed handles are not reused.
        #expect(uv.destroySecureCPU(fixture.cpu) == .executed)
        #expect(uv.destroySecureCPU(fixture.cpu) == .invalidCPUHandle)
        let again = uv.createSecureCPU(configuration: fixture.config, cpuNumber: 0, storageLength: 0x2000)
        #expect(again.response == .executed && again.handle != fixture.cpu)
    }

    @Test("CREATE_SEC_CONF limits and CREATE_SEC_CPU checks")
    func createLimits() throws {
        var qui = UltravisorConfiguration.default
        qui.maximumConfigurations = 2
        let uv = Ultravisor(hostKey: hostKey, configuration: qui)
        let storage = MemoryStorage(size: 4 << 20)
        let variable = qui.minimumVariableStorageLength(guestStorageLength: 4 << 20)
        #expect(variable == 0x1000 + 0x1000)
        func create(_ storage: MemoryStorage, length: UInt64 = 4 << 20, base: UInt64 = 0x4000, variable: UInt64 = variable,
                    flags: UInt16 = 0) -> UVResponse {
            uv.createSecureConfiguration(storage: storage, guestStorageLength: length, baseStorageLength: base,
                                         variableStorageLength: variable, flags: flags).response
        }
        #expect(create(storage, base: 0x3FFF) == .createBaseStorageTooSmall)
        #expect(create(storage, variable: variable - 1) == .createVariableStorageTooSmall)
        #expect(create(storage, length: (4 << 20) - 4096) == .createInvalidGuestStorage)
        #expect(create(storage, length: 0) == .createInvalidGuestStorage)
        #expect(create(storage, length: 8 << 20) == .createInvalidGuestStorage)
        #expect(create(storage, flags: 0x0001) == .createUnsupportedFlags)
        #expect(uv.configurationCount == 0)
        #expect(create(storage) == .executed)
        #expect(create(storage) == .createStorageInUse)
        #expect(create(MemoryStorage(size: 1 << 20), length: 1 << 20) == .executed)
        #expect(create(MemoryStorage(size: 1 << 20), length: 1 << 20) == .createTooManyConfigurations)
        #expect(uv.configurationCount == 2)

        var small = UltravisorConfiguration.default
        small.maximumGuestStorageAddress = 1 << 20
        let limited = Ultravisor(hostKey: hostKey, configuration: small)
        #expect(limited.createSecureConfiguration(storage: storage, guestStorageLength: 2 << 20, baseStorageLength: 0x4000,
                                                  variableStorageLength: 0x10000, flags: 0).response == .createInvalidGuestStorage)

        let fixture = try Fixture(hostKey: hostKey)
        #expect(fixture.uv.createSecureCPU(configuration: fixture.config, cpuNumber: 248, storageLength: 0x2000).response == .cpuNumberInvalid)
        #expect(fixture.uv.createSecureCPU(configuration: fixture.config, cpuNumber: 0, storageLength: 0x2000).response == .cpuNumberInUse)
        #expect(fixture.uv.createSecureCPU(configuration: fixture.config, cpuNumber: 1, storageLength: 0x1FFF).response == .cpuStorageTooSmall)
        #expect(fixture.uv.createSecureCPU(configuration: fixture.config, cpuNumber: 247, storageLength: 0x2000).response == .executed)
    }

    @Test("Destroy is refused while secure CPUs exist; afterwards pages stay secure until DESTR_SEC_STOR")
    func destroy() throws {
        let fixture = try Fixture.running(hostKey: hostKey)
        let uv = fixture.uv, storage = fixture.storage
        storage.write([1, 2, 3], at: 0x3000)
        #expect(uv.destroySecureConfiguration(fixture.config) == .invalidState)
        #expect(uv.destroySecureConfigurationFast(fixture.config) == .fastDestroyCPUsExist)
        #expect(uv.destroySecureCPU(fixture.cpu) == .executed)
        #expect(uv.destroySecureConfiguration(fixture.config) == .executed)
        #expect(uv.destroySecureConfiguration(fixture.config) == .invalidConfigurationHandle)
        #expect(uv.configurationCount == 0)
        // DESTROY_SEC_CONF cleared the contents; the pages are still not host-accessible.
        #expect(storage.isZero(0 ..< storage.size))
        #expect(!uv.isHostAccessible(storage: storage, 0x3000 ..< 0x4000))
        let clears = storage.clearCalls
        #expect(uv.destroyPage(storage: storage, guestAddress: 0x3000) == .executed)
        #expect(storage.clearCalls == clears)  // bookkeeping only after DESTROY_SEC_CONF
        #expect(uv.isHostAccessible(storage: storage, 0x3000 ..< 0x4000))
        #expect(!uv.isHostAccessible(storage: storage, 0x3000 ..< 0x5000))
        #expect(uv.destroyPage(storage: storage, guestAddress: 0x3000) == .executed)
        #expect(uv.destroyPage(storage: storage, guestAddress: 0x3001) == .addressNotAligned)
        #expect(uv.destroyPage(storage: storage, guestAddress: storage.size) == .addressOutsideStorage)
        // A new configuration may take the storage over.
        let again = uv.createSecureConfiguration(storage: storage, guestStorageLength: storage.size, baseStorageLength: 0x4000,
                                                 variableStorageLength: 0x2000, flags: 0)
        #expect(again.response == .executed && again.handle != fixture.config)
        // Until its guest has run, the new configuration owns only what it unpacks.
        #expect(uv.isHostAccessible(storage: storage, 0x3000 ..< 0x4000))
    }

    @Test("Fast destroy leaves contents until each DESTR_SEC_STOR; the last page releases the storage")
    func fastDestroyAndRelease() throws {
        let fixture = try Fixture.running(hostKey: hostKey, storageSize: 1 << 20)
        let uv = fixture.uv, storage = fixture.storage
        storage.write([9], at: 0x5000)
        #expect(uv.destroySecureCPU(fixture.cpu) == .executed)
        #expect(uv.destroySecureConfigurationFast(fixture.config) == .executed)
        #expect(!storage.isZero(0x5000 ..< 0x6000))
        #expect(!uv.isHostAccessible(storage: storage, 0 ..< storage.size))
        for address in stride(from: UInt64(0), to: storage.size, by: 4096) {
            #expect(uv.destroyPage(storage: storage, guestAddress: address) == .executed)
        }
        #expect(storage.isZero(0 ..< storage.size))
        #expect(uv.isHostAccessible(storage: storage, 0 ..< storage.size))

        var noFast = UltravisorConfiguration.default
        noFast.fastDestroyAvailable = false
        #expect(noFast.hostInstalledCalls[0] & (1 << (63 - 23)) == 0)
        let other = try Fixture(hostKey: hostKey, configuration: noFast)
        #expect(other.uv.destroySecureConfigurationFast(other.config) == .invalidCommand)
    }

    @Test("DESTR_SEC_STOR on a live configuration's page clears it and makes it accessible; import makes it secure again")
    func destroyAndImportPage() throws {
        let fixture = try Fixture.running(hostKey: hostKey)
        let uv = fixture.uv, storage = fixture.storage
        storage.write([0xAA, 0xBB], at: 0x7000)
        #expect(!uv.isHostAccessible(storage: storage, 0x7000 ..< 0x8000))
        #expect(uv.destroyPage(storage: storage, guestAddress: 0x7000) == .executed)
        #expect(storage.isZero(0x7000 ..< 0x8000))
        #expect(uv.isHostAccessible(storage: storage, 0x7000 ..< 0x8000))
        storage.write([0xCC], at: 0x7000)  // the host writes a non-secure page …
        #expect(uv.importPage(fixture.config, guestAddress: 0x7000) == .executed)
        #expect(storage.isZero(0x7000 ..< 0x8000))  // … and import does not let it in
        #expect(!uv.isHostAccessible(storage: storage, 0x7000 ..< 0x8000))
        #expect(uv.importPage(fixture.config, guestAddress: 0x7800) == .addressNotAligned)
        #expect(uv.importPage(fixture.config, guestAddress: 2 << 20) == .addressOutsideStorage)
        // Storage no configuration ever owned is always accessible and destroyPage is a no-op.
        let plain = MemoryStorage(size: 1 << 20)
        #expect(uv.isHostAccessible(storage: plain, 0 ..< plain.size))
        #expect(uv.destroyPage(storage: plain, guestAddress: 0) == .executed)
        #expect(!uv.isHostAccessible(storage: plain, 0 ..< plain.size + 4096))
    }

    @Test("Concurrent DESTR_SEC_STOR from two threads over every page")
    func concurrentDestroyPage() async throws {
        let fixture = try Fixture.running(hostKey: hostKey, storageSize: 16 << 20)
        let uv = fixture.uv, storage = fixture.storage
        for address in stride(from: UInt64(0), to: storage.size, by: 0x10000) { storage.write([0x5A], at: address + 8) }
        #expect(uv.destroySecureCPU(fixture.cpu) == .executed)
        #expect(uv.destroySecureConfigurationFast(fixture.config) == .executed)
        let pages = Int(storage.size / 4096)
        let failures = await withTaskGroup(of: Int.self) { group in
            for thread in 0 ..< 2 {
                group.addTask {
                    // Both threads walk every page, in opposite orders, so they collide on the same pages too.
                    var failures = 0
                    for index in 0 ..< pages {
                        let page = thread == 0 ? index : pages - 1 - index
                        if uv.destroyPage(storage: storage, guestAddress: UInt64(page) * 4096) != .executed { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
        #expect(storage.isZero(0 ..< storage.size))
        #expect(uv.isHostAccessible(storage: storage, 0 ..< storage.size))
    }

    @Test("QUI record: host bits, no dump bits, values at their offsets (kvm-pv-ioctl §5.6)")
    func queryBlock() {
        let qui = UltravisorConfiguration.default
        let block = qui.queryBlock(forGuest: false)
        func u64(_ offset: Int) -> UInt64 { (0 ..< 8).reduce(0) { $0 << 8 | UInt64(block[offset + $1]) } }
        func bit(_ n: Int) -> Bool { u64(0x10 + 8 * (n / 64)) & (1 << (63 - UInt64(n % 64))) != 0 }
        #expect(block.count == 0x120)
        for n in [0, 1, 2, 3, 4, 5, 6, 8, 9, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23] { #expect(bit(n), "bit \(n)") }
        for n in [7, 24, 25, 26, 27, 28, 29, 30, 31, 33, 34] { #expect(!bit(n), "bit \(n)") }
        #expect(u64(0x50) == 0x4000 && u64(0x58) == 0x1000 && u64(0x60) == 0x10 && u64(0x68) == 0x2000)
        #expect(u64(0x78) & 0xFFFF_FFFF == 256)
        #expect((u64(0x80) + 4095) & ~4095 == 64 << 30)
        #expect(u64(0x98) & 0xFFFF == 247)
        #expect(u64(0xA0) == 1 << 63 && u64(0xB0) == 1 << 63 && u64(0xB8) == 0x1000_00F2)
        #expect(u64(0xC8) == 0 && u64(0xD0) == 0)
        let guest = qui.guestInstalledCalls
        #expect(guest == [0x8000_0000_0000_0000 | 1 << (63 - 8) | 1 << (63 - 9), 0, 0, 0])
        #expect(UVCommand.destroySecureStorage.installedCallBit == nil)
        #expect(UVCommand.destroySecureConfigurationFast.installedCallBit == 23)
        #expect(UVResponse.executed.conditionCode == 0 && UVResponse.invalidState.conditionCode == 1)
        #expect(UVResponse.verifyTweakListMismatch.description == "rc 0x0102 rrc 0x001c (VERIFY: tweak list digest mismatch)")
    }

    @Test("DESTR_SEC_STOR walk rate after DESTROY_SEC_CONF (UV_BENCH=1 only; prints GiB/s)",
          .enabled(if: ProcessInfo.processInfo.environment["UV_BENCH"] != nil))
    func destroyWalkRate() throws {
        let fixture = try Fixture(hostKey: hostKey, storageSize: 256 << 20)
        #expect(fixture.uv.destroySecureCPU(fixture.cpu) == .executed)
        #expect(fixture.uv.destroySecureConfiguration(fixture.config) == .executed)
        let start = ContinuousClock.now
        for address in stride(from: UInt64(0), to: fixture.storage.size, by: 4096) {
            _ = fixture.uv.destroyPage(storage: fixture.storage, guestAddress: address)
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("DESTR_SEC_STOR walk: 256 MiB in \(seconds) s = \(0.25 / seconds) GiB/s")
        #expect(fixture.uv.isHostAccessible(storage: fixture.storage, 0 ..< fixture.storage.size))
    }
}
