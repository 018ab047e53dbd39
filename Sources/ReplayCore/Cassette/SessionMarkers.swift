/// Bytes of one direction that the redactor replaced before the cassette was written.
///
/// `offset` counts from 0 over all data of `direction` in the session (gaps not counted: they
/// hold no bytes); the data events hold placeholder bytes in `offset ..< offset + length`.
public struct Redaction: Sendable, Equatable {
    public var direction: Direction
    /// Byte offset in the direction's stream where the replaced bytes start.
    public var offset: Int
    /// How many bytes were replaced.
    public var length: Int
    /// The rule that matched, e.g. `smtp-auth-plain`.
    public var rule: String

    public init(direction: Direction, offset: Int, length: Int, rule: String) {
        self.direction = direction
        self.offset = offset
        self.length = length
        self.rule = rule
    }
}

/// Where TLS began in a session; what follows is the decrypted plaintext. Every field is
/// optional: a recorder writes what it knows.
///
/// A marker with a `failure` says the handshake on `leg` failed instead: nothing after it was
/// encrypted by that handshake.
public struct TLSMarker: Sendable, Equatable {
    /// e.g. `TLSv1.3`.
    public var version: String?
    /// e.g. `TLS_AES_128_GCM_SHA256`.
    public var cipher: String?
    /// The server name the client asked for.
    public var sni: String?
    /// The application protocol negotiated by ALPN, e.g. `h2`.
    public var alpn: String?
    /// Why the handshake failed, in words (see `TLSFailureReason`); nil when it succeeded.
    public var failure: String?
    /// Which leg's handshake `failure` is about.
    public var leg: TLSLeg?

    public init(version: String? = nil, cipher: String? = nil, sni: String? = nil, alpn: String? = nil,
                failure: String? = nil, leg: TLSLeg? = nil) {
        self.version = version
        self.cipher = cipher
        self.sni = sni
        self.alpn = alpn
        self.failure = failure
        self.leg = leg
    }
}

/// One of the two TLS connections of a proxied session.
public enum TLSLeg: String, Sendable, Equatable, CaseIterable {
    /// Between the client and replayd (replayd is the TLS server).
    case client
    /// Between replayd and the upstream (replayd is the TLS client).
    case upstream
}

/// A fault replayd injected into a session (written by replay or a fault-injecting proxy):
/// it says the recorded behaviour here is replayd's, not the server's.
public struct InjectedFault: Sendable, Equatable {
    /// The rule that fired, as the user wrote it, e.g. `match=^RCPT reset`.
    public var rule: String
    /// What was done, e.g. `reset`, `delay`, `close`.
    public var action: String
    /// More words for people.
    public var detail: String?

    public init(rule: String, action: String, detail: String? = nil) {
        self.rule = rule
        self.action = action
        self.detail = detail
    }
}

/// Bytes of one direction that stand for a pattern, not for themselves: a hand-written
/// transcript's `C: RCPT TO:*` (any recipient) or `S: 550*` (any 550 reply, for verify).
///
/// `offset` counts like a redaction's, over all data of `direction`; the data events hold the
/// pattern's literal bytes there (its `example`) with the line ending, and `length` covers them.
public struct PatternMark: Sendable, Equatable {
    public var direction: Direction
    public var offset: Int
    public var length: Int
    /// The pattern as written in the transcript, without its line ending (see `MessagePattern`).
    public var source: String

    public init(direction: Direction, offset: Int, length: Int, source: String) {
        self.direction = direction
        self.offset = offset
        self.length = length
        self.source = source
    }
}
