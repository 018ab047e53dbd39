import NIOCore

/// Where a connection redirected to the listener (iptables or nftables `REDIRECT`) goes, free of
/// I/O: from its original destination, the listener's addresses, the local addresses of
/// replayd's own live upstream sockets and the allow-list, either the address to connect to or
/// the reason it is refused.
public struct TransparentRouting: Sendable, Equatable {
    /// An address compared by IP and port only; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack socket reports for an IPv4 peer) is taken as the IPv4 address it holds.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            let lowered = host.lowercased()
            if lowered.hasPrefix("::ffff:"), lowered.dropFirst(7).contains(".") {
                self.host = String(lowered.dropFirst(7))
            } else {
                self.host = lowered
            }
            self.port = port
        }

        /// Nil for an address without IP and port (a Unix socket).
        public init?(_ address: SocketAddress?) {
            guard let address, let host = address.ipAddress, let port = address.port else { return nil }
            self.init(host: host, port: port)
        }

        /// `host:port`, `[v6]:port` for IPv6, as cassettes write addresses.
        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }

        /// 0.0.0.0 or `::`: a listener bound to every address.
        var isUnspecified: Bool { host == "0.0.0.0" || host == "::" }
        var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }
    }

    /// What to do with one redirected connection.
    public enum Decision: Sendable, Equatable {
        /// Connect the upstream to this address, the connection's original destination.
        case connect(SocketAddress)
        /// Reset the client without contacting anything.
        case refuse(TransparentRefusal)
    }

    /// The destinations allowed (`--upstream`, repeatable); empty allows every destination.
    public var allowed: [Endpoint]

    public init(allowed: [Endpoint] = []) {
        self.allowed = allowed
    }

    /// The decision for a connection from `client`, accepted on a socket whose local address is
    /// `local` by a listener bound to `listener`, whose original destination is `original` (or
    /// could not be read, for `lookupFailure`). `ownUpstreams` holds the local addresses of
    /// replayd's upstream sockets open at that moment.
    public func decide(
        original: SocketAddress?, lookupFailure: String? = nil, client: SocketAddress?, local: SocketAddress?, listener: SocketAddress?,
        ownUpstreams: Set<Endpoint>
    ) -> Decision {
        let clientName = Endpoint(client)?.description ?? "?"
        // Our own upstream connection came back (an OUTPUT rule without the mark or owner
        // exclusion): forwarding it would connect again, and again.
        if let source = Endpoint(client), ownUpstreams.contains(source) {
            return .refuse(.ownUpstream(client: clientName))
        }
        guard let original, let destination = Endpoint(original) else {
            return .refuse(.noOriginalDestination(client: clientName, reason: lookupFailure ?? "the socket has no IP address"))
        }
        if pointsAtListener(destination, local: Endpoint(local), listener: Endpoint(listener)) {
            return .refuse(.toListener(client: clientName, destination: destination.description))
        }
        if !allowed.isEmpty, !allowed.contains(destination) {
            return .refuse(.notAllowed(client: clientName, destination: destination.description, allowed: allowed.map(\.description)))
        }
        return .connect(original)
    }

    /// Whether `destination` is replayd's listener: the connection was not redirected (without
    /// NAT the original destination is the accepted socket's own address), or it was addressed
    /// to the listener's own address and port.
    private func pointsAtListener(_ destination: Endpoint, local: Endpoint?, listener: Endpoint?) -> Bool {
        if destination == local { return true }
        guard let listener, destination.port == listener.port else { return false }
        if destination.host == listener.host { return true }
        // A listener on every address, or on loopback, is reached by every loopback address.
        return destination.isLoopback && (listener.isUnspecified || listener.isLoopback)
    }
}

/// Why a redirected connection is not forwarded; each says what to change.
public enum TransparentRefusal: Sendable, Equatable, CustomStringConvertible {
    case noOriginalDestination(client: String, reason: String)
    case toListener(client: String, destination: String)
    case ownUpstream(client: String)
    case notAllowed(client: String, destination: String, allowed: [String])

    public var description: String {
        switch self {
        case .noOriginalDestination(let client, let reason):
            return "refused \(client): cannot read its original destination (\(reason)); was it redirected by an iptables or nft REDIRECT rule?"
        case .toListener(let client, let destination):
            return "refused \(client): its original destination \(destination) is replayd's own listener (connected directly, not redirected); forwarding it would loop"
        case .ownUpstream(let client):
            return "refused \(client): it is one of replayd's own upstream connections, redirected back to the listener; exclude them from the REDIRECT rule (--mark N with -m mark ! --mark N, or -m owner ! --uid-owner)"
        case .notAllowed(let client, let destination, let allowed):
            return "refused \(client): its original destination \(destination) is not among --upstream \(allowed.joined(separator: ", "))"
        }
    }
}
