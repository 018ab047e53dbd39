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

/// How one side of a connection stopped sending in order. A reset is not a close of one
/// direction but its own event (`SessionEventKind.reset(by:)`), so FIN is the only kind; the
/// type stays so that `close` events read `.close(direction, .fin)` and may gain kinds later.
public enum CloseKind: String, Sendable, Hashable {
    /// An orderly half-close: the sender will send nothing more but may still read.
    case fin
}

/// How the side sending in one direction ended in a recording, as `Session.closing` reports it.
public enum DirectionEnding: String, Sendable, Hashable {
    /// It half-closed (FIN).
    case fin
    /// It reset the connection (RST).
    case rst
}
