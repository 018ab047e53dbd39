/// The application protocol a session speaks, which decides how its bytes are cut into
/// messages and how two messages are compared. Stored per session in the cassette (`proto` on
/// `open`), detected at record and import time, forced with `--proto`.
public enum WireProtocol: String, Sendable, Hashable, CaseIterable {
    case smtp
    case pop3
    case imap
    case ftp
    case http
    case redis
    case dns
    case postgres
    /// A text protocol replayd does not know: one message per line, replies to the latest line.
    case line
    /// Unknown binary: a client message ends where the recorded client paused for a reply.
    case opaque

    /// The framing and matching rules of this protocol.
    public var dialect: any ProtocolDialect {
        switch self {
        case .smtp: return SMTPDialect()
        case .pop3: return POP3Dialect()
        case .imap: return IMAPDialect()
        case .ftp: return FTPDialect()
        case .http: return HTTPDialect()
        case .redis: return RedisDialect()
        case .dns: return DNSDialect()
        case .postgres: return PostgresDialect()
        case .line: return LineDialect()
        case .opaque: return OpaqueDialect()
        }
    }
}
