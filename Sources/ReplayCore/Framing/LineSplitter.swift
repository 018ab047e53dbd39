/// Collects bytes of one direction and hands out complete lines (through `\n`, the line ending
/// kept), for every line-based framer.
public struct LineSplitter: Sendable {
    /// Bytes received and not yet returned.
    public private(set) var buffer: [UInt8] = []
    /// Where to resume looking for `\n` in `buffer`, so long lines arriving in small chunks
    /// are not rescanned from the start.
    private var scanned = 0

    public init() {}

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line, line ending included, or `nil` if none is complete yet.
    public mutating func nextLine() -> [UInt8]? {
        guard let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = buffer.count
            return nil
        }
        let line = Array(buffer[..<(newline + 1)])
        buffer.removeFirst(newline + 1)
        scanned = 0
        return line
    }

    /// The next `count` bytes, or `nil` if fewer have arrived.
    public mutating func take(_ count: Int) -> [UInt8]? {
        guard buffer.count >= count else { return nil }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        scanned = 0
        return bytes
    }

    /// Everything still buffered (at the end of the stream).
    public mutating func takeAll() -> [UInt8] {
        defer { buffer.removeAll(); scanned = 0 }
        return buffer
    }

    /// A line without its `\r\n` or `\n`.
    public static func trimmingLineEnding(_ line: [UInt8]) -> ArraySlice<UInt8> {
        var end = line.count
        if end > 0, line[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end > 0, line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return line[..<end]
    }

    /// The first word of a line (up to a space, tab or the line ending), upper-cased ASCII.
    public static func verb(_ line: some Collection<UInt8>) -> String {
        // ASCII verbs (every real one) are written straight as UTF-8: a verb of up to 15
        // bytes is then a small string, built without appending scalar by scalar.
        var length = 0
        var ascii = true
        for byte in line {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { break }
            if byte >= 0x80 { ascii = false; break }
            length += 1
        }
        if ascii {
            return String(unsafeUninitializedCapacity: length) { buffer in
                var index = 0
                for byte in line.prefix(length) {
                    buffer[index] = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) ? byte - 32 : byte
                    index += 1
                }
                return index
            }
        }
        var scalars = String.UnicodeScalarView()
        for byte in line {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { break }
            let upper = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) ? byte - 32 : byte
            scalars.append(Unicode.Scalar(upper))
        }
        return String(scalars)
    }
}
