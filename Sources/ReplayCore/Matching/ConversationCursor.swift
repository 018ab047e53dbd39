/// Where one live connection is in the recorded conversations: it narrows the candidates with
/// each client message and says which recorded exchange answers it, or why none does.
///
/// Rules (docs/replay.md has them for users):
/// - A message must be of a kind a candidate recorded at this point; `similar` then prefers the
///   candidates whose message had the same content, then the same exact bytes (each level a key
///   lookup); `exact` takes only exact ones.
/// - Ties go to the conversation followed least often so far, then to the earliest recorded.
/// - Candidates stay only while the replies already sent equal theirs after masks (they share
///   the tree node), so a reply is never spliced from a conversation that differs.
/// - A message that fits nothing here but fits a later step of the conversation being followed
///   skips ahead to it (a client that sends QUIT after a refusal where DATA was recorded).
/// - Otherwise a housekeeping command gets the protocol's plain reply, anything else is a
///   `Mismatch`.
public struct ConversationCursor: Sendable {
    /// A recorded exchange chosen to answer a message.
    public struct Choice: Sendable, Equatable {
        /// The conversation followed (an index into `ConversationSet.conversations`).
        public var conversation: Int
        /// The exchange of that conversation that answers.
        public var exchange: Int
        public var level: MatchLevel
        /// Recorded client messages the live client skipped to get here.
        public var skipped: Int
    }

    public enum Outcome: Sendable, Equatable {
        case matched(Choice)
        /// Not recorded, but a housekeeping command: answer with these bytes.
        case synthesized([UInt8])
        case mismatch(Mismatch)
        /// The client's FIN, where no recording had one: nothing to answer.
        case nothingRecorded

        /// Whether a log line about this outcome quotes the client's message.
        var needsText: Bool {
            switch self {
            case .synthesized: return true
            case .matched(let choice): return choice.skipped > 0
            case .mismatch, .nothingRecorded: return false
            }
        }
    }

    public let set: ConversationSet
    public let mode: MatchMode
    public let connection: Int
    /// When set, only this conversation is followed (`--session`, `--in-order`).
    public let only: Int?
    public private(set) var node = ConversationIndex.root
    /// The conversation followed now.
    public private(set) var lead: Int?
    /// Index of the next exchange of `lead` (how many exchanges were done).
    public private(set) var nextExchange = 0
    /// Client messages received so far.
    public private(set) var messages = 0

    public init(set: ConversationSet, mode: MatchMode = .similar, connection: Int, only: Int? = nil) {
        self.set = set
        self.mode = mode
        self.connection = connection
        self.only = only
    }

    /// The connection opened: the opening exchange to play, if any conversation is left.
    public mutating func open() -> Choice? {
        if let only {
            guard set.conversations.indices.contains(only) else { return nil }
            return take(Choice(conversation: only, exchange: 0, level: .exact, skipped: 0), node: nil)
        }
        guard let (choice, edge) = choose(at: ConversationIndex.root, key: RecordedExchange.openingKey, live: [], skippedTo: 0) else {
            return nil
        }
        return take(choice, node: set.index.edges[edge].child)
    }

    /// A complete client message (or, with `message` nil, the client's FIN) arrived.
    public mutating func receive(_ message: FramedMessage?, key: MessageKey, dialect: any ProtocolDialect) -> Outcome {
        let isFIN = message == nil
        if !isFIN { messages += 1 }
        let live = message?.bytes ?? []
        if let only { return receiveFollowing(only, message: message, key: key, dialect: dialect) }
        if let (choice, edge) = choose(at: node, key: key, live: live, skippedTo: nextExchange) {
            return .matched(take(choice, node: set.index.edges[edge].child))
        }
        // A later step of the conversation followed, if the client skipped some.
        if let lead {
            let exchanges = set.conversations[lead].exchanges
            var index = nextExchange + 1
            while index < exchanges.count, index <= nextExchange + Self.skipLimit {
                if exchanges[index].key.kind == key.kind || (!isFIN && exchanges[index].request?.pattern?.matches(live) == true) {
                    let before = set.index.node(before: index, of: lead)
                    if let (choice, edge) = choose(at: before, key: key, live: live, skippedTo: index) {
                        return .matched(take(choice, node: set.index.edges[edge].child))
                    }
                }
                index += 1
            }
        }
        if isFIN { return .nothingRecorded }
        if let message, let reply = dialect.housekeepingReply(to: message, key: key) { return .synthesized(reply) }
        return .mismatch(mismatch(for: live, key: key))
    }

    /// How far ahead a skipping client is looked for.
    static let skipLimit = 64

    /// The next exchange of the conversation followed, for `--on-mismatch continue`: as if the
    /// message had matched it.
    public mutating func forceNext() -> Choice? {
        guard let lead, nextExchange < set.conversations[lead].exchanges.count else { return nil }
        let choice = Choice(conversation: lead, exchange: nextExchange, level: .kind, skipped: 0)
        return take(choice, node: only == nil ? set.index.paths[lead][nextExchange] : nil)
    }

    /// Whether the conversation followed has no exchange left (its server side is over or silent).
    public var isAtEnd: Bool {
        guard let lead else { return true }
        return nextExchange >= set.conversations[lead].exchanges.count
    }

    // MARK: - Internals

    private mutating func take(_ choice: Choice, node newNode: Int?) -> Choice {
        set.served.move(from: lead, to: choice.conversation)
        lead = choice.conversation
        nextExchange = choice.exchange + 1
        if let newNode { node = newNode }
        return choice
    }

    /// The conversation to follow from `node` for a message with `key`, and the edge it takes:
    /// the strongest level any conversation leaving the node reaches, then the least served of
    /// those (the one followed now among equals, then the earliest recorded). Key lookups only.
    private func choose(at node: Int, key: MessageKey, live: [UInt8], skippedTo exchange: Int) -> (Choice, Int)? {
        // Fields read one by one: a copy of the node would retain each of its tables per message.
        let depth = set.index.nodes[node].depth
        var level: MatchLevel
        var bucket: [Int]
        if let exact = set.index.nodes[node].byExact[key.exactKey], let first = exact.first, kind(of: first, at: depth) == key.kind {
            (level, bucket) = (.exact, exact)
        } else if !set.index.nodes[node].withWildcards.isEmpty, let wildcarded = wildcardMatches(set.index.nodes[node], key: key, live: live) {
            (level, bucket) = (.exact, wildcarded)
        } else if let content = set.index.nodes[node].byContent[ConversationIndex.contentKey(key)] {
            (level, bucket) = (.content, content)
        } else if let kind = set.index.nodes[node].byKind[key.kind] {
            (level, bucket) = (.kind, kind)
        } else {
            return nil
        }
        if mode == .exact, level != .exact { return nil }
        var chosen: (conversation: Int, served: Int)?
        // Stay with the conversation followed now unless another was served less: switching
        // between equals gains nothing and makes the timing come from a different recording.
        // Served no more than any conversation at all, it is the least served of the candidates
        // without a scan of them (a hundred equal sessions scanned per message showed in the profile).
        if bucket.count > 1, let lead, follows(lead, node: node, depth: depth, key: key, live: live, level: level),
           let served = set.served.servedIfLeast(lead, followedByAsker: true) {
            chosen = (lead, served)
        }
        if chosen == nil {
            guard var pick = set.served.leastServed(bucket, asking: lead) else { return nil }
            if let lead, lead != pick.conversation, follows(lead, node: node, depth: depth, key: key, live: live, level: level) {
                let served = set.served.count(lead) - 1
                if served <= pick.served { pick = (lead, served) }
            }
            chosen = pick
        }
        guard let pick = chosen else { return nil }
        let edge = set.index.edgePaths[pick.conversation][depth]
        let choice = Choice(conversation: pick.conversation, exchange: depth, level: level,
                            skipped: max(0, depth - nextExchange))
        return (choice, edge)
    }

    // Exchanges are read through their buffer: an array subscript copies the whole exchange
    // (every field retained and released) before a method or a nested field is read, which
    // showed in the profile once per client message.

    private func kind(of conversation: Int, at exchange: Int) -> String {
        set.conversations[conversation].exchanges.withUnsafeBufferPointer { $0[exchange].key.kind }
    }

    /// Whether `conversation` leaves `node` with a message that reaches `level` for `key`.
    private func follows(_ conversation: Int, node: Int, depth: Int, key: MessageKey, live: [UInt8], level: MatchLevel) -> Bool {
        guard set.index.node(before: depth, of: conversation) == node else { return false }
        return set.conversations[conversation].exchanges.withUnsafeBufferPointer { exchanges in
            guard depth < exchanges.count else { return false }
            // A pattern or wildcards decide in `level(matching:live:)`; otherwise the key alone
            // does, read in place (calling the exchange's method copied the whole exchange).
            if exchanges[depth].request?.isPatterned == true {
                return exchanges[depth].level(matching: key, live: live).map { $0 >= level } ?? false
            }
            return exchanges[depth].key.level(matching: key).map { $0 >= level } ?? false
        }
    }

    private func wildcardMatches(_ node: ConversationIndex.Node, key: MessageKey, live: [UInt8]) -> [Int]? {
        guard !node.withWildcards.isEmpty else { return nil }
        let matching = node.withWildcards.filter { conversation in
            let exchange = set.conversations[conversation].exchanges[node.depth]
            // The client's FIN is no message: no pattern stands for it.
            guard let request = exchange.request, key.kind != RecordedExchange.finKey.kind,
                  request.pattern != nil || exchange.key.kind == key.kind || request.wildcards.contains(where: { $0.lowerBound == 0 }) else { return false }
            return request.fits(live)
        }
        // The most specific wins: the pattern with the most literal text (`RCPT TO:<postmaster@*`
        // before `RCPT TO:*`).
        let specificity = matching.map { set.conversations[$0].exchanges[node.depth].request?.knownByteCount ?? 0 }
        guard let best = specificity.max() else { return nil }
        let chosen = zip(matching, specificity).filter { $0.1 == best }.map(\.0)
        return chosen.isEmpty ? nil : chosen
    }

    /// The one-conversation rules (`--session`, `--in-order`): the same levels and skipping,
    /// along that conversation only.
    private mutating func receiveFollowing(_ conversation: Int, message: FramedMessage?, key: MessageKey, dialect: any ProtocolDialect) -> Outcome {
        let exchanges = set.conversations[conversation].exchanges
        var index = nextExchange
        while index < exchanges.count, index <= nextExchange + Self.skipLimit {
            let recorded = exchanges[index]
            if let level = recorded.level(matching: key, live: message?.bytes ?? []) {
                if mode != .exact || level == .exact {
                    return .matched(take(Choice(conversation: conversation, exchange: index, level: level, skipped: index - nextExchange), node: nil))
                }
            }
            index += 1
        }
        guard let message else { return .nothingRecorded }
        if let reply = dialect.housekeepingReply(to: message, key: key) { return .synthesized(reply) }
        return .mismatch(mismatch(for: message.bytes, key: key))
    }

    private func mismatch(for live: [UInt8], key: MessageKey) -> Mismatch {
        var reason = Mismatch.Reason.unknownKind
        var nearest: (bytes: [UInt8], ref: SessionRef, content: String)?
        if let lead {
            let conversation = set.conversations[lead]
            let upcoming = conversation.exchanges[min(nextExchange, conversation.exchanges.count)...]
            if let sameKind = upcoming.prefix(Self.skipLimit).first(where: { $0.key.kind == key.kind }), let request = sameKind.request {
                reason = .notExact
                nearest = (request.bytes, conversation.ref, sameKind.key.content)
            } else if let next = upcoming.first(where: { $0.request != nil }), let request = next.request {
                nearest = (request.bytes, conversation.ref, next.key.content)
            } else {
                reason = .beyondRecording
            }
        }
        return Mismatch(connection: connection, step: messages, reason: reason, received: live,
                        nearest: nearest?.bytes, nearestSession: nearest?.ref, receivedContent: key.content, nearestContent: nearest?.content)
    }
}
