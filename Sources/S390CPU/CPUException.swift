/// A program-interruption code (PoP chapter 6; lowcore 0x8E).
public struct ProgramInterruptionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let operation = Self(rawValue: 0x01)
    public static let privilegedOperation = Self(rawValue: 0x02)
    public static let execute = Self(rawValue: 0x03)
    public static let protection = Self(rawValue: 0x04)
    public static let addressing = Self(rawValue: 0x05)
    public static let specification = Self(rawValue: 0x06)
    public static let data = Self(rawValue: 0x07)
    public static let fixedPointOverflow = Self(rawValue: 0x08)
    public static let fixedPointDivide = Self(rawValue: 0x09)
    public static let segmentTranslation = Self(rawValue: 0x10)
    public static let pageTranslation = Self(rawValue: 0x11)
    public static let translationSpecification = Self(rawValue: 0x12)
    public static let specialOperation = Self(rawValue: 0x13)
    public static let operand = Self(rawValue: 0x15)
    public static let asceType = Self(rawValue: 0x38)
    public static let regionFirstTranslation = Self(rawValue: 0x39)
    public static let regionSecondTranslation = Self(rawValue: 0x3A)
    public static let regionThirdTranslation = Self(rawValue: 0x3B)
    public static let secureStorageAccess = Self(rawValue: 0x3D)
    public static let secureStorageViolation = Self(rawValue: 0x3E)

    /// Nullifying exceptions leave the old PSW at the failing instruction (spec 7.3 "same");
    /// all others point past it. Matches Linux __deliver_prog's rewind list.
    public var isNullifying: Bool {
        switch rawValue & ~0x80 {
        case 0x10, 0x11, 0x16, 0x1C, 0x20...0x27, 0x29...0x2F, 0x30...0x34, 0x38...0x3B, 0x3D...0x3F, 0x119: true
        default: false
        }
    }

    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// What an instruction handler throws: a program interruption, or an intercept that leaves the
/// CPU loop for the kernel model (the instruction itself is complete: the PSW points past it).
public enum CPUException: Error, Sendable {
    case program(ProgramInterruptionCode)
    case intercept(InterceptReason)
}

/// Why the CPU handed control to its host, as SIE reports an interception.
public enum InterceptReason: Sendable, Equatable {
    /// An instruction the machine implements outside the CPU (SERVC, SIGP, DIAG, ...), as SIE
    /// intercept code 4 with the instruction's IPA/IPB.
    case instruction(raw: UInt64)
    /// The PSW entered the wait state.
    case wait
    /// STSI stored SYSIB 3.2.2 at logical `address` and the host asked to see it
    /// (KVM_CAP_S390_USER_STSI); the instruction is complete.
    case systemInformation(address: UInt64)
}
