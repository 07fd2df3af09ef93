// Storage-to-storage, string and interlocked-update instructions (PoP chapter 7).
//
// SS-format operations (MVC, XC, CLC, ...) are defined byte by byte, left to right: an
// overlapping MVC whose destination starts one byte after its source propagates that byte.
// They are executed in segments in which neither operand crosses a 4 KiB page, on host
// pointers; a plain byte loop on host memory keeps the one-byte-at-a-time semantics whenever
// the host operands overlap destructively. Both operands are checked before anything is
// stored, so a failing operation changes nothing.
//
// Interlocked updates (CS, CDS, LAA, TS, ...) run as host atomics on the guest storage word:
// other vCPUs run concurrently on other host threads. Guest values are big-endian, so the
// atomics operate on the byte-swapped representation (bitwise operations need no swap).

import Synchronization

/// The byte operation of an SS-a instruction applied in `ssUpdate`.
private enum StorageOperation { case move, and, or, xor, moveNumerics, moveZones }

/// The update of a LOAD AND ADD/AND/OR/EXCLUSIVE OR instruction.
private enum InterlockedOperation { case add, addLogical, and, or, xor }

extension CPU {
    // MARK: Shared helpers

    /// Bytes from `address` to the end of its 4 KiB page.
    @inline(__always) private func bytesToPageEnd(_ address: UInt64) -> UInt64 { 0x1000 &- (address & 0xFFF) }

    /// Sets an address register as MVCL, CLCL, MVCLE and CLCLE do: in the 24- and 31-bit modes
    /// the bits of 32-63 left of the address are zeroed, bits 0-31 are kept.
    @inline(__always) private func setOperandAddressClearingHigh(_ r: Int, _ address: UInt64) {
        switch addressMask {
        case .max: gpr[r] = address
        default: gpr[r] = (gpr[r] & 0xFFFF_FFFF_0000_0000) | (address & addressMask)
        }
    }

    /// Sets an address register as MVST, CLST, SRST and TRT do: only the address bits change.
    @inline(__always) private func setOperandAddressKeepingHigh(_ r: Int, _ address: UInt64) {
        gpr[r] = (gpr[r] & ~addressMask) | (address & addressMask)
    }

    /// A length register of MVCLE/CLCLE: 64 bits in the 64-bit mode, else bits 32-63.
    @inline(__always) private func extendedLength(_ r: Int) -> UInt64 {
        addressMask == .max ? gpr[r] : gpr[r] & 0xFFFF_FFFF
    }
    @inline(__always) private func setExtendedLength(_ r: Int, _ length: UInt64) {
        gpr[r] = addressMask == .max ? length : (gpr[r] & 0xFFFF_FFFF_0000_0000) | (length & 0xFFFF_FFFF)
    }

    // MARK: SS-a logical operations and moves

    /// Applies `op` to `n` bytes (one segment within a page for both operands); returns the OR
    /// of the result bytes (for the AND/OR/XOR condition code).
    @inline(__always)
    private func applyStorageOperation(_ op: StorageOperation, _ d: UnsafeMutablePointer<UInt8>,
                                       _ s: UnsafeMutablePointer<UInt8>, _ n: Int) -> UInt8 {
        let disjoint = d + n <= s || s + n <= d
        switch op {
        case .move:
            if d == s { return 0 }
            if disjoint || d < s {
                // Left-to-right with the destination below the source equals memmove.
                UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: n)
            } else if d == s + 1 {
                d.update(repeating: s[0], count: n)   // the one-byte propagation idiom
            } else {
                for k in 0..<n { d[k] = s[k] }
            }
            return 0
        case .xor where d == s:
            d.update(repeating: 0, count: n)
            return 0
        case .and, .or, .xor:
            var any: UInt64 = 0
            var k = 0
            if disjoint {
                let rd = UnsafeMutableRawPointer(d), rs = UnsafeMutableRawPointer(s)
                while k &+ 8 <= n {
                    let a = rd.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                    let b = rs.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                    let r = op == .and ? a & b : op == .or ? a | b : a ^ b
                    rd.storeBytes(of: r, toByteOffset: k, as: UInt64.self)
                    any |= r
                    k &+= 8
                }
            }
            while k < n {
                let r = op == .and ? d[k] & s[k] : op == .or ? d[k] | s[k] : d[k] ^ s[k]
                d[k] = r
                any |= UInt64(r)
                k &+= 1
            }
            return any != 0 ? 1 : 0
        case .moveNumerics:
            for k in 0..<n { d[k] = (d[k] & 0xF0) | (s[k] & 0x0F) }
            return 0
        case .moveZones:
            for k in 0..<n { d[k] = (d[k] & 0x0F) | (s[k] & 0xF0) }
            return 0
        }
    }

    /// Runs an SS-a update of `length` bytes at `dst` with the operand at `src`; returns true if
    /// any result byte is nonzero.
    @inline(__always)
    private func ssUpdate(_ op: StorageOperation, dst: UInt64, src: UInt64, length: UInt64) throws(CPUException) -> Bool {
        if _fastPath(bytesToPageEnd(dst) >= length && bytesToPageEnd(src) >= length) {
            let s = try hostPointer(src, .fetch).assumingMemoryBound(to: UInt8.self)
            let d = try hostPointer(dst, .store).assumingMemoryBound(to: UInt8.self)
            return applyStorageOperation(op, d, s, Int(length)) != 0
        }
        try checkAccess(src, length: length, .fetch)
        try checkAccess(dst, length: length, .store)
        var d = dst, s = src, remaining = length, any: UInt8 = 0
        while remaining > 0 {
            let n = min(remaining, bytesToPageEnd(d), bytesToPageEnd(s))
            let hs = try hostPointer(s, .fetch).assumingMemoryBound(to: UInt8.self)
            let hd = try hostPointer(d, .store).assumingMemoryBound(to: UInt8.self)
            any |= applyStorageOperation(op, hd, hs, Int(n))
            d = (d &+ n) & addressMask; s = (s &+ n) & addressMask; remaining &-= n
        }
        return any != 0
    }

    @inline(__always) private func ssOperands(_ i: SSa) -> (dst: UInt64, src: UInt64, length: UInt64) {
        (effectiveAddress(base: i.b1, displacement: i.d1), effectiveAddress(base: i.b2, displacement: i.d2), i.l &+ 1)
    }
    @inline(__always) private func ssLogical(_ i: SSa, _ op: StorageOperation) throws(CPUException) {
        let o = ssOperands(i)
        cc = try ssUpdate(op, dst: o.dst, src: o.src, length: o.length) ? 1 : 0
    }
    @inline(__always) private func ssMove(_ i: SSa, _ op: StorageOperation) throws(CPUException) {
        let o = ssOperands(i)
        _ = try ssUpdate(op, dst: o.dst, src: o.src, length: o.length)
    }

    @inline(__always) func mvc(_ i: SSa) throws(CPUException) { try ssMove(i, .move) }
    @inline(__always) func mvn(_ i: SSa) throws(CPUException) { try ssMove(i, .moveNumerics) }
    @inline(__always) func mvz(_ i: SSa) throws(CPUException) { try ssMove(i, .moveZones) }
    @inline(__always) func xc(_ i: SSa) throws(CPUException) { try ssLogical(i, .xor) }
    @inline(__always) func oc(_ i: SSa) throws(CPUException) { try ssLogical(i, .or) }
    @inline(__always) func nc(_ i: SSa) throws(CPUException) { try ssLogical(i, .and) }

    /// COMPARE LOGICAL (character): CC 0 equal, 1 first operand low, 2 high.
    @inline(__always) func clc(_ i: SSa) throws(CPUException) {
        let o = ssOperands(i)
        if _slowPath(bytesToPageEnd(o.dst) < o.length || bytesToPageEnd(o.src) < o.length) {
            try checkAccess(o.dst, length: o.length, .fetch)
            try checkAccess(o.src, length: o.length, .fetch)
        }
        var a = o.dst, b = o.src, remaining = o.length
        while remaining > 0 {
            let n = Int(min(remaining, bytesToPageEnd(a), bytesToPageEnd(b)))
            let ha = try hostPointer(a, .fetch), hb = try hostPointer(b, .fetch)
            var k = 0
            while k &+ 8 <= n {
                let x = UInt64(bigEndian: ha.loadUnaligned(fromByteOffset: k, as: UInt64.self))
                let y = UInt64(bigEndian: hb.loadUnaligned(fromByteOffset: k, as: UInt64.self))
                if x != y { cc = x < y ? 1 : 2; return }
                k &+= 8
            }
            while k < n {
                let x = ha.load(fromByteOffset: k, as: UInt8.self), y = hb.load(fromByteOffset: k, as: UInt8.self)
                if x != y { cc = x < y ? 1 : 2; return }
                k &+= 1
            }
            a = (a &+ UInt64(n)) & addressMask; b = (b &+ UInt64(n)) & addressMask; remaining &-= UInt64(n)
        }
        cc = 0
    }

    /// The 256-byte translation table of TR/TRT, checked as a whole before use.
    @inline(__always) private func translationTable(_ address: UInt64) throws(CPUException) -> UnsafeMutablePointer<UInt8>? {
        if bytesToPageEnd(address) >= 256 { return try hostPointer(address, .fetch).assumingMemoryBound(to: UInt8.self) }
        try checkAccess(address, length: 256, .fetch)
        return nil
    }
    @inline(__always) private func tableByte(_ host: UnsafeMutablePointer<UInt8>?, _ table: UInt64, _ index: UInt8) throws(CPUException) -> UInt8 {
        if let host { return host[Int(index)] }
        return try load8((table &+ UInt64(index)) & addressMask)
    }

    /// TRANSLATE: each first-operand byte is replaced by the table byte it indexes.
    @inline(__always) func tr(_ i: SSa) throws(CPUException) {
        let o = ssOperands(i)
        try checkAccess(o.dst, length: o.length, .store)
        let table = try translationTable(o.src)
        var a = o.dst, remaining = o.length
        while remaining > 0 {
            let n = min(remaining, bytesToPageEnd(a))
            let h = try hostPointer(a, .store).assumingMemoryBound(to: UInt8.self)
            for k in 0..<Int(n) { h[k] = try tableByte(table, o.src, h[k]) }
            a = (a &+ n) & addressMask; remaining &-= n
        }
    }

    /// TRANSLATE AND TEST: finds the first byte whose function byte is nonzero; GR1 gets its
    /// address, GR2 bits 56-63 the function byte; CC 0 none, 1 found before the last byte, 2 at it.
    @inline(__always) func trt(_ i: SSa) throws(CPUException) {
        let o = ssOperands(i)
        try checkAccess(o.dst, length: o.length, .fetch)
        let table = try translationTable(o.src)
        var a = o.dst
        for k in 0..<o.length {
            let function = try tableByte(table, o.src, try load8(a))
            if function != 0 {
                setOperandAddressKeepingHigh(1, a)
                gpr[2] = (gpr[2] & ~0xFF) | UInt64(function)
                cc = k == o.length &- 1 ? 2 : 1
                return
            }
            a = (a &+ 1) & addressMask
        }
        cc = 0
    }

    /// MOVE WITH OFFSET: the second operand goes left of the first operand's rightmost digit,
    /// right to left one byte at a time, zero-extended or truncated on the left.
    @inline(__always) func mvo(_ i: SSb) throws(CPUException) {
        let dst = effectiveAddress(base: i.b1, displacement: i.d1), src = effectiveAddress(base: i.b2, displacement: i.d2)
        try checkAccess(src, length: i.l2 &+ 1, .fetch)
        try checkAccess(dst, length: i.l1 &+ 1, .store)
        var d = (dst &+ i.l1) & addressMask, s = (src &+ i.l2) & addressMask
        var sourceLeft = i.l2 &+ 1
        var sourceByte = try load8(s)
        sourceLeft &-= 1
        try store8(d, (try load8(d) & 0x0F) | sourceByte << 4)
        for _ in 0..<i.l1 {
            d = (d &- 1) & addressMask
            var byte = sourceByte >> 4
            if sourceLeft > 0 {
                s = (s &- 1) & addressMask
                sourceByte = try load8(s)
                sourceLeft &-= 1
            } else {
                sourceByte = 0
            }
            byte |= sourceByte << 4
            try store8(d, byte)
        }
    }

    // MARK: Long moves and compares

    /// MOVE LONG: 24-bit lengths in R1+1/R2+1, pad in R2+1 bits 32-39. CC compares the lengths;
    /// CC 3 (nothing moved) on destructive overlap.
    @inline(__always) func mvcl(_ i: RR) throws(CPUException) {
        let r1 = i.r1, r2 = i.r2
        if _slowPath((r1 | r2) & 1 != 0) { throw .program(.specification) }
        var dst = gpr[r1] & addressMask, src = gpr[r2] & addressMask
        var dstLength = gpr[r1 + 1] & 0xFF_FFFF, srcLength = gpr[r2 + 1] & 0xFF_FFFF
        let pad = UInt8(truncatingIfNeeded: gpr[r2 + 1] >> 24)
        let moved = min(dstLength, srcLength)
        if moved > 0 && dst != src && ((dst &- src) & addressMask) < moved {
            cc = 3
            return
        }
        let result: UInt8 = dstLength == srcLength ? 0 : dstLength < srcLength ? 1 : 2
        defer {
            gpr[r1 + 1] = (gpr[r1 + 1] & ~0xFF_FFFF) | dstLength
            gpr[r2 + 1] = (gpr[r2 + 1] & ~0xFF_FFFF) | srcLength
            setOperandAddressClearingHigh(r1, dst)
            setOperandAddressClearingHigh(r2, src)
        }
        try moveLong(dst: &dst, dstLength: &dstLength, src: &src, srcLength: &srcLength, pad: pad, limit: .max)
        cc = result
    }

    /// Moves until the destination is full or `limit` bytes are stored, padding after the
    /// source ends; the cursors advance as segments complete (so they are exact on an exception).
    @inline(__always)
    private func moveLong(dst: inout UInt64, dstLength: inout UInt64, src: inout UInt64, srcLength: inout UInt64,
                          pad: UInt8, limit: UInt64) throws(CPUException) {
        var budget = limit
        while dstLength > 0 && budget > 0 {
            var n = min(dstLength, bytesToPageEnd(dst), budget)
            if srcLength > 0 {
                n = min(n, srcLength, bytesToPageEnd(src))
                let hs = try hostPointer(src, .fetch)
                let hd = try hostPointer(dst, .store)
                hd.copyMemory(from: hs, byteCount: Int(n))
                src = (src &+ n) & addressMask; srcLength &-= n
            } else {
                try hostPointer(dst, .store).initializeMemory(as: UInt8.self, repeating: pad, count: Int(n))
            }
            dst = (dst &+ n) & addressMask; dstLength &-= n; budget &-= n
        }
    }

    /// Compares with padding until an inequality or `limit` bytes; nil when the limit ended it.
    @inline(__always)
    private func compareLong(_ a: inout UInt64, _ aLength: inout UInt64, _ b: inout UInt64, _ bLength: inout UInt64,
                             pad: UInt8, limit: UInt64) throws(CPUException) -> UInt8? {
        var budget = limit
        while aLength > 0 || bLength > 0 {
            if budget == 0 { return nil }
            let x = aLength > 0 ? try load8(a) : pad
            let y = bLength > 0 ? try load8(b) : pad
            if x != y { return x < y ? 1 : 2 }
            if aLength > 0 { a = (a &+ 1) & addressMask; aLength &-= 1 }
            if bLength > 0 { b = (b &+ 1) & addressMask; bLength &-= 1 }
            budget &-= 1
        }
        return 0
    }

    /// COMPARE LOGICAL LONG: registers are left at the first unequal byte.
    @inline(__always) func clcl(_ i: RR) throws(CPUException) {
        let r1 = i.r1, r2 = i.r2
        if _slowPath((r1 | r2) & 1 != 0) { throw .program(.specification) }
        var a = gpr[r1] & addressMask, b = gpr[r2] & addressMask
        var aLength = gpr[r1 + 1] & 0xFF_FFFF, bLength = gpr[r2 + 1] & 0xFF_FFFF
        let pad = UInt8(truncatingIfNeeded: gpr[r2 + 1] >> 24)
        defer {
            gpr[r1 + 1] = (gpr[r1 + 1] & ~0xFF_FFFF) | aLength
            gpr[r2 + 1] = (gpr[r2 + 1] & ~0xFF_FFFF) | bLength
            setOperandAddressClearingHigh(r1, a)
            setOperandAddressClearingHigh(r2, b)
        }
        cc = try compareLong(&a, &aLength, &b, &bLength, pad: pad, limit: .max) ?? 0
    }

    /// MOVE LONG EXTENDED: pad = low byte of the second-operand address; at most one page of
    /// the destination per execution, CC 3 when more remains.
    @inline(__always) func mvcle(_ i: RS) throws(CPUException) {
        let r1 = i.r1, r3 = i.r3
        if _slowPath((r1 | r3) & 1 != 0) { throw .program(.specification) }
        let pad = UInt8(truncatingIfNeeded: effectiveAddress(base: i.b2, displacement: i.d2))
        var dst = gpr[r1] & addressMask, src = gpr[r3] & addressMask
        var dstLength = extendedLength(r1 + 1), srcLength = extendedLength(r3 + 1)
        let result: UInt8 = dstLength == srcLength ? 0 : dstLength < srcLength ? 1 : 2
        defer {
            setExtendedLength(r1 + 1, dstLength)
            setExtendedLength(r3 + 1, srcLength)
            setOperandAddressClearingHigh(r1, dst)
            setOperandAddressClearingHigh(r3, src)
        }
        try moveLong(dst: &dst, dstLength: &dstLength, src: &src, srcLength: &srcLength, pad: pad, limit: bytesToPageEnd(dst))
        cc = dstLength > 0 ? 3 : result
    }

    /// COMPARE LOGICAL LONG EXTENDED: at most 4096 bytes per execution, CC 3 when more remain.
    @inline(__always) func clcle(_ i: RS) throws(CPUException) {
        let r1 = i.r1, r3 = i.r3
        if _slowPath((r1 | r3) & 1 != 0) { throw .program(.specification) }
        let pad = UInt8(truncatingIfNeeded: effectiveAddress(base: i.b2, displacement: i.d2))
        var a = gpr[r1] & addressMask, b = gpr[r3] & addressMask
        var aLength = extendedLength(r1 + 1), bLength = extendedLength(r3 + 1)
        defer {
            setExtendedLength(r1 + 1, aLength)
            setExtendedLength(r3 + 1, bLength)
            setOperandAddressClearingHigh(r1, a)
            setOperandAddressClearingHigh(r3, b)
        }
        cc = try compareLong(&a, &aLength, &b, &bLength, pad: pad, limit: 4096) ?? 3
    }

    // MARK: Strings (terminator in GR0 bits 56-63)

    @inline(__always) private func stringTerminator() throws(CPUException) -> UInt8 {
        if _slowPath(gpr[0] & 0xFFFF_FF00 != 0) { throw .program(.specification) }
        return UInt8(truncatingIfNeeded: gpr[0])
    }

    /// MOVE STRING: CC 1 with R1 at the moved terminator; CC 3 after a CPU-determined amount
    /// (up to the first page end of either operand), both addresses advanced.
    @inline(__always) func mvst(_ i: RRE) throws(CPUException) {
        let terminator = try stringTerminator()
        let dst = gpr[i.r1] & addressMask, src = gpr[i.r2] & addressMask
        let n = Int(min(bytesToPageEnd(dst), bytesToPageEnd(src)))
        let hs = try hostPointer(src, .fetch).assumingMemoryBound(to: UInt8.self)
        let hd = try hostPointer(dst, .store).assumingMemoryBound(to: UInt8.self)
        for k in 0..<n {
            let byte = hs[k]
            hd[k] = byte
            if byte == terminator {
                setOperandAddressKeepingHigh(i.r1, dst &+ UInt64(k))
                cc = 1
                return
            }
        }
        setOperandAddressKeepingHigh(i.r1, dst &+ UInt64(n))
        setOperandAddressKeepingHigh(i.r2, src &+ UInt64(n))
        cc = 3
    }

    /// COMPARE LOGICAL STRING: CC 0 equal (registers unchanged), 1 first low, 2 first high
    /// (registers at the deciding bytes), 3 after a CPU-determined amount.
    @inline(__always) func clst(_ i: RRE) throws(CPUException) {
        let terminator = try stringTerminator()
        let a = gpr[i.r1] & addressMask, b = gpr[i.r2] & addressMask
        let n = Int(min(bytesToPageEnd(a), bytesToPageEnd(b)))
        let ha = try hostPointer(a, .fetch).assumingMemoryBound(to: UInt8.self)
        let hb = try hostPointer(b, .fetch).assumingMemoryBound(to: UInt8.self)
        for k in 0..<n {
            let x = ha[k], y = hb[k]
            if x == y {
                if x == terminator { cc = 0; return }
                continue
            }
            cc = x == terminator ? 1 : y == terminator ? 2 : x < y ? 1 : 2
            setOperandAddressKeepingHigh(i.r1, a &+ UInt64(k))
            setOperandAddressKeepingHigh(i.r2, b &+ UInt64(k))
            return
        }
        setOperandAddressKeepingHigh(i.r1, a &+ UInt64(n))
        setOperandAddressKeepingHigh(i.r2, b &+ UInt64(n))
        cc = 3
    }

    /// SEARCH STRING: from R2 up to (not including) the end address in R1. CC 1 found (R1 at
    /// the character), 2 not found (registers unchanged), 3 CPU-determined amount (R2 advanced).
    @inline(__always) func srst(_ i: RRE) throws(CPUException) {
        let character = try stringTerminator()
        let end = gpr[i.r1] & addressMask, start = gpr[i.r2] & addressMask
        let n = bytesToPageEnd(start)
        let h = try hostPointer(start, .fetch).assumingMemoryBound(to: UInt8.self)
        for k in 0..<n {
            let address = (start &+ k) & addressMask
            if address == end { cc = 2; return }
            if h[Int(k)] == character {
                setOperandAddressKeepingHigh(i.r1, address)
                cc = 1
                return
            }
        }
        setOperandAddressKeepingHigh(i.r2, start &+ n)
        cc = 3
    }

    // MARK: Interlocked updates

    /// The host word of an aligned interlocked operand (specification if misaligned).
    @inline(__always)
    private func atomicOperand<T>(_ address: UInt64, _: T.Type) throws(CPUException) -> UnsafeMutablePointer<Atomic<T>> {
        if _slowPath(address & UInt64(MemoryLayout<T>.size &- 1) != 0) { throw .program(.specification) }
        return try hostPointer(address, .store).assumingMemoryBound(to: Atomic<T>.self)
    }

    /// Writes a 32- or 64-bit result to a register (32-bit: bits 32-63 only).
    @inline(__always) private func setRegister<T: FixedWidthInteger & UnsignedInteger>(_ r: Int, _ value: T) {
        gpr[r] = T.bitWidth == 64 ? UInt64(value) : (gpr[r] & 0xFFFF_FFFF_0000_0000) | UInt64(value)
    }

    /// COMPARE AND SWAP (CS/CSY/CSG): CC 0 swapped, CC 1 with the storage value loaded into R1.
    @inline(__always)
    private func compareAndSwap<T: InterlockedGuestWord>(
        _ r1: Int, _ r3: Int, _ address: UInt64, _: T.Type) throws(CPUException) {
        let word = try atomicOperand(address, T.self)
        let expected = T(truncatingIfNeeded: gpr[r1]), replacement = T(truncatingIfNeeded: gpr[r3])
        let (exchanged, original) = T.compareExchange(word, expected, replacement)
        if exchanged { cc = 0 } else { cc = 1; setRegister(r1, original) }
    }
    @inline(__always) func cs(_ i: RS) throws(CPUException) { try compareAndSwap(i.r1, i.r3, operand2Address(i), UInt32.self) }
    @inline(__always) func csy(_ i: RSY) throws(CPUException) { try compareAndSwap(i.r1, i.r3, operand2Address(i), UInt32.self) }
    @inline(__always) func csg(_ i: RSY) throws(CPUException) { try compareAndSwap(i.r1, i.r3, operand2Address(i), UInt64.self) }

    /// COMPARE DOUBLE AND SWAP (CDS/CDSY): even/odd pairs of 32-bit words.
    @inline(__always) private func compareDoubleAndSwap32(_ r1: Int, _ r3: Int, _ address: UInt64) throws(CPUException) {
        if _slowPath((r1 | r3) & 1 != 0) { throw .program(.specification) }
        let word = try atomicOperand(address, UInt64.self)
        let expected = gpr[r1] << 32 | gpr[r1 + 1] & 0xFFFF_FFFF
        let replacement = gpr[r3] << 32 | gpr[r3 + 1] & 0xFFFF_FFFF
        let (exchanged, original) = word.pointee.compareExchange(
            expected: expected.bigEndian, desired: replacement.bigEndian, ordering: .sequentiallyConsistent)
        if exchanged { cc = 0; return }
        let value = UInt64(bigEndian: original)
        cc = 1
        setRegister(r1, UInt32(truncatingIfNeeded: value >> 32))
        setRegister(r1 + 1, UInt32(truncatingIfNeeded: value))
    }
    @inline(__always) func cds(_ i: RS) throws(CPUException) { try compareDoubleAndSwap32(i.r1, i.r3, operand2Address(i)) }
    @inline(__always) func cdsy(_ i: RSY) throws(CPUException) { try compareDoubleAndSwap32(i.r1, i.r3, operand2Address(i)) }

    /// COMPARE DOUBLE AND SWAP (64): a 16-byte aligned quadword, swapped with a 128-bit host CAS.
    @inline(__always) func cdsg(_ i: RSY) throws(CPUException) {
        let r1 = i.r1, r3 = i.r3
        if _slowPath((r1 | r3) & 1 != 0) { throw .program(.specification) }
        let word = try atomicOperand(effectiveAddress(base: i.b2, displacement: i.d2), WordPair.self)
        let expected = WordPair(first: UInt(gpr[r1].bigEndian), second: UInt(gpr[r1 + 1].bigEndian))
        let replacement = WordPair(first: UInt(gpr[r3].bigEndian), second: UInt(gpr[r3 + 1].bigEndian))
        let (exchanged, original) = word.pointee.compareExchange(
            expected: expected, desired: replacement, ordering: .sequentiallyConsistent)
        if exchanged { cc = 0; return }
        cc = 1
        gpr[r1] = UInt64(bigEndian: UInt64(original.first))
        gpr[r1 + 1] = UInt64(bigEndian: UInt64(original.second))
    }

    /// TEST AND SET: CC = leftmost bit of the byte; the byte becomes all ones (interlocked).
    @inline(__always) func ts(_ i: S) throws(CPUException) {
        let byte = try hostPointer(effectiveAddress(base: i.b2, displacement: i.d2), .store).assumingMemoryBound(to: Atomic<UInt8>.self)
        cc = byte.pointee.exchange(0xFF, ordering: .sequentiallyConsistent) >> 7
    }

    /// LOAD AND ADD / ADD LOGICAL / AND / OR / EXCLUSIVE OR: R1 gets the original storage value,
    /// the storage gets original <op> R3, interlocked. CCs as for the corresponding arithmetic.
    @inline(__always)
    private func loadAndUpdate<T: InterlockedGuestWord>(
        _ i: RSY, _: T.Type, _ op: InterlockedOperation) throws(CPUException) {
        let word = try atomicOperand(effectiveAddress(base: i.b2, displacement: i.d2), T.self)
        let operand = T(truncatingIfNeeded: gpr[i.r3])
        let original = T.update(word, operand, op)
        setRegister(i.r1, original)
        switch op {
        case .and: cc = original & operand == 0 ? 0 : 1
        case .or: cc = original | operand == 0 ? 0 : 1
        case .xor: cc = original ^ operand == 0 ? 0 : 1
        case .addLogical:
            let sum = original &+ operand
            cc = (sum == 0 ? 0 : 1) | (sum < original ? 2 : 0)
        case .add:
            let sum = original &+ operand
            let shift = T.bitWidth - 1
            let overflow = (~(original ^ operand) & (original ^ sum)) >> shift != 0
            if overflow {
                cc = 3
                if programMask & 8 != 0 { throw .program(.fixedPointOverflow) }
            } else {
                cc = sum == 0 ? 0 : sum >> shift != 0 ? 1 : 2
            }
        }
    }
    @inline(__always) func laa(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt32.self, .add) }
    @inline(__always) func laag(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt64.self, .add) }
    @inline(__always) func laal(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt32.self, .addLogical) }
    @inline(__always) func laalg(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt64.self, .addLogical) }
    @inline(__always) func lan(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt32.self, .and) }
    @inline(__always) func lang(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt64.self, .and) }
    @inline(__always) func lao(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt32.self, .or) }
    @inline(__always) func laog(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt64.self, .or) }
    @inline(__always) func lax(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt32.self, .xor) }
    @inline(__always) func laxg(_ i: RSY) throws(CPUException) { try loadAndUpdate(i, UInt64.self, .xor) }

    // MARK: MOVE WITH OPTIONAL SPECIFICATIONS

    /// MVCOS: GR0 holds the operand-access controls (OAC1 bits 32-47, OAC2 48-63: key, AS, K, A).
    /// Valid only with DAT on (special operation otherwise). Keys are honoured for the PSW-key-
    /// mask check; the move itself uses the current translation (storage keys and other address
    /// spaces are not modelled yet). At most 4096 bytes per execution, CC 3 if more remain; the
    /// registers are not updated.
    @inline(__always) func mvcos(_ i: SSF) throws(CPUException) {
        if !dat { throw .program(.specialOperation) }
        let oac1 = UInt16(truncatingIfNeeded: gpr[0] >> 16), oac2 = UInt16(truncatingIfNeeded: gpr[0])
        let pswAS = UInt16(truncatingIfNeeded: (pswMask >> 46) & 3)
        let dstKey = oac1 & 2 != 0 ? oac1 >> 12 : UInt16(pswKey), srcKey = oac2 & 2 != 0 ? oac2 >> 12 : UInt16(pswKey)
        let dstAS = oac1 & 1 != 0 ? (oac1 >> 6) & 3 : pswAS, srcAS = oac2 & 1 != 0 ? (oac2 >> 6) & 3 : pswAS
        if problemState && ((oac1 & 1 != 0 && dstAS == 3) || (oac2 & 1 != 0 && srcAS == 3)) { throw .program(.privilegedOperation) }
        if cr[0] & 0x0400_0000 == 0 && (dstAS == 2 || srcAS == 2) { throw .program(.specialOperation) }
        if problemState {
            let keyMask = cr[3] >> 16   // PSW-key mask: CR3 bits 32-47, key k at bit 32+k
            if keyMask & (0x8000 >> UInt64(dstKey)) == 0 || keyMask & (0x8000 >> UInt64(srcKey)) == 0 {
                throw .program(.privilegedOperation)
            }
        }
        let requested = addressMask == .max ? gpr[i.r3] : gpr[i.r3] & 0xFFFF_FFFF
        let length = min(requested, 4096)
        let dst = effectiveAddress(base: i.b1, displacement: i.d1), src = effectiveAddress(base: i.b2, displacement: i.d2)
        if length > 0 { _ = try ssUpdate(.move, dst: dst, src: src, length: length) }
        cc = requested > 4096 ? 3 : 0
    }
}

/// A 32- or 64-bit guest word updated with host atomics. Values are host-order; the guest
/// storage holds them big-endian. (The `Atomic` methods are concrete per width, hence this.)
private protocol InterlockedGuestWord: FixedWidthInteger & UnsignedInteger & AtomicRepresentable {
    /// Compare-and-swap; returns whether it swapped and the storage value found.
    static func compareExchange(_ word: UnsafeMutablePointer<Atomic<Self>>, _ expected: Self, _ desired: Self) -> (Bool, Self)
    /// Applies `op` with `operand`; returns the original storage value.
    static func update(_ word: UnsafeMutablePointer<Atomic<Self>>, _ operand: Self, _ op: InterlockedOperation) -> Self
}

extension UInt32: InterlockedGuestWord {
    @inline(__always)
    fileprivate static func compareExchange(_ word: UnsafeMutablePointer<Atomic<UInt32>>, _ expected: UInt32, _ desired: UInt32) -> (Bool, UInt32) {
        let (exchanged, original) = word.pointee.compareExchange(expected: expected.bigEndian, desired: desired.bigEndian,
                                                                 ordering: .sequentiallyConsistent)
        return (exchanged, UInt32(bigEndian: original))
    }
    @inline(__always)
    fileprivate static func update(_ word: UnsafeMutablePointer<Atomic<UInt32>>, _ operand: UInt32, _ op: InterlockedOperation) -> UInt32 {
        switch op {
        case .and: return UInt32(bigEndian: word.pointee.bitwiseAnd(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .or: return UInt32(bigEndian: word.pointee.bitwiseOr(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .xor: return UInt32(bigEndian: word.pointee.bitwiseXor(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .add, .addLogical:
            var current = word.pointee.load(ordering: .relaxed)
            while true {
                let sum = UInt32(bigEndian: current) &+ operand
                let (exchanged, seen) = word.pointee.compareExchange(expected: current, desired: sum.bigEndian,
                                                                     ordering: .sequentiallyConsistent)
                if exchanged { return UInt32(bigEndian: current) }
                current = seen
            }
        }
    }
}

extension UInt64: InterlockedGuestWord {
    @inline(__always)
    fileprivate static func compareExchange(_ word: UnsafeMutablePointer<Atomic<UInt64>>, _ expected: UInt64, _ desired: UInt64) -> (Bool, UInt64) {
        let (exchanged, original) = word.pointee.compareExchange(expected: expected.bigEndian, desired: desired.bigEndian,
                                                                 ordering: .sequentiallyConsistent)
        return (exchanged, UInt64(bigEndian: original))
    }
    @inline(__always)
    fileprivate static func update(_ word: UnsafeMutablePointer<Atomic<UInt64>>, _ operand: UInt64, _ op: InterlockedOperation) -> UInt64 {
        switch op {
        case .and: return UInt64(bigEndian: word.pointee.bitwiseAnd(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .or: return UInt64(bigEndian: word.pointee.bitwiseOr(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .xor: return UInt64(bigEndian: word.pointee.bitwiseXor(operand.bigEndian, ordering: .sequentiallyConsistent).oldValue)
        case .add, .addLogical:
            var current = word.pointee.load(ordering: .relaxed)
            while true {
                let sum = UInt64(bigEndian: current) &+ operand
                let (exchanged, seen) = word.pointee.compareExchange(expected: current, desired: sum.bigEndian,
                                                                     ordering: .sequentiallyConsistent)
                if exchanged { return UInt64(bigEndian: current) }
                current = seen
            }
        }
    }
}
