/// Every recorded conversation merged into one tree on their client messages, so that choosing
/// a conversation for a live message looks keys up instead of scanning sessions or replies.
///
/// A node is a state of the conversation: the conversations in it have had client messages of
/// the same kinds and replies equal after masks, step for step. An edge leaves a node for one
/// kind of client message and one masked reply (and ending). Each node indexes the
/// conversations leaving it by their next message's kind, content and exact keys, so a live
/// message costs a few dictionary lookups whatever the number of recorded sessions and of
/// distinct replies (a Postfix refusal names its recipient: thousands of replies at one step).
public struct ConversationIndex: Sendable {
    /// One way out of a node.
    public struct Edge: Sendable {
        public var kind: String
        /// The node this edge leads to.
        public var child: Int
    }

    public struct Node: Sendable {
        /// How many exchanges lead here (the opening counts): the index of the next exchange.
        public var depth: Int
        /// Edge numbers by message kind.
        public var edgesByKind: [String: [Int]] = [:]
        /// Conversations leaving this node, in recorded order, by their next message's keys.
        public var byKind: [String: [Int]] = [:]
        /// Keyed by `contentKey(kind:content:)`.
        public var byContent: [String: [Int]] = [:]
        public var byExact: [HashedBytes: [Int]] = [:]
        /// Conversations whose next message has bytes the recording does not know, or is a pattern.
        public var withWildcards: [Int] = []

        init(depth: Int) { self.depth = depth }
    }

    public private(set) var nodes: [Node]
    public private(set) var edges: [Edge]
    /// For each conversation, the node reached after each of its exchanges.
    public private(set) var paths: [[Int]]
    /// For each conversation, the edge it takes at each of its exchanges.
    public private(set) var edgePaths: [[Int]]

    /// The node every connection starts at, before the opening.
    public static let root = 0

    public init(conversations: [RecordedConversation]) {
        nodes = [Node(depth: 0)]
        edges = []
        paths = []
        edgePaths = []
        paths.reserveCapacity(conversations.count)
        edgePaths.reserveCapacity(conversations.count)
        struct EdgeKey: Hashable {
            var node: Int
            var kind: String
            var signature: [UInt8]
        }
        var edgeByKey: [EdgeKey: Int] = [:]
        for (index, conversation) in conversations.enumerated() {
            var node = Self.root
            var path: [Int] = []
            var edgePath: [Int] = []
            path.reserveCapacity(conversation.exchanges.count)
            edgePath.reserveCapacity(conversation.exchanges.count)
            for exchange in conversation.exchanges {
                let key = EdgeKey(node: node, kind: exchange.key.kind, signature: Self.signature(exchange))
                let edgeNumber: Int
                if let existing = edgeByKey[key] {
                    edgeNumber = existing
                } else {
                    edgeNumber = edges.count
                    nodes.append(Node(depth: nodes[node].depth + 1))
                    edges.append(Edge(kind: exchange.key.kind, child: nodes.count - 1))
                    nodes[node].edgesByKind[exchange.key.kind, default: []].append(edgeNumber)
                    edgeByKey[key] = edgeNumber
                }
                if exchange.request?.pattern == nil {
                    nodes[node].byKind[exchange.key.kind, default: []].append(index)
                    nodes[node].byContent[Self.contentKey(exchange.key), default: []].append(index)
                    nodes[node].byExact[HashedBytes(exchange.key.exact), default: []].append(index)
                }
                // A hand-written pattern matches only by itself: `C: RCPT TO:/.*@example\.org>/`
                // must not answer another recipient because the kind is the same.
                if let request = exchange.request, request.isPatterned { nodes[node].withWildcards.append(index) }
                node = edges[edgeNumber].child
                path.append(node)
                edgePath.append(edgeNumber)
            }
            paths.append(path)
            edgePaths.append(edgePath)
        }
    }

    /// The content level is compared within a kind.
    static func contentKey(_ key: MessageKey) -> String { key.kind + "\u{0}" + key.content }

    /// What makes two recorded replies the same: the masked reply bytes and how it ended.
    static func signature(_ exchange: RecordedExchange) -> [UInt8] {
        var signature = exchange.maskedReply
        for piece in exchange.pieces {
            switch piece.action {
            case .send, .skipGap: continue
            case .halfClose: signature += [0xFF, 1]
            case .reset: signature += [0xFF, 2]
            case .connectFailed(let failure): signature += [0xFF, 3] + Array(failure.reason.rawValue.utf8)
            case .startTLS: signature += [0xFF, 4]
            }
        }
        return signature
    }

    /// The node before exchange `exchange` of conversation `conversation`.
    public func node(before exchange: Int, of conversation: Int) -> Int {
        exchange == 0 ? Self.root : paths[conversation][exchange - 1]
    }
}
