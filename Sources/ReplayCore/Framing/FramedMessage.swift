/// One protocol message cut out of one direction of a connection: an SMTP command or reply
/// (a multi-line reply is one message), an HTTP request with its body, a RESP array, a DNS
/// message with its length prefix, a PostgreSQL message.
public struct FramedMessage: Sendable, Hashable {
    /// The message's bytes exactly as sent, line ending included.
    public var bytes: [UInt8]
    /// Client messages: whether the server answers this message. A command answered by a
    /// reply is `true`; the first half of an IMAP command that waits for a `+` continuation is
    /// `true` too (the continuation is its reply); a PostgreSQL Parse before Sync is `false`.
    public var expectsReply: Bool
    /// Server messages: whether this message completes the reply to the oldest client message
    /// still waiting for one (an SMTP reply, an IMAP tagged response, an HTTP final response).
    /// `false` for parts of a reply (IMAP untagged data, HTTP `100 Continue`) and for greetings.
    public var completesReply: Bool
    /// Byte ranges the recording does not know (capture gaps, redacted secrets): when matching,
    /// they stand for anything.
    public var wildcards: [Range<Int>]
    /// A hand-written scenario's pattern (`C: RCPT TO:*`): the message stands for every message
    /// the pattern matches, and `bytes` holds only its literal text.
    public var pattern: MessagePattern?

    public init(bytes: [UInt8], expectsReply: Bool = true, completesReply: Bool = true, wildcards: [Range<Int>] = [],
                pattern: MessagePattern? = nil) {
        self.bytes = bytes
        self.expectsReply = expectsReply
        self.completesReply = completesReply
        self.wildcards = wildcards
        self.pattern = pattern
    }

    /// Whether a live message matches this recorded one exactly: equal bytes, or bytes that fit
    /// its pattern or its wildcards.
    public func fits(_ live: [UInt8]) -> Bool {
        if let pattern { return pattern.matches(live) }
        if !wildcards.isEmpty { return WildcardPattern.matches(recorded: bytes, wildcards: wildcards, live: live) }
        return bytes == live
    }

    /// How specific a match with this message is: its known bytes (among several patterns that
    /// match, the one with the most literal text wins).
    public var knownByteCount: Int {
        if let pattern { return pattern.literalCount }
        return bytes.count - wildcards.reduce(0) { $0 + $1.count }
    }

    /// Whether only its pattern or wildcards decide what matches (not its kind or content).
    public var isPatterned: Bool { pattern != nil || !wildcards.isEmpty }
}
