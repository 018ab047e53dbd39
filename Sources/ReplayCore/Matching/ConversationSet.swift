/// All recorded conversations a replay server answers from: the sessions of every cassette
/// given, compiled by their protocols and merged into one tree, with the counts of how often
/// each was followed. Immutable but for the counts, and shared by every connection.
public final class ConversationSet: Sendable {
    public let conversations: [RecordedConversation]
    public let index: ConversationIndex
    public let served: ServedCounts
    public let masks: MaskSet
    /// The protocol forced with `--proto`, if any: live framing follows it.
    public let forcedProtocol: WireProtocol?
    /// Keys of the live messages seen so far, shared by every connection.
    public let keyCache = MessageKeyCache()

    public init(conversations: [RecordedConversation], masks: MaskSet = .none, forcedProtocol: WireProtocol? = nil) {
        self.conversations = conversations
        self.index = ConversationIndex(conversations: conversations)
        self.served = ServedCounts(conversations: conversations.count)
        self.masks = masks
        self.forcedProtocol = forcedProtocol
    }

    /// Compiles sessions of one or more cassettes; each tuple is a cassette's path and sessions.
    public convenience init(cassettes: [(file: String, sessions: [Session])], masks: MaskSet = .none, proto: WireProtocol? = nil) {
        var conversations: [RecordedConversation] = []
        for cassette in cassettes {
            for session in cassette.sessions {
                conversations.append(RecordedConversation(session: session, file: cassette.file, proto: proto, masks: masks))
            }
        }
        self.init(conversations: conversations, masks: masks, forcedProtocol: proto)
    }

    /// The protocol live connections are framed with: forced, or that of the recordings (the
    /// first conversation's; sessions of several protocols in one set are framed by the one
    /// the connection's opening chose, see `ConversationCursor`).
    public var defaultProtocol: WireProtocol {
        forcedProtocol ?? conversations.first?.proto ?? .opaque
    }

    /// Sessions no connection followed.
    public var unused: [SessionRef] {
        let counts = served.snapshot
        return conversations.indices.filter { counts[$0] == 0 }.map { conversations[$0].ref }
    }
}
