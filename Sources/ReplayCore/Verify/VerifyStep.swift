/// One step of a session's client side as verify plays it: what to send, after how long, and
/// the reply the recording had.
public struct VerifyStep: Sendable {
    /// What the client does at this step.
    public enum Send: Sendable, Equatable {
        /// Nothing: the opening, where the server speaks first (a banner).
        case nothing
        /// These bytes (the recorded message, secrets put back).
        case bytes([UInt8])
        /// The client's FIN, as the recorded client half-closed.
        case halfClose
    }

    public var send: Send
    /// The message kind (`RCPT`, `GET`…), as `MessageKey.kind` names it; `(open)` and `(FIN)`.
    public var kind: String
    /// The recorded client message as a person reads it (secrets as recorded, `*`).
    public var shown: [UInt8]
    /// The recorded client think time before this message, in nanoseconds: from the previous
    /// server reply piece (or the open) to the message.
    public var think: Int64
    public var reply: ExpectedReply
    /// Whether the reply is compared: the polite exit's reply is read, not compared.
    public var compares: Bool
    /// Whether TLS began after this step's reply (the server's yes to STARTTLS): the client
    /// starts its handshake before the next step.
    public var startsTLS: Bool

    public init(send: Send, kind: String, shown: [UInt8], think: Int64, reply: ExpectedReply, compares: Bool = true, startsTLS: Bool = false) {
        self.startsTLS = startsTLS
        self.send = send
        self.kind = kind
        self.shown = shown
        self.think = think
        self.reply = reply
        self.compares = compares
    }
}
