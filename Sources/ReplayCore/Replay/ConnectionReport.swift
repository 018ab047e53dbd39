/// What one replayed connection did, step by step, for `--report` and the summary.
public struct ConnectionReport: Sendable, Equatable {
    /// One client message and what answered it.
    public struct Step: Sendable, Equatable {
        public enum Result: String, Sendable {
            /// A recorded exchange answered it.
            case matched
            /// Nothing was recorded, but a housekeeping command got the protocol's plain reply.
            case synthesized
            /// Nothing recorded fits (see `detail`).
            case mismatch
        }

        /// The client message's number in the connection (from 1); 0 for the client's FIN.
        public var step: Int
        /// What the client sent, escaped for one line.
        public var received: String
        public var kind: String
        public var result: Result
        public var level: MatchLevel?
        /// The recorded session and exchange that answered.
        public var session: SessionRef?
        public var exchange: Int?
        /// Recorded client messages the client skipped to get here.
        public var skipped: Int
        public var detail: String?
    }

    /// The connection number, from 1 in accept order.
    public var connection: Int
    public var client: String?
    /// The recorded session the connection followed last.
    public var followed: SessionRef?
    /// Every step, when the report is kept (`--report`); empty otherwise, to keep a long-running
    /// server's memory flat.
    public var steps: [Step] = []
    /// How the connection ended, in words.
    public var outcome: String?
    /// Each injected fault (rule or chaos), as its log line says it.
    public var faults: [String] = []
    /// Client messages (the FIN not counted), and how they were answered.
    public private(set) var messages = 0
    public private(set) var matched = 0
    public private(set) var synthesized = 0
    public private(set) var mismatches = 0

    public init(connection: Int, client: String? = nil, followed: SessionRef? = nil) {
        self.connection = connection
        self.client = client
        self.followed = followed
    }

    /// Counts a step, and keeps it when `keep` is true.
    public mutating func add(_ step: Step, keep: Bool) {
        if step.step > 0 { messages += 1 }
        switch step.result {
        case .matched: if step.step > 0 { matched += 1 }
        case .synthesized: synthesized += 1
        case .mismatch: mismatches += 1
        }
        if keep { steps.append(step) }
    }

    /// Takes back the last step counted (`--on-mismatch continue` turns a mismatch into a match).
    public mutating func removeLast(_ step: Step) {
        if step.step > 0 { messages -= 1 }
        switch step.result {
        case .matched: if step.step > 0 { matched -= 1 }
        case .synthesized: synthesized -= 1
        case .mismatch: mismatches -= 1
        }
        if steps.last == step { steps.removeLast() }
    }
}
