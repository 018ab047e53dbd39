/// One thing that happened in one TCP session. Every source (record proxy, import, capture)
/// produces these and every consumer (cassette writer, replay, show, export) reads them.
public struct SessionEvent: Sendable, Equatable {
    /// The session this event belongs to, numbered from 1 in order of session start.
    public var session: Int
    /// Nanoseconds since the session started (the `open` event is at 0 or close to it).
    public var offset: Int64
    /// What happened.
    public var kind: SessionEventKind

    public init(session: Int, offset: Int64, kind: SessionEventKind) {
        self.session = session
        self.offset = offset
        self.kind = kind
    }
}

/// The kinds of session events a cassette holds.
public enum SessionEventKind: Sendable, Equatable {
    /// The client connected to the server.
    case open(SessionOpen)
    /// One chunk of bytes, as it was read (record) or as one TCP segment carried it (import).
    case data(Direction, [UInt8])
    /// One side stopped sending in order (FIN): `direction` is the direction that ended.
    case close(Direction, CloseKind)
    /// The connection was reset (RST, or an abortive failure) by the side sending in `by`:
    /// the connection is gone both ways. An import may still show data after it (bytes that
    /// were in flight when the RST went out).
    case reset(by: Direction)
    /// The recording proxy could not reach the upstream server for this client.
    case connectFailed(ConnectFailure)
    /// Bytes known to be missing from a direction (a capture lost them).
    case gap(Direction, Int)
    /// Bytes of a direction the redactor replaced; the data events hold placeholders there.
    case redacted(Redaction)
    /// TLS began here: everything after it in the session is decrypted plaintext.
    case tls(TLSMarker)
    /// A fault replayd injected (not something the recorded server did).
    case fault(InjectedFault)
    /// A message of a hand-written scenario that is a pattern (`C: EHLO *`), not literal bytes.
    case pattern(PatternMark)
    /// The session is over in the recording; nothing more follows for it.
    case end
}

/// The endpoints and start time of a session.
public struct SessionOpen: Sendable, Equatable {
    /// The client's address, as `host:port` (`[v6]:port` for IPv6).
    public var client: String
    /// The server's address, as `host:port` (`[v6]:port` for IPv6).
    public var server: String
    /// Wall-clock time the session started; `nil` for a session written by hand.
    public var start: WallClock?
    /// The application protocol, as detected when recording or importing (`nil`: unknown,
    /// replay detects it from the recorded bytes).
    public var proto: WireProtocol?
    /// A name a person gave the session (a transcript's `--- session unknown user`).
    public var label: String?

    public init(client: String, server: String, start: WallClock?, proto: WireProtocol? = nil, label: String? = nil) {
        self.client = client
        self.server = server
        self.start = start
        self.proto = proto
        self.label = label
    }

    /// The server's port, from `server` (`host:port` or `[v6]:port`); `nil` when it has none.
    public var serverPort: Int? {
        guard let colon = server.lastIndex(of: ":") else { return nil }
        let digits = server[server.index(after: colon)...]
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(digits), port <= 65_535 else { return nil }
        return port
    }
}

/// Why the recording proxy could not connect a client to its upstream.
public enum ConnectFailureReason: String, Sendable, Equatable {
    case refused
    case timeout
    case unreachable
    case other
}

/// An upstream connection attempt that failed.
public struct ConnectFailure: Sendable, Equatable {
    public var reason: ConnectFailureReason
    /// Nanoseconds from the start of the attempt to the failure.
    public var elapsed: Int64
    /// The system's own words, for people.
    public var message: String

    public init(reason: ConnectFailureReason, elapsed: Int64, message: String) {
        self.reason = reason
        self.elapsed = elapsed
        self.message = message
    }
}
