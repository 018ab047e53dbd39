/// Turns the events of one cassette session into the TCP segments a capture of it would hold:
/// the handshake, the data with consistent sequence and acknowledgment numbers, FIN or RST,
/// and gaps as jumps in the sequence numbers (so Wireshark reports the missing segments).
///
/// A sans-I/O value type: feed it events in the session's order with `handle(_:)`; it returns
/// segments with their times and never touches a file or a clock.
///
/// The receiver acknowledges data only where a real stack would have to be seen doing so:
/// every segment it sends carries its current ACK, it answers each FIN, and it sends a pure
/// ACK after each `acknowledgeEvery` bytes of a one-way bulk transfer. The SYNs announce a
/// window scale so that the advertised window (8 MiB) always covers the bytes in flight.
///
/// A RST goes on the wire at its event's time, and data recorded after it (what was still in
/// flight, which the importer keeps as Wireshark does) follows it in time order on the same
/// sequence space, so Wireshark follows it into the same stream. A side that sent a RST
/// acknowledges nothing after it: a real stack would have no connection left to do so.
public struct PacketSynthesizer: Sendable {
    /// The largest payload put in one segment (an IPv4 packet holds at most 65535 bytes).
    public static let maximumPayload = 65000
    /// Bytes a receiver lets pile up before it sends a pure ACK.
    public static let acknowledgeEvery = 1 << 20
    /// Window field of every non-SYN segment; with `windowScale` it means 8 MiB.
    public static let window: UInt16 = 0xffff
    public static let windowScale: UInt8 = 7
    /// When an unanswered SYN is sent again, in seconds after the first (Linux doubles from 1 s).
    static let synRetransmissions: [Int64] = [1, 3, 7, 15, 31, 63]

    private struct Side {
        var next: UInt32
        /// Bytes this side sent that the other side has not acknowledged yet.
        var unacknowledged = 0
        /// This side sent a RST: it sends no acknowledgments any more.
        var reset = false
    }

    private enum State {
        case waitingForOpen
        case established
        /// The connection never came up (connect-failed); nothing more goes on the wire.
        case failed
        /// Ended; nothing more goes on the wire.
        case over
    }

    public let session: Int
    private let start: WallClock
    private let connectFailure: ConnectFailure?
    private var client: Side
    private var server: Side
    private let clientInitialSequence: UInt32
    private let serverInitialSequence: UInt32
    private var state = State.waitingForOpen
    private var latestOffset: Int64 = .min
    /// Data bytes that could not be put on the wire (after a failed connect or the end).
    public private(set) var droppedBytes = 0
    /// Events whose time went backwards and were moved up to the previous event's time.
    public private(set) var reorderedEvents = 0

    /// - Parameters:
    ///   - session: the cassette's session number; it seeds the initial sequence numbers.
    ///   - start: the session's start time; event offsets count from it.
    ///   - connectFailure: the session's `connect-failed` event, known up front because the
    ///     SYN at open time is answered (or not) according to it.
    public init(session: Int, start: WallClock, connectFailure: ConnectFailure?) {
        self.session = session
        self.start = start
        self.connectFailure = connectFailure
        // Deterministic, well spread initial sequence numbers (Knuth's multiplicative hash).
        let seed = UInt32(truncatingIfNeeded: session) &* 2_654_435_761
        clientInitialSequence = seed
        serverInitialSequence = seed ^ 0x5a5a_5a5a
        client = Side(next: clientInitialSequence)
        server = Side(next: serverInitialSequence)
    }

    /// The segments one event puts on the wire, in order.
    public mutating func handle(_ event: SessionEvent) -> [OutgoingSegment] {
        if event.offset < latestOffset {
            reorderedEvents += 1
        } else {
            latestOffset = event.offset
        }
        let time = WallClock(nanosecondsSinceEpoch: start.nanosecondsSinceEpoch &+ latestOffset)
        switch event.kind {
        case .open:
            return open(at: time)
        case .data(let direction, let bytes):
            return data(direction, bytes, at: time)
        case .close(let direction, .fin):
            return close(direction, at: time)
        case .reset(let by):
            return reset(by: by, at: time)
        case .redacted, .tls, .fault, .pattern:
            // Markers about the recording, not packets: the data events already hold the bytes
            // (placeholders, decrypted text) and an injected fault shows as the events it caused.
            return []
        case .gap(let direction, let count):
            guard state == .established else { return [] }
            // The bytes were sent and received, only not captured: the sequence space moves on.
            self[direction].next &+= UInt32(truncatingIfNeeded: count)
            self[direction].unacknowledged += count
            return []
        case .connectFailed:
            // Handled at open, where the SYN is answered according to it.
            return []
        case .end:
            guard state == .established else { return [] }
            state = .over
            var segments: [OutgoingSegment] = []
            for direction in Direction.allCases where self[direction].unacknowledged > 0 && !self[direction.reversed].reset {
                segments.append(pureAcknowledgment(of: direction, at: time))
            }
            return segments
        }
    }

    private mutating func open(at time: WallClock) -> [OutgoingSegment] {
        guard state == .waitingForOpen else { return [] }
        let syn = OutgoingSegment(time: time, direction: .clientToServer, sequence: clientInitialSequence,
                             acknowledgment: 0, flags: .syn, synOptions: true)
        guard let failure = connectFailure else {
            state = .established
            client.next = clientInitialSequence &+ 1
            server.next = serverInitialSequence &+ 1
            return [
                syn,
                OutgoingSegment(time: time, direction: .serverToClient, sequence: serverInitialSequence,
                           acknowledgment: client.next, flags: [.syn, .ack], synOptions: true),
                OutgoingSegment(time: time, direction: .clientToServer, sequence: client.next,
                           acknowledgment: server.next, flags: .ack),
            ]
        }
        state = .failed
        var segments = [syn]
        switch failure.reason {
        case .refused:
            let answer = WallClock(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch &+ max(0, failure.elapsed))
            segments.append(OutgoingSegment(time: answer, direction: .serverToClient, sequence: 0,
                                       acknowledgment: clientInitialSequence &+ 1, flags: [.rst, .ack]))
        case .timeout:
            for seconds in Self.synRetransmissions where seconds * 1_000_000_000 <= failure.elapsed {
                var again = syn
                again.time = WallClock(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch &+ seconds * 1_000_000_000)
                segments.append(again)
            }
        case .unreachable, .other:
            // The ICMP error or local failure is not synthesized; the SYN alone shows the attempt.
            break
        }
        return segments
    }

    private mutating func data(_ direction: Direction, _ bytes: [UInt8], at time: WallClock) -> [OutgoingSegment] {
        guard state == .established else {
            droppedBytes += bytes.count
            return []
        }
        var segments: [OutgoingSegment] = []
        var from = 0
        while from < bytes.count {
            let to = min(from + Self.maximumPayload, bytes.count)
            let flags: TCPFlags = to == bytes.count ? [.psh, .ack] : .ack
            segments.append(send(direction, flags: flags, payload: bytes[from..<to], at: time))
            if self[direction].unacknowledged >= Self.acknowledgeEvery && !self[direction.reversed].reset {
                segments.append(pureAcknowledgment(of: direction, at: time))
            }
            from = to
        }
        return segments
    }

    private mutating func close(_ direction: Direction, at time: WallClock) -> [OutgoingSegment] {
        guard state == .established else { return [] }
        let fin = send(direction, flags: [.fin, .ack], payload: [], at: time)
        if self[direction.reversed].reset { return [fin] }
        return [fin, pureAcknowledgment(of: direction, at: time)]
    }

    /// A RST from the side sending in `direction`. The connection stays up for the data
    /// recorded after the RST (it was in flight).
    private mutating func reset(by direction: Direction, at time: WallClock) -> [OutgoingSegment] {
        guard state == .established, !self[direction].reset else { return [] }
        let reset = send(direction, flags: [.rst, .ack], payload: [], at: time)
        self[direction].reset = true
        return [reset]
    }

    /// A segment from the sender of `direction`, acknowledging everything it has received.
    private mutating func send(_ direction: Direction, flags: TCPFlags, payload: ArraySlice<UInt8>,
                               at time: WallClock) -> OutgoingSegment {
        let segment = OutgoingSegment(time: time, direction: direction, sequence: self[direction].next,
                                 acknowledgment: self[direction.reversed].next, flags: flags, payload: payload)
        let consumed = payload.count + (flags.contains(.fin) ? 1 : 0)
        self[direction].next &+= UInt32(truncatingIfNeeded: consumed)
        self[direction].unacknowledged += consumed
        self[direction.reversed].unacknowledged = 0
        return segment
    }

    /// The receiver of `direction` acknowledging everything sent in it so far.
    private mutating func pureAcknowledgment(of direction: Direction, at time: WallClock) -> OutgoingSegment {
        send(direction.reversed, flags: .ack, payload: [], at: time)
    }

    private subscript(direction: Direction) -> Side {
        get { direction == .clientToServer ? client : server }
        set {
            if direction == .clientToServer { client = newValue } else { server = newValue }
        }
    }
}
