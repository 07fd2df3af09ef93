// copy_from_user / copy_to_user for an in-process kernel model: the caller's pointers are
// untrusted, so every copy goes through process_vm_readv/writev on our own pid, which fails
// with EFAULT for an unmapped or unwritable range instead of faulting the emulator.
import CSyscalls
import KernelModel
#if canImport(Glibc)
import Glibc
#endif

enum UserMemory {
    /// Copies `count` bytes from user address `address` into `destination`.
    static func copyIn(_ destination: UnsafeMutableRawPointer, from address: UInt, count: Int) throws(Errno) {
        guard count > 0 else { return }
        guard address != 0 else { throw .EFAULT }
        guard s390pv_read_own_memory(destination, address, UInt(count)) == count else { throw .EFAULT }
    }

    /// Copies `count` bytes from `source` to user address `address`.
    static func copyOut(_ source: UnsafeRawPointer, to address: UInt, count: Int) throws(Errno) {
        guard count > 0 else { return }
        guard address != 0 else { throw .EFAULT }
        guard s390pv_write_own_memory(address, source, UInt(count)) == count else { throw .EFAULT }
    }

    /// Reads a whole struct `T` from user memory.
    static func read<T>(_ type: T.Type, from address: UInt) throws(Errno) -> T {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { storage.deallocate() }
        try copyIn(storage, from: address, count: MemoryLayout<T>.size)
        return storage.load(as: T.self)
    }

    /// Writes a whole struct `T` to user memory.
    static func write<T>(_ value: T, to address: UInt) throws(Errno) {
        let storage = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { storage.deallocate() }
        storage.initialize(to: value)
        try copyOut(storage, to: address, count: MemoryLayout<T>.size)
    }

    /// Reads `count` bytes from user memory.
    static func readBytes(from address: UInt, count: Int) throws(Errno) -> [UInt8] {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 8)
        defer { storage.deallocate() }
        try copyIn(storage, from: address, count: count)
        return [UInt8](UnsafeRawBufferPointer(start: storage, count: count))
    }

    static func writeBytes(_ bytes: [UInt8], to address: UInt) throws(Errno) {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        defer { storage.deallocate() }
        storage.copyMemory(from: bytes, byteCount: bytes.count)
        try copyOut(storage, to: address, count: bytes.count)
    }
}
