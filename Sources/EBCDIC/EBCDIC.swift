/// ASCII to EBCDIC (code page 037) for the identity strings machines report (STSI names,
/// loadparm); characters outside that set become '?'.
public enum EBCDIC {
    public static func encode(_ ascii: UInt8) -> UInt8 {
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "i"): ascii - 0x61 + 0x81
        case UInt8(ascii: "j")...UInt8(ascii: "r"): ascii - 0x6A + 0x91
        case UInt8(ascii: "s")...UInt8(ascii: "z"): ascii - 0x73 + 0xA2
        case UInt8(ascii: "A")...UInt8(ascii: "I"): ascii - 0x41 + 0xC1
        case UInt8(ascii: "J")...UInt8(ascii: "R"): ascii - 0x4A + 0xD1
        case UInt8(ascii: "S")...UInt8(ascii: "Z"): ascii - 0x53 + 0xE2
        case UInt8(ascii: "0")...UInt8(ascii: "9"): ascii - 0x30 + 0xF0
        case UInt8(ascii: " "): 0x40
        case UInt8(ascii: "."): 0x4B
        case UInt8(ascii: "-"): 0x60
        case UInt8(ascii: "/"): 0x61
        case UInt8(ascii: "_"): 0x6D
        case UInt8(ascii: ":"): 0x7A
        default: 0x6F
        }
    }

    /// `text` in EBCDIC, cut or padded with EBCDIC blanks (0x40) to `width` bytes.
    public static func encode(_ text: String, width: Int) -> [UInt8] {
        let encoded = text.utf8.prefix(width).map(encode)
        return encoded + [UInt8](repeating: 0x40, count: width - encoded.count)
    }
}
