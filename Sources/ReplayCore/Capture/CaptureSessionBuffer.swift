/// Holds a live capture's events per session until the session ends, so the cassette gets each
/// session as one block of lines, written the moment it is over. Sans-I/O: events in, events to
/// write out.
///
/// Memory stays bounded: when the held bytes pass `limit`, the session holding the most is
/// written out early (its later events follow when they come, interleaved with other sessions',
/// which the cassette format allows). So a long download costs at most `limit`, not its size.
public struct CaptureSessionBuffer: Sendable {
    /// Roughly what one event costs besides its payload (the enum, the array slot, the line).
    static let eventOverhead = 64

    /// Bytes held before the largest session is written out early.
    public let limit: Int
    /// Events of the sessions not yet ended, in arrival order per session.
    private var held: [Int: [SessionEvent]] = [:]
    /// Estimated bytes held per session.
    private var heldBytes: [Int: Int] = [:]
    /// Estimated bytes held in all.
    public private(set) var totalHeldBytes = 0
    /// Sessions that have ended (their `end` went out).
    public private(set) var endedSessions = 0
    /// Sessions written out early because of the limit.
    public private(set) var spills = 0

    public init(limit: Int = 32 << 20) {
        self.limit = limit
    }

    /// Sessions seen whose `end` has not come yet.
    public var openSessions: Int { held.count }

    /// Takes one event; appends to `output` whatever must be written now, in order.
    public mutating func take(_ event: SessionEvent, into output: inout [SessionEvent]) {
        if case .end = event.kind {
            if let events = held.removeValue(forKey: event.session) {
                output.append(contentsOf: events)
            }
            totalHeldBytes -= heldBytes.removeValue(forKey: event.session) ?? 0
            output.append(event)
            endedSessions += 1
            return
        }
        let cost = Self.cost(of: event)
        held[event.session, default: []].append(event)
        heldBytes[event.session, default: 0] += cost
        totalHeldBytes += cost
        while totalHeldBytes > limit, let (largest, bytes) = heldBytes.max(by: { $0.value < $1.value }), bytes > 0 {
            output.append(contentsOf: held[largest] ?? [])
            // The session stays known (empty) so its later events are still held and its end counted.
            held[largest] = []
            heldBytes[largest] = 0
            totalHeldBytes -= bytes
            spills += 1
        }
    }

    /// Takes several events in order.
    public mutating func take(_ events: [SessionEvent], into output: inout [SessionEvent]) {
        for event in events { take(event, into: &output) }
    }

    static func cost(of event: SessionEvent) -> Int {
        if case .data(_, let bytes) = event.kind { return bytes.count + eventOverhead }
        return eventOverhead
    }
}
