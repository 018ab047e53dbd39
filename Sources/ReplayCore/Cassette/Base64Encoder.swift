/// Standard base64 (RFC 4648 §4, with `=` padding, no line breaks), written straight into a
/// `LineBuffer`.
///
/// Binary payloads are most of a large import, so this is the hottest loop of `replayd import`.
/// A table maps each 12-bit group to its two output characters: six input bytes become four
/// table lookups and one 8-byte store.
enum Base64Encoder {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Entry `n` holds the characters for the 12 bits `n`: the first in the low byte.
    static let pairs: [UInt16] = (0..<4096).map { value in
        UInt16(alphabet[value >> 6]) | UInt16(alphabet[value & 0x3f]) << 8
    }

    /// Characters needed for `count` bytes.
    static func encodedLength(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    static func append(_ bytes: UnsafeRawBufferPointer, to buffer: inout LineBuffer) {
        let length = encodedLength(bytes.count)
        guard length > 0, let input = bytes.baseAddress else { return }
        let out = UnsafeMutableRawPointer(buffer.reserve(length))
        let count = bytes.count
        pairs.withUnsafeBufferPointer { table in
            alphabet.withUnsafeBufferPointer { alphabet in
                var read = 0
                var written = 0
                // Six bytes at a time through an 8-byte load (so stop while 8 remain readable).
                while read + 8 <= count {
                    let word = UInt64(bigEndian: input.loadUnaligned(fromByteOffset: read, as: UInt64.self))
                    let a = UInt64(table[Int(truncatingIfNeeded: word >> 52) & 0xfff])
                    let b = UInt64(table[Int(truncatingIfNeeded: word >> 40) & 0xfff])
                    let c = UInt64(table[Int(truncatingIfNeeded: word >> 28) & 0xfff])
                    let d = UInt64(table[Int(truncatingIfNeeded: word >> 16) & 0xfff])
                    out.storeBytes(of: (a | b << 16 | c << 32 | d << 48).littleEndian, toByteOffset: written, as: UInt64.self)
                    read += 6
                    written += 8
                }
                while read + 3 <= count {
                    let group = Int(input.load(fromByteOffset: read, as: UInt8.self)) << 16
                        | Int(input.load(fromByteOffset: read + 1, as: UInt8.self)) << 8
                        | Int(input.load(fromByteOffset: read + 2, as: UInt8.self))
                    let a = table[group >> 12], b = table[group & 0xfff]
                    out.storeBytes(of: (UInt32(a) | UInt32(b) << 16).littleEndian, toByteOffset: written, as: UInt32.self)
                    read += 3
                    written += 4
                }
                let left = count - read
                if left > 0 {
                    let first = Int(input.load(fromByteOffset: read, as: UInt8.self))
                    let second = left == 2 ? Int(input.load(fromByteOffset: read + 1, as: UInt8.self)) : 0
                    let group = first << 16 | second << 8
                    out.storeBytes(of: alphabet[group >> 18], toByteOffset: written, as: UInt8.self)
                    out.storeBytes(of: alphabet[group >> 12 & 0x3f], toByteOffset: written + 1, as: UInt8.self)
                    out.storeBytes(of: left == 2 ? alphabet[group >> 6 & 0x3f] : UInt8(ascii: "="),
                                   toByteOffset: written + 2, as: UInt8.self)
                    out.storeBytes(of: UInt8(ascii: "="), toByteOffset: written + 3, as: UInt8.self)
                }
            }
        }
        buffer.commit(length)
    }
}
