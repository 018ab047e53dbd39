/// Classic 16-bytes-a-line hex dump: offset, hex bytes, and the printable ASCII beside them.
public enum HexDump {
    public static func lines(_ bytes: [UInt8]) -> [String] {
        let digits = Array("0123456789abcdef")
        var lines: [String] = []
        var offset = 0
        while offset < bytes.count {
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            var hex = ""
            var ascii = ""
            for (index, byte) in row.enumerated() {
                if index == 8 { hex.append(" ") }
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0xf)])
                hex.append(" ")
                ascii.append(byte >= 0x20 && byte < 0x7f ? Character(UnicodeScalar(byte)) : ".")
            }
            let width = 16 * 3 + 1
            hex += String(repeating: " ", count: max(0, width - hex.count))
            lines.append("\(String(offset, radix: 16).leftPadded(to: 4))  \(hex) |\(ascii)|")
            offset += 16
        }
        return lines
    }
}
