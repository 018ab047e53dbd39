/// Bounds-checked reads of binary protocol fields, shared by the HTTP, RESP, DNS and
/// PostgreSQL framers. Every read returns `nil` past the end, so garbage never traps.
enum WireBytes {
    /// The big-endian 16-bit value at `offset`, if two bytes are there.
    static func uint16(_ bytes: some RandomAccessCollection<UInt8>, at offset: Int) -> Int? {
        let start = bytes.startIndex
        guard offset >= 0, bytes.count >= offset + 2 else { return nil }
        let index = bytes.index(start, offsetBy: offset)
        return Int(bytes[index]) << 8 | Int(bytes[bytes.index(after: index)])
    }

    /// The big-endian 32-bit value at `offset` (as a signed Int32 widened), if four bytes are there.
    static func int32(_ bytes: some RandomAccessCollection<UInt8>, at offset: Int) -> Int? {
        guard offset >= 0, bytes.count >= offset + 4 else { return nil }
        var value: UInt32 = 0
        var index = bytes.index(bytes.startIndex, offsetBy: offset)
        for _ in 0..<4 {
            value = value << 8 | UInt32(bytes[index])
            index = bytes.index(after: index)
        }
        return Int(Int32(bitPattern: value))
    }

    /// `value` as two big-endian bytes.
    static func bytes(uint16 value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// `value` as four big-endian bytes.
    static func bytes(int32 value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// The index of the first `\n` in `bytes[from...]`, or `nil`.
    static func newline(in bytes: [UInt8], from: Int) -> Int? {
        guard from < bytes.count else { return nil }
        return bytes[max(0, from)...].firstIndex(of: UInt8(ascii: "\n"))
    }

    /// ASCII upper-casing (other bytes unchanged).
    static func upper(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) ? byte - 32 : byte
    }

    /// ASCII lower-casing (other bytes unchanged).
    static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte + 32 : byte
    }

    /// A decimal number of at most 18 digits (so it cannot overflow), optionally negative;
    /// `nil` for anything else, including an empty field.
    static func decimal(_ bytes: some Collection<UInt8>) -> Int? {
        var digits = bytes[...]
        var negative = false
        if digits.first == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }

    /// Text for a key: printable ASCII as is, everything else (and `\`) as `\xHH`, so binary
    /// arguments compare exactly and print readably.
    static func escaped(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16)
            }
        }
        return text
    }

    /// `text` with control characters (CR, LF, NUL, ...) replaced by spaces, for the reason in
    /// an error reply, which must not break the protocol's framing.
    static func singleLine(_ text: String) -> [UInt8] {
        Array(text.utf8).map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }
    }
}
