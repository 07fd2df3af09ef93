// Error values of the restricted-memory objects: Linux errno numbers, because the kernel model
// hands them to its ioctl/file layer unchanged (s390pv models Linux; the numbers are the
// x86-64/s390x generic ones, which the two architectures share).
#if canImport(Glibc)
import Glibc
#endif

public struct MemoryErrno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let EPERM = MemoryErrno(rawValue: 1)
    public static let ENOENT = MemoryErrno(rawValue: 2)
    public static let EIO = MemoryErrno(rawValue: 5)
    public static let EBADF = MemoryErrno(rawValue: 9)
    public static let EAGAIN = MemoryErrno(rawValue: 11)
    public static let ENOMEM = MemoryErrno(rawValue: 12)
    public static let EEXIST = MemoryErrno(rawValue: 17)
    public static let ENODEV = MemoryErrno(rawValue: 19)
    public static let EINVAL = MemoryErrno(rawValue: 22)
    public static let EFBIG = MemoryErrno(rawValue: 27)
    public static let ENOSPC = MemoryErrno(rawValue: 28)
    public static let ESPIPE = MemoryErrno(rawValue: 29)
    public static let ENOSYS = MemoryErrno(rawValue: 38)
    public static let EOPNOTSUPP = MemoryErrno(rawValue: 95)
    public static let EHWPOISON = MemoryErrno(rawValue: 133)

    /// The calling thread's errno after a failed host call.
    static var host: MemoryErrno { MemoryErrno(rawValue: errno) }

    public var description: String {
        let names: [Int32: String] = [1: "EPERM", 2: "ENOENT", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
                                      17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 27: "EFBIG", 28: "ENOSPC",
                                      29: "ESPIPE", 38: "ENOSYS", 95: "EOPNOTSUPP", 133: "EHWPOISON"]
        return names[rawValue] ?? "errno \(rawValue)"
    }
}
