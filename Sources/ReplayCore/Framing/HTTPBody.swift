/// How the body of one HTTP/1.x message is delimited (RFC 9112 section 6), and where it ends
/// in a growing buffer.
enum HTTPBody: Sendable {
    /// No body: a request without Content-Length or chunked coding, a 204, a reply to HEAD.
    case none
    /// Exactly this many bytes.
    case length(Int)
    /// Chunked transfer coding, trailers included; the scanner remembers how far it got.
    case chunked(HTTPChunkScanner)
    /// Everything the server sends until it closes (a response without length).
    case untilClose

    /// The index just past the body that starts at `start`, or `nil` while it is incomplete
    /// (always `nil` for `untilClose`).
    mutating func end(in buffer: [UInt8], from start: Int) -> Int? {
        switch self {
        case .none:
            return start
        case .length(let count):
            return buffer.count - start >= count ? start + count : nil
        case .chunked(var scanner):
            let end = scanner.end(in: buffer, from: start)
            self = .chunked(scanner)
            return end
        case .untilClose:
            return nil
        }
    }

    /// The payload of a chunked body (`body` starts at its first chunk-size line), without
    /// chunk sizes and trailers; what is malformed is kept as is.
    static func dechunked(_ body: ArraySlice<UInt8>) -> [UInt8] {
        let bytes = Array(body)
        var payload: [UInt8] = []
        var position = 0
        var rounds = 0
        while position < bytes.count, rounds < bytes.count {
            rounds += 1
            guard let newline = WireBytes.newline(in: bytes, from: position),
                  let size = HTTPChunkScanner.chunkSize(bytes[position..<newline]) else {
                payload.append(contentsOf: bytes[position...])
                return payload
            }
            if size == 0 { return payload }
            let dataStart = newline + 1
            let dataEnd = min(bytes.count, dataStart + size)
            payload.append(contentsOf: bytes[dataStart..<dataEnd])
            position = dataEnd + 2
        }
        return payload
    }
}

/// Walks a chunked body (`size CRLF data CRLF` ... `0 CRLF` trailers `CRLF`) as bytes arrive.
/// A size line that is not hexadecimal ends the body there, so the bad bytes frame as the next
/// message instead of being swallowed.
struct HTTPChunkScanner: Sendable {
    private enum Phase: Sendable { case sizeLine, trailers }
    private var phase = Phase.sizeLine
    /// Absolute index in the buffer of the next line to read; `nil` until the body starts.
    private var position: Int?
    /// The longest chunk-size or trailer line accepted before the body is deemed malformed.
    static let maxLine = 8192

    init() {}

    mutating func end(in buffer: [UInt8], from start: Int) -> Int? {
        var position = self.position ?? start
        defer { self.position = position }
        while position <= buffer.count {
            guard let newline = WireBytes.newline(in: buffer, from: position) else {
                return buffer.count - position > Self.maxLine ? position : nil
            }
            let line = buffer[position..<newline]
            switch phase {
            case .sizeLine:
                guard let size = Self.chunkSize(line) else { return position }
                if size == 0 {
                    phase = .trailers
                    position = newline + 1
                } else {
                    // data, then its CRLF
                    let next = newline + 1 + size + 2
                    guard buffer.count >= next else { return nil }
                    position = next
                }
            case .trailers:
                position = newline + 1
                if line.isEmpty || (line.count == 1 && line.first == 0x0D) { return position }
            }
        }
        return nil
    }

    /// The size on a chunk-size line (hex, extensions after `;` ignored), `nil` if it is not one.
    static func chunkSize(_ line: ArraySlice<UInt8>) -> Int? {
        var digits = line.prefix { $0 != UInt8(ascii: ";") }
        while let last = digits.last, last == 0x0D || last == 0x20 || last == 0x09 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var size = 0
        for byte in digits {
            guard let digit = hexValue(byte) else { return nil }
            size = size << 4 | digit
        }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
