/// HTTP/1.x: a request (head and body) per client message, a response per server message,
/// replies in order (pipelining). A request's kind is its method and path, its content adds
/// the query and the body; volatile request headers (Host, Date, User-Agent, request ids) are
/// masked in the exact key, volatile response headers in `maskedReply`.
public struct HTTPDialect: ProtocolDialect {
    public init() {}

    /// Request header fields whose values differ between runs of the same client.
    static let volatileRequestFields: Set<String> = [
        "host", "date", "user-agent", "x-request-id", "x-amzn-trace-id", "x-correlation-id", "traceparent",
    ]
    /// Response header fields whose values differ between runs of the same server.
    static let volatileResponseFields: Set<String> = [
        "date", "expires", "age", "last-modified", "x-request-id", "x-amzn-trace-id", "x-correlation-id",
    ]
    /// The kind of a client message that is not a request: the body of an
    /// `Expect: 100-continue` request (or bytes that are not HTTP).
    static let bodyKind = "(body)"

    public var wireProtocol: WireProtocol { .http }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { HTTPFramer() }

    /// Kind `METHOD /path`; content `METHOD target` plus, when there is one, a newline and the
    /// body (chunked coding removed); exact the bytes with volatile header values masked.
    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let exact = masks.apply(HTTPHead.maskingFields(Self.volatileRequestFields, in: message.bytes))
        var scanner = HTTPHeadScanner()
        let headEnd = scanner.end(in: message.bytes)
        let head = headEnd.map { HTTPHead(message.bytes[..<$0]) }
        guard let headEnd, let head, let request = head.request else {
            let content = message.bytes.isEmpty ? Self.bodyKind : Self.bodyKind + "\n" + MaskSet.latin1(message.bytes)
            return MessageKey(kind: Self.bodyKind, content: masks.apply(content), exact: exact)
        }
        let path = request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let rawBody = message.bytes[headEnd...]
        let body = head.isChunked ? HTTPBody.dechunked(rawBody) : Array(rawBody)
        var content = "\(request.method) \(request.target)"
        if !body.isEmpty { content += "\n" + MaskSet.latin1(body) }
        return MessageKey(kind: "\(request.method) \(path)", content: masks.apply(content), exact: exact)
    }

    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        masks.apply(HTTPHead.maskingFields(Self.volatileResponseFields, in: message.bytes))
    }

    /// `501 Not Implemented` naming replayd and `reason`, closing the connection (what follows
    /// on it would not be in the recording either).
    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        let body = Array("replayd: ".utf8) + WireBytes.singleLine(reason) + [UInt8(ascii: "\n")]
        let head = "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
