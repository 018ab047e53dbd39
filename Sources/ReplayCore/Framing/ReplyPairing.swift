/// How a protocol's replies are paired with the client messages they answer.
public enum ReplyPairing: Sendable, Equatable {
    /// Replies answer client messages in order: each server message that completes a reply
    /// answers the oldest client message still waiting (SMTP, POP3, FTP, HTTP/1.1 pipelining,
    /// Redis, DNS over TCP, IMAP by tagged completion, PostgreSQL by ReadyForQuery).
    case inOrder
    /// The protocol says nothing about pairing: whatever the server sends belongs to the latest
    /// client message (unknown line protocols, unknown binary).
    case latest
}
