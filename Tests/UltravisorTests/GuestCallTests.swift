// Guest UVCs (se-image-format §9.2; kvm-unit-tests s390x/uv-guest.c).
import SecureExecution
import Testing
@testable import Ultravisor

@Suite("Ultravisor guest calls (se-image-format §9.2)")
struct GuestCallTests {
    let hostKey = freshHostKey()
    let block: UInt64 = 0x8000

    func call(_ fixture: Fixture, command: UInt16, length: UInt16, protected: Bool = true,
              paddr: UInt64? = nil) -> (Ultravisor.GuestCallResult, UVResponse) {
        let storage = fixture.storage
        storage.write([UInt8](repeating: 0xEE, count: 0x120), at: block)
        storage.store16(length, at: block)
        storage.store16(command, at: block + 2)
        if let paddr { storage.store64(paddr, at: block + 0x20) }
        let result = fixture.uv.guestCall(storage: storage, cpuHandle: protected ? fixture.cpu : nil, controlBlockAddress: block)
        return (result, UVResponse(rc: storage.load16(block + 4), rrc: storage.load16(block + 6)))
    }

    @Test("QUI from a protected guest: bits 0, 8, 9 and no host-only bit; length rules")
    func query() throws {
        let fixture = try Fixture(hostKey: hostKey)
        let (result, response) = call(fixture, command: 0x0001, length: 0x120)
        #expect(result == .completed(conditionCode: 0, notification: nil))
        #expect(response == .executed)
        let words = (0 ..< 4).map { fixture.storage.load64(block + 0x10 + 8 * UInt64($0)) }
        #expect(words == fixture.uv.configuration.guestInstalledCalls)
        #expect(words[0] & (1 << 63) != 0 && words[0] & (1 << (63 - 8)) != 0 && words[0] & (1 << (63 - 9)) != 0)
        for bit in [1, 2, 3, 4, 5, 6, 7, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27] {
            #expect(words[0] & (1 << (63 - UInt64(bit))) == 0, "bit \(bit)")
        }
        #expect(fixture.storage.load64(block + 0xB8) == 0x1000_00F2)
        #expect(Array(fixture.storage.read(block + 8, count: 0x118)) == Array(fixture.uv.configuration.queryBlock(forGuest: true)[8...]))

        #expect(call(fixture, command: 0x0001, length: 0xA0).1 == .invalidLength)
        let partial = call(fixture, command: 0x0001, length: 0xA8)
        #expect(partial.0 == .completed(conditionCode: 1, notification: nil) && partial.1 == .moreData)
        #expect(fixture.storage.read(block + 0xA8, count: 8) == [UInt8](repeating: 0xEE, count: 8))
    }

    @Test("Host-only and unknown commands are rc 2 (uv-guest.c)")
    func hostOnly() throws {
        let fixture = try Fixture(hostKey: hostKey)
        for command: UInt16 in [0x000F, 0x0100, 0x0101, 0x0120, 0x0121, 0x0200, 0x0201, 0x0202, 0x0300, 0x0301,
                                0x0302, 0x0310, 0x0311, 0x0320, 0x0321, 0x0330, 0x0340, 0x0341, 0x0342, 0x0400, 0x1020, 0x4242] {
            let (result, response) = call(fixture, command: command, length: 0x60)
            #expect(result == .completed(conditionCode: 1, notification: nil), "cmd \(command)")
            #expect(response == .invalidCommand, "cmd \(command)")
        }
        #expect(call(fixture, command: 0x4242, length: 16).1 == .invalidCommand)
    }

    @Test("Control block alignment and bounds: PGM 0x06 and 0x05")
    func blockChecks() throws {
        let fixture = try Fixture(hostKey: hostKey)
        let uv = fixture.uv, storage = fixture.storage
        #expect(uv.guestCall(storage: storage, cpuHandle: fixture.cpu, controlBlockAddress: 0x8004) == .programException(code: 0x06))
        #expect(uv.guestCall(storage: storage, cpuHandle: fixture.cpu, controlBlockAddress: storage.size) == .programException(code: 0x05))
        let last = storage.size - 0x30
        storage.store16(0x120, at: last)
        storage.store16(0x0001, at: last + 2)
        #expect(uv.guestCall(storage: storage, cpuHandle: fixture.cpu, controlBlockAddress: last) == .programException(code: 0x05))
    }

    @Test("Share and unshare: host access follows, notification on unshare, length and address checks")
    func sharing() throws {
        let fixture = try Fixture.running(hostKey: hostKey)
        let uv = fixture.uv, storage = fixture.storage
        let page: UInt64 = 0x40000
        #expect(!uv.isHostAccessible(storage: storage, page ..< page + 4096))
        #expect(call(fixture, command: 0x1000, length: 0x28, paddr: page).1 == .invalidLength)
        #expect(call(fixture, command: 0x1000, length: 0x30, paddr: storage.size + 4096).1 == UVResponse(rc: 0x101, rrc: 0))
        let shared = call(fixture, command: 0x1000, length: 0x30, paddr: page)
        #expect(shared.0 == .completed(conditionCode: 0, notification: nil) && shared.1 == .executed)
        #expect(uv.isHostAccessible(storage: storage, page ..< page + 4096))
        #expect(!uv.isHostAccessible(storage: storage, page ..< page + 8192))
        #expect(uv.pinShared(storage: storage, guestAddress: page) == .executed)
        #expect(uv.pinShared(storage: storage, guestAddress: page + 4096) == .pinPageNotShared)
        let removed = call(fixture, command: 0x1001, length: 0x30, paddr: page + 0x10)
        #expect(removed.0 == .completed(conditionCode: 0, notification: .sharedAccessRemoved(guestAddress: page)))
        #expect(!uv.isHostAccessible(storage: storage, page ..< page + 4096))
        #expect(uv.unpinShared(storage: storage, guestAddress: page) == .executed)

        // SET_UNSHARE_ALL and PREPARE_RESET take every share back.
        _ = call(fixture, command: 0x1000, length: 0x30, paddr: page)
        #expect(uv.unshareAll(fixture.config) == .executed)
        #expect(!uv.isHostAccessible(storage: storage, page ..< page + 4096))
        _ = call(fixture, command: 0x1000, length: 0x30, paddr: page)
        #expect(uv.prepareReset(fixture.config) == .executed)
        #expect(!uv.isHostAccessible(storage: storage, page ..< page + 4096))
    }

    @Test("Shared pages survive VERIFY's clearing")
    func sharedAcrossVerify() throws {
        let image = try TestImage(hostKey: hostKey)
        let fixture = try Fixture(hostKey: hostKey, image: image)
        fixture.storage.write([0x42], at: 0x1C_0000)
        _ = call(fixture, command: 0x1000, length: 0x30, paddr: 0x1C_0000)
        #expect(try fixture.boot(image) == .executed)
        #expect(fixture.storage.read(0x1C_0000, count: 1) == [0x42])
    }

    @Test("A non-protected guest: QUI without bits 8/9, share calls rc 2")
    func nonProtected() throws {
        let fixture = try Fixture(hostKey: hostKey)
        let (result, response) = call(fixture, command: 0x0001, length: 0x120, protected: false)
        #expect(result == .completed(conditionCode: 0, notification: nil) && response == .executed)
        #expect(fixture.storage.load64(block + 0x10) == 1 << 63)
        #expect(call(fixture, command: 0x1000, length: 0x30, protected: false, paddr: 0x40000).1 == .invalidCommand)
    }
}
