// Operand and instruction storage access: logical -> real (DAT, when on) -> absolute (prefixing)
// -> host pointer. The fast path is one page, no DAT: a prefix test and a bounds test.

enum AccessKind { case fetch, store, instruction }

extension CPU {
    /// Effective address of base + index + displacement, wrapped to the addressing mode.
    @inline(__always)
    func effectiveAddress(base b: Int, index x: Int = 0, displacement d: UInt64) -> UInt64 {
        var address = d
        if b != 0 { address &+= gpr[b] }
        if x != 0 { address &+= gpr[x] }
        return address & addressMask
    }

    /// Address relative to the current instruction (`halfwords` counts 2-byte units).
    @inline(__always)
    func relativeAddress(_ halfwords: Int64) -> UInt64 {
        (currentInstructionAddress &+ UInt64(bitPattern: halfwords &* 2)) & addressMask
    }

    /// Prefixing: real pages 0-1 and the two pages at the prefix trade places.
    @inline(__always)
    public func realToAbsolute(_ real: UInt64) -> UInt64 {
        let block = real & ~0x1FFF
        return block == 0 || block == prefix ? real ^ prefix : real
    }

    /// Host pointer for the byte at logical `address`; the caller guarantees the access stays
    /// within its 4 KiB page.
    @inline(__always)
    func hostPointer(_ address: UInt64, _ kind: AccessKind) throws(CPUException) -> UnsafeMutableRawPointer {
        if _slowPath(accessChecks) { return try checkedHostPointer(address, kind) }
        let absolute = realToAbsolute(address)
        if _slowPath(absolute >= storage.size) { throw .program(.addressing) }
        return storage.base + Int(absolute)
    }

    /// The access path with DAT, low-address protection and key-controlled protection (PoP 3-10).
    @inline(never)
    func checkedHostPointer(_ address: UInt64, _ kind: AccessKind) throws(CPUException) -> UnsafeMutableRawPointer {
        let real: UInt64
        if dat {
            real = try translate(address, kind)   // includes low-address protection
        } else {
            if kind == .store { try checkLowAddressProtection(address) }
            real = address
        }
        let absolute = realToAbsolute(real)
        if _slowPath(absolute >= storage.size) { throw .program(.addressing) }
        let key = pswKey
        if key != 0 {
            let (fetch, store) = storageKeys.permits(absolute: absolute, accessKey: key, effectiveAddress: address, cr0: cr[0])
            if kind == .store ? !store : !fetch {
                exceptionTEID = (address & ~0xFFF) | (kind == .store ? DATBits.teidStore : DATBits.teidFetch)
                throw .program(.protection)
            }
        }
        return storage.base + Int(absolute)
    }

    /// Host pointer for a real address (lowcore and other real-storage operands).
    @inline(__always)
    func realPointer(_ real: UInt64) throws(CPUException) -> UnsafeMutableRawPointer {
        let absolute = realToAbsolute(real)
        if _slowPath(absolute >= storage.size) { throw .program(.addressing) }
        return storage.base + Int(absolute)
    }

    /// DAT (DAT.swift): logical to real, through this CPU's TLB.
    func translate(_ address: UInt64, _ kind: AccessKind) throws(CPUException) -> UInt64 {
        try translateDAT(address, kind, buffer: translationBuffer)
    }

    // MARK: Loads and stores of big-endian integers

    @inline(__always)
    func load<T: FixedWidthInteger & UnsignedInteger>(_ address: UInt64, as _: T.Type = T.self) throws(CPUException) -> T {
        if _fastPath((address & 0xFFF) &+ UInt64(MemoryLayout<T>.size) <= 0x1000) {
            return T(bigEndian: try hostPointer(address, .fetch).loadUnaligned(as: T.self))
        }
        var value: T = 0
        for offset in 0..<UInt64(MemoryLayout<T>.size) {
            value = value << 8 | T(try hostPointer((address &+ offset) & addressMask, .fetch).load(as: UInt8.self))
        }
        return value
    }

    @inline(__always)
    func store<T: FixedWidthInteger & UnsignedInteger>(_ address: UInt64, _ value: T) throws(CPUException) {
        if _fastPath((address & 0xFFF) &+ UInt64(MemoryLayout<T>.size) <= 0x1000) {
            try hostPointer(address, .store).storeBytes(of: value.bigEndian, as: T.self)
            return
        }
        // Translate every byte first: a store that fails must change nothing.
        let size = UInt64(MemoryLayout<T>.size)
        var pointers: [UnsafeMutableRawPointer] = []
        for offset in 0..<size { pointers.append(try hostPointer((address &+ offset) & addressMask, .store)) }
        for (index, pointer) in pointers.enumerated() {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * (size - 1 - UInt64(index)))), as: UInt8.self)
        }
    }

    @inline(__always) func load8(_ a: UInt64) throws(CPUException) -> UInt8 { try hostPointer(a, .fetch).load(as: UInt8.self) }
    @inline(__always) func load16(_ a: UInt64) throws(CPUException) -> UInt16 { try load(a) }
    @inline(__always) func load32(_ a: UInt64) throws(CPUException) -> UInt32 { try load(a) }
    @inline(__always) func load64(_ a: UInt64) throws(CPUException) -> UInt64 { try load(a) }
    @inline(__always) func store8(_ a: UInt64, _ v: UInt8) throws(CPUException) { try hostPointer(a, .store).storeBytes(of: v, as: UInt8.self) }
    @inline(__always) func store16(_ a: UInt64, _ v: UInt16) throws(CPUException) { try store(a, v) }
    @inline(__always) func store32(_ a: UInt64, _ v: UInt32) throws(CPUException) { try store(a, v) }
    @inline(__always) func store64(_ a: UInt64, _ v: UInt64) throws(CPUException) { try store(a, v) }

    /// Raises an addressing (or translation) exception now if any byte of the operand
    /// [address, address + length) is not accessible, so multi-page operations can be all-or-nothing.
    func checkAccess(_ address: UInt64, length: UInt64, _ kind: AccessKind) throws(CPUException) {
        guard length > 0 else { return }
        var page = address & ~0xFFF
        let last = (address &+ length &- 1) & addressMask
        while true {
            _ = try hostPointer(max(page, address) & addressMask, kind)
            if page == (last & ~0xFFF) { break }
            page = (page &+ 0x1000) & addressMask
        }
    }

    // MARK: Real storage (lowcore)

    func loadReal64(_ real: UInt64) throws(CPUException) -> UInt64 { UInt64(bigEndian: try realPointer(real).loadUnaligned(as: UInt64.self)) }
    func storeReal64(_ real: UInt64, _ v: UInt64) throws(CPUException) { try realPointer(real).storeBytes(of: v.bigEndian, as: UInt64.self) }
    func storeReal32(_ real: UInt64, _ v: UInt32) throws(CPUException) { try realPointer(real).storeBytes(of: v.bigEndian, as: UInt32.self) }
    func storeReal16(_ real: UInt64, _ v: UInt16) throws(CPUException) { try realPointer(real).storeBytes(of: v.bigEndian, as: UInt16.self) }
}

// MARK: Host access to guest storage (the kernel model's MEM_OP)

extension CPU {
    /// Reads `count` bytes at logical `address` as this CPU would (DAT, prefixing); throws the
    /// program-interruption code the access would raise.
    public func readLogical(_ address: UInt64, count: Int) throws(CPUException) -> [UInt8] {
        try checkAccess(address, length: UInt64(count), .fetch)
        var bytes = [UInt8](repeating: 0, count: count)
        for index in 0..<count { bytes[index] = try load8((address &+ UInt64(index)) & addressMask) }
        return bytes
    }

    /// Writes `bytes` at logical `address` as this CPU would; nothing is written if any byte fails.
    public func writeLogical(_ address: UInt64, _ bytes: [UInt8]) throws(CPUException) {
        try checkAccess(address, length: UInt64(bytes.count), .store)
        for (index, byte) in bytes.enumerated() { try store8((address &+ UInt64(index)) & addressMask, byte) }
    }

    /// STORE STATUS (PoP 4-82) at absolute `area` (the image of lowcore 0x1200-0x13FF), plus the
    /// architectural-mode id at `area - 0x1200 + 0xA3` when storing into the prefix area.
    public func storeStatus(atAbsolute area: UInt64, inPrefixArea: Bool) -> Bool {
        guard area + 0x200 <= storage.size else { return false }
        let base = storage.base + Int(area)
        func put64(_ offset: Int, _ value: UInt64) { base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self) }
        func put32(_ offset: Int, _ value: UInt32) { base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self) }
        for index in 0..<16 {
            put64(index * 8, fpr[index])
            put64(0x80 + index * 8, gpr[index])
            put32(0x140 + index * 4, ar[index])
            put64(0x180 + index * 8, cr[index])
        }
        let current = psw
        put64(0x100, current.mask)
        put64(0x108, current.address)
        put32(0x118, UInt32(truncatingIfNeeded: prefix))
        put32(0x11C, fpc)
        put32(0x124, todProgrammableRegister)
        put64(0x128, cpuTimer)
        put64(0x130, clockComparator >> 8)
        if inPrefixArea && area >= 0x1200 { (storage.base + Int(area - 0x1200 + 0xA3)).storeBytes(of: 1, as: UInt8.self) }
        return true
    }
}
