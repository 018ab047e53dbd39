/// Decides, chunk by chunk, whether a payload is stored as readable text or as base64.
public enum PayloadText {
    /// The payload as text when it is valid UTF-8 with no control characters other than
    /// tab, CR and LF, so that a person can read and edit it; `nil` means store it as base64.
    ///
    /// Both encodings are lossless; this only chooses the one a person can edit.
    public static func readableText(_ bytes: [UInt8]) -> String? {
        guard bytes.withUnsafeBytes({ isReadable($0) }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `bytes` would be stored as text (see `readableText`), without making a `String`.
    ///
    /// One pass, stopping at the first byte that rules text out; runs of printable ASCII are
    /// checked eight bytes at a time. UTF-8 is checked as Unicode's table 3-7 of well-formed
    /// byte sequences defines it (no overlongs, no surrogates, nothing past U+10FFFF), which is
    /// what `String(validating:as:)` accepts.
    public static func isReadable(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let start = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if index + 8 <= count {
                let word = start.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if !SWAR.hasHighBit(word), !SWAR.hasByteBelow0x20(word), !SWAR.hasByte(word, 0x7f) {
                    index += 8
                    continue
                }
            }
            let byte = start.load(fromByteOffset: index, as: UInt8.self)
            if byte < 0x80 {
                if byte < 0x20 {
                    guard byte == 0x09 || byte == 0x0a || byte == 0x0d else { return false }
                } else if byte == 0x7f {
                    return false
                }
                index += 1
                continue
            }
            // A multi-byte sequence: the lead byte fixes its length and the range of the second byte.
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xbf
            switch byte {
            case 0xc2...0xdf: length = 2
            case 0xe0: length = 3; low = 0xa0
            case 0xe1...0xec, 0xee...0xef: length = 3
            case 0xed: length = 3; high = 0x9f
            case 0xf0: length = 4; low = 0x90
            case 0xf1...0xf3: length = 4
            case 0xf4: length = 4; high = 0x8f
            default: return false
            }
            guard index + length <= count else { return false }
            let second = start.load(fromByteOffset: index + 1, as: UInt8.self)
            guard second >= low, second <= high else { return false }
            for offset in 2..<max(2, length) {
                let next = start.load(fromByteOffset: index + offset, as: UInt8.self)
                guard next & 0xc0 == 0x80 else { return false }
            }
            index += length
        }
        return true
    }
}
