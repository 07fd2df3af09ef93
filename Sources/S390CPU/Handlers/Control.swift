// Control instructions (PoP chapter 10): PSW, control registers, prefix, identity, clocks,
// protection keys, translation. SERVC, SIGP and DIAG intercept to the machine (elsewhere).

import EBCDIC

extension CPU {
    // MARK: PSW

    /// Installs a PSW loaded by LPSW, LPSWE, SSM or STOSM. An invalid PSW is installed as it
    /// is (address not wrapped) and reported as a specification exception whose program-old
    /// PSW is the invalid PSW (spec 5.4, 7.1). A valid wait PSW leaves the run loop.
    private func installPSW(_ new: PSW) throws(CPUException) {
        loadPSW(new)
        if _slowPath(!new.isValid) {
            // The run loop recognizes it before the next instruction (early exception: ILC 0,
            // program-old PSW = the invalid PSW as it is).
            pswAddress = new.address
            return
        }
        if new.isWait { throw .intercept(.wait) }
    }


    @inline(__always) func lpsw(_ i: S) throws(CPUException) {
        let operand = effectiveAddress(base: i.b2, displacement: i.d2)
        try requireAlignment(operand, 8)
        let short = try load64(operand)
        breakingEventAddress = currentInstructionAddress
        // Bits 0-32 are the mask (bit 12 must be one, and is zero in the z/Architecture form).
        try installPSW(PSW(mask: (short & 0xFFFF_FFFF_8000_0000) ^ PSW.fixed12, address: short & 0x7FFF_FFFF))
    }

    @inline(__always) func lpswe(_ i: S) throws(CPUException) {
        let operand = effectiveAddress(base: i.b2, displacement: i.d2)
        try requireAlignment(operand, 8)
        let mask = try load64(operand)
        let address = try load64((operand &+ 8) & addressMask)
        breakingEventAddress = currentInstructionAddress
        try installPSW(PSW(mask: mask, address: address))
    }

    /// Replaces the system mask (PSW bits 0-7).
    @inline(__always) private func setSystemMask(_ byte: UInt8) throws(CPUException) {
        try installPSW(PSW(mask: (pswMask & 0x00FF_FFFF_FFFF_FFFF) | UInt64(byte) << 56 | UInt64(cc) << 44, address: pswAddress))
    }
    private var systemMask: UInt8 { UInt8(truncatingIfNeeded: pswMask >> 56) }

    @inline(__always) func ssm(_ i: S) throws(CPUException) {
        if cr[0] & 0x4000_0000 != 0 { throw .program(.specialOperation) }   // CR0 bit 33: SSM suppression
        try setSystemMask(try load8(effectiveAddress(base: i.b2, displacement: i.d2)))
    }
    @inline(__always) func stnsm(_ i: SI) throws(CPUException) {
        try store8(effectiveAddress(base: i.b1, displacement: i.d1), systemMask)
        try setSystemMask(systemMask & i.i2)
    }
    @inline(__always) func stosm(_ i: SI) throws(CPUException) {
        try store8(effectiveAddress(base: i.b1, displacement: i.d1), systemMask)
        try setSystemMask(systemMask | i.i2)
    }

    // MARK: Control registers

    /// LCTL/LCTLG: control registers r1..r3 (wrapping 15 -> 0) from consecutive words/doublewords.
    @inline(__always) private func loadControl(r1: Int, r3: Int, address: UInt64, wide: Bool) throws(CPUException) {
        let size: UInt64 = wide ? 8 : 4
        try requireAlignment(address, size)
        let count = (r3 &- r1) & 15 &+ 1
        try checkAccess(address, length: UInt64(count) &* size, .fetch)
        var changed: UInt16 = 0
        for n in 0..<count {
            let r = (r1 &+ n) & 15, operand = (address &+ UInt64(n) &* size) & addressMask
            cr[r] = wide ? try load64(operand) : (cr[r] & 0xFFFF_FFFF_0000_0000) | UInt64(try load32(operand))
            changed |= 1 << r
        }
        // CR0, CR1, CR7, CR13: translation controls and address-space designations.
        if changed & (1 << 0 | 1 << 1 | 1 << 7 | 1 << 13) != 0 { invalidateTranslations() }
        if changed & 1 != 0 { refreshAccessChecks() }
        // Interruption subclass masks may have changed.
        interruptions.requestAttention()
        endBlock = true
    }
    @inline(__always) private func storeControl(r1: Int, r3: Int, address: UInt64, wide: Bool) throws(CPUException) {
        let size: UInt64 = wide ? 8 : 4
        try requireAlignment(address, size)
        let count = (r3 &- r1) & 15 &+ 1
        try checkAccess(address, length: UInt64(count) &* size, .store)
        for n in 0..<count {
            let r = (r1 &+ n) & 15, operand = (address &+ UInt64(n) &* size) & addressMask
            if wide { try store64(operand, cr[r]) } else { try store32(operand, UInt32(truncatingIfNeeded: cr[r])) }
        }
    }
    @inline(__always) func lctl(_ i: RS) throws(CPUException) { try loadControl(r1: i.r1, r3: i.r3, address: operand2Address(i), wide: false) }
    @inline(__always) func lctlg(_ i: RSY) throws(CPUException) { try loadControl(r1: i.r1, r3: i.r3, address: operand2Address(i), wide: true) }
    @inline(__always) func stctl(_ i: RS) throws(CPUException) { try storeControl(r1: i.r1, r3: i.r3, address: operand2Address(i), wide: false) }
    @inline(__always) func stctg(_ i: RSY) throws(CPUException) { try storeControl(r1: i.r1, r3: i.r3, address: operand2Address(i), wide: true) }

    // MARK: Prefix and identity

    /// The aligned second-operand address of an S-format instruction.
    @inline(__always) private func alignedOperand(_ i: S, _ size: UInt64) throws(CPUException) -> UInt64 {
        let operand = effectiveAddress(base: i.b2, displacement: i.d2)
        try requireAlignment(operand, size)
        return operand
    }

    @inline(__always) func spx(_ i: S) throws(CPUException) {
        let value = UInt64(try load32(try alignedOperand(i, 4))) & 0x7FFF_E000
        if value &+ 0x1FFF >= storage.size { throw .program(.addressing) }
        setPrefix(value)
    }
    @inline(__always) func stpx(_ i: S) throws(CPUException) { try store32(try alignedOperand(i, 4), UInt32(truncatingIfNeeded: prefix)) }
    @inline(__always) func stap(_ i: S) throws(CPUException) { try store16(try alignedOperand(i, 2), address) }
    @inline(__always) func stidp(_ i: S) throws(CPUException) { try store64(try alignedOperand(i, 8), model.cpuID) }
    @inline(__always) func stfl(_ i: S) throws(CPUException) {
        var word: UInt32 = 0
        for bit in 0..<32 where model.facilities.contains(bit) { word |= 0x8000_0000 >> UInt32(bit) }
        try storeReal32(Lowcore.facilityList, word)
    }

    // MARK: STORE SYSTEM INFORMATION (spec 7.8, QEMU's TCG SYSIBs)

    @inline(__always) func stsi(_ i: S) throws(CPUException) {
        let r0 = gpr[0], r1 = gpr[1]
        let function = (r0 >> 28) & 0xF
        if function > 3 { cc = 3; return }
        if r0 & 0x0FFF_FF00 != 0 || r1 & 0xFFFF_0000 != 0 { throw .program(.specification) }
        if function == 0 {
            gpr[0] = (r0 & 0xFFFF_FFFF_0000_0000) | 0x3000_0000   // current level: 3 (VM)
            cc = 0
            return
        }
        let operand = try alignedOperand(i, 4096)
        let selector1 = r0 & 0xFF, selector2 = r1 & 0xFFFF
        switch (function, selector1, selector2) {
        case (1, 1, 1), (1, 2, 1), (1, 2, 2), (2, 2, 1), (2, 2, 2), (3, 2, 2): break
        default: cc = 3; return
        }
        let page = try hostPointer(operand, .store)
        page.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
        let identity = self.identity
        let total = UInt16(truncatingIfNeeded: max(identity.maxCPUs, identity.cpuCount)), configured = UInt16(truncatingIfNeeded: identity.cpuCount)
        func put16(_ offset: Int, _ value: UInt16) { page.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self) }
        func put32(_ offset: Int, _ value: UInt32) { page.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self) }
        func putCounts(_ offset: Int) {   // total, configured, standby, reserved
            put16(offset, total); put16(offset + 2, configured); put16(offset + 6, total &- configured)
        }
        switch (function, selector2) {
        case (1, 1) where selector1 == 1:   // basic-machine configuration
            putEBCDIC(page + 32, "QEMU", width: 16)
            putEBCDIC(page + 48, "8561", width: 4)
            putEBCDIC(page + 64, "QEMU", width: 16)
            putEBCDIC(page + 80, "QEMU", width: 16)
            putEBCDIC(page + 96, "QEMU", width: 4)
        case (1, 1), (2, 1):                // basic-machine CPU, logical-partition CPU
            putEBCDIC(page + 80, "QEMUQEMUQEMUQEMU", width: 16)
            putEBCDIC(page + 96, "QEMU", width: 4)
            put16(102, address)
        case (1, 2):                        // basic-machine CPUs
            put32(32, 0x443A_FC29)
            putCounts(36)
        case (2, 2):                        // logical-partition CPUs
            page.storeBytes(of: 0x80 as UInt8, toByteOffset: 35, as: UInt8.self)   // dedicated
            putCounts(36)
            putEBCDIC(page + 44, "QEMU", width: 8)
            put32(52, 1000)
            put16(72, configured)
        default:                            // 3.2.2: virtual-machine CPUs, one level
            page.storeBytes(of: 1 as UInt8, toByteOffset: 31, as: UInt8.self)
            putCounts(36)
            putEBCDIC(page + 44, identity.name, width: 8)
            put32(52, 1000)
            putEBCDIC(page + 56, "KVM/Linux", width: 16)
            page.storeBytes(of: 2 as UInt8, toByteOffset: 75, as: UInt8.self)    // extended name: UTF-8
            for (index, byte) in identity.uuid.prefix(16).enumerated() { page.storeBytes(of: byte, toByteOffset: 80 + index, as: UInt8.self) }
            for (index, byte) in identity.name.utf8.prefix(255).enumerated() { page.storeBytes(of: byte, toByteOffset: 2048 + index, as: UInt8.self) }
            if hostAmendsSystemInformation {
                cc = 0
                throw .intercept(.systemInformation(address: operand))
            }
        }
        cc = 0
    }

    /// Writes `text` in EBCDIC, padded with EBCDIC blanks to `width` bytes.
    private func putEBCDIC(_ to: UnsafeMutableRawPointer, _ text: String, width: Int) {
        for (index, byte) in EBCDIC.encode(text, width: width).enumerated() { to.storeBytes(of: byte, toByteOffset: index, as: UInt8.self) }
    }

    // MARK: Clocks (spec 7.7)

    @inline(__always) func sck(_ i: S) throws(CPUException) {
        clock.set(try load64(try alignedOperand(i, 8)))
        cc = 0
        endBlock = true   // the clock comparator may have become pending
    }
    @inline(__always) func sckc(_ i: S) throws(CPUException) {
        clockComparator = try load64(try alignedOperand(i, 8))
        endBlock = true
    }
    @inline(__always) func stckc(_ i: S) throws(CPUException) { try store64(try alignedOperand(i, 8), clockComparator) }
    @inline(__always) func spt(_ i: S) throws(CPUException) {
        cpuTimer = try load64(try alignedOperand(i, 8))
        endBlock = true
    }
    @inline(__always) func stpt(_ i: S) throws(CPUException) { try store64(try alignedOperand(i, 8), cpuTimer) }
    @inline(__always) func sckpf(_ i: E) throws(CPUException) {
        if gpr[0] & 0xFFFF_0000 != 0 { throw .program(.specification) }
        todProgrammableRegister = UInt32(truncatingIfNeeded: gpr[0] & 0xFFFF)
    }

    // MARK: PSW key

    @inline(__always) func spka(_ i: S) throws(CPUException) {
        let key = (effectiveAddress(base: i.b2, displacement: i.d2) >> 4) & 0xF
        // Problem state: the key must be authorized by the PSW-key mask (CR3 bits 32-47).
        if problemState && cr[3] & (0x8000_0000 >> key) == 0 { throw .program(.privilegedOperation) }
        pswMask = (pswMask & ~PSW.key) | key << 52
    }
    @inline(__always) func ipk(_ i: S) throws(CPUException) {
        // Problem state needs the extraction-authority control (CR0 bit 36).
        if problemState && cr[0] & 0x0800_0000 == 0 { throw .program(.privilegedOperation) }
        gpr[2] = (gpr[2] & ~0xFF) | UInt64(pswKey) << 4
    }

    // MARK: Storage blocks and protection

    @inline(__always) func tb(_ i: RRE) throws(CPUException) {
        let real = gpr[i.r2] & addressMask & ~0xFFF
        try checkLowAddressProtection(real)
        let block = try realPointer(real)
        block.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
        cc = 0
    }

    @inline(__always) func tprot(_ i: SSE) throws(CPUException) {
        let operand = effectiveAddress(base: i.b1, displacement: i.d1)
        var real = operand, storeAllowed = true
        if dat {
            let (asce, _) = addressSpace(for: .fetch)
            let result = walkDAT(operand, asce: asce)
            if let code = result.code {
                switch code {
                case .asceType, .regionFirstTranslation, .regionSecondTranslation, .regionThirdTranslation,
                     .segmentTranslation, .pageTranslation:
                    cc = 3   // translation not available
                    return
                default: throw .program(code)
                }
            }
            real = result.real
            storeAllowed = !result.protected && !isLowAddressProtected(operand, asce: asce)
        } else {
            storeAllowed = !isLowAddressProtected(operand, asce: nil)
        }
        let absolute = realToAbsolute(real)
        if absolute >= storage.size { throw .program(.addressing) }
        // The access key is bits 56-59 of the second-operand address.
        let accessKey = UInt8(truncatingIfNeeded: effectiveAddress(base: i.b2, displacement: i.d2) >> 4) & 0xF
        let keyCondition = storageKeys.protectionCondition(absolute: absolute, accessKey: accessKey,
                                                           effectiveAddress: operand, cr0: cr[0])
        cc = keyCondition == 2 ? 2 : (keyCondition == 1 || !storeAllowed ? 1 : 0)
    }

    // MARK: Storage keys

    /// The absolute frame address for the real address in R2 (ISKE, SSKE, RRBE).
    @inline(__always) private func keyFrame(_ r2: Int) throws(CPUException) -> UInt64 {
        let absolute = realToAbsolute(gpr[r2] & addressMask)
        if absolute >= storage.size { throw .program(.addressing) }
        return absolute
    }

    @inline(__always) func iske(_ i: RRE) throws(CPUException) {
        let key = storageKeys.key(absolute: try keyFrame(i.r2))
        gpr[i.r1] = (gpr[i.r1] & ~0xFF) | UInt64(key)
    }
    @inline(__always) func sske(_ i: RRF) throws(CPUException) {
        // No conditional-SSKE facility (fac 10) is offered, so M3 is ignored.
        storageKeys.setKey(absolute: try keyFrame(i.r2), UInt8(truncatingIfNeeded: gpr[i.r1]))
        invalidateTranslationsEverywhere()
    }
    @inline(__always) func rrbe(_ i: RRE) throws(CPUException) { cc = storageKeys.resetReference(absolute: try keyFrame(i.r2)) }
    @inline(__always) func ivsk(_ i: RRE) throws(CPUException) {
        if !dat { throw .program(.specialOperation) }
        // In problem state the extraction-authority control (CR0 bit 36) must be one.
        if problemState && cr[0] & 0x0800_0000 == 0 { throw .program(.privilegedOperation) }
        let real = try translate(gpr[i.r2] & addressMask, .fetch)
        let absolute = realToAbsolute(real)
        if absolute >= storage.size { throw .program(.addressing) }
        gpr[i.r1] = (gpr[i.r1] & ~0xFF) | UInt64(storageKeys.key(absolute: absolute) & 0xF8)
    }

    // MARK: Translation

    @inline(__always) func ptlb(_ i: S) throws(CPUException) { invalidateTranslations() }

    /// Sets the I bit of the table entry at absolute `entry` (IPTE, IDTE).
    @inline(__always) private func setEntryInvalid(_ entry: UInt64, bit: UInt64) throws(CPUException) {
        guard entry <= storage.size &- 8 else { throw .program(.addressing) }
        let pointer = storage.base + Int(entry)
        let value = UInt64(bigEndian: pointer.loadUnaligned(as: UInt64.self))
        pointer.storeBytes(of: (value | bit).bigEndian, as: UInt64.self)
    }

    @inline(__always) func ipte(_ i: RRF) throws(CPUException) {
        let entry = (gpr[i.r1] & DATBits.pageTableOrigin) &+ ((gpr[i.r2] >> 12) & 0xFF) &* 8
        try setEntryInvalid(entry, bit: DATBits.pageInvalid)
        invalidateTranslationsEverywhere()
    }

    @inline(__always) func idte(_ i: RRF) throws(CPUException) {
        let r1 = gpr[i.r1], r2 = gpr[i.r2]
        if r2 & 0xFF000 != 0 { throw .program(.specification) }   // bits 44-51
        if r2 & 0x800 == 0 {
            // Invalidation and clearing: entries index .. index + count - 1 of the table R1 designates.
            let table = r1 & DATBits.origin
            let index = (r2 >> (20 + 11 * ((r1 >> 2) & 3))) & 0x7FF
            for n in 0...(r2 & 0x7FF) {
                try setEntryInvalid(table &+ ((index &+ n) & 0x7FF) &* 8, bit: DATBits.invalid)
            }
        }
        invalidateTranslationsEverywhere()
    }

    /// LRA/LRAG: translate regardless of the DAT bit; CC 0 real address, 1 segment entry
    /// invalid, 2 page entry invalid (R1 = the entry's address), 3 region entry invalid (R1 = its
    /// address) or a length / ASCE-type condition (R1 bits 32-63 = 0x8000_0000 | code).
    @inline(__always) private func loadRealAddress(r1: Int, operand: UInt64, wide: Bool) throws(CPUException) {
        let result = walkDAT(operand, asce: addressSpace(for: .fetch).asce)
        var value = result.real, condition: UInt8 = 0
        if let code = result.code {
            switch code {
            case .addressing, .translationSpecification: throw .program(code)
            default: break
            }
            guard result.invalidEntry else {
                gpr[r1] = (gpr[r1] & 0xFFFF_FFFF_0000_0000) | 0x8000_0000 | UInt64(code.rawValue)
                cc = 3
                return
            }
            value = result.entryAddress
            condition = code == .segmentTranslation ? 1 : code == .pageTranslation ? 2 : 3
        }
        if wide || addressMask == .max {
            gpr[r1] = value
        } else {
            if value >> 31 != 0 { throw .program(.specialOperation) }
            gpr[r1] = (gpr[r1] & 0xFFFF_FFFF_0000_0000) | value
        }
        cc = condition
    }
    @inline(__always) func lra(_ i: RX) throws(CPUException) {
        try loadRealAddress(r1: i.r1, operand: effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2), wide: false)
    }
    @inline(__always) func lrag(_ i: RXY) throws(CPUException) {
        try loadRealAddress(r1: i.r1, operand: effectiveAddress(base: i.b2, index: i.x2, displacement: i.d2), wide: true)
    }

    @inline(__always) func sacf(_ i: S) throws(CPUException) {
        let mode = (effectiveAddress(base: i.b2, displacement: i.d2) >> 8) & 0xF
        let space: UInt64
        switch mode {
        case 0: space = 0        // primary
        case 1: space = 2        // secondary
        case 2: space = 1        // access register
        case 3:
            if problemState { throw .program(.privilegedOperation) }
            space = 3            // home
        default: throw .program(.specification)
        }
        // Secondary-space and AR modes need DAT on and the secondary-space control (CR0 bit 37).
        if (space == 1 || space == 2) && (!dat || cr[0] & DATBits.cr0SecondarySpace == 0) {
            throw .program(.specialOperation)
        }
        pswMask = (pswMask & ~PSW.addressSpace) | space << 46
        fetchPage = .max
        endBlock = true
    }

    @inline(__always) func palb(_ i: RRE) throws(CPUException) {}

    /// EXTRACT CPU ATTRIBUTE: no cache information, as QEMU (-1 for every attribute).
    @inline(__always) func ecag(_ i: RSY) throws(CPUException) { gpr[i.r1] = .max }

    // MARK: Real-storage access

    @inline(__always) private func realOperand(_ r2: Int, _ size: UInt64) throws(CPUException) -> UInt64 {
        let real = gpr[r2] & addressMask
        try requireAlignment(real, size)
        return real
    }
    @inline(__always) func lura(_ i: RRE) throws(CPUException) {
        let value = UInt32(bigEndian: try realPointer(try realOperand(i.r2, 4)).loadUnaligned(as: UInt32.self))
        gpr[i.r1] = (gpr[i.r1] & 0xFFFF_FFFF_0000_0000) | UInt64(value)
    }
    @inline(__always) func lurag(_ i: RRE) throws(CPUException) { gpr[i.r1] = try loadReal64(try realOperand(i.r2, 8)) }
    @inline(__always) func stura(_ i: RRE) throws(CPUException) {
        let real = try realOperand(i.r2, 4)
        try checkLowAddressProtection(real)
        try storeReal32(real, UInt32(truncatingIfNeeded: gpr[i.r1]))
    }
    @inline(__always) func sturg(_ i: RRE) throws(CPUException) {
        let real = try realOperand(i.r2, 8)
        try checkLowAddressProtection(real)
        try storeReal64(real, gpr[i.r1])
    }

    // MARK: MOVE PAGE

    @inline(__always) func mvpg(_ i: RRE) throws(CPUException) {
        let r0 = gpr[0]
        let destinationKey = r0 & 0x800 != 0, sourceKey = r0 & 0x400 != 0, conditionOption = r0 & 0x100 != 0
        if (destinationKey && sourceKey) || r0 & 0xF000 != 0 { throw .program(.specification) }
        if problemState && (destinationKey || sourceKey) && cr[3] & (0x8000_0000 >> ((r0 >> 4) & 0xF)) == 0 {
            throw .program(.privilegedOperation)
        }
        let source: UnsafeMutableRawPointer, destination: UnsafeMutableRawPointer
        do throws(CPUException) {
            source = try hostPointer(gpr[i.r2] & addressMask & ~0xFFF, .fetch)
        } catch {
            if conditionOption && isTranslationUnavailable(error) { cc = 2; return }
            try noteOperandAccess(error, r1: i.r1, r2: i.r2)
            throw error
        }
        do throws(CPUException) {
            destination = try hostPointer(gpr[i.r1] & addressMask & ~0xFFF, .store)
        } catch {
            if conditionOption && isTranslationUnavailable(error) { cc = 1; return }
            try noteOperandAccess(error, r1: i.r1, r2: i.r2)
            throw error
        }
        destination.copyMemory(from: source, byteCount: 4096)
        cc = 0
    }

    private func isTranslationUnavailable(_ error: CPUException) -> Bool {
        guard case .program(let code) = error else { return false }
        switch code {
        case .asceType, .regionFirstTranslation, .regionSecondTranslation, .regionThirdTranslation,
             .segmentTranslation, .pageTranslation: return true
        default: return false
        }
    }

    /// MVPG page-translation exceptions identify the operands (lowcore 0xA2, as QEMU).
    private func noteOperandAccess(_ error: CPUException, r1: Int, r2: Int) throws(CPUException) {
        if case .program(.pageTranslation) = error {
            try realPointer(Lowcore.operandAccessID).storeBytes(of: UInt8(r1 << 4 | r2), as: UInt8.self)
        }
    }
}

extension CPU.Lowcore {
    static let operandAccessID: UInt64 = 0xA2
    static let facilityList: UInt64 = 0xC8
}
