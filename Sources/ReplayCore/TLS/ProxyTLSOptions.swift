#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOSSL

/// How `record` speaks TLS (`--tls-cert`, `--upstream-tls`, `--starttls`): which legs are
/// TLS, when they switch, and the contexts they use. Built once per proxy: a context holds
/// the parsed key and certificates, shared by every connection.
public struct ProxyTLSOptions: Sendable {
    /// When TLS begins.
    public enum Start: Sendable, Equatable {
        /// At once: the client's first bytes are its ClientHello (and the upstream's leg is
        /// TLS from its connect).
        case implicit
        /// After the plaintext upgrade of this protocol, on both legs.
        case startTLS(StartTLSNegotiation.Dialect)
    }

    public var start: Start
    /// What replayd presents to the client; nil leaves the client leg plaintext.
    public var clientContext: NIOSSLContext?
    /// How replayd connects to the upstream as a TLS client; nil leaves the upstream leg plaintext.
    public var upstreamContext: NIOSSLContext?
    /// The upstream's host name: its SNI and the name its certificate is checked against
    /// (nil for an address, which is checked against the certificate's IP names).
    public var upstreamHostname: String?

    public init(start: Start, clientContext: NIOSSLContext?, upstreamContext: NIOSSLContext?, upstreamHostname: String?) {
        self.start = start
        self.clientContext = clientContext
        self.upstreamContext = upstreamContext
        self.upstreamHostname = upstreamHostname
    }

    /// The options for a client leg presenting `identity` (nil: plaintext) and an upstream leg
    /// checked by `upstreamTrust` (nil: plaintext), the contexts made once here. `upstreamHost`
    /// is the name checked in the upstream's certificate (nil in transparent mode, where each
    /// connection has its own destination: its address is checked).
    public static func make(start: Start, identity: TLSIdentity?, upstreamTrust: UpstreamTrust?, upstreamHost: String?) throws(TLSIdentityError) -> ProxyTLSOptions {
        let clientContext = try identity.map { identity throws(TLSIdentityError) in
            try context(identity.serverConfiguration(), for: identity.certificatePath)
        }
        let upstreamContext = try upstreamTrust.map { trust throws(TLSIdentityError) in
            try context(try upstreamConfiguration(trust: trust), for: "the upstream TLS client")
        }
        return ProxyTLSOptions(start: start, clientContext: clientContext, upstreamContext: upstreamContext,
                               upstreamHostname: upstreamHost.flatMap { isAddress($0) ? nil : $0 })
    }

    /// How the upstream's certificate is checked.
    public enum UpstreamTrust: Sendable, Equatable {
        /// Against the system's roots.
        case system
        /// Against the CA certificates in this PEM file only.
        case caFile(String)
        /// Not at all (`--upstream-insecure`).
        case insecure
    }

    /// The TLS client configuration for the upstream leg.
    public static func upstreamConfiguration(trust: UpstreamTrust) throws(TLSIdentityError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch trust {
        case .system:
            break
        case .caFile(let path):
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else {
                    throw TLSIdentityError.unreadable(path: path, expected: "PEM CA certificates", reason: "it holds no CERTIFICATE block")
                }
                configuration.trustRoots = .certificates(certificates)
            } catch let error as TLSIdentityError {
                throw error
            } catch {
                throw .unreadable(path: path, expected: "PEM CA certificates", reason: "no certificate could be read from it")
            }
        case .insecure:
            configuration.certificateVerification = .none
        }
        return configuration
    }

    /// A context for `configuration`, with the failure in the codebase's words.
    public static func context(_ configuration: TLSConfiguration, for what: String) throws(TLSIdentityError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .unreadable(path: what, expected: "a usable TLS configuration", reason: TLSFailureReason.describe(error))
        }
    }

    /// Whether `host` is written as an address (no SNI is sent for one).
    public static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
