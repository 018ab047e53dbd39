/// A client message at the three levels it is compared at, each hashable so that choosing a
/// conversation looks keys up instead of scanning sessions.
///
/// - `kind`: what the message asks for, e.g. `MAIL` (the SMTP verb, upper-cased), `GET` (the RESP
///   command), `GET /index.html` (the HTTP method and path), `A IN example.org` (the DNS question).
/// - `content`: the kind with its masked arguments, e.g. `RCPT <oncall@example.net>`, the HTTP
///   target with its query and body, the RESP arguments.
/// - `exact`: every byte, after masks (volatile parts replaced by a fixed marker).
public struct MessageKey: Sendable, Hashable {
    public var kind: String
    public var content: String
    /// Set once: its hash is worked out with it (`exactKey`).
    public private(set) var exact: [UInt8]
    /// `exact` ready to look up, hashed once when the key is made: a cached key (a client that
    /// sends the same command every time) is then looked up without hashing its bytes again.
    public let exactKey: HashedBytes

    public init(kind: String, content: String, exact: [UInt8]) {
        self.kind = kind
        self.content = content
        self.exact = exact
        self.exactKey = HashedBytes(exact)
    }

    /// The strongest level at which `live` matches this recorded key; `nil` when the kinds differ.
    public func level(matching live: MessageKey) -> MatchLevel? {
        guard kind == live.kind else { return nil }
        if exactKey == live.exactKey { return .exact }
        return content == live.content ? .content : .kind
    }
}

/// How closely a live message matched a recorded one; ordered from weakest to strongest.
public enum MatchLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case kind = 1
    case content = 2
    case exact = 3

    public static func < (lhs: MatchLevel, rhs: MatchLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .kind: return "kind"
        case .content: return "content"
        case .exact: return "exact"
        }
    }
}
