/// Frames HTTP/1.x: a request with its body is one client message, a response with its body
/// one server message. It tracks the requests still unanswered, because a response's framing
/// depends on its request (a reply to HEAD has no body) and a `100 Continue` completes only
/// the header section of an `Expect: 100-continue` request. After `101 Switching Protocols`
/// (or a 2xx to CONNECT) both directions are opaque: each call's bytes are one message.
public struct HTTPFramer: MessageFramer {
    /// A request whose final response has not come yet.
    private struct Pending: Sendable {
        var id: Int
        var method: String
        /// Its header section was sent alone, waiting for `100 Continue`.
        var awaitsContinue: Bool
        /// Upgrade or CONNECT: the client's later bytes may not be HTTP.
        var mayTunnel: Bool
    }

    /// One message being read from one direction.
    private struct Partial: Sendable {
        var headEnd: Int
        var body: HTTPBody
        var expectsReply = true
        var completesReply = true
        /// Whether the message ends with this response (the connection becomes a tunnel).
        var tunnels = false
    }

    /// The longest header section accepted; beyond it the bytes are cut as one message so a
    /// stream that is not HTTP cannot grow the buffer without bound.
    static let maxHead = 65_536

    private var client: [UInt8] = []
    private var server: [UInt8] = []
    private var clientHead = HTTPHeadScanner()
    private var serverHead = HTTPHeadScanner()
    private var clientPartial: Partial?
    private var serverPartial: Partial?
    /// The body of an `Expect: 100-continue` request, framed as its own message.
    private var continueBody: (id: Int, body: HTTPBody)?
    private var pending: [Pending] = []
    private var nextID = 0
    /// The id of an `Expect: 100-continue` request whose final response came before its body.
    private var answered: Set<Int> = []
    /// An Upgrade or CONNECT request waits for its response: until then client bytes are held.
    private var clientHeld = false
    private var tunnel = false

    public init() {}

    public var pendingClientBytes: Int { client.count }

    // MARK: client

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(contentsOf: bytes)
        var messages: [FramedMessage] = []
        var rounds = 0
        while rounds < 1_000_000, let message = nextClientMessage() {
            rounds += 1
            messages.append(message)
        }
        return messages
    }

    private mutating func nextClientMessage() -> FramedMessage? {
        if tunnel {
            return client.isEmpty ? nil : FramedMessage(bytes: takeClient(client.count))
        }
        if clientHeld || client.isEmpty { return nil }
        if var waiting = continueBody {
            guard let end = waiting.body.end(in: client, from: 0) else {
                continueBody = waiting
                return nil
            }
            continueBody = nil
            let expectsReply = answered.remove(waiting.id) == nil
            return FramedMessage(bytes: takeClient(end), expectsReply: expectsReply)
        }
        if clientPartial == nil {
            guard let headEnd = clientHead.end(in: client) else {
                guard client.count > Self.maxHead else { return nil }
                pending.append(Pending(id: nextID, method: "", awaitsContinue: false, mayTunnel: false))
                nextID += 1
                return FramedMessage(bytes: takeClient(client.count))
            }
            let head = HTTPHead(client[..<headEnd])
            let body: HTTPBody = head.isChunked ? .chunked(HTTPChunkScanner()) : head.contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none
            let method = head.request?.method ?? ""
            let hasBody: Bool
            if case .none = body { hasBody = false } else { hasBody = true }
            let awaitsContinue = hasBody && head.has("expect", token: "100-continue")
            let mayTunnel = method == "CONNECT" || head.value("upgrade") != nil
            pending.append(Pending(id: nextID, method: method, awaitsContinue: awaitsContinue, mayTunnel: mayTunnel))
            if mayTunnel { clientHeld = true }
            if awaitsContinue {
                continueBody = (nextID, body)
                nextID += 1
                return FramedMessage(bytes: takeClient(headEnd))
            }
            nextID += 1
            clientPartial = Partial(headEnd: headEnd, body: body)
        }
        guard var partial = clientPartial else { return nil }
        guard let end = partial.body.end(in: client, from: partial.headEnd) else {
            clientPartial = partial
            return nil
        }
        return FramedMessage(bytes: takeClient(end))
    }

    private mutating func takeClient(_ count: Int) -> [UInt8] {
        let bytes = Array(client[..<count])
        client.removeFirst(count)
        clientHead = HTTPHeadScanner()
        clientPartial = nil
        return bytes
    }

    public mutating func clientFinished() -> [FramedMessage] {
        clientHeld = false
        var messages = clientBytes([])
        if !client.isEmpty {
            continueBody = nil
            messages.append(FramedMessage(bytes: takeClient(client.count), expectsReply: false))
        }
        return messages
    }

    // MARK: server

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(contentsOf: bytes)
        var messages: [FramedMessage] = []
        var rounds = 0
        while rounds < 1_000_000, let message = nextServerMessage() {
            rounds += 1
            messages.append(message)
        }
        return messages
    }

    private mutating func nextServerMessage() -> FramedMessage? {
        if tunnel {
            return server.isEmpty ? nil : FramedMessage(bytes: takeServer(server.count), completesReply: false)
        }
        guard !server.isEmpty else { return nil }
        if serverPartial == nil {
            let prefix = Array("HTTP/".utf8)
            guard server.prefix(prefix.count).elementsEqual(prefix.prefix(min(prefix.count, server.count))) else {
                // Not a status line: nothing to frame by, so the bytes are one message.
                return FramedMessage(bytes: takeServer(server.count), completesReply: false)
            }
            guard let headEnd = serverHead.end(in: server) else {
                guard server.count > Self.maxHead else { return nil }
                return FramedMessage(bytes: takeServer(server.count), completesReply: false)
            }
            serverPartial = responseFraming(HTTPHead(server[..<headEnd]), headEnd: headEnd)
        }
        guard var partial = serverPartial else { return nil }
        guard let end = partial.body.end(in: server, from: partial.headEnd) else {
            serverPartial = partial
            return nil
        }
        let message = FramedMessage(bytes: takeServer(end), completesReply: partial.completesReply)
        if partial.tunnels { tunnel = true }
        return message
    }

    /// How the response with `head` is framed, and what it does to the pending requests.
    private mutating func responseFraming(_ head: HTTPHead, headEnd: Int) -> Partial {
        let status = head.status ?? 0
        if status >= 100 && status < 200 && status != 101 {
            // An interim response: the request stays pending. Only a 100 answering a header
            // section sent alone completes a reply (that of the header section).
            var completes = false
            if status == 100, let index = pending.firstIndex(where: { $0.awaitsContinue }), index == 0 {
                pending[index].awaitsContinue = false
                completes = true
            }
            return Partial(headEnd: headEnd, body: .none, completesReply: completes)
        }
        let request = pending.isEmpty ? nil : pending.removeFirst()
        // Only a body still to come needs to know its request was answered already.
        if let request, continueBody?.id == request.id { answered.insert(request.id) }
        if request?.mayTunnel == true { clientHeld = false }
        let method = request?.method ?? ""
        if status == 101 || (method == "CONNECT" && status >= 200 && status < 300) {
            return Partial(headEnd: headEnd, body: .none, tunnels: true)
        }
        let body: HTTPBody
        if method == "HEAD" || status == 204 || status == 304 {
            body = .none
        } else if head.isChunked {
            body = .chunked(HTTPChunkScanner())
        } else if let length = head.contentLength {
            body = length > 0 ? .length(length) : .none
        } else {
            body = .untilClose
        }
        return Partial(headEnd: headEnd, body: body)
    }

    private mutating func takeServer(_ count: Int) -> [UInt8] {
        let bytes = Array(server[..<count])
        server.removeFirst(count)
        serverHead = HTTPHeadScanner()
        serverPartial = nil
        return bytes
    }

    /// A body until FIN ends here; anything else left is returned as it is.
    public mutating func serverFinished() -> [FramedMessage] {
        guard !server.isEmpty else {
            serverPartial = nil
            return []
        }
        return [FramedMessage(bytes: takeServer(server.count), completesReply: true)]
    }
}
