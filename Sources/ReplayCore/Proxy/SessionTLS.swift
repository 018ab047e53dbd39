import NIOCore
import NIOSSL

/// What one proxied connection knows about its TLS legs: the STARTTLS negotiation, which
/// handshakes are under way, and the server plaintext held until the client's handshake is
/// done (so that the `tls` marker comes before any decrypted byte). `ProxySession` carries it.
struct SessionTLS {
    let options: ProxyTLSOptions
    /// The plaintext prefix's upgrade (`--starttls`); nil for implicit TLS.
    var negotiation: StartTLSNegotiation?
    /// The client leg's TLS handler, once added (for the negotiated version).
    var clientHandler: NIOSSLServerHandler?
    /// The upstream leg's TLS handler, once added (for its version when only that leg is TLS).
    var upstreamHandler: NIOSSLClientHandler?
    /// Readers of each leg's ServerHello, for the cipher suite (swift-nio-ssl does not say it).
    var clientSniffer: CipherSuiteSniffer?
    var upstreamSniffer: CipherSuiteSniffer?
    var clientHandshaking = false
    var upstreamHandshaking = false
    /// The name the client asked for in its ClientHello.
    var clientSNI: String?
    /// Implicit TLS on both legs: the upstream is connected once the client's SNI is known,
    /// so that it can be passed on. True until then.
    var connectWaitsForSNI = false
    /// Server bytes read while the client's handshake runs, forwarded after the marker.
    var heldServer: [ByteBuffer] = []
    var holdsServer = false

    init(options: ProxyTLSOptions) {
        self.options = options
        if case .startTLS(let dialect) = options.start {
            negotiation = StartTLSNegotiation(dialect: dialect)
        } else {
            connectWaitsForSNI = options.clientContext != nil && options.upstreamContext != nil
        }
    }

    var isImplicit: Bool { options.start == .implicit }

    /// The name the upstream leg sends as SNI and checks the certificate against.
    var upstreamServerName: String? {
        clientSNI ?? options.upstreamHostname
    }

    /// The marker's words for a negotiated version.
    static func name(_ version: TLSVersion?) -> String? {
        switch version {
        case .tlsv1: return "TLSv1"
        case .tlsv11: return "TLSv1.1"
        case .tlsv12: return "TLSv1.2"
        case .tlsv13: return "TLSv1.3"
        case nil: return nil
        }
    }

    /// Whether `error` is a TLS connection's ordinary end without close_notify (a "ragged
    /// EOF"): the FIN that follows is the ending, not a failure.
    static func isRaggedEOF(_ error: any Error) -> Bool {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return true }
        return false
    }
}
