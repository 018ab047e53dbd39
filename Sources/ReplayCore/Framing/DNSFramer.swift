/// Frames DNS over TCP (RFC 1035 4.2.2, RFC 7766): in each direction a 2-byte big-endian length
/// and that many bytes of message; one framed message each, its length prefix included. Every
/// query expects a reply and every response completes one.
public struct DNSFramer: MessageFramer {
    private var client: [UInt8] = []
    private var server: [UInt8] = []

    public init() {}

    public var pendingClientBytes: Int { client.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(contentsOf: bytes)
        return Self.cut(&client).map { FramedMessage(bytes: $0, expectsReply: true) }
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(contentsOf: bytes)
        return Self.cut(&server).map { FramedMessage(bytes: $0, completesReply: true) }
    }

    public mutating func clientFinished() -> [FramedMessage] {
        client.isEmpty ? [] : [FramedMessage(bytes: Self.takeAll(&client), expectsReply: false)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        server.isEmpty ? [] : [FramedMessage(bytes: Self.takeAll(&server), completesReply: false)]
    }

    /// Every complete length-prefixed message at the front of `buffer`, removed from it.
    static func cut(_ buffer: inout [UInt8]) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var start = 0
        while let length = WireBytes.uint16(buffer, at: start), buffer.count - start >= 2 + length {
            messages.append(Array(buffer[start..<(start + 2 + length)]))
            start += 2 + length
        }
        buffer.removeFirst(start)
        return messages
    }

    /// The length-prefixed messages in `bytes` as ranges (a reply may hold several, a zone
    /// transfer for one); a truncated tail is left out.
    static func messageRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while let length = WireBytes.uint16(bytes, at: start), bytes.count - start >= 2 + length {
            ranges.append(start..<(start + 2 + length))
            start += 2 + length
        }
        return ranges
    }

    private static func takeAll(_ buffer: inout [UInt8]) -> [UInt8] {
        defer { buffer.removeAll() }
        return buffer
    }
}
