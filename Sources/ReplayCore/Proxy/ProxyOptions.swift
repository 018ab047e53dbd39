import NIOCore

/// How a `RecordingProxy` listens, where it connects, and how long it waits.
public struct ProxyOptions: Sendable {
    /// Where to accept clients (port 0 picks a free port).
    public var listen: HostPort
    /// The upstream server, resolved once at start (unused with `transparent`).
    public var upstream: SocketAddress
    /// The upstream as the user wrote it, for the cassette header.
    public var upstreamName: String
    /// How long one upstream connection attempt may take.
    public var connectTimeout: TimeAmount
    /// The protocol every session is tagged with (`--proto`); nil detects each session's.
    public var proto: WireProtocol?
    /// The number of the first session (`record --append` continues an existing cassette's numbering).
    public var firstSession = 1
    /// Whether secrets are redacted before they are written (on unless `--no-redact`).
    public var redact = true
    /// The user's `--redact` expressions, applied when `redact` is on.
    public var redactRules = UserRedactionRules.none
    /// `--fault` rules on live traffic (reset and close), and the seed of their `p=`.
    public var faults: FaultSettings?
    /// Transparent mode (`record --transparent`): each connection goes to its original
    /// destination, as these rules decide, instead of to `upstream`.
    public var transparent: TransparentRouting?
    /// The `SO_MARK` of upstream sockets in transparent mode (`--mark`).
    public var upstreamMark: UInt32?
    /// TLS on the client leg, the upstream leg or both (nil: plain TCP both ways).
    public var tls: ProxyTLSOptions?

    public init(listen: HostPort, upstream: SocketAddress, upstreamName: String, connectTimeout: TimeAmount = .seconds(10),
                proto: WireProtocol? = nil) {
        self.proto = proto
        self.listen = listen
        self.upstream = upstream
        self.upstreamName = upstreamName
        self.connectTimeout = connectTimeout
    }
}

/// Why the recording proxy could not start.
public enum ProxyError: Error, Equatable, CustomStringConvertible {
    case cannotListen(String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let name, let reason):
            return "cannot listen on \(name): \(reason)"
        }
    }
}
