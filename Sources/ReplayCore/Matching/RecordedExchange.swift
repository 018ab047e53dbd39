/// One step of a recorded conversation: a client message and what the server did in answer,
/// cut at reply boundaries whatever chunks the recording had. The first exchange of every
/// session has no request: it holds what the server did before the client spoke (a banner).
public struct RecordedExchange: Sendable {
    /// The client message this exchange answers; `nil` for the opening.
    public var request: FramedMessage?
    /// The request's three match levels (empty for the opening).
    public var key: MessageKey
    /// Whether the request was the client's FIN rather than bytes.
    public var isClientFIN: Bool
    /// When the recorded request was complete, in nanoseconds since the session opened: the
    /// server's think time before the first reply piece counts from here.
    public var requestOffset: Int64
    /// What the server did, in order: chunks (or parts of chunks) of the reply, its FIN or RST.
    public var pieces: [ReplayPlan.Step]
    /// The server messages of the reply with their volatile parts masked, joined: two recorded
    /// exchanges with equal keys and equal masked replies are one node of the conversation tree.
    public var maskedReply: [UInt8]
    /// Why this exchange cannot be replayed to another client, from the dialect, worked out
    /// once when the cassette is loaded.
    public var unreplayableReason: String?

    public init(request: FramedMessage?, key: MessageKey, isClientFIN: Bool = false, requestOffset: Int64,
                pieces: [ReplayPlan.Step] = [], maskedReply: [UInt8] = []) {
        self.request = request
        self.key = key
        self.isClientFIN = isClientFIN
        self.requestOffset = requestOffset
        self.pieces = pieces
        self.maskedReply = maskedReply
    }

    /// The key of the opening exchange and of the client's FIN.
    static let openingKey = MessageKey(kind: "(open)", content: "(open)", exact: [])
    static let finKey = MessageKey(kind: "(FIN)", content: "(FIN)", exact: [])

    /// How a live message with `key` and bytes `live` matches this exchange's request: a pattern
    /// or wildcards decide alone (exact when they fit); otherwise the key's levels.
    public func level(matching key: MessageKey, live: [UInt8]) -> MatchLevel? {
        if let request, request.pattern != nil {
            return key.kind != Self.finKey.kind && request.fits(live) ? .exact : nil
        }
        if let request, !request.wildcards.isEmpty, request.fits(live) { return .exact }
        return self.key.level(matching: key)
    }

    /// The reply's data bytes, joined.
    public var replyBytes: [UInt8] {
        var bytes: [UInt8] = []
        for piece in pieces { if case .send(let chunk) = piece.action { bytes += chunk } }
        return bytes
    }
}
