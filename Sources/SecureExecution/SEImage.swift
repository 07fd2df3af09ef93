// The boot image pvimg produces: file == memory from address 0 (spec se-image-format §5, §6).

/// The two s390x boot loaders an image carries (spec §5). They are inputs: pvimg ships them as
/// `stage3a.bin` and `stage3b_reloc.bin` built on s390x (spec §10.1), and this package does not
/// build them yet, so the caller supplies the bytes (pvimg's binaries or own loaders, spec §12, §14).
///
/// The builder patches the argument blocks in place:
/// - `stage3a`: loaded at 0x10000 (stage3a_init), its main entry at 0x11000 is where the short PSW
///   points. Its **last 24 bytes** are overwritten with `stage3a_args {hdr_offs, hdr_size, ipib_offs}`
///   (u64 each, offsets relative to the address of the args block).
/// - `stage3bReloc`: the last secured component. Its **last 64 bytes** are overwritten with
///   `stage3b_args {kernel{src,size}, cmdline{src,size}, initrd{src,size}, psw{mask,addr}}`.
public struct SEBootLoaders: Sendable, Equatable {
    /// stage3a (stage3a_init at offset 0, main code at offset 0x1000), placed at 0x10000.
    public var stage3a: [UInt8]
    /// stage3b_reloc, the fourth secured component.
    public var stage3bReloc: [UInt8]

    /// Collects the two loader blobs.
    public init(stage3a: [UInt8], stage3bReloc: [UInt8]) {
        self.stage3a = stage3a
        self.stage3bReloc = stage3bReloc
    }
}

/// The secrets and randomness of one image build; `random()` is what pvimg does (spec §2.5, §10.1).
public struct SEImageKeys {
    /// The customer key pair; pvimg draws a fresh one and discards it.
    public var customerKey: CustomerKey
    /// The 32-byte header protection key (`--hdr-key`).
    public var protectionKey: [UInt8]
    /// The 12-byte GCM IV of the header.
    public var iv: [UInt8]
    /// The 64-byte XTS component key (`--image-key`).
    public var xtsKey: [UInt8]
    /// The 32-byte customer communication key (`--cck`).
    public var customerCommunicationKey: [UInt8]

    /// Collects fixed keys (for reproducible builds and tests).
    public init(customerKey: CustomerKey, protectionKey: [UInt8], iv: [UInt8], xtsKey: [UInt8],
                customerCommunicationKey: [UInt8]) {
        self.customerKey = customerKey
        self.protectionKey = protectionKey
        self.iv = iv
        self.xtsKey = xtsKey
        self.customerCommunicationKey = customerCommunicationKey
    }

    /// Fresh random keys from the system generator; the XTS halves are redrawn until they differ (spec §4).
    public static func random() -> SEImageKeys {
        var generator = SystemRandomNumberGenerator()
        func bytes(_ count: Int) -> [UInt8] { (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &generator) } }
        var xtsKey = bytes(AESXTS.keySize)
        while xtsKey[..<32].elementsEqual(xtsKey[32...]) { xtsKey = bytes(AESXTS.keySize) }
        return SEImageKeys(customerKey: .generate(), protectionKey: bytes(32), iv: bytes(SEHeader.ivSize),
                           xtsKey: xtsKey, customerCommunicationKey: bytes(SEEncryptedArea.cckSize))
    }
}

/// What goes into an image besides keys and loaders (the inputs of `pvimg create`, spec §10.1).
public struct SEImageConfiguration {
    /// The raw s390x kernel (`-i/--kernel`); no raw-kernel check is made here (see `SEImage.isRawS390Kernel`).
    public var kernel: [UInt8]
    /// The initial ramdisk (`-r/--ramdisk`), if any.
    public var ramdisk: [UInt8]?
    /// The parmfile bytes (`-p/--parmfile`), if any; the builder appends the NUL (spec §4 step 5).
    public var parmfile: [UInt8]?
    /// One key slot per host key (`-k/--host-key-document`).
    public var hostKeys: [HostKey]
    /// PCF; pvimg's default is 0xE0. Bit 35 (0x10000000) turns component encryption off (spec §2.4).
    public var plaintextControlFlags: UInt64 = SEImage.defaultPlaintextControlFlags
    /// SCF (spec §2.4), default 0.
    public var secretControlFlags: UInt64 = 0
    /// `--x-psw`: the header PSW address; default the start of stage3b (spec §5).
    public var pswAddressOverride: UInt64? = nil
    /// Fixed initial tweaks per component; components without one get pvimg's random tweak (spec §4).
    public var tweaks: [ComponentKind: ComponentTweak] = [:]

    /// Collects the inputs; flags and tweaks keep their defaults unless set afterwards.
    public init(kernel: [UInt8], ramdisk: [UInt8]? = nil, parmfile: [UInt8]? = nil, hostKeys: [HostKey]) {
        self.kernel = kernel
        self.ramdisk = ramdisk
        self.parmfile = parmfile
        self.hostKeys = hostKeys
    }
}

/// A Secure Execution boot image laid out as spec §5 describes, with its parts kept for inspection.
public struct SEImage {
    /// Short IPL PSW at 0: bit 12, EA+BA, address 0x11000 (stage3a main) (spec §5).
    public static let shortPSW: UInt64 = 0x0008_0001_8001_1000
    /// Image metadata `"SeImgLnx" ‖ hdr_off ‖ version 1 ‖ ipib_off` at 0xC000 (spec §5).
    public static let metadataAddress = 0xC000, metadataMagic: [UInt8] = Array("SeImgLnx".utf8), metadataVersion: UInt32 = 1
    /// stage3a load address, and the lowest header address (spec §5).
    public static let stage3aAddress = 0x10000, minimumHeaderAddress = 0x14000
    /// Sizes of the patched argument blocks (spec §5).
    public static let stage3aArgumentsSize = 24, stage3bArgumentsSize = 64
    /// Mask of the header PSW and of the kernel PSW in stage3b_args; the kernel entry (spec §5).
    public static let pswMask: UInt64 = 0x0000_0001_8000_0000, kernelEntry: UInt64 = 0x10000
    /// pvimg's default PCF: the three PCKMO bits (spec §2.4).
    public static let defaultPlaintextControlFlags: UInt64 = 0xE0
    /// PCF bit 35: components are not encrypted (spec §2.4).
    public static let noComponentEncryption: UInt64 = 0x1000_0000

    /// The whole image file (= guest memory from address 0).
    public var bytes: [UInt8]
    /// The SE header as written at `headerAddress`.
    public var header: SEHeader
    /// Where the header is (0x14000 unless stage3a is large, spec §5).
    public var headerAddress: Int
    /// The secured components in IPIB order, with their kinds.
    public var components: [(kind: ComponentKind, component: PreparedComponent)]
    /// Where the IPIB is; the file ends with it (spec §5).
    public var ipibAddress: Int
    /// The IPL parameter block, pbt 5 (spec §6).
    public var ipib: [UInt8]

    /// Lays out and seals an image (spec §4, §5, §6, §2.5).
    ///
    /// Decision (spec §14, the sources do not say): an absent ramdisk or parmfile gets `src` = 0
    /// and `size` = 0 in stage3b_args and no component.
    public static func build(_ configuration: SEImageConfiguration, loaders: SEBootLoaders,
                             keys: SEImageKeys) throws -> SEImage {
        let stage3a = loaders.stage3a, stage3b = loaders.stage3bReloc
        guard stage3a.count >= stage3aArgumentsSize else {
            throw SEComponentError.loaderTooSmall(name: "stage3a", size: stage3a.count, minimum: stage3aArgumentsSize)
        }
        guard stage3b.count >= stage3bArgumentsSize else {
            throw SEComponentError.loaderTooSmall(name: "stage3b_reloc", size: stage3b.count, minimum: stage3bArgumentsSize)
        }
        let encrypt = configuration.plaintextControlFlags & noComponentEncryption == 0
        let cipher = encrypt ? try AESXTS(key: keys.xtsKey) : nil
        let secretsCheck = try SEEncryptedArea(customerCommunicationKey: keys.customerCommunicationKey,
                                               xtsKey: keys.xtsKey, pswMask: pswMask, pswAddress: 0)
        guard (1 ... 95).contains(configuration.hostKeys.count) else {
            throw SEKeyError.invalidHostKeyCount(configuration.hostKeys.count)
        }

        // Header position and size (spec §5, §2.1).
        let headerAddress = max(roundUp(stage3aAddress + stage3a.count), minimumHeaderAddress)
        let headerSize = SEHeader.Offset.keySlots + KeySlot.size * configuration.hostKeys.count
            + SEEncryptedArea.size + SEHeader.tagSize

        // Secured components, each at the next page (spec §4, §5).
        var components: [(kind: ComponentKind, component: PreparedComponent)] = []
        var next = UInt64(roundUp(headerAddress + headerSize))
        func add(_ kind: ComponentKind, _ plaintext: [UInt8]) throws -> PreparedComponent {
            let tweak = configuration.tweaks[kind] ?? .random(for: kind)
            let component = try PreparedComponent(plaintext: plaintext, address: next, tweak: tweak, cipher: cipher)
            components.append((kind, component))
            next = component.endAddress
            return component
        }
        let kernel = try add(.kernel, configuration.kernel)
        let ramdisk = try configuration.ramdisk.map { try add(.ramdisk, $0) }
        let commandLine = try configuration.parmfile.map { try add(.commandLine, PreparedComponent.terminatedCommandLine($0)) }
        var stage3bPlain = stage3b
        var arguments = [UInt8](repeating: 0, count: stage3bArgumentsSize)
        for (index, part) in [Optional(kernel), commandLine, ramdisk].enumerated() {
            arguments.writeBigEndian(part?.address ?? 0, at: index * 16)
            arguments.writeBigEndian(UInt64(part?.originalSize ?? 0), at: index * 16 + 8)
        }
        arguments.writeBigEndian(pswMask, at: 48)
        arguments.writeBigEndian(kernelEntry, at: 56)
        stage3bPlain.writeBytes(arguments, at: stage3bPlain.count - stage3bArgumentsSize)
        let stage3bComponent = try add(.stage3b, stage3bPlain)

        // IPIB right after the last component (spec §5, §6).
        let ipibAddress = Int(stage3bComponent.endAddress)
        let ipib = makeIPIB(components: components.map(\.component), headerAddress: UInt64(headerAddress),
                            headerSize: UInt64(headerSize))

        // Header (spec §2.5).
        var secrets = secretsCheck
        secrets.pswAddress = configuration.pswAddressOverride ?? stage3bComponent.address
        secrets.secretControlFlags = configuration.secretControlFlags
        let header = try SEHeader.build(secrets: secrets, digests: ComponentDigests(components: components.map(\.component)),
                                        plaintextControlFlags: configuration.plaintextControlFlags,
                                        protectionKey: keys.protectionKey, iv: keys.iv,
                                        customerKey: keys.customerKey, hostKeys: configuration.hostKeys)
        precondition(header.size == headerSize, "header size formula disagrees with SEHeader")

        // The file (spec §5 table).
        var image = [UInt8](repeating: 0, count: ipibAddress + ipib.count)
        image.writeBigEndian(shortPSW, at: 0)
        image.writeBytes(metadataMagic, at: metadataAddress)
        image.writeBigEndian(UInt64(headerAddress), at: metadataAddress + 8)
        image.writeBigEndian(metadataVersion, at: metadataAddress + 16)
        image.writeBigEndian(UInt64(ipibAddress), at: metadataAddress + 20)
        var stage3aPatched = stage3a
        let argumentsAddress = stage3aAddress + stage3a.count - stage3aArgumentsSize
        stage3aPatched.writeBigEndian(UInt64(headerAddress - argumentsAddress), at: stage3a.count - 24)
        stage3aPatched.writeBigEndian(UInt64(headerSize), at: stage3a.count - 16)
        stage3aPatched.writeBigEndian(UInt64(ipibAddress - argumentsAddress), at: stage3a.count - 8)
        image.writeBytes(stage3aPatched, at: stage3aAddress)
        image.writeBytes(header.bytes, at: headerAddress)
        for (_, component) in components { image.writeBytes(component.bytes, at: Int(component.address)) }
        image.writeBytes(ipib, at: ipibAddress)
        return SEImage(bytes: image, header: header, headerAddress: headerAddress, components: components,
                       ipibAddress: ipibAddress, ipib: ipib)
    }

    /// The pbt-5 IPIB: header, PV block version 1, one 24-byte entry per component (spec §6).
    public static func makeIPIB(components: [PreparedComponent], headerAddress: UInt64, headerSize: UInt64) -> [UInt8] {
        let count = components.count
        var block = [UInt8](repeating: 0, count: 0x88 + 24 * count)
        block.writeBigEndian(UInt32(136 + 24 * count), at: 0x00)
        block[0x07] = 1
        block.writeBigEndian(UInt32(128 + 24 * count), at: 0x08)
        block[0x0C] = 5
        block[0x6F] = 1
        block.writeBigEndian(UInt32(count), at: 0x74)
        block.writeBigEndian(headerAddress, at: 0x78)
        block.writeBigEndian(headerSize, at: 0x80)
        for (index, component) in components.enumerated() {
            let entry = 0x88 + 24 * index
            block.writeBigEndian(component.tweak.prefix, at: entry)
            block.writeBigEndian(component.address, at: entry + 8)
            block.writeBigEndian(UInt64(component.preparedSize), at: entry + 16)
        }
        return block
    }

    /// pvimg's raw-kernel check: "S390EP" at 0x10008 and no ELF magic (spec §5; `--no-component-check` skips it).
    public static func isRawS390Kernel(_ kernel: [UInt8]) -> Bool {
        let marker = Array("S390EP".utf8)
        guard kernel.count >= 0x10008 + marker.count else { return false }
        return Array(kernel[0x10008 ..< 0x10008 + marker.count]) == marker && Array(kernel.prefix(4)) != [0x7F, 0x45, 0x4C, 0x46]
    }

    /// Rounds up to the next multiple of 4096.
    static func roundUp(_ value: Int) -> Int { (value + 4095) & ~4095 }
}
