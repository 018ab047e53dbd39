/// Replaces secrets (passwords, credentials, cookie values) in session events before they are
/// written, between the `ProtocolTagger` and the cassette writer. Sans-I/O: events in, events
/// out, in order.
///
/// Each session is framed by the protocol on its `open` (`proto`); the secret bytes inside the
/// data events become `*`, the same number of bytes, so chunking, offsets and byte counts stay
/// valid, and a `redacted` event after the data event that completes a secret says where and by
/// which rule. Only the secret is replaced: mechanism names and user names stay. A secret split
/// across chunks is still found: a session's events are held while a line (or a length-prefixed
/// field) that may hold a secret is incomplete, at most `SecretScanner.unitLimit` bytes of it.
///
/// Nothing here can fail: input that fits no rule passes through unchanged.
public struct Redactor: Sendable {
    public let user: UserRedactionRules
    private var sessions: [Int: SessionRedactor] = [:]
    /// How many secrets were redacted, by rule name.
    public private(set) var counts: [String: Int] = [:]

    public init(user: UserRedactionRules = .none) {
        self.user = user
    }

    /// Sessions seen whose `end` has not come.
    public var openSessions: Int { sessions.count }

    /// Takes one event; appends to `output` what can be written now, in order.
    public mutating func take(_ event: SessionEvent, into output: inout [SessionEvent]) {
        if case .open(let open) = event.kind, sessions[event.session] == nil {
            sessions[event.session] = SessionRedactor(session: event.session, proto: open.proto, user: user)
        }
        guard var session = sessions[event.session] else {
            // No `open` seen: nothing says how to frame it.
            output.append(event)
            return
        }
        session.take(event, into: &output, counts: &counts)
        if case .end = event.kind {
            session.finish(into: &output, counts: &counts)
            sessions[event.session] = nil
        } else {
            sessions[event.session] = session
        }
    }

    /// Takes several events in order.
    public mutating func take(_ events: [SessionEvent], into output: inout [SessionEvent]) {
        for event in events { take(event, into: &output) }
    }

    /// Lets out everything held, in session order (the producer is done).
    public mutating func finish(into output: inout [SessionEvent]) {
        for number in sessions.keys.sorted() {
            guard var session = sessions[number] else { continue }
            session.finish(into: &output, counts: &counts)
        }
        sessions.removeAll()
    }
}
