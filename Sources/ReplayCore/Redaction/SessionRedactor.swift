/// Redacts one session: each direction framed by its `SecretScanner`, events held in order
/// only while a unit that may hold a secret is incomplete, placeholders (`*`) written over the
/// secret bytes of the held data events, and a `redacted` event after the data event that
/// completes each secret. Chunking, offsets and byte counts stay as they were.
struct SessionRedactor: Sendable {
    private struct Held: Sendable {
        var event: SessionEvent
        /// For a data event: where its bytes start in their direction's stream.
        var start: Int
    }

    private var rules: any SecretRules
    private let user: UserRedactionRules
    private var client: SecretScanner
    private var server: SecretScanner
    private var held: [Held] = []
    private var heldBytes = 0
    /// Secrets whose range is known but not yet complete.
    private var open: [Redaction] = []
    private var found: [Redaction] = []

    /// Held bytes past which held units are given up (pass through unread).
    static let holdLimit = 256 * 1024

    private let session: Int

    init(session: Int, proto: WireProtocol?, user: UserRedactionRules) {
        self.session = session
        let rules = SecretRulesFactory.rules(for: proto, userRules: !user.isEmpty)
        self.rules = rules
        self.user = user
        client = SecretScanner(direction: .clientToServer, step: rules.initialStep(.clientToServer))
        server = SecretScanner(direction: .serverToClient, step: rules.initialStep(.serverToClient))
    }

    var isHolding: Bool { !held.isEmpty }

    mutating func take(_ event: SessionEvent, into output: inout [SessionEvent], counts: inout [String: Int]) {
        switch event.kind {
        case .data(let direction, let bytes):
            let start = direction == .clientToServer ? client.offset : server.offset
            held.append(Held(event: event, start: start))
            heldBytes += bytes.count
            if direction == .clientToServer {
                client.take(bytes, rules: &rules, user: user, found: &found)
            } else {
                server.take(bytes, rules: &rules, user: user, found: &found)
            }
            applyOverrides()
            collect(direction: direction, time: event.offset, counts: &counts)
            if heldBytes > Self.holdLimit {
                client.abandonUnit()
                server.abandonUnit()
            }
        case .close(let direction, _):
            finish(direction, time: event.offset, counts: &counts)
            held.append(Held(event: event, start: 0))
        case .gap(let direction, let count):
            if direction == .clientToServer {
                client.gap(count, rules: &rules, user: user, found: &found)
            } else {
                server.gap(count, rules: &rules, user: user, found: &found)
            }
            collect(direction: direction, time: event.offset, counts: &counts)
            held.append(Held(event: event, start: 0))
        case .reset, .end, .connectFailed:
            finish(.clientToServer, time: event.offset, counts: &counts)
            finish(.serverToClient, time: event.offset, counts: &counts)
            held.append(Held(event: event, start: 0))
        case .open, .redacted, .tls, .fault, .pattern:
            held.append(Held(event: event, start: 0))
        }
        release(into: &output, all: heldBytes > Self.holdLimit)
    }

    /// Lets everything out (the producer is done).
    mutating func finish(into output: inout [SessionEvent], counts: inout [String: Int]) {
        let time = held.last?.event.offset ?? 0
        finish(.clientToServer, time: time, counts: &counts)
        finish(.serverToClient, time: time, counts: &counts)
        release(into: &output, all: true)
    }

    private mutating func finish(_ direction: Direction, time: Int64, counts: inout [String: Int]) {
        if direction == .clientToServer {
            client.finish(rules: &rules, user: user, found: &found)
        } else {
            server.finish(rules: &rules, user: user, found: &found)
        }
        collect(direction: direction, time: time, counts: &counts)
        // A secret cut short by the end: what came of it is announced.
        let reached = direction == .clientToServer ? client.offset : server.offset
        for index in open.indices.reversed() where open[index].direction == direction {
            var redaction = open.remove(at: index)
            redaction.length = min(redaction.length, reached - redaction.offset)
            if redaction.length > 0 { announce(redaction, time: time, counts: &counts) }
        }
    }

    private mutating func applyOverrides() {
        if let step = rules.takeOverride(for: .clientToServer) { client.override(step) }
        if let step = rules.takeOverride(for: .serverToClient) { server.override(step) }
    }

    /// Puts placeholders over newly found secrets and announces the complete ones.
    private mutating func collect(direction: Direction, time: Int64, counts: inout [String: Int]) {
        open.append(contentsOf: client.takeSecretsAhead())
        open.append(contentsOf: server.takeSecretsAhead())
        let newlyFound = found
        found.removeAll()
        for redaction in newlyFound { announce(redaction, time: time, counts: &counts) }
        for redaction in open { cover(redaction) }
        let clientReached = client.offset
        let serverReached = server.offset
        for index in open.indices.reversed() {
            let redaction = open[index]
            let reached = redaction.direction == .clientToServer ? clientReached : serverReached
            if redaction.offset + redaction.length <= reached {
                open.remove(at: index)
                announce(redaction, time: time, counts: &counts)
            }
        }
    }

    private mutating func announce(_ redaction: Redaction, time: Int64, counts: inout [String: Int]) {
        cover(redaction)
        held.append(Held(event: SessionEvent(session: session, offset: time, kind: .redacted(redaction)), start: 0))
        counts[redaction.rule, default: 0] += 1
    }

    /// Writes placeholders over `redaction`'s bytes in the held data events.
    private mutating func cover(_ redaction: Redaction) {
        let range = redaction.offset..<(redaction.offset + redaction.length)
        for index in held.indices {
            guard case .data(let direction, var bytes) = held[index].event.kind, direction == redaction.direction else { continue }
            let start = held[index].start
            let overlap = range.clamped(to: start..<(start + bytes.count))
            guard !overlap.isEmpty else { continue }
            for position in overlap { bytes[position - start] = Self.placeholder }
            held[index].event.kind = .data(direction, bytes)
        }
    }

    static let placeholder = UInt8(ascii: "*")

    /// Lets out the held events whose bytes are final, in order.
    private mutating func release(into output: inout [SessionEvent], all: Bool) {
        var count = 0
        for entry in held {
            if !all, case .data(let direction, let bytes) = entry.event.kind {
                let safe = direction == .clientToServer ? client.safeOffset : server.safeOffset
                // Bytes of a secret known ahead are covered as they come, so they may go.
                guard entry.start + bytes.count <= safe else { break }
            }
            output.append(entry.event)
            if case .data(_, let bytes) = entry.event.kind { heldBytes -= bytes.count }
            count += 1
        }
        held.removeFirst(count)
    }
}
