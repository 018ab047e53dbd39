/// One recorded session compiled for verify: the client side to play, step by step, with the
/// reply the recording had at each step and how the server ended.
///
/// It is built on `RecordedConversation`, so requests, the pairing of replies with them, the
/// masks and the protocol are exactly replay's. The recorded replies are cut again into server
/// messages by a fresh framer of the dialect (the client role), fed both directions in the
/// recorded order, so that the live reply can be read message by message the same way.
public struct VerifyScript: Sendable {
    public var ref: SessionRef
    /// The name a person gave the session (a transcript's `--- session unknown user`).
    public var label: String?
    public var proto: WireProtocol
    /// The opening (step 0: what the server said before the client spoke), then one step per
    /// recorded client message, then with `--until` the polite exit.
    public var steps: [VerifyStep]
    /// How the recorded server ended; `nil` when the script stops early (`--until`): then the
    /// ending is not compared.
    public var ending: VerifyEnding?
    /// The recorded pause before that ending, in nanoseconds: from the last server piece to
    /// its FIN or RST, or, for silence, to the end of the recording.
    public var endingPause: Int64
    /// The step `--until` stopped after.
    public var until: String?
    /// Whether the recorded session was TLS from its first byte (implicit TLS); a STARTTLS
    /// session has a step that `startsTLS` instead.
    public var implicitTLS: Bool

    /// Compiles `session` of `file`. Throws before anything is sent when a client message is a
    /// pattern, a redacted secret has no value, `until` names no step of the session, or the
    /// recording lost bytes.
    public init(session: Session, file: String, proto forced: WireProtocol? = nil, masks: MaskSet = .none,
                secrets: VerifySecrets = VerifySecrets(), until: String? = nil) throws(VerifyScriptError) {
        let ref = SessionRef(file: file, session: session.id)
        var clientPatterns: [PatternMark] = []
        var serverPatterns: [PatternMark] = []
        var redactions: [Redaction] = []
        for event in session.events {
            switch event.kind {
            case .pattern(let mark):
                if mark.direction == .clientToServer { clientPatterns.append(mark) } else { serverPatterns.append(mark) }
            case .redacted(let redaction) where redaction.direction == .clientToServer && redaction.length > 0:
                redactions.append(redaction)
            case .gap(let direction, let count) where count > 0:
                throw .incomplete(session: ref, direction: direction, bytes: count)
            case .connectFailed:
                throw .connectFailed(session: ref)
            default:
                continue
            }
        }
        if let mark = clientPatterns.first { throw .clientPattern(session: ref, pattern: mark.source) }

        let conversation = RecordedConversation(session: session, file: file, proto: forced, masks: masks)
        let dialect = conversation.proto.dialect
        var framer = dialect.makeFramer()
        var steps: [VerifyStep] = []
        var clientOffset = 0
        var serverOffset = 0
        let openOffset = session.events.first?.offset ?? 0
        var lastServerOffset = openOffset
        var ending = VerifyEnding.silent
        var endingPause: Int64 = 0
        var sawEnding = false
        var implicitTLS = false

        for (index, exchange) in conversation.exchanges.enumerated() {
            let send: VerifyStep.Send
            var shown: [UInt8] = []
            if let request = exchange.request {
                shown = request.bytes
                let range = clientOffset..<(clientOffset + request.bytes.count)
                clientOffset = range.upperBound
                send = .bytes(try Self.withSecrets(request.bytes, range: range, redactions: redactions, secrets: secrets,
                                                   ref: ref, step: index, kind: exchange.key.kind))
                _ = framer.clientBytes(request.bytes)
            } else if exchange.isClientFIN {
                send = .halfClose
                _ = framer.clientFinished()
            } else {
                send = .nothing
            }
            let think = index == 0 ? 0 : max(0, exchange.requestOffset - lastServerOffset)

            var messages: [ExpectedReply.Message] = []
            var framed: [FramedMessage] = []
            var startsTLS = false
            for piece in exchange.pieces {
                switch piece.action {
                case .send(let chunk): framed += framer.serverBytes(chunk)
                case .halfClose:
                    framed += framer.serverFinished()
                    ending = .fin
                    endingPause = piece.delay
                    sawEnding = true
                case .reset:
                    ending = .rst
                    endingPause = piece.delay
                    sawEnding = true
                case .startTLS:
                    // Before any reply byte: implicit TLS, from the first byte; after: STARTTLS.
                    if framed.isEmpty, index == 0 { implicitTLS = true } else { startsTLS = true }
                    continue
                case .skipGap, .connectFailed:
                    continue
                }
                if case .send = piece.action { lastServerOffset = max(lastServerOffset, piece.offset) }
            }
            for message in framed {
                let range = serverOffset..<(serverOffset + message.bytes.count)
                serverOffset = range.upperBound
                let mark = serverPatterns.first { $0.offset < range.upperBound && $0.offset + $0.length > range.lowerBound }
                messages.append(ExpectedReply.Message(bytes: message.bytes, masked: dialect.maskedReply(message, masks: masks),
                                                      pattern: mark.flatMap { try? MessagePattern(source: $0.source) },
                                                      completesReply: message.completesReply))
            }
            let reply = ExpectedReply(bytes: exchange.replyBytes, masked: exchange.maskedReply, messages: messages,
                                      recordedDelay: exchange.pieces.first?.delay ?? 0)
            steps.append(VerifyStep(send: send, kind: exchange.key.kind, shown: shown, think: think, reply: reply, startsTLS: startsTLS))
            if startsTLS { framer = dialect.makeFramer() }
        }
        if !sawEnding {
            endingPause = max(0, (session.events.last?.offset ?? openOffset) - lastServerOffset)
        }

        self.ref = ref
        self.label = session.open.label
        self.proto = conversation.proto
        self.until = until
        if let until {
            // `RCPT TO` names the RCPT step as well: the kind is the verb.
            let wanted = until.split(separator: " ").first.map { $0.uppercased() } ?? until.uppercased()
            guard let last = steps.lastIndex(where: { $0.kind.uppercased() == wanted }) else {
                var kinds: [String] = []
                for step in steps.dropFirst() where !kinds.contains(step.kind) { kinds.append(step.kind) }
                throw .noSuchStep(session: ref, step: until, kinds: kinds)
            }
            steps.removeSubrange((last + 1)...)
            let exit: VerifyStep.Send = PoliteExit.bytes(for: conversation.proto).map { .bytes($0) } ?? .halfClose
            let shownExit: [UInt8] = { if case .bytes(let bytes) = exit { return bytes } else { return [] } }()
            steps.append(VerifyStep(send: exit, kind: "(polite exit)", shown: shownExit, think: 0,
                                    reply: ExpectedReply(bytes: [], masked: [], messages: [], recordedDelay: 0), compares: false))
            self.ending = nil
        } else {
            self.ending = ending
        }
        self.endingPause = endingPause
        self.steps = steps
        self.implicitTLS = implicitTLS
    }

    /// Builds a script from steps directly (tests, and scenarios written by other means).
    public init(ref: SessionRef, label: String? = nil, proto: WireProtocol, steps: [VerifyStep], ending: VerifyEnding?,
                endingPause: Int64 = 0, until: String? = nil, implicitTLS: Bool = false) {
        self.implicitTLS = implicitTLS
        self.ref = ref
        self.label = label
        self.proto = proto
        self.steps = steps
        self.ending = ending
        self.endingPause = endingPause
        self.until = until
    }

    /// The client message `bytes`, which lies at `range` of the client's stream, with every
    /// redacted part replaced by its secret.
    static func withSecrets(_ bytes: [UInt8], range: Range<Int>, redactions: [Redaction], secrets: VerifySecrets,
                            ref: SessionRef, step: Int, kind: String) throws(VerifyScriptError) -> [UInt8] {
        let inside = redactions
            .filter { $0.offset < range.upperBound && $0.offset + $0.length > range.lowerBound }
            .sorted { $0.offset < $1.offset }
        guard !inside.isEmpty else { return bytes }
        var result: [UInt8] = []
        var position = 0
        for redaction in inside {
            guard let value = secrets.value(rule: redaction.rule) else {
                throw .missingSecret(session: ref, step: step, kind: kind, rule: redaction.rule)
            }
            let start = max(0, redaction.offset - range.lowerBound)
            let end = min(bytes.count, redaction.offset + redaction.length - range.lowerBound)
            guard start >= position else { continue }
            result += bytes[position..<start]
            // A secret split over two messages is sent whole with the first part.
            if redaction.offset >= range.lowerBound { result += value }
            position = end
        }
        result += bytes[position...]
        return result
    }
}
