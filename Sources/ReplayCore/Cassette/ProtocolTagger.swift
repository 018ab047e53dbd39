/// Sets `proto` on each session's `open` event, between a producer (record proxy, import,
/// capture) and the cassette writer. Sans-I/O: events in, events out.
///
/// A session's `open` is held until the session's first data chunk, which with the server's
/// port decides the protocol (`ProtocolDetector`); then the `open` goes out with `proto` set,
/// followed by the events held behind it, in order and with their offsets unchanged. A close,
/// reset, gap, connect failure or end before any data releases the session too (the port alone
/// decides), so at most a session's `open` and a few marker events are ever held per session.
/// With a forced protocol nothing is held: every `open` goes out at once with that protocol.
///
/// One tagger can serve many concurrent sessions (an import), or one session (each proxied
/// connection has its own, on its own event loop).
public struct ProtocolTagger: Sendable {
    /// The protocol given by the user (`--proto`); detection is skipped.
    public let forced: WireProtocol?
    /// Per session waiting for its first data: the `open` first, then what came after it.
    private var held: [Int: [SessionEvent]] = [:]

    /// Events (markers, empty chunks) held behind an `open` before the session is released
    /// anyway, from its port alone: what is held stays small whatever a producer sends.
    static let holdLimit = 8

    public init(forced: WireProtocol? = nil) {
        self.forced = forced
    }

    /// Sessions whose `open` is held.
    public var heldSessions: Int { held.count }

    /// Takes one event; appends to `output` what can be written now, in order.
    public mutating func take(_ event: SessionEvent, into output: inout [SessionEvent]) {
        if case .open(var open) = event.kind {
            if let forced {
                open.proto = forced
                output.append(SessionEvent(session: event.session, offset: event.offset, kind: .open(open)))
            } else if open.proto != nil {
                // The producer knew already.
                output.append(event)
            } else {
                // A second open for a held session is the producer's error; the first is kept
                // and released as it is, so that nothing is lost or reordered.
                if let earlier = held.removeValue(forKey: event.session) { output.append(contentsOf: earlier) }
                held[event.session] = [event]
            }
            return
        }
        guard var waiting = held[event.session] else {
            output.append(event)
            return
        }
        switch event.kind {
        case .data(let direction, let bytes) where !bytes.isEmpty:
            release(&waiting, client: direction == .clientToServer ? bytes : [], server: direction == .serverToClient ? bytes : [])
        case .data, .redacted, .tls, .fault, .pattern:
            // An empty chunk says nothing; markers come before the bytes they are about.
            guard waiting.count > Self.holdLimit else {
                waiting.append(event)
                held[event.session] = waiting
                return
            }
            release(&waiting, client: [], server: [])
        case .open, .close, .reset, .connectFailed, .gap, .end:
            release(&waiting, client: [], server: [])
        }
        held[event.session] = nil
        output.append(contentsOf: waiting)
        output.append(event)
    }

    /// Takes several events in order.
    public mutating func take(_ events: [SessionEvent], into output: inout [SessionEvent]) {
        for event in events { take(event, into: &output) }
    }

    /// Releases every held session, in session order (the producer is done: no data will come).
    public mutating func finish(into output: inout [SessionEvent]) {
        for session in held.keys.sorted() {
            guard var waiting = held[session] else { continue }
            release(&waiting, client: [], server: [])
            output.append(contentsOf: waiting)
        }
        held.removeAll()
    }

    /// Sets the protocol on the held `open` (the first element).
    private func release(_ waiting: inout [SessionEvent], client: [UInt8], server: [UInt8]) {
        guard let first = waiting.first, case .open(var open) = first.kind else { return }
        open.proto = ProtocolDetector.detect(serverPort: open.serverPort, client: client, server: server)
        waiting[0] = SessionEvent(session: first.session, offset: first.offset, kind: .open(open))
    }
}
