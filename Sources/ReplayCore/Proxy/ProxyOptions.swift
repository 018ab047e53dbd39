import NIOCore

/// A `host:port` given on the command line, not yet resolved.
public struct ProxyEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or, when `defaultHost` is given, a bare `PORT`.
    public init(parsing text: String, defaultHost: String? = nil) throws(ProxyError) {
        var hostPart: Substring?
        var portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .badEndpoint(text, expected: "[IPV6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            let host = text[..<colon]
            if host.contains(":") { throw .badEndpoint(text, expected: "[IPV6]:PORT for an IPv6 address") }
            hostPart = host
            portPart = text[text.index(after: colon)...]
        } else {
            portPart = Substring(text)
        }
        let host = hostPart.map(String.init) ?? defaultHost
        guard let host, !host.isEmpty else {
            throw .badEndpoint(text, expected: defaultHost == nil ? "HOST:PORT" : "[HOST:]PORT")
        }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw .badEndpoint(text, expected: "a port number from 0 to 65535 after the host")
        }
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Resolves the host once (getaddrinfo; it blocks, so call it before serving).
    public func resolve() throws(ProxyError) -> SocketAddress {
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw .cannotResolve(description, reason: String(describing: error))
        }
    }
}

/// How a `RecordingProxy` listens, where it connects, and how long it waits.
public struct ProxyOptions: Sendable {
    /// Where to accept clients (port 0 picks a free port).
    public var listen: ProxyEndpoint
    /// The upstream server, resolved once at start.
    public var upstream: SocketAddress
    /// The upstream as the user wrote it, for the cassette header.
    public var upstreamName: String
    /// How long one upstream connection attempt may take.
    public var connectTimeout: TimeAmount

    public init(listen: ProxyEndpoint, upstream: SocketAddress, upstreamName: String, connectTimeout: TimeAmount = .seconds(10)) {
        self.listen = listen
        self.upstream = upstream
        self.upstreamName = upstreamName
        self.connectTimeout = connectTimeout
    }
}

/// Why the recording proxy could not start.
public enum ProxyError: Error, Equatable, CustomStringConvertible {
    case badEndpoint(String, expected: String)
    case cannotResolve(String, reason: String)
    case cannotListen(String, reason: String)

    public var description: String {
        switch self {
        case .badEndpoint(let text, let expected):
            return "\"\(text)\" is not an address; expected \(expected)"
        case .cannotResolve(let name, let reason):
            return "cannot resolve upstream \(name): \(reason)"
        case .cannotListen(let name, let reason):
            return "cannot listen on \(name): \(reason)"
        }
    }
}

extension SocketAddress {
    /// `host:port`, `[v6]:port` for IPv6, as the cassette stores endpoints.
    var cassetteName: String {
        let host = ipAddress ?? "?"
        let portText = port.map(String.init) ?? "?"
        if case .v6 = self { return "[\(host)]:\(portText)" }
        return "\(host):\(portText)"
    }
}
