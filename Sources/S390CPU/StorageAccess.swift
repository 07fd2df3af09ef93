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
    func realToAbsolute(_ real: UInt64) -> UInt64 {
        let block = real & ~0x1FFF
        return block == 0 || block == prefix ? real ^ prefix : real
    }

    /// Host pointer for the byte at logical `address`; the caller guarantees the access stays
    /// within its 4 KiB page.
    @inline(__always)
    func hostPointer(_ address: UInt64, _ kind: AccessKind) throws(CPUException) -> UnsafeMutableRawPointer {
        let real = _slowPath(dat) ? try translate(address, kind) : address
        let absolute = realToAbsolute(real)
        if _slowPath(absolute >= storage.size) { throw .program(.addressing) }
        return storage.base + Int(absolute)
    }

    /// Host pointer for a real address (lowcore and other real-storage operands).
    @inline(__always)
    func realPointer(_ real: UInt64) throws(CPUException) -> UnsafeMutableRawPointer {
        let absolute = realToAbsolute(real)
        if _slowPath(absolute >= storage.size) { throw .program(.addressing) }
        return storage.base + Int(absolute)
    }

    /// DAT: the dynamic-address-translation walk is not implemented yet; with DAT on, every
    /// access is refused as an ASCE-type exception rather than silently treated as real.
    func translate(_ address: UInt64, _ kind: AccessKind) throws(CPUException) -> UInt64 {
        exceptionTEID = address & ~0xFFF
        throw .program(.asceType)
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
