/// Which end of a proxied connection: the client that connected to the proxy, or the upstream server.
public enum ProxySide: String, Sendable, Hashable {
    case client
    case server

    /// The direction of the bytes this side sends.
    public var sendingDirection: Direction {
        self == .client ? .clientToServer : .serverToClient
    }

    /// The other side.
    public var partner: ProxySide {
        self == .client ? .server : .client
    }
}

/// How one side of a proxied connection ended.
public enum SideEnding: String, Sendable, Equatable {
    /// The peer half-closed (FIN) and the connection later closed in order.
    case fin
    /// The peer reset the connection (or failed abortively).
    case rst
    /// The proxy closed it: because the other side ended, or because the proxy stopped.
    case closedByProxy = "closed by proxy"
    /// The upstream connection never came up.
    case notConnected = "not connected"
}

/// What the proxy says about one connection when it ends (one line on stderr).
public struct ConnectionSummary: Sendable, Equatable {
    public var session: Int
    public var client: String
    public var bytesClientToServer: Int
    public var bytesServerToClient: Int
    public var clientEnding: SideEnding
    public var serverEnding: SideEnding
    public var connectFailure: ConnectFailure?

    public init(
        session: Int, client: String, bytesClientToServer: Int, bytesServerToClient: Int,
        clientEnding: SideEnding, serverEnding: SideEnding, connectFailure: ConnectFailure? = nil
    ) {
        self.session = session
        self.client = client
        self.bytesClientToServer = bytesClientToServer
        self.bytesServerToClient = bytesServerToClient
        self.clientEnding = clientEnding
        self.serverEnding = serverEnding
        self.connectFailure = connectFailure
    }

    /// `session 3 from 127.0.0.1:5555 ended: 120 bytes c2s, 4096 bytes s2c, client fin, server fin`.
    public var line: String {
        var text = "session \(session) from \(client) ended: \(bytesClientToServer) bytes c2s, \(bytesServerToClient) bytes s2c, client \(clientEnding.rawValue), server \(serverEnding.rawValue)"
        if let failure = connectFailure {
            text += " (upstream connect \(failure.reason.rawValue): \(failure.message))"
        }
        return text
    }
}
