/// One TCP segment to be put on the (synthetic) wire, before it is framed.
public struct OutgoingSegment: Sendable, Equatable {
    /// When the segment was on the wire.
    public var time: WallClock
    /// Which way it travelled.
    public var direction: Direction
    public var sequence: UInt32
    /// Meaningful only when `flags` contains `.ack`.
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    /// Whether to carry the SYN options (MSS, window scale) that tell Wireshark the window size.
    public var synOptions: Bool
    public var payload: ArraySlice<UInt8>

    public init(time: WallClock, direction: Direction, sequence: UInt32, acknowledgment: UInt32,
                flags: TCPFlags, synOptions: Bool = false, payload: ArraySlice<UInt8> = []) {
        self.time = time
        self.direction = direction
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
        self.synOptions = synOptions
        self.payload = payload
    }
}
