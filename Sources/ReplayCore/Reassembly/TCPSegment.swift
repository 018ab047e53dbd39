/// The TCP flags the reassembler looks at.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
}

/// One decoded TCP segment: what the reassembler consumes. It owns its payload bytes, so the
/// capture buffer they came from can be reused for the next packet.
public struct TCPSegment: Sendable, Equatable {
    /// Capture time of the packet.
    public var timestamp: WallClock
    public var source: Endpoint
    public var destination: Endpoint
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    /// The payload bytes the capture holds.
    public var payload: [UInt8]
    /// The payload length on the wire. More than `payload.count` when the capture cut the packet
    /// short (snap length); the missing tail becomes a gap.
    public var wireLength: Int

    public init(
        timestamp: WallClock, source: Endpoint, destination: Endpoint,
        sequence: UInt32, acknowledgment: UInt32 = 0, flags: TCPFlags,
        payload: [UInt8] = [], wireLength: Int? = nil
    ) {
        self.timestamp = timestamp
        self.source = source
        self.destination = destination
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
        self.payload = payload
        self.wireLength = max(wireLength ?? payload.count, payload.count)
    }
}
