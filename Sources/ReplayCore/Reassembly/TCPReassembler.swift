/// Puts captured TCP segments back into sessions: the sans-I/O core of `replayd import` and
/// `replayd capture`. Feed it segments in capture order; it returns session events as soon as
/// they are known, so memory grows with the connections open at once, not with the capture.
///
/// - Every connection becomes a session, numbered from 1 in order of its first packet (the
///   order of Wireshark's `tcp.stream`, plus one).
/// - Data events carry the capture time of the segment that completed them, as an offset from
///   the session's first packet; one segment stays one chunk.
/// - Retransmitted bytes are dropped (differing ones reported), out-of-order segments are held
///   and delivered in order, and bytes that never arrive become `gap` events: never joined.
/// - A RST closes its sender's direction at once, but the session goes on taking what was
///   still in flight (chiefly the other side's data that crossed the RST), as Wireshark's
///   `follow` does. It ends when both directions are done, when a new
///   SYN reuses the 4-tuple, after `resetLinger` without a packet, or at `finish()`.
public struct TCPReassembler: Sendable {
    /// Limits and timeouts.
    public struct Configuration: Sendable {
        /// Bytes one direction may hold behind a hole before the hole is declared a gap.
        public var bufferLimit: Int
        /// How long (capture time) a finished connection's 4-tuple is remembered, so late ACKs
        /// and retransmitted FINs do not start new sessions.
        public var finishedLinger: Int64
        /// How long (capture time) a reset connection waits, after its last packet, for data
        /// that was still in flight when the RST went out. In flight means within a round trip,
        /// so seconds are plenty; the session's `end` comes after this.
        public var resetLinger: Int64

        public init(bufferLimit: Int = 4 << 20, finishedLinger: Int64 = 120_000_000_000,
                    resetLinger: Int64 = 5_000_000_000) {
            self.bufferLimit = bufferLimit
            self.finishedLinger = finishedLinger
            self.resetLinger = resetLinger
        }
    }

    private struct Connection: Sendable {
        var session: Int
        var client: Endpoint
        var start: Int64
        var lastOffset: Int64 = 0
        var lastSeen: Int64
        var toServer = HalfStream()
        var toClient = HalfStream()
        var finished = false
        /// A FIN or RST was seen from either side: a new SYN on the 4-tuple starts a new session.
        var closing = false
        /// A RST was taken: the connection waits for in-flight data until it ends.
        var reset = false
    }

    /// A reset connection to end once it has been quiet for `resetLinger`.
    private struct ResetDeadline: Sendable {
        var slot: Int
        var session: Int
        var deadline: Int64
    }

    public let configuration: Configuration
    public private(set) var statistics = ReassemblyStatistics()
    /// Notices since the last `takeNotices()`.
    public private(set) var notices: [ReassemblyNotice] = []
    private var table: [ConnectionKey: Int] = [:]
    private var connections: [Connection] = []
    private var freeSlots: [Int] = []
    private var nextSession = 1
    private var segmentsSinceSweep = 0
    private var halfOutput: [HalfStream.Output] = []
    /// Reset connections in order of their deadlines (roughly: a deadline pushed back by a late
    /// packet goes to the back, so one may be seen a little late, never early).
    private var resetDeadlines: [ResetDeadline] = []
    private var resetDeadlinesHead = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Connections currently tracked (open ones, and finished ones still remembered).
    public var trackedConnections: Int { table.count }

    /// Takes one segment and returns the events it completes.
    public mutating func segment(_ segment: TCPSegment) -> [SessionEvent] {
        var events: [SessionEvent] = []
        self.segment(segment, into: &events)
        return events
    }

    /// Takes one segment and appends the events it completes to `events` (no allocation per call).
    public mutating func segment(_ segment: TCPSegment, into events: inout [SessionEvent]) {
        statistics.segments += 1
        let now = segment.timestamp.nanosecondsSinceEpoch
        if resetDeadlinesHead < resetDeadlines.count { expireResets(now: now, into: &events) }
        let key = ConnectionKey(segment.source, segment.destination)
        let isNewSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)

        var slot: Int
        if let existing = table[key] {
            slot = existing
            // Field by field, not a copy of the connection: a copy would retain its buffers.
            let finished = connections[slot].finished
            let isn = connections[slot].client == segment.source ? connections[slot].toServer.isn : connections[slot].toClient.isn
            if isNewSYN, connections[slot].closing || finished, isn != segment.sequence {
                // The 4-tuple is reused by a new connection.
                if !finished { finishConnection(slot, at: now, into: &events) }
                connections[slot] = makeConnection(for: segment, at: now, into: &events)
            } else if finished {
                statistics.packetsAfterEnd += 1
                connections[slot].lastSeen = now
                return
            }
        } else {
            slot = allocateSlot(makeConnection(for: segment, at: now, into: &events))
            table[key] = slot
        }

        let direction: Direction = connections[slot].client == segment.source ? .clientToServer : .serverToClient
        let raw = now - connections[slot].start
        // Offsets never go backwards, even when the capture's timestamps do.
        let offset = max(connections[slot].lastOffset, raw)
        connections[slot].lastOffset = offset
        connections[slot].lastSeen = now
        let session = connections[slot].session
        let flags = segment.flags
        let syn = flags.contains(.syn)

        halfOutput.removeAll(keepingCapacity: true)
        if flags.contains(.rst), !Self.plausibleReset(segment.sequence, in: direction == .clientToServer
            ? connections[slot].toServer : connections[slot].toClient) {
            // A RST far outside the sender's sequence space answers a stray packet (as after a
            // challenge ACK); the connection goes on, as Wireshark's stream does.
            statistics.ignoredResets += 1
            return
        }
        let bufferLimit = configuration.bufferLimit
        let position = withHalf(slot, direction) { sender, _, _ in
            sender.start(sequence: segment.sequence, syn: syn)
            return sender.offset(of: segment.sequence, syn: syn)
        }

        if flags.contains(.rst) {
            connections[slot].closing = true
            resetConnection(slot, from: direction, at: position, offset: offset, now: now, into: &events)
            return
        }
        let fin = flags.contains(.fin)
        if fin { connections[slot].closing = true }
        withHalf(slot, direction) { sender, statistics, output in
            sender.receive(
                offset: position, bytes: segment.payload, wireLength: segment.wireLength,
                bufferLimit: bufferLimit, statistics: &statistics, into: &output)
            if fin { sender.receiveFin(at: position + Int64(segment.wireLength), into: &output) }
        }
        if !halfOutput.isEmpty { emit(session: session, direction: direction, offset: offset, afterReset: connections[slot].reset, into: &events) }

        if flags.contains(.ack) {
            let acknowledgment = segment.acknowledgment
            withHalf(slot, direction.reversed) { receiver, statistics, output in
                if let acknowledged = receiver.offset(acknowledging: acknowledgment) {
                    receiver.acknowledged(upTo: acknowledged, statistics: &statistics, into: &output)
                }
            }
            if !halfOutput.isEmpty { emit(session: session, direction: direction.reversed, offset: offset, afterReset: connections[slot].reset, into: &events) }
        }

        endIfDone(slot, at: offset, into: &events)

        segmentsSinceSweep += 1
        if segmentsSinceSweep >= 4096 {
            segmentsSinceSweep = 0
            sweep(now: now)
        }
    }

    /// Tells the reassembler that capture time has reached `time` with no packet: reset
    /// connections quiet for `resetLinger` end now. A live capture calls this while idle, so a
    /// session ended by a RST is written without waiting for the next packet.
    public mutating func advance(to time: WallClock, into events: inout [SessionEvent]) {
        expireResets(now: time.nanosecondsSinceEpoch, into: &events)
    }

    /// Ends every open connection (the capture is over): held data is delivered with gaps for
    /// its holes, and each session gets its `end`, in session order.
    public mutating func finish() -> [SessionEvent] {
        var events: [SessionEvent] = []
        let open = table.values.filter { !connections[$0].finished }.sorted { connections[$0].session < connections[$1].session }
        for slot in open {
            finishConnection(slot, at: connections[slot].lastSeen, into: &events)
        }
        return events
    }

    /// Returns and clears the notices gathered so far.
    public mutating func takeNotices() -> [ReassemblyNotice] {
        defer { notices.removeAll() }
        return notices
    }

    // MARK: - Internals

    private mutating func makeConnection(for segment: TCPSegment, at now: Int64, into events: inout [SessionEvent]) -> Connection {
        let client = Self.client(of: segment)
        let server = client == segment.source ? segment.destination : segment.source
        let session = nextSession
        nextSession += 1
        statistics.sessions += 1
        let open = SessionOpen(client: client.text, server: server.text, start: segment.timestamp)
        events.append(SessionEvent(session: session, offset: 0, kind: .open(open)))
        return Connection(session: session, client: client, start: now, lastSeen: now)
    }

    /// Who connected: the SYN says so where captured; otherwise a well-known port (below 1024)
    /// or else the lower port is the server's; with equal ports, the first sender is the client.
    static func client(of segment: TCPSegment) -> Endpoint {
        let flags = segment.flags
        if flags.contains(.syn) { return flags.contains(.ack) ? segment.destination : segment.source }
        let source = segment.source.port, destination = segment.destination.port
        let sourceWellKnown = source < 1024, destinationWellKnown = destination < 1024
        if sourceWellKnown != destinationWellKnown { return sourceWellKnown ? segment.destination : segment.source }
        if source != destination { return source < destination ? segment.destination : segment.source }
        return segment.source
    }

    /// Bytes before the highest offset seen, and after it, within which a RST is believed.
    static let resetWindowBehind: Int64 = 1 << 20
    static let resetWindowAhead: Int64 = 64 << 20

    static func plausibleReset(_ sequence: UInt32, in half: HalfStream) -> Bool {
        guard half.hasStarted, let offset = half.offset(acknowledging: sequence) else { return true }
        let highest = half.highestOffset
        return offset >= highest - resetWindowBehind && offset <= highest + resetWindowAhead
    }

    private mutating func allocateSlot(_ connection: Connection) -> Int {
        if let slot = freeSlots.popLast() {
            connections[slot] = connection
            return slot
        }
        connections.append(connection)
        return connections.count - 1
    }

    /// Runs `body` on one half of a connection in place, with the statistics and the output
    /// list: no copy of the half, so its buffers stay uniquely referenced and are not retained.
    @inline(__always)
    private mutating func withHalf<Result>(
        _ slot: Int, _ direction: Direction,
        _ body: (inout HalfStream, inout ReassemblyStatistics, inout [HalfStream.Output]) -> Result
    ) -> Result {
        switch direction {
        case .clientToServer: return body(&connections[slot].toServer, &statistics, &halfOutput)
        case .serverToClient: return body(&connections[slot].toClient, &statistics, &halfOutput)
        }
    }

    /// Ends the session once neither direction can deliver anything more.
    private mutating func endIfDone(_ slot: Int, at offset: Int64, into events: inout [SessionEvent]) {
        guard connections[slot].toServer.isDone && connections[slot].toClient.isDone else { return }
        connections[slot].finished = true
        connections[slot].toServer.release()
        connections[slot].toClient.release()
        events.append(SessionEvent(session: connections[slot].session, offset: offset, kind: .end))
    }

    /// Ends the reset connections whose deadline has passed, unless a packet came since.
    private mutating func expireResets(now: Int64, into events: inout [SessionEvent]) {
        let linger = configuration.resetLinger
        while resetDeadlinesHead < resetDeadlines.count, resetDeadlines[resetDeadlinesHead].deadline < now {
            let entry = resetDeadlines[resetDeadlinesHead]
            resetDeadlinesHead += 1
            // The slot may have been finished, or reused by another connection, since.
            guard connections[entry.slot].session == entry.session, !connections[entry.slot].finished else { continue }
            let quietUntil = connections[entry.slot].lastSeen + linger
            if quietUntil >= now {
                resetDeadlines.append(ResetDeadline(slot: entry.slot, session: entry.session, deadline: quietUntil))
            } else {
                finishConnection(entry.slot, at: now, into: &events)
            }
        }
        if resetDeadlinesHead == resetDeadlines.count {
            resetDeadlines.removeAll(keepingCapacity: true)
            resetDeadlinesHead = 0
        } else if resetDeadlinesHead > 1024, resetDeadlinesHead * 2 > resetDeadlines.count {
            resetDeadlines.removeFirst(resetDeadlinesHead)
            resetDeadlinesHead = 0
        }
    }

    /// Turns half-stream output into session events.
    private mutating func emit(session: Int, direction: Direction, offset: Int64, afterReset: Bool, into events: inout [SessionEvent]) {
        for output in halfOutput {
            switch output {
            case .data(let bytes):
                if direction == .clientToServer {
                    statistics.bytesClientToServer += Int64(bytes.count)
                } else {
                    statistics.bytesServerToClient += Int64(bytes.count)
                }
                if afterReset { statistics.bytesAfterReset += Int64(bytes.count) }
                events.append(SessionEvent(session: session, offset: offset, kind: .data(direction, bytes)))
            case .gap(let size):
                events.append(SessionEvent(session: session, offset: offset, kind: .gap(direction, size)))
            case .fin:
                events.append(SessionEvent(session: session, offset: offset, kind: .close(direction, .fin)))
            case .reset:
                events.append(SessionEvent(session: session, offset: offset, kind: .reset(by: direction)))
            case .overlapDiffers(let at, let length):
                notices.append(ReassemblyNotice(
                    session: session, direction: direction, streamOffset: at,
                    message: "a retransmission of \(length) bytes differs from the bytes already delivered; kept the first"))
            }
        }
        halfOutput.removeAll(keepingCapacity: true)
    }

    /// A RST closes its sender's direction at once (`reset` by the sender, at the RST's time). The
    /// session stays open for what was in flight: the other side's data, which crossed the RST
    /// (Wireshark follows it), and the sender's own data captured after it (sent before it, or
    /// sent on after a RST injected by a middlebox: Wireshark follows that as well).
    private mutating func resetConnection(_ slot: Int, from direction: Direction, at position: Int64, offset: Int64,
                                          now: Int64, into events: inout [SessionEvent]) {
        let session = connections[slot].session
        halfOutput.removeAll(keepingCapacity: true)
        withHalf(slot, direction) { sender, _, output in
            sender.reset(at: position, into: &output)
        }
        emit(session: session, direction: direction, offset: offset, afterReset: true, into: &events)
        if !connections[slot].reset {
            connections[slot].reset = true
            resetDeadlines.append(ResetDeadline(slot: slot, session: session, deadline: now + configuration.resetLinger))
        }
        endIfDone(slot, at: offset, into: &events)
    }

    private mutating func finishConnection(_ slot: Int, at now: Int64, into events: inout [SessionEvent]) {
        let session = connections[slot].session
        let offset = connections[slot].lastOffset
        for direction in [Direction.clientToServer, .serverToClient] {
            halfOutput.removeAll(keepingCapacity: true)
            withHalf(slot, direction) { half, statistics, output in
                half.flush(statistics: &statistics, into: &output)
                half.release()
            }
            emit(session: session, direction: direction, offset: offset, afterReset: connections[slot].reset, into: &events)
        }
        connections[slot].finished = true
        events.append(SessionEvent(session: session, offset: offset, kind: .end))
    }

    /// Forgets finished connections that have been quiet for `finishedLinger`.
    private mutating func sweep(now: Int64) {
        let linger = configuration.finishedLinger
        var forget: [ConnectionKey] = []
        for (key, slot) in table where connections[slot].finished && now - connections[slot].lastSeen > linger {
            forget.append(key)
        }
        for key in forget {
            if let slot = table.removeValue(forKey: key) { freeSlots.append(slot) }
        }
    }
}
