/// The message a client sends to leave a conversation politely, per protocol: what `verify
/// --until STEP` sends after the step, and after a difference, so that a policy check ends the
/// way a real client would (an SMTP `QUIT`, not a dropped connection that Postfix logs as lost)
/// and never goes on to deliver mail.
///
/// A table here rather than a `ProtocolDialect` requirement: only verify plays the client.
public enum PoliteExit {
    /// The bytes to send, or `nil` where the protocol has no such message (HTTP, DNS,
    /// PostgreSQL's Terminate aside, unknown protocols): then the client half-closes instead.
    public static func bytes(for proto: WireProtocol) -> [UInt8]? {
        switch proto {
        case .smtp, .pop3, .ftp: return Array("QUIT\r\n".utf8)
        case .imap: return Array("X LOGOUT\r\n".utf8)
        case .redis: return Array("*1\r\n$4\r\nQUIT\r\n".utf8)
        // Terminate ('X', length 4): the frontend's goodbye.
        case .postgres: return [UInt8(ascii: "X"), 0, 0, 0, 4]
        case .http, .dns, .line, .opaque: return nil
        }
    }
}
