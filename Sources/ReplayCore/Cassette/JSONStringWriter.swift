/// Writes JSON strings into a `LineBuffer`, keeping every character a person can read as itself:
/// only `"`, `\`, the C0 controls and DEL are escaped (`\n`, `\r`, `\t` by name, the rest as
/// `\u00XX`); other bytes, UTF-8 sequences included, are copied unchanged.
///
/// Text payloads go through here byte for byte, so runs of plain bytes are found eight at a
/// time and copied with one `memcpy`.
enum JSONStringWriter {
    /// Appends `"…"` for the bytes (which the caller has checked are UTF-8 when that matters).
    static func append(_ bytes: UnsafeRawBufferPointer, to buffer: inout LineBuffer) {
        let count = bytes.count
        // Worst case: every byte becomes \u00XX.
        let out = buffer.reserve(count * 6 + 2)
        out[0] = UInt8(ascii: "\"")
        var written = 1
        if count > 0, let input = bytes.baseAddress {
            var read = 0
            while read < count {
                let run = plainRun(input + read, count - read)
                if run > 0 {
                    UnsafeMutableRawPointer(out + written).copyMemory(from: input + read, byteCount: run)
                    read += run
                    written += run
                    if read == count { break }
                }
                written += escape(input.load(fromByteOffset: read, as: UInt8.self), to: out + written)
                read += 1
            }
        }
        out[written] = UInt8(ascii: "\"")
        buffer.commit(written + 1)
    }

    static func append(_ string: String, to buffer: inout LineBuffer) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0), to: &buffer) }
    }

    /// How many bytes from `start` need no escaping.
    @inline(__always)
    static func plainRun(_ start: UnsafeRawPointer, _ count: Int) -> Int {
        var index = 0
        while index + 8 <= count {
            let word = start.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if SWAR.hasByteBelow0x20(word) || SWAR.hasByte(word, 0x22) || SWAR.hasByte(word, 0x5c) || SWAR.hasByte(word, 0x7f) {
                break
            }
            index += 8
        }
        while index < count, !needsEscape(start.load(fromByteOffset: index, as: UInt8.self)) {
            index += 1
        }
        return index
    }

    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x22 || byte == 0x5c || byte == 0x7f
    }

    /// Writes the escape for one byte that needs it; returns its length.
    @inline(__always)
    private static func escape(_ byte: UInt8, to out: UnsafeMutablePointer<UInt8>) -> Int {
        out[0] = UInt8(ascii: "\\")
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out[1] = byte
        case UInt8(ascii: "\n"): out[1] = UInt8(ascii: "n")
        case UInt8(ascii: "\r"): out[1] = UInt8(ascii: "r")
        case UInt8(ascii: "\t"): out[1] = UInt8(ascii: "t")
        default:
            let hex: StaticString = "0123456789abcdef"
            out[1] = UInt8(ascii: "u")
            out[2] = UInt8(ascii: "0")
            out[3] = UInt8(ascii: "0")
            out[4] = hex.utf8Start[Int(byte >> 4)]
            out[5] = hex.utf8Start[Int(byte & 0xf)]
            return 6
        }
        return 2
    }
}

/// Byte tests on eight bytes at once (the classic bit tricks: exact as yes/no answers).
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `word` is zero.
    @inline(__always)
    static func hasZero(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highs != 0
    }

    /// Whether any byte of `word` equals `byte`.
    @inline(__always)
    static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        hasZero(word ^ (ones &* UInt64(byte)))
    }

    /// Whether any byte of `word` is below 0x20.
    @inline(__always)
    static func hasByteBelow0x20(_ word: UInt64) -> Bool {
        (word &- ones &* 0x20) & ~word & highs != 0
    }

    /// Whether any byte of `word` has its high bit set (is not ASCII).
    @inline(__always)
    static func hasHighBit(_ word: UInt64) -> Bool {
        word & highs != 0
    }
}
