/// The line ending a transcript adds to each `S:` and `C:` line that does not say otherwise.
public enum LineEnding: String, Sendable, CaseIterable {
    case crlf
    case lf
    /// Binary protocols: lines are bytes as written (hex mostly), nothing is added.
    case none

    public var bytes: [UInt8] {
        switch self {
        case .crlf: return [0x0D, 0x0A]
        case .lf: return [0x0A]
        case .none: return []
        }
    }

    /// The ending a protocol's lines have: CRLF for the Internet's text protocols (SMTP, POP3,
    /// IMAP, FTP, HTTP headers, Redis), nothing for binary ones (DNS, PostgreSQL, unknown binary).
    public static func standard(for proto: WireProtocol?) -> LineEnding {
        switch proto {
        case .dns?, .postgres?, .opaque?: return .none
        default: return .crlf
        }
    }
}
