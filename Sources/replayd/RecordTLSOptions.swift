import ArgumentParser
import Logging
import ReplayCore

/// `record`'s TLS options: terminate TLS from the client, speak TLS to the upstream, or both
/// after a STARTTLS upgrade. See docs/tls.md.
struct RecordTLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Terminate TLS from clients with this certificate chain (PEM; e.g. from `replayd cert`).", valueName: "CERT"))
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-cert (PEM; read, never copied; warned about if others can read it).", valueName: "KEY"))
    var key: String?

    @Flag(name: .customLong("upstream-tls"), help: "Speak TLS to the upstream (implicit TLS, from its connect).")
    var upstreamTLS = false

    @Option(name: .customLong("upstream-ca"), help: ArgumentHelp("Check the upstream's certificate against these CA certificates (PEM) instead of the system's.", valueName: "FILE"))
    var upstreamCA: String?

    @Flag(name: .customLong("upstream-insecure"), help: "Do not check the upstream's certificate at all (logged as a warning).")
    var upstreamInsecure = false

    @Option(name: .customLong("starttls"), help: ArgumentHelp("Relay the plaintext start, then upgrade both legs to TLS when the client's STARTTLS is accepted: smtp, imap, pop3, ftp or postgres. Needs --tls-cert and --tls-key.", valueName: "PROTOCOL"))
    var startTLS: String?

    /// Whether any TLS option was given.
    var isUsed: Bool { certificate != nil || key != nil || upstreamTLS || upstreamCA != nil || upstreamInsecure || startTLS != nil }

    func validate() throws {
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let startTLS {
            guard StartTLSNegotiation.Dialect(rawValue: startTLS.lowercased()) != nil else {
                throw ValidationError("--starttls: unknown protocol \"\(startTLS)\"; use one of \(StartTLSNegotiation.Dialect.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard certificate != nil else {
                throw ValidationError("--starttls needs --tls-cert and --tls-key: the certificate replayd shows the client after the upgrade")
            }
            guard !upstreamTLS else {
                throw ValidationError("--starttls and --upstream-tls exclude each other: with STARTTLS the upstream leg is upgraded too")
            }
        }
        guard !(upstreamCA != nil && upstreamInsecure) else {
            throw ValidationError("--upstream-ca and --upstream-insecure exclude each other")
        }
        if upstreamCA != nil || upstreamInsecure, !upstreamTLS, startTLS == nil {
            throw ValidationError("--upstream-ca and --upstream-insecure need --upstream-tls or --starttls")
        }
    }

    /// The proxy's TLS settings, the files read and checked; nil when no TLS option was given.
    func proxyOptions(upstreamHost: String?, logger: Logger) throws -> ProxyTLSOptions? {
        guard isUsed else { return nil }
        var identity: TLSIdentity?
        if let certificate, let key {
            identity = try TLSIdentity(certificatePath: certificate, keyPath: key)
            for warning in identity?.warnings ?? [] { logger.warning("\(warning)") }
        }
        let dialect = startTLS.flatMap { StartTLSNegotiation.Dialect(rawValue: $0.lowercased()) }
        var trust: ProxyTLSOptions.UpstreamTrust?
        if upstreamTLS || dialect != nil {
            trust = upstreamInsecure ? .insecure : upstreamCA.map { .caFile($0) } ?? .system
            if trust == .insecure {
                logger.warning("--upstream-insecure: the upstream's certificate is not checked; anyone on the path can read and change the traffic")
            }
        }
        return try ProxyTLSOptions.make(start: dialect.map { .startTLS($0) } ?? .implicit, identity: identity, upstreamTrust: trust, upstreamHost: upstreamHost)
    }
}
