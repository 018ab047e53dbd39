/// Everything replay needs to know about one protocol: how to frame it, how to key and mask
/// its messages, what to answer when the recording has nothing, and which request fields a
/// reply echoes. Dialects are small value types; `WireProtocol.dialect` returns the one for a
/// protocol. Every method is pure, so the matcher can run in the server role (replay) and in
/// the client role (verify) alike.
public protocol ProtocolDialect: Sendable {
    var wireProtocol: WireProtocol { get }
    /// How replies pair with requests.
    var pairing: ReplyPairing { get }
    /// A framer for one new connection.
    func makeFramer() -> any MessageFramer
    /// The three matching levels of a client message, with the protocol's built-in masks
    /// (an EHLO name, a Date header, a DNS id) and then the user's `masks` applied.
    func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey
    /// A server message with its volatile parts masked (a Postfix queue id, a Date header):
    /// two recorded replies are "the same" when these are equal.
    func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8]
    /// The protocol's plain success reply to a housekeeping message that was not recorded
    /// (SMTP `RSET` and `NOOP`, POP3 and IMAP `NOOP`, Redis `PING`); `nil` if it is not one.
    func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]?
    /// The protocol's own error reply to a message nothing recorded fits, naming replayd and
    /// `reason` where the protocol has room for text (SMTP `502 5.5.1`, POP3 `-ERR`, IMAP tagged
    /// `BAD`, Redis `-ERR`, HTTP `501`); `nil` where the protocol has none (then replay closes).
    func errorReply(to message: FramedMessage, reason: String) -> [UInt8]?
    /// The recorded reply with the fields a server copies from its request (the DNS id, the
    /// IMAP tag) taken from the live request instead; `nil` when nothing needs changing.
    func echo(liveRequest: FramedMessage, recordedRequest: FramedMessage, reply: [UInt8]) -> [UInt8]?
    /// Whether `echo` ever changes anything (so replay skips joining reply bytes for it otherwise).
    var echoesFields: Bool { get }
    /// Whether a client message of this kind continues the command before it rather than
    /// starting one (IMAP: the rest of a command after a literal, `DONE`, an AUTHENTICATE
    /// response): its reply echoes the fields of that command (the tag), not its own.
    func continuesCommand(kind: String) -> Bool
    /// Why this recorded exchange cannot be replayed to another client even when it matches
    /// (PostgreSQL SCRAM: the client's nonce makes the recorded server proof invalid), with the
    /// way out; `nil` for almost everything.
    func unreplayableReason(recordedRequest: FramedMessage) -> String?
    /// Whether a live client is likely to send these very bytes again, so that their key is
    /// worth caching (`MessageKeyCache`): not a mail body, which carries its own Message-Id and Date.
    func keyMayRepeat(_ message: FramedMessage) -> Bool
}

extension ProtocolDialect {
    public func keyMayRepeat(_ message: FramedMessage) -> Bool { true }
    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? { nil }
    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? { nil }
    public func echo(liveRequest: FramedMessage, recordedRequest: FramedMessage, reply: [UInt8]) -> [UInt8]? { nil }
    public var echoesFields: Bool { false }
    public func unreplayableReason(recordedRequest: FramedMessage) -> String? { nil }
    public func continuesCommand(kind: String) -> Bool { false }
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] { masks.apply(message.bytes) }
}
