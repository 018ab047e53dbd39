/// The header section of one HTTP/1.x message: its start line and header fields, read from a
/// buffer by `HTTPHeadScanner`. Parsing is lenient (bare `\n` line endings, leading empty
/// lines) because replay must frame what real clients send, not judge it.
struct HTTPHead: Sendable {
    /// The start line without its line ending.
    var startLine: [UInt8]
    /// Header fields in order: lower-cased name, value without surrounding whitespace.
    var fields: [(name: String, value: [UInt8])]

    /// Parses the head in `bytes` (which ends with the empty line, as found by the scanner).
    init(_ bytes: ArraySlice<UInt8>) {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        while start < bytes.endIndex, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(LineSplitter.trimmingLineEnding(Array(bytes[start...newline]))[...])
            start = newline + 1
        }
        if start < bytes.endIndex { lines.append(bytes[start...]) }
        let content = lines.drop(while: { $0.isEmpty })
        startLine = content.first.map(Array.init) ?? []
        fields = []
        for line in content.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon].map(WireBytes.lower), as: UTF8.self)
                .trimmingASCIIWhitespace()
            fields.append((name, Array(Self.trimmed(line[(colon + 1)...]))))
        }
    }

    /// The value of the last field called `name` (lower-case).
    func value(_ name: String) -> [UInt8]? {
        fields.last(where: { $0.name == name })?.value
    }

    /// The request line's method (upper-cased) and target, if the start line is one.
    var request: (method: String, target: String)? {
        let parts = startLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/".utf8)), !parts[0].isEmpty,
              parts[0].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return (String(decoding: parts[0].map(WireBytes.upper), as: UTF8.self), MaskSet.latin1(Array(parts[1])))
    }

    /// The status code, if the start line is a status line (`HTTP/1.1 200 OK`).
    var status: Int? {
        let parts = startLine.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/".utf8)), parts[1].count == 3,
              let code = WireBytes.decimal(parts[1]), code >= 100 else { return nil }
        return code
    }

    /// Whether the last transfer coding is `chunked` (RFC 9112 6.3: then chunked framing wins).
    var isChunked: Bool {
        guard let codings = value("transfer-encoding") else { return false }
        let last = codings.split(separator: UInt8(ascii: ",")).last.map { Self.trimmed($0).map(WireBytes.lower) }
        return last == Array("chunked".utf8)
    }

    /// The Content-Length, if present and a plain non-negative number (a list of equal values
    /// counts as one); a malformed one is treated as absent.
    var contentLength: Int? {
        guard let raw = value("content-length") else { return nil }
        let values = raw.split(separator: UInt8(ascii: ",")).map { WireBytes.decimal(Self.trimmed($0)) }
        guard let first = values.first, let length = first, length >= 0,
              values.allSatisfy({ $0 == length }) else { return nil }
        return length
    }

    /// Whether a field's comma-separated tokens include `token` (case-insensitive).
    func has(_ name: String, token: String) -> Bool {
        fields.contains { field in
            field.name == name && field.value.split(separator: UInt8(ascii: ","))
                .contains { Self.trimmed($0).map(WireBytes.lower) == Array(token.utf8) }
        }
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    /// `bytes` (a whole message) with the values of the header fields in `names` (lower-case)
    /// replaced by `*`; the start line, other fields and the body are unchanged.
    static func maskingFields(_ names: Set<String>, in bytes: [UInt8]) -> [UInt8] {
        var scanner = HTTPHeadScanner()
        let headEnd = scanner.end(in: bytes) ?? bytes.count
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var start = 0
        var sawStartLine = false
        while start < headEnd {
            let newline = bytes[start..<headEnd].firstIndex(of: UInt8(ascii: "\n")) ?? (headEnd - 1)
            let line = bytes[start...newline]
            let content = LineSplitter.trimmingLineEnding(Array(line))
            defer { start = newline + 1 }
            guard sawStartLine, let colon = content.firstIndex(of: UInt8(ascii: ":")) else {
                if !content.isEmpty { sawStartLine = true }
                result.append(contentsOf: line)
                continue
            }
            let name = String(decoding: content[..<colon].map(WireBytes.lower), as: UTF8.self).trimmingASCIIWhitespace()
            guard names.contains(name) else {
                result.append(contentsOf: line)
                continue
            }
            var valueStart = colon + 1
            while valueStart < content.count, content[valueStart] == 0x20 || content[valueStart] == 0x09 { valueStart += 1 }
            result.append(contentsOf: content[..<valueStart])
            result.append(UInt8(ascii: "*"))
            result.append(contentsOf: line.dropFirst(content.count))
        }
        result.append(contentsOf: bytes[headEnd...])
        return result
    }
}

/// Finds where an HTTP head ends (after its empty line) in a growing buffer, resuming where
/// the last call stopped so a head arriving byte by byte is scanned once.
struct HTTPHeadScanner: Sendable {
    /// Where the next unscanned line starts.
    private var lineStart = 0
    /// Whether a non-empty line (the start line) was seen; empty lines before it are skipped.
    private var sawStartLine = false

    /// The index just past the head's empty line, or `nil` while it is incomplete.
    mutating func end(in buffer: [UInt8]) -> Int? {
        while let newline = WireBytes.newline(in: buffer, from: lineStart) {
            let length = newline - lineStart + 1
            let empty = length == 1 || (length == 2 && buffer[lineStart] == UInt8(ascii: "\r"))
            lineStart = newline + 1
            if !empty { sawStartLine = true } else if sawStartLine { return lineStart }
        }
        return nil
    }

    /// Bytes already scanned, to bound a head that never ends.
    var scanned: Int { lineStart }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
