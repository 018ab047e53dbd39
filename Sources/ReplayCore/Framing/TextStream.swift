/// One direction's bytes not yet cut into messages, for the text-protocol framers (SMTP,
/// POP3, IMAP, FTP). Reads through a cursor instead of removing each line from the front of
/// the buffer, so cutting many lines out of one large chunk (a multi-megabyte DATA body)
/// costs each byte once rather than once per line.
struct TextStream: Sendable {
    private var bytes: [UInt8] = []
    /// Index of the first byte not yet handed out.
    private var head = 0
    /// Index from which to resume looking for `\n`, so a long line arriving in small chunks
    /// is not rescanned from its start.
    private var scanned = 0

    init() {}

    /// Bytes buffered and not yet handed out.
    var count: Int { bytes.count - head }

    mutating func append(_ new: [UInt8]) {
        bytes.append(contentsOf: new)
    }

    /// The next complete line, `\n` included, or `nil` if none is complete yet.
    mutating func nextLine() -> [UInt8]? {
        let from = max(scanned, head)
        guard from < bytes.count, let newline = bytes[from...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = bytes.count
            return nil
        }
        return consume(newline + 1 - head)
    }

    /// Every complete line through the first one `isEnd` accepts, as one array (a whole SMTP
    /// body in one copy instead of a copy per line); `nil`, consuming nothing, while no complete
    /// line is the end.
    mutating func take(throughLine isEnd: (ArraySlice<UInt8>) -> Bool) -> [UInt8]? {
        var lineStart = head
        var from = max(scanned, head)
        while from < bytes.count, let newline = bytes[from...].firstIndex(of: UInt8(ascii: "\n")) {
            if isEnd(bytes[lineStart...newline]) { return consume(newline + 1 - head) }
            lineStart = newline + 1
            from = lineStart
        }
        // No `\n` after `head` at all: `nextLine` need not look there again either.
        if lineStart == head { scanned = bytes.count }
        return nil
    }

    /// Up to `limit` bytes (fewer if fewer are buffered).
    mutating func take(upTo limit: Int) -> [UInt8] {
        consume(min(max(limit, 0), count))
    }

    /// Everything buffered (at the end of the stream).
    mutating func takeAll() -> [UInt8] {
        consume(count)
    }

    private mutating func consume(_ length: Int) -> [UInt8] {
        guard length > 0 else { return [] }
        let out = Array(bytes[head..<(head + length)])
        head += length
        if head == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.count <= 1 << 16)
            head = 0
            scanned = 0
        } else if head >= 1 << 16, head * 2 >= bytes.count {
            // Drop what was handed out once it is most of the buffer: amortised O(1) per byte.
            bytes.removeFirst(head)
            scanned = max(scanned - head, 0)
            head = 0
        }
        return out
    }
}
