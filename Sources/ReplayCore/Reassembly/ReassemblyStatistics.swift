/// Counts kept by `TCPReassembler`, for the import summary and for tests.
public struct ReassemblyStatistics: Sendable, Equatable {
    /// TCP segments handed to the reassembler.
    public var segments = 0
    /// Sessions started (every TCP connection, data-less ones too).
    public var sessions = 0
    /// Payload bytes delivered client → server.
    public var bytesClientToServer: Int64 = 0
    /// Payload bytes delivered server → client.
    public var bytesServerToClient: Int64 = 0
    /// Segments (or parts of segments) whose bytes had already been delivered.
    public var retransmissions = 0
    /// Segments that arrived ahead of a hole and were held back.
    public var outOfOrder = 0
    /// Holes declared: bytes that never arrived (or were cut by the snap length).
    public var gaps = 0
    /// Total bytes in those holes.
    public var gapBytes: Int64 = 0
    /// Retransmissions whose bytes differed from what had been delivered.
    public var overlapsDiffering = 0
    /// Times the per-direction out-of-order buffer filled up and a hole was declared.
    public var bufferOverflows = 0
    /// Packets that arrived for a connection already finished (late ACKs, retransmitted FINs).
    public var packetsAfterEnd = 0
    /// RSTs ignored because their sequence number was far outside the sender's stream.
    public var ignoredResets = 0
    /// Payload bytes delivered after the connection's first RST: what was still in flight (or,
    /// after a RST injected by a middlebox, what the endpoints went on sending).
    public var bytesAfterReset: Int64 = 0

    public init() {}
}

/// Something the reassembler wants a person to know about, beyond the counts.
public struct ReassemblyNotice: Sendable, Equatable, CustomStringConvertible {
    public var session: Int
    public var direction: Direction
    /// Byte offset in the direction's stream where it happened.
    public var streamOffset: Int64
    public var message: String

    public var description: String {
        "session \(session) \(direction.rawValue) at byte \(streamOffset): \(message)"
    }
}
