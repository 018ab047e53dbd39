/// DNS over TCP: a length-prefixed query per client message, a response per server message,
/// replies in order. A query's kind is its question (`A IN example.org.`), its content adds
/// the opcode, RD and the EDNS DO bit; the id and the EDNS cookie (random per run) are masked,
/// and `echo` gives the recorded response the live query's id and client cookie.
public struct DNSDialect: ProtocolDialect {
    public init() {}

    static let malformed = "(malformed)"
    static let noQuestion = "(no question)"

    public var wireProtocol: WireProtocol { .dns }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { DNSFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let exact = masks.apply(Self.maskingVolatile(message.bytes))
        let reader = DNSMessageReader(message.bytes.dropFirst(2))
        guard let flags = reader.flags else {
            return MessageKey(kind: Self.malformed, content: Self.malformed, exact: exact)
        }
        let kind: String
        if reader.questionCount == 0 {
            kind = Self.noQuestion
        } else if let question = reader.question {
            kind = "\(DNSMessageReader.typeName(question.type)) \(DNSMessageReader.className(question.klass)) \(DNSMessageReader.text(ofName: question.labels))"
        } else {
            return MessageKey(kind: Self.malformed, content: Self.malformed, exact: exact)
        }
        let opcode = (flags >> 11) & 0x0F
        let recursionDesired = (flags >> 8) & 1
        let dnssecOK = reader.opt.map { $0.flags >> 15 & 1 } ?? 0
        let content = "\(kind) \(DNSMessageReader.opcodeNames[opcode] ?? "OPCODE\(opcode)") rd=\(recursionDesired) do=\(dnssecOK)"
        return MessageKey(kind: kind, content: masks.apply(content), exact: exact)
    }

    /// Id and cookie masked in every message of the reply.
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        masks.apply(Self.maskingVolatile(message.bytes))
    }

    /// `bytes` (length-prefixed messages) with each message's id and COOKIE option data
    /// (client and server cookie: both change between runs) replaced by `*`.
    static func maskingVolatile(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        for range in DNSFramer.messageRanges(bytes) {
            let start = range.lowerBound + 2
            for index in start..<min(start + 2, range.upperBound) { result[index] = UInt8(ascii: "*") }
            if let cookie = DNSMessageReader(bytes[start..<range.upperBound]).cookie {
                for index in cookie { result[start + index] = UInt8(ascii: "*") }
            }
        }
        return result
    }

    /// The reply with the live query's id, client cookie (when both carry a COOKIE option) and
    /// question-name spelling (resolvers randomise its case and check it comes back) in every
    /// message; `nil` when that changes nothing.
    public var echoesFields: Bool { true }

    public func echo(liveRequest: FramedMessage, recordedRequest: FramedMessage, reply: [UInt8]) -> [UInt8]? {
        let live = DNSMessageReader(liveRequest.bytes.dropFirst(2))
        guard let id = live.id else { return nil }
        let liveCookie = live.cookie.flatMap { $0.count >= 8 ? Array(live.bytes[$0.prefix(8)]) : nil }
        let liveQuestion = live.question
        var result = reply
        for range in DNSFramer.messageRanges(reply) {
            let start = range.lowerBound + 2
            guard range.upperBound - start >= 2 else { continue }
            result[start] = UInt8(truncatingIfNeeded: id >> 8)
            result[start + 1] = UInt8(truncatingIfNeeded: id)
            let message = DNSMessageReader(reply[start..<range.upperBound])
            if let liveCookie, let cookie = message.cookie, cookie.count >= 8 {
                for (offset, byte) in liveCookie.enumerated() { result[start + cookie.lowerBound + offset] = byte }
            }
            if let liveQuestion, let question = message.question,
               liveQuestion.range.count == question.range.count,
               question.range.count - 4 == question.labels.reduce(1, { $0 + $1.count + 1 }),
               liveQuestion.labels.map({ $0.map(WireBytes.lower) }) == question.labels.map({ $0.map(WireBytes.lower) }) {
                // Same name, same uncompressed length: copy the live spelling byte for byte.
                for offset in 0..<(question.range.count - 4) {
                    result[start + question.range.lowerBound + offset] = live.bytes[liveQuestion.range.lowerBound + offset]
                }
            }
        }
        return result == reply ? nil : result
    }

    /// A SERVFAIL response (QR set, RCODE 2) with the query's id, opcode, RD and question,
    /// length-prefixed.
    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        let query = DNSMessageReader(message.bytes.dropFirst(2))
        let id = query.id ?? 0
        let flags = query.flags ?? 0
        let responseFlags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | 2
        var body = WireBytes.bytes(uint16: id) + WireBytes.bytes(uint16: responseFlags)
        if let question = query.question {
            body += WireBytes.bytes(uint16: 1) + [0, 0, 0, 0, 0, 0]
            for label in question.labels { body += [UInt8(label.count)] + label }
            body += [0] + WireBytes.bytes(uint16: question.type) + WireBytes.bytes(uint16: question.klass)
        } else {
            body += [0, 0, 0, 0, 0, 0, 0, 0]
        }
        return WireBytes.bytes(uint16: body.count) + body
    }
}
