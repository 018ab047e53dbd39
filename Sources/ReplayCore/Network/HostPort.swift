import NIOCore

/// A `host:port` given on the command line, not yet resolved.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or, when `defaultHost` is given, a bare `PORT`.
    public init(parsing text: String, defaultHost: String? = nil) throws(AddressError) {
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
    public func resolve() throws(AddressError) -> SocketAddress {
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw .cannotResolve(description, reason: String(describing: error))
        }
    }
}

/// Why an address given on the command line is unusable.
public enum AddressError: Error, Equatable, CustomStringConvertible {
    case badEndpoint(String, expected: String)
    case cannotResolve(String, reason: String)

    public var description: String {
        switch self {
        case .badEndpoint(let text, let expected):
            return "\"\(text)\" is not an address; expected \(expected)"
        case .cannotResolve(let name, let reason):
            return "cannot resolve \(name): \(reason)"
        }
    }
}

extension SocketAddress {
    /// `host:port`, `[v6]:port` for IPv6: how cassettes and log lines write an address.
    public var cassetteName: String {
        let host = ipAddress ?? "?"
        let portText = port.map(String.init) ?? "?"
        if case .v6 = self { return "[\(host)]:\(portText)" }
        return "\(host):\(portText)"
    }
}
