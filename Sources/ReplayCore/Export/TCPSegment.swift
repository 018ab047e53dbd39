/// One TCP segment to be put on the (synthetic) wire, before it is framed.
public struct TCPSegment: Sendable, Equatable {
    /// TCP header flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = Flags(rawValue: 0x01)
        public static let syn = Flags(rawValue: 0x02)
        public static let rst = Flags(rawValue: 0x04)
        public static let psh = Flags(rawValue: 0x08)
        public static let ack = Flags(rawValue: 0x10)
    }

    /// When the segment was on the wire.
    public var time: WallClock
    /// Which way it travelled.
    public var direction: Direction
    public var sequence: UInt32
    /// Meaningful only when `flags` contains `.ack`.
    public var acknowledgment: UInt32
    public var flags: Flags
    /// Whether to carry the SYN options (MSS, window scale) that tell Wireshark the window size.
    public var synOptions: Bool
    public var payload: ArraySlice<UInt8>

    public init(time: WallClock, direction: Direction, sequence: UInt32, acknowledgment: UInt32,
                flags: Flags, synOptions: Bool = false, payload: ArraySlice<UInt8> = []) {
        self.time = time
        self.direction = direction
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
        self.synOptions = synOptions
        self.payload = payload
    }
}
