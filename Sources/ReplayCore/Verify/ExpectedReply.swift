/// What the recorded server answered at one step, as verify compares it: the reply's messages
/// cut by the same framer replay uses, with their masked bytes and any hand-written pattern.
public struct ExpectedReply: Sendable {
    /// One server message of the recorded reply.
    public struct Message: Sendable {
        /// The bytes as recorded (a transcript's pattern: its literal example).
        public var bytes: [UInt8]
        /// The bytes with the dialect's built-in masks and the user's masks applied.
        public var masked: [UInt8]
        /// A transcript's server-side pattern (`S: 550*`) standing for this message, if any.
        public var pattern: MessagePattern?
        /// Whether the framer said this message completes the reply.
        public var completesReply: Bool
    }

    /// The recorded reply's raw bytes, joined.
    public var bytes: [UInt8]
    /// `RecordedExchange.maskedReply`: what the live reply must equal after masks.
    public var masked: [UInt8]
    public var messages: [Message]
    /// How long the recorded server took before the reply's first byte, in nanoseconds (a reply
    /// that took longer than `--timeout` to record is waited for that long, plus a margin).
    public var recordedDelay: Int64

    public init(bytes: [UInt8], masked: [UInt8], messages: [Message], recordedDelay: Int64) {
        self.bytes = bytes
        self.masked = masked
        self.messages = messages
        self.recordedDelay = recordedDelay
    }

    /// Nothing was recorded in answer.
    public var isEmpty: Bool { bytes.isEmpty && messages.isEmpty }

    /// The messages as a diff shows them when patterns decide the reply: each pattern as
    /// written, the other messages escaped; empty without patterns.
    public var shownWithPatterns: [String] {
        guard hasPatterns else { return [] }
        return messages.map { message in
            message.pattern.map { "\($0.source)  (pattern)" } ?? Escaped.text(message.bytes, limit: 200)
        }
    }

    /// Whether a pattern decides at least one message (then messages are compared one by one).
    public var hasPatterns: Bool { messages.contains { $0.pattern != nil } }
}
