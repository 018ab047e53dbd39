/// Which way bytes travelled, seen from the TCP connection being recorded.
public enum Direction: String, Sendable, Hashable, CaseIterable {
    /// From the client (the side that connected) to the server.
    case clientToServer = "c2s"
    /// From the server (the side that accepted) to the client.
    case serverToClient = "s2c"

    /// The other direction.
    public var reversed: Direction {
        self == .clientToServer ? .serverToClient : .clientToServer
    }
}

/// How one side of a connection stopped sending.
public enum CloseKind: String, Sendable, Hashable {
    /// An orderly half-close: the sender will send nothing more but may still read.
    case fin
    /// An abortive close: the connection is gone in both directions.
    case rst
}
