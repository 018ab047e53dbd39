/// How a direction's next bytes are framed for the secret search.
enum ScanStep: Sendable, Equatable {
    /// Up to and including the next LF, handed to the rules whole.
    case line
    /// Exactly this many bytes, handed to the rules whole (a binary header).
    case field(Int)
    /// This many bytes passed through without looking; with a rule name they are all secret.
    case skip(Int, secret: String?)
    /// Everything that follows passes through (a body read to close, a tunnel, a binary reply).
    case skipToEnd
}

/// Secret bytes found in one unit (a line or a field): `range` counts from the unit's start.
struct FoundSecret: Sendable, Equatable {
    var range: Range<Int>
    var rule: String
}

/// A protocol's knowledge of where its secrets are. Sans-I/O: it is handed complete units of
/// either direction in stream order and says where the secrets are and how the next bytes of
/// that direction are framed; it never sees a partial unit.
protocol SecretRules: Sendable {
    /// How the first bytes of `direction` are framed.
    func initialStep(_ direction: Direction) -> ScanStep
    /// One complete unit of `direction`; appends its secrets and returns the next unit's framing.
    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep
    /// How `direction` is framed after a `skip` ends.
    func afterSkip(_ direction: Direction) -> ScanStep
    /// A framing the rules decided for the other direction (e.g. a tunnel began); asked after
    /// every unit, taken at most once.
    mutating func takeOverride(for direction: Direction) -> ScanStep?
    /// Whether the user's `--redact` expressions are applied to this protocol's lines.
    var appliesUserRules: Bool { get }
}

extension SecretRules {
    func afterSkip(_ direction: Direction) -> ScanStep { .line }
    mutating func takeOverride(for direction: Direction) -> ScanStep? { nil }
    var appliesUserRules: Bool { true }
}

/// The rules for a protocol, by its name.
enum SecretRulesFactory {
    static func rules(for proto: WireProtocol?, userRules: Bool) -> any SecretRules {
        switch proto {
        case .smtp: return SMTPSecretRules()
        case .pop3: return POP3SecretRules()
        case .imap: return IMAPSecretRules()
        case .ftp: return FTPSecretRules()
        case .http: return HTTPSecretRules()
        case .redis: return RedisSecretRules()
        case .postgres: return PostgresSecretRules()
        case .dns: return PlainLineRules(active: false)
        case .line, .opaque, nil: return PlainLineRules(active: userRules)
        }
    }
}

/// A protocol without built-in rules: lines only for the user's expressions, or nothing at all.
struct PlainLineRules: SecretRules {
    let active: Bool
    func initialStep(_ direction: Direction) -> ScanStep { active ? .line : .skipToEnd }
    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep { .line }
    var appliesUserRules: Bool { active }
}
