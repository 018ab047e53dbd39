/// One recorded session compiled for replay by messages: its protocol and its exchanges, each
/// a client message with the server's reply to it, cut by the protocol's framer.
///
/// Replies are paired with requests the protocol's way (`ReplyPairing`): a pipelining SMTP
/// server's single write answering MAIL, RCPT and DATA becomes three pieces, one per command,
/// so a client that does not pipeline gets each reply after its own command. Each piece keeps
/// the recorded think time: the first piece of a reply counts from the later of its request and
/// the previous server piece, later pieces from the piece before them.
public struct RecordedConversation: Sendable {
    public var ref: SessionRef
    public var proto: WireProtocol
    /// The server's address as recorded (`--server` picks sessions by it).
    public var server: String
    /// The opening (what the server did before the client spoke), then one per client message.
    public var exchanges: [RecordedExchange]
    /// All client bytes the recording has, for the per-connection summary.
    public var recordedClientBytes: Int
    /// All server bytes the conversation sends.
    public var recordedServerBytes: Int
    /// A session whose proxy never reached its server: the client bytes that had arrived when
    /// the connect failed (the replay waits for the live client's first bytes before failing).
    public var clientBytesBeforeFailure: Int

    public init(session: Session, file: String, proto forced: WireProtocol? = nil, masks: MaskSet = .none) {
        let proto = forced ?? session.open.proto ?? Self.detect(session)
        let dialect = proto.dialect
        var builder = Builder(dialect: dialect, masks: masks, openOffset: session.events.first?.offset ?? 0)
        builder.build(session.events)
        self.ref = SessionRef(file: file, session: session.id)
        self.proto = proto
        self.server = session.open.server
        self.exchanges = builder.exchanges
        self.recordedClientBytes = builder.clientBytes
        self.recordedServerBytes = builder.serverBytes
        self.clientBytesBeforeFailure = builder.clientBytesBeforeFailure
    }

    /// The protocol of a session recorded without one (a version 1 cassette).
    public static func detect(_ session: Session) -> WireProtocol {
        var client: [UInt8] = []
        var server: [UInt8] = []
        for event in session.events {
            guard case .data(let direction, let bytes) = event.kind else { continue }
            if direction == .clientToServer, client.isEmpty { client = Array(bytes.prefix(512)) }
            if direction == .serverToClient, server.isEmpty { server = Array(bytes.prefix(512)) }
            if !client.isEmpty, !server.isEmpty { break }
        }
        return ProtocolDetector.detect(serverPort: session.open.serverPort, client: client, server: server)
    }

    /// Walks a session's events once, keeping the framer's and the pairing's state.
    private struct Builder {
        let dialect: any ProtocolDialect
        let masks: MaskSet
        var framer: any MessageFramer
        var exchanges: [RecordedExchange]
        /// Exchanges whose request waits for a reply, oldest first (`.inOrder` pairing).
        var waiting: [Int] = []
        var waitingStart = 0
        /// The offset of the server's previous piece (or the open).
        var lastServerOffset: Int64
        var lastClientOffset: Int64
        /// Server bytes given to the framer that no completed message has taken yet.
        var serverPending = 0
        var ended = false
        var clientBytes = 0
        var serverBytes = 0
        var clientBytesBeforeFailure = 0
        /// Client bytes of the current message so far, and where the client stream's wildcards
        /// (capture gaps) lie, as offsets into the client stream.
        var clientStreamOffset = 0
        var clientMessageStart = 0
        var clientWildcards: [Range<Int>] = []

        init(dialect: any ProtocolDialect, masks: MaskSet, openOffset: Int64) {
            self.dialect = dialect
            self.masks = masks
            self.framer = dialect.makeFramer()
            self.exchanges = [RecordedExchange(request: nil, key: RecordedExchange.openingKey, requestOffset: openOffset)]
            self.lastServerOffset = openOffset
            self.lastClientOffset = openOffset
        }

        var isOpaque: Bool { dialect.wireProtocol == .opaque }

        /// The exchange server bytes arriving now belong to.
        var target: Int {
            if dialect.pairing == .inOrder, waitingStart < waiting.count { return waiting[waitingStart] }
            return exchanges.count - 1
        }

        mutating func build(_ events: [SessionEvent]) {
            // Redacted client bytes match anything. The marker may come after the data it
            // covers (the redactor sees a secret whole only later), so collect them first.
            for event in events {
                if case .redacted(let redaction) = event.kind, redaction.direction == .clientToServer, redaction.length > 0 {
                    clientWildcards.append(redaction.offset..<(redaction.offset + redaction.length))
                }
            }
            events: for (index, event) in events.enumerated() {
                switch event.kind {
                case .data(.clientToServer, let bytes):
                    guard !ended else { continue }
                    if let pattern = Self.pattern(after: index, in: events, offset: clientStreamOffset, length: bytes.count) {
                        // A hand-written pattern is one message whatever its bytes: the framer
                        // does not see it (`C: *` in a DNS scenario has no length prefix).
                        flushOpaqueRequest()
                        clientBytes += bytes.count
                        lastClientOffset = event.offset
                        clientStreamOffset += bytes.count
                        addRequest(FramedMessage(bytes: bytes, pattern: pattern), at: event.offset)
                        continue
                    }
                    clientBytes += bytes.count
                    lastClientOffset = event.offset
                    clientStreamOffset += bytes.count
                    if isOpaque {
                        _ = framer.clientBytes(bytes)
                    } else {
                        for message in framer.clientBytes(bytes) { addRequest(message, at: event.offset) }
                    }
                case .gap(.clientToServer, let count):
                    guard !ended, count > 0 else { continue }
                    // The client did send these bytes; nobody knows which. They match anything.
                    let placeholder = [UInt8](repeating: UInt8(ascii: "?"), count: count)
                    clientWildcards.append(clientStreamOffset..<(clientStreamOffset + count))
                    clientStreamOffset += count
                    lastClientOffset = event.offset
                    if isOpaque {
                        _ = framer.clientBytes(placeholder)
                    } else {
                        for message in framer.clientBytes(placeholder) { addRequest(message, at: event.offset) }
                    }
                case .close(.clientToServer, .fin):
                    guard !ended else { continue }
                    for message in framer.clientFinished() { addRequest(message, at: event.offset) }
                    addFIN(at: event.offset)
                case .reset(by: .clientToServer):
                    // The client aborted: nothing after this happened on a live connection.
                    break events
                case .data(.serverToClient, let bytes):
                    guard !ended else { continue }
                    flushOpaqueRequest()
                    serverBytes += bytes.count
                    addServerChunk(bytes, at: event.offset)
                case .gap(.serverToClient, let count):
                    guard !ended else { continue }
                    flushOpaqueRequest()
                    addPiece(.skipGap(count), to: target, at: event.offset)
                case .close(.serverToClient, .fin):
                    guard !ended else { continue }
                    flushOpaqueRequest()
                    for message in framer.serverFinished() { appendMasked(message, to: target) }
                    addPiece(.halfClose, to: target, at: event.offset)
                    ended = true
                case .reset(by: .serverToClient):
                    guard !ended else { continue }
                    addPiece(.reset, to: target, at: event.offset)
                    ended = true
                case .tls(let marker):
                    guard !ended, marker.startsTLS else { continue }
                    flushOpaqueRequest()
                    // The exchange whose reply was the last thing before TLS: the opening for
                    // implicit TLS, the STARTTLS command otherwise (its client sent nothing more).
                    addPiece(.startTLS, to: exchanges.count - 1, at: event.offset)
                    // Recorded as plaintext: the STARTTLS itself replays (with a handshake of
                    // the replay's own), whatever the dialect says of a TLS switch.
                    exchanges[exchanges.count - 1].unreplayableReason = nil
                case .connectFailed(let failure):
                    clientBytesBeforeFailure = clientBytes
                    exchanges = [RecordedExchange(request: nil, key: RecordedExchange.openingKey, requestOffset: exchanges[0].requestOffset)]
                    exchanges[0].pieces = [ReplayPlan.Step(action: .connectFailed(failure), clientBytes: 0, afterClientClose: false,
                                                           delay: max(0, failure.elapsed), offset: event.offset)]
                    if ReplayPlan.resetFollows(event, in: events) {
                        exchanges[0].pieces.append(ReplayPlan.Step(action: .reset, clientBytes: 0, afterClientClose: false, delay: 0, offset: event.offset))
                    }
                    serverBytes = 0
                    break events
                default:
                    continue
                }
            }
            if !ended {
                flushOpaqueRequest()
                for message in framer.clientFinished() { addRequest(message, at: lastClientOffset) }
            }
        }

        /// The client pattern that the data event at `index` stands for: a `pattern` event right
        /// after it covering exactly its bytes.
        static func pattern(after index: Int, in events: [SessionEvent], offset: Int, length: Int) -> MessagePattern? {
            guard index + 1 < events.count, case .pattern(let mark) = events[index + 1].kind,
                  mark.direction == .clientToServer, mark.offset == offset, mark.length == length else { return nil }
            return try? MessagePattern(source: mark.source)
        }

        /// Unknown binary: the client's bytes so far are one message, because the server spoke.
        mutating func flushOpaqueRequest() {
            guard isOpaque, var opaque = framer as? OpaqueFramer else { return }
            if let message = opaque.cut(length: 0) {
                framer = opaque
                addRequest(message, at: lastClientOffset)
            }
        }

        mutating func addRequest(_ message: FramedMessage, at offset: Int64) {
            var message = message
            let start = clientMessageStart
            let end = start + message.bytes.count
            clientMessageStart = end
            for wildcard in clientWildcards where wildcard.lowerBound < end && wildcard.upperBound > start {
                message.wildcards.append((max(wildcard.lowerBound, start) - start)..<(min(wildcard.upperBound, end) - start))
            }
            let key = dialect.key(ofClient: message, masks: masks)
            var exchange = RecordedExchange(request: message, key: key, requestOffset: offset)
            exchange.unreplayableReason = dialect.unreplayableReason(recordedRequest: message)
            exchanges.append(exchange)
            if message.expectsReply { waiting.append(exchanges.count - 1) }
        }

        mutating func addFIN(at offset: Int64) {
            exchanges.append(RecordedExchange(request: nil, key: RecordedExchange.finKey, isClientFIN: true, requestOffset: offset))
            waiting.append(exchanges.count - 1)
        }

        /// Cuts one recorded server chunk where its bytes pass from answering one request to
        /// answering the next; bytes of one chunk that answer the same request stay one write.
        mutating func addServerChunk(_ bytes: [UInt8], at offset: Int64) {
            let messages = framer.serverBytes(bytes)
            var position = 0
            var pieceStart = 0
            var pieceOwner = target
            for message in messages {
                let inThisChunk = max(0, min(bytes.count - position, message.bytes.count - serverPending))
                serverPending = 0
                let owner = target
                if owner != pieceOwner {
                    if position > pieceStart { addPiece(.send(Array(bytes[pieceStart..<position])), to: pieceOwner, at: offset) }
                    pieceStart = position
                    pieceOwner = owner
                }
                position += inThisChunk
                appendMasked(message, to: owner)
                if message.completesReply, dialect.pairing == .inOrder, waitingStart < waiting.count { waitingStart += 1 }
            }
            // What no completed message took yet belongs to the message in progress.
            let rest = target
            if position < bytes.count {
                serverPending += bytes.count - position
                if rest != pieceOwner {
                    if position > pieceStart { addPiece(.send(Array(bytes[pieceStart..<position])), to: pieceOwner, at: offset) }
                    pieceStart = position
                    pieceOwner = rest
                }
            }
            if bytes.count > pieceStart { addPiece(.send(Array(bytes[pieceStart...])), to: pieceOwner, at: offset) }
        }

        mutating func appendMasked(_ message: FramedMessage, to exchange: Int) {
            exchanges[exchange].maskedReply += dialect.maskedReply(message, masks: masks)
        }

        mutating func addPiece(_ action: ReplayPlan.Action, to exchange: Int, at offset: Int64) {
            let anchor = exchanges[exchange].pieces.isEmpty
                ? max(exchanges[exchange].requestOffset, lastServerOffset)
                : lastServerOffset
            exchanges[exchange].pieces.append(ReplayPlan.Step(action: action, clientBytes: 0, afterClientClose: false,
                                                              delay: max(0, offset - anchor), offset: offset))
            lastServerOffset = max(lastServerOffset, offset)
        }
    }
}
