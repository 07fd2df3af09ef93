// SSC / UNPACK / VERIFY / OPR_LOAD with real images (spec se-image-format §8 items 1–5).
import Foundation
import SecureExecution
import Testing
@testable import Ultravisor

@Suite("Ultravisor image path (se-image-format §8)")
struct ImageTests {
    let hostKey = freshHostKey()

    @Test("A real SE image unpacks and verifies; pages decrypt to the plaintext; OPR_LOAD gives the header PSW")
    func boot() throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        // Host junk in a page no component covers, and the header/stage3a pages: zero after VERIFY.
        fixture.storage.write([UInt8](repeating: 0x77, count: 100), at: 0x1F_0000)
        #expect(fixture.uv.setCPUState(fixture.cpu, .operatingLoad).response == .invalidState)
        #expect(try fixture.boot(image) == .executed)
        #expect(fixture.uv.isVerified(fixture.config))

        let cipher = try AESXTS(key: image.keys.xtsKey)
        let plaintexts = [image.kernel, image.ramdisk, PreparedComponent.terminatedCommandLine(image.parmfile)]
        for (index, (_, component)) in image.image.components.enumerated() {
            let stored = fixture.storage.read(component.address, count: component.preparedSize)
            #expect(stored == (try component.paddedPlaintext(cipher: cipher)))
            if index < plaintexts.count {
                #expect(Array(stored.prefix(plaintexts[index].count)) == plaintexts[index])
            }
        }
        #expect(fixture.storage.isZero(0x1F_0000 ..< 0x20_0000))
        #expect(fixture.storage.isZero(0 ..< UInt64(image.image.components[0].component.address)))
        #expect(fixture.storage.isZero(UInt64(image.image.ipibAddress) ..< 0x1F_0000))

        let load = fixture.uv.setCPUState(fixture.cpu, .operatingLoad)
        #expect(load.response == .executed)
        #expect(load.loadPSW?.mask == SEImage.pswMask)
        #expect(load.loadPSW?.address == image.image.components.last!.component.address)
        #expect(fixture.uv.bootHeaderTags(fixture.config) == image.image.header.bootHeaderTags)
    }

    @Test("PCF bit 35: components are hashed but not decrypted")
    func plaintextComponents() throws {
        let image = try TestImage(hostKey: hostKey, pcf: SEImage.noComponentEncryption | 0xE0)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        #expect(try fixture.boot(image) == .executed)
        let kernel = image.image.components[0].component
        #expect(fixture.storage.read(kernel.address, count: image.kernel.count) == image.kernel)
    }

    @Test("A header for another host key: 0x108/0x05, and nothing is set")
    func wrongHostKey() throws {
        let image = try TestImage(hostKey: freshHostKey())
        let fixture = try Fixture(hostKey: hostKey, image: image)
        let response = fixture.setHeader(image)
        #expect(response == UVResponse(rc: 0x108, rrc: 0x05))
        #expect(response.description == "rc 0x0108 rrc 0x0005 (no key slot for this host key)")
        #expect(fixture.uv.unpack(fixture.config, guestAddress: 0x15000, tweak: (0, 0)) == .invalidState)
    }

    @Test("SSC checks: length vs sehs, twice, unsupported PCF, tampered header tag")
    func setParameters() throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        var header = image.headerBytes
        #expect(header.dropLast().withUnsafeBytes { fixture.uv.setSecureConfigurationParameters(fixture.config, header: $0) }
                == UVResponse(rc: 0x10A, rrc: 0x31))
        #expect((header + [0]).withUnsafeBytes { fixture.uv.setSecureConfigurationParameters(fixture.config, header: $0) }
                == UVResponse(rc: 0x10A, rrc: 0x31))
        header[header.count - 1] ^= 1
        #expect(header.withUnsafeBytes { fixture.uv.setSecureConfigurationParameters(fixture.config, header: $0) }
                == UVResponse(rc: 0x108, rrc: 0x07))
        #expect(fixture.setHeader(image) == .executed)
        #expect(fixture.setHeader(image) == .invalidState)
        #expect([UInt8](repeating: 0, count: 8).withUnsafeBytes { fixture.uv.setSecureConfigurationParameters(0x42, header: $0) }
                == .invalidConfigurationHandle)

        let dumpImage = try TestImage(hostKey: hostKey, pcf: 0x2000_00E0)
        let other = try Fixture(hostKey: hostKey, image: dumpImage)
        #expect(other.setHeader(dumpImage) == UVResponse(rc: 0x106, rrc: 0x30))
    }

    @Test("UNPACK state and address checks")
    func unpackChecks() throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        let uv = fixture.uv, config = fixture.config
        #expect(uv.unpack(config, guestAddress: 0x15000, tweak: (0, 0)) == .invalidState)
        #expect(uv.verify(config) == .invalidState)
        #expect(fixture.setHeader(image) == .executed)
        #expect(uv.unpack(config, guestAddress: 0x15008, tweak: (0, 0)) == UVResponse(rc: 0x101, rrc: 1))
        #expect(uv.unpack(config, guestAddress: 2 << 20, tweak: (0, 0)) == UVResponse(rc: 0x101, rrc: 0))
        #expect(uv.unpack(0, guestAddress: 0x15000, tweak: (0, 0)) == .invalidConfigurationHandle)
        for call in image.unpackCalls { #expect(uv.unpack(config, guestAddress: call.address, tweak: call.tweak) == .executed) }
        #expect(uv.verify(config) == .executed)
        #expect(uv.verify(config) == .invalidState)
        #expect(uv.unpack(config, guestAddress: 0x15000, tweak: (0, 0)) == .invalidState)
    }

    enum Tamper: CaseIterable { case flippedByte, wrongAddress, wrongTweak, missingPage }

    @Test("Each tamper class fails VERIFY with its rrc (0x1B, 0x1A, 0x1C, 0x1D)", arguments: Tamper.allCases)
    func tamper(_ tamper: Tamper) throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        var calls = image.unpackCalls
        switch tamper {
        case .flippedByte:
            let address = calls[1].address + 17
            fixture.storage.write([fixture.storage.read(address, count: 1)[0] ^ 0x80], at: address)
        case .wrongAddress:
            // Same bytes at another page: only ALD changes.
            let spare: UInt64 = 0x1E_0000
            fixture.storage.write(fixture.storage.read(calls[2].address, count: 4096), at: spare)
            calls[2].address = spare
        case .wrongTweak:
            calls[0].tweak.1 += 0x1000
        case .missingPage:
            calls.removeLast()
        }
        #expect(fixture.setHeader(image) == .executed)
        for call in calls { #expect(fixture.uv.unpack(fixture.config, guestAddress: call.address, tweak: call.tweak) == .executed) }
        let expected: UVResponse = switch tamper {
        case .flippedByte: .verifyPageListMismatch
        case .wrongAddress: .verifyAddressListMismatch
        case .wrongTweak: .verifyTweakListMismatch
        case .missingPage: .verifyPageCountMismatch
        }
        #expect(fixture.uv.verify(fixture.config) == expected)
        #expect(fixture.uv.setCPUState(fixture.cpu, .operatingLoad).loadPSW == nil)
    }

    @Test("After PREPARE_RESET, OPR_LOAD succeeds without a header PSW (reboot from absolute 0)")
    func prepareReset() throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        #expect(try fixture.boot(image) == .executed)
        #expect(fixture.uv.prepareReset(fixture.config) == .executed)
        for kind in [UVCPUResetKind.normal, .initial, .clear] { #expect(fixture.uv.resetCPU(fixture.cpu, kind: kind) == .executed) }
        let load = fixture.uv.setCPUState(fixture.cpu, .operatingLoad)
        #expect(load.response == .executed && load.loadPSW == nil)
    }

    @Test("Unpack throughput (UV_BENCH=1 only; prints MiB/s)", .enabled(if: ProcessInfo.processInfo.environment["UV_BENCH"] != nil))
    func throughput() throws {
        let size = 64 << 20
        let image = try TestImage(hostKey: hostKey, kernelSize: size, ramdiskSize: 1)
        let fixture = try Fixture(hostKey: hostKey, image: image, storageSize: UInt64(size) + (2 << 20))
        #expect(fixture.setHeader(image) == .executed)
        let calls = image.unpackCalls
        let start = ContinuousClock.now
        for call in calls { _ = fixture.uv.unpack(fixture.config, guestAddress: call.address, tweak: call.tweak) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("UNPACK: \(calls.count) pages in \(seconds) s = \(Double(calls.count * 4096) / 1048576 / seconds) MiB/s")
        #expect(fixture.uv.verify(fixture.config) == .executed)
    }
}
