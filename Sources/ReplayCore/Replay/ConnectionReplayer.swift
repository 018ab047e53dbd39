/// One replayed connection without I/O: the live client's bytes go through the protocol's
/// framer into the conversation cursor, whose chosen exchanges feed the `ReplayMachine` that
/// keeps the recorded timing and the backpressure. The NIO handler feeds it events and the time
/// and carries out the actions it returns.
///
/// In `bytes` and `none` modes there is no framer or cursor: a compiled plan waits for client
/// byte counts (or for nothing), as the foundation's replay did.
public struct ConnectionReplayer: Sendable {
    public private(set) var machine: ReplayMachine
    private var cursor: ConversationCursor?
    /// The live connection's framer, mutated in place (a copy would copy its buffers per read).
    private var framer: any MessageFramer = LineFramer()
    private var dialect: any ProtocolDialect
    /// The messages of one read, in an array kept from read to read (one allocated per read
    /// showed in the profile).
    private var readMessages: [FramedMessage] = []
    private let policy: MismatchPolicy
    private let echoes: Bool
    /// Messages answered so far: the progress appended steps wait for.
    private var progress = 0
    private var stoppedAnswering = false
    private var echoNoted = false
    /// A STARTTLS reply is on its way and TLS has not begun: plaintext the client sends now was
    /// pipelined behind its STARTTLS and must never be answered (the CVE-2011-0411 class), so
    /// it is dropped, as the recording proxy drops it.
    private var awaitingTLS = false
    private var injectionNoted = false
    private var unreplayableNoted = false
    /// The live and recorded messages of the last command that started one (not a continuation):
    /// what a continuation's reply echoes.
    private var echoAnchor: (live: FramedMessage, recorded: FramedMessage)?
    public private(set) var report: ConnectionReport
    /// Whether every step is kept in the report (`--report`), or only counted.
    private let keepsSteps: Bool
    /// A recorded connect failure that came after the recorded client had sent bytes: held
    /// until this client sends its first bytes (or closes, or `heldFailureDeadline` passes),
    /// so that the reset never reaches a client still connecting (curl would report a failed
    /// connect instead of the reset the recorded client saw).
    private var heldFailure: [ReplayPlan.Step]?
    private var heldFailureDeadline: Int64 = 0
    /// Injected faults (`--fault`, `--chaos`); nil when none can fire on this connection.
    private var faults: FaultPlan?
    /// `at=` faults still to come (absolute times), and the wakeup the machine asked for: the
    /// one wakeup the handler keeps is the earlier of the two.
    private var timedFaults: [(due: Int64, rule: Int)] = []
    private var machineWakeup: Int64?
    /// How long a held connect failure waits for a client that sends nothing.
    static let heldFailureWait: Int64 = 1_000_000_000
    /// A read that held more messages than this (a pipelining burst) does not keep its array.
    static let keptMessageCapacity = 64

    /// Replays a compiled plan (`--match bytes`, `--match none`).
    public init(plan: ReplayPlan, options: ReplayOptions, connection: Int, session: SessionRef?, writesMayBlock: Bool) {
        machine = ReplayMachine(plan: plan, options: options, writesMayBlock: writesMayBlock)
        dialect = OpaqueDialect()
        policy = .continue
        echoes = false
        keepsSteps = false
        report = ConnectionReport(connection: connection, followed: session)
    }

    /// Replays by messages from `set` (`--match similar`, `--match exact`); with `only`, follows
    /// that conversation alone.
    public init(set: ConversationSet, mode: MatchMode, policy: MismatchPolicy, options: ReplayOptions,
                connection: Int, only: Int? = nil, keepsSteps: Bool = true, writesMayBlock: Bool, faults: FaultPlan? = nil) {
        self.keepsSteps = keepsSteps
        self.faults = faults.flatMap { $0.isActive ? $0 : nil }
        machine = ReplayMachine(openEndedSession: 0, options: options, writesMayBlock: writesMayBlock)
        cursor = ConversationCursor(set: set, mode: mode, connection: connection, only: only)
        dialect = set.defaultProtocol.dialect
        self.policy = policy
        echoes = true
        report = ConnectionReport(connection: connection)
    }

    /// Whether `clientData` needs the bytes themselves (or only their count).
    public var readsClientBytes: Bool { cursor != nil }

    public var isFinished: Bool { machine.isFinished }

    /// The recorded session followed now, for log metadata.
    public var followed: SessionRef? { report.followed }

    // MARK: - Events

    public mutating func connected(at now: Int64) -> [ReplayAction] {
        if var faults, let refusal = faults.refusal() {
            self.faults = faults
            report.faults.append(refusal.logLine)
            return [.note(ReplayNote(.warning, refusal.logLine))] + machine.end(.refusedByFault, with: .reset)
        }
        if let faults { timedFaults = faults.timedRules.map { (now + $0.at, $0.rule) } }
        guard var cursor else { return observe(machine.connected(at: now)) }
        guard let opening = cursor.open() else {
            self.cursor = cursor
            return [.note(ReplayNote(.warning, "no recorded session to follow; closing")), .close]
        }
        let conversation = cursor.set.conversations[opening.conversation]
        dialect = (cursor.set.forcedProtocol ?? conversation.proto).dialect
        framer = dialect.makeFramer()
        report.followed = conversation.ref
        self.cursor = cursor
        let openingPieces = conversation.exchanges[opening.exchange].pieces
        // The recorded proxy never reached its server: nothing the client sends gets an answer.
        if openingPieces.contains(where: { if case .connectFailed = $0.action { return true } else { return false } }) {
            stoppedAnswering = true
            if conversation.clientBytesBeforeFailure > 0 {
                heldFailure = openingPieces
                heldFailureDeadline = now + Self.heldFailureWait
                return observe(machine.connected(at: now) + [.scheduleWakeup(at: heldFailureDeadline)])
            }
        }
        var actions = machine.connected(at: now)
        faults?.started(proto: dialect.wireProtocol, exchanges: conversation.exchanges.count)
        let pieces = applyFaults(at: 0, message: nil, to: openingPieces, notes: &actions)
        actions += machine.append(pieces, waitingFor: progress, at: now)
        if cursor.isAtEnd || stoppedAnswering { actions += machine.complete(at: now) }
        return observe(actions)
    }

    /// The client sent `bytes` (`count` of them; the bytes may be nil when `readsClientBytes` is false).
    public mutating func clientData(_ bytes: [UInt8]?, count: Int, at now: Int64) -> [ReplayAction] {
        var actions = machine.clientSent(byteCount: count, at: now)
        if heldFailure != nil, count > 0 { actions += releaseHeldFailure(at: now) }
        guard cursor != nil, let bytes, !stoppedAnswering else { return observe(actions) }
        if awaitingTLS { return observe(actions + droppedBeforeTLS(bytes.count)) }
        // Taken out while in use, so that it is uniquely held and filled in place.
        var messages = readMessages
        readMessages = []
        defer {
            messages.removeAll(keepingCapacity: messages.capacity <= Self.keptMessageCapacity)
            readMessages = messages
        }
        framer.clientBytes(bytes, into: &messages)
        messages += cutOpaque()
        for (index, message) in messages.enumerated() {
            actions += answer(message, at: now)
            if stoppedAnswering || machine.isFinished { break }
            if awaitingTLS {
                let rest = messages[(index + 1)...].reduce(0) { $0 + $1.bytes.count }
                if rest > 0 { actions += droppedBeforeTLS(rest) }
                break
            }
        }
        return observe(actions)
    }

    public mutating func clientClosed(at now: Int64) -> [ReplayAction] {
        if heldFailure != nil { return observe(releaseHeldFailure(at: now) + machine.clientClosed(at: now)) }
        guard cursor != nil, !stoppedAnswering else { return observe(machine.clientClosed(at: now)) }
        var actions: [ReplayAction] = []
        let rest = framer.clientFinished()
        for message in rest where !machine.isFinished { actions += answer(message, at: now) }
        actions += machine.clientClosed(at: now)
        if !machine.isFinished, !stoppedAnswering { actions += answer(nil, at: now) }
        actions += machine.complete(at: now)
        return observe(actions)
    }

    public mutating func clientReset(at now: Int64) -> [ReplayAction] { observe(machine.clientReset(at: now)) }
    public mutating func connectionLost(at now: Int64) -> [ReplayAction] { observe(machine.connectionLost(at: now)) }
    public mutating func stop(at now: Int64) -> [ReplayAction] { observe(machine.stop(at: now)) }
    public mutating func outputBlocked(at now: Int64) -> [ReplayAction] { observe(machine.outputBlocked(at: now)) }
    public mutating func outputWritable(at now: Int64) -> [ReplayAction] { observe(machine.outputWritable(at: now)) }
    public mutating func timerFired(at now: Int64) -> [ReplayAction] {
        if let first = timedFaults.first, now >= first.due, var faults {
            timedFaults.removeFirst()
            guard let firing = faults.fireTimed(first.rule) else {
                self.faults = faults
                // Its odds said no: the machine's own wakeup, which this one stood in for, still counts.
                return observe(machineWakeup.map { [.scheduleWakeup(at: $0)] } ?? [])
            }
            self.faults = faults
            guard FaultPlan.actsAtOnce(firing.action) else {
                // Armed for the next reply, which reports it; the machine's own wakeup still counts.
                return observe(machineWakeup.map { [.scheduleWakeup(at: $0)] } ?? [])
            }
            report.faults.append(firing.logLine)
            stoppedAnswering = true
            timedFaults = []
            let notes: [ReplayAction] = [.note(ReplayNote(.warning, firing.logLine))]
            switch firing.action {
            case .reset: return notes + machine.end(.endedByFault("reset"), with: .reset)
            case .stall: return observe(notes + machine.silence(at: now))
            default: return notes + machine.end(.endedByFault("close"), with: .close)
            }
        }
        // The machine's own wakeup came: it asks again if it needs another.
        if let asked = machineWakeup, now >= asked { machineWakeup = nil }
        if heldFailure != nil {
            guard now >= heldFailureDeadline else { return [.scheduleWakeup(at: heldFailureDeadline)] }
            return observe(releaseHeldFailure(at: now))
        }
        return observe(machine.timerFired(at: now))
    }

    /// Notes (once) that plaintext sent between STARTTLS and the handshake was dropped.
    private mutating func droppedBeforeTLS(_ count: Int) -> [ReplayAction] {
        guard !injectionNoted else { return [] }
        injectionNoted = true
        return [.note(ReplayNote(.warning, "dropped \(count) plaintext byte\(count == 1 ? "" : "s") the client sent after STARTTLS, before TLS began: they are never answered (command injection, CVE-2011-0411)"))]
    }

    /// The held connect failure, carried out from now with its recorded timing.
    private mutating func releaseHeldFailure(at now: Int64) -> [ReplayAction] {
        guard let pieces = heldFailure else { return [] }
        heldFailure = nil
        return machine.append(pieces, waitingFor: progress, at: now) + machine.complete(at: now)
    }

    /// The finished report, with how the connection ended (in words only when `describing`:
    /// a busy server that keeps no report and logs no summary line skips building the text).
    public mutating func finishReport(client: String?, describing: Bool = true) -> ConnectionReport {
        report.client = client
        if describing { report.outcome = machine.outcome?.description ?? "connection lost" }
        return report
    }

    // MARK: - Answering

    /// Answers one complete client message (nil: the client's FIN).
    private mutating func answer(_ message: FramedMessage?, at now: Int64) -> [ReplayAction] {
        // The cursor is changed where it is (optional chaining): a copy taken out and put back
        // retained and released everything it holds, per message.
        guard let set = cursor?.set else { return [] }
        let key = message.map { set.keyCache.key(of: $0, dialect: dialect, masks: set.masks) } ?? RecordedExchange.finKey
        guard let outcome = cursor?.receive(message, key: key, dialect: dialect) else { return [] }
        // The escaped text is for the report and for notes: made only when one of them needs it.
        let received = !keepsSteps && !outcome.needsText ? "" : (message.map { Escaped.text($0.bytes) } ?? "<FIN>")
        let stepNumber = message == nil ? 0 : (cursor?.messages ?? 0)
        switch outcome {
        case .matched(let choice):
            return play(choice, for: message, received: received, kind: key.kind, step: stepNumber, at: now)
        case .nothingRecorded:
            return []
        case .synthesized(let reply):
            report.add(.init(step: stepNumber, received: received, kind: key.kind, result: .synthesized, skipped: 0,
                             detail: "not recorded; the protocol's plain reply was sent"), keep: keepsSteps)
            var actions: [ReplayAction] = [.note(ReplayNote(.info, "client message \(stepNumber) \"\(received)\" was not recorded; answered with the protocol's plain reply (synthesized)"))]
            actions += sendNow(reply, for: message, at: now)
            return actions
        case .mismatch(let mismatch):
            return handle(mismatch, message: message, received: received, kind: key.kind, at: now)
        }
    }

    private mutating func play(_ choice: ConversationCursor.Choice, for message: FramedMessage?, received: String, kind: String,
                               step: Int, at now: Int64) -> [ReplayAction] {
        guard let set = cursor?.set else { return [] }
        // Read in place: a copy of the conversation or of the exchange would retain every field.
        let ref = set.conversations[choice.conversation].ref
        var actions: [ReplayAction] = []
        if report.followed != ref { report.followed = ref }
        if choice.skipped > 0, message != nil {
            actions.append(.note(ReplayNote(.info, "client message \(step) \"\(received)\" skipped \(choice.skipped) recorded client message\(choice.skipped == 1 ? "" : "s") of session \(ref)")))
        }
        // Read through the buffer: an array subscript would copy the whole exchange per field.
        let echoing = echoes && dialect.echoesFields && message != nil
        let (unreplayable, recordedPieces, recordedRequest) = set.conversations[choice.conversation].exchanges.withUnsafeBufferPointer { exchanges in
            (exchanges[choice.exchange].unreplayableReason, exchanges[choice.exchange].pieces, echoing ? exchanges[choice.exchange].request : nil)
        }
        if !unreplayableNoted, let reason = unreplayable {
            unreplayableNoted = true
            actions.append(.note(ReplayNote(.warning, "mismatch: connection \(report.connection), client message \(step): \(reason)")))
        }
        report.add(.init(step: step, received: received, kind: kind, result: .matched, level: choice.level,
                         session: ref, exchange: choice.exchange, skipped: choice.skipped), keep: keepsSteps)
        var pieces = recordedPieces
        if echoes, dialect.echoesFields, let message, let recorded = recordedRequest {
            var source = (live: message, recorded: recorded)
            if dialect.continuesCommand(kind: kind), let anchor = echoAnchor {
                source = anchor
            } else {
                echoAnchor = source
            }
            let echoed = echo(source.live, source.recorded, into: pieces)
            if echoed.changed, !echoNoted {
                echoNoted = true
                actions.append(.note(ReplayNote(.info, "replies carry fields copied from this client's requests (\(dialect.wireProtocol.rawValue): the id or tag); --match bytes sends recorded bytes unchanged")))
            }
            pieces = echoed.pieces
        }
        pieces = applyFaults(at: choice.exchange, message: message?.bytes, to: pieces, notes: &actions)
        if message != nil, pieces.contains(where: { $0.action == .startTLS }) { awaitingTLS = true }
        actions += advanceProgress(at: now)
        actions += machine.append(pieces, waitingFor: progress, at: now)
        if self.cursor?.isAtEnd == true || stoppedAnswering { actions += machine.complete(at: now) }
        return actions
    }

    /// The reply with the faults that fire here applied (and logged once each).
    private mutating func applyFaults(at exchange: Int, message: [UInt8]?, to pieces: [ReplayPlan.Step],
                                      notes actions: inout [ReplayAction]) -> [ReplayPlan.Step] {
        guard var faults else { return pieces }
        let result = faults.apply(at: exchange, message: message, to: pieces)
        self.faults = faults
        for firing in result.firings {
            report.faults.append(firing.logLine)
            actions.append(.note(ReplayNote(.warning, firing.logLine)))
        }
        if result.stopsAnswering { stoppedAnswering = true }
        return result.pieces
    }

    private mutating func handle(_ mismatch: Mismatch, message: FramedMessage?, received: String, kind: String, at now: Int64) -> [ReplayAction] {
        let step = ConnectionReport.Step(step: mismatch.step, received: received, kind: kind, result: .mismatch, skipped: 0,
                                         detail: mismatch.description)
        report.add(step, keep: keepsSteps)
        var actions: [ReplayAction] = [.note(ReplayNote(.warning, "\(mismatch); --on-mismatch \(policy.rawValue)"))]
        switch policy {
        case .error:
            if let message, let reply = dialect.errorReply(to: message, reason: "no recorded reply fits this \(dialect.wireProtocol.rawValue) message") {
                actions += sendNow(reply, for: message, at: now)
            } else {
                actions += machine.end(.endedOnMismatch(.error), with: .close)
            }
        case .close:
            actions += machine.end(.endedOnMismatch(.close), with: .close)
        case .reset:
            actions += machine.end(.endedOnMismatch(.reset), with: .reset)
        case .hold:
            stoppedAnswering = true
            actions += machine.complete(at: now)
        case .continue:
            if var cursor, let choice = cursor.forceNext() {
                self.cursor = cursor
                report.removeLast(step)
                actions += play(choice, for: message, received: received, kind: kind, step: mismatch.step, at: now)
                if keepsSteps, let last = report.steps.indices.last { report.steps[last].detail = "sent the recorded reply anyway (--on-mismatch continue)" }
            } else {
                actions += machine.end(.endedOnMismatch(.close), with: .close)
            }
        }
        return actions
    }

    /// A reply replayd makes up (housekeeping, an error): sent at once, in turn.
    private mutating func sendNow(_ reply: [UInt8], for message: FramedMessage? = nil, at now: Int64) -> [ReplayAction] {
        var actions: [ReplayAction] = []
        var pieces = [ReplayPlan.Step(action: .send(reply), clientBytes: 0, afterClientClose: false, delay: 0, offset: 0)]
        // A rule aimed at a message the recording never saw still fires (-1: no recorded step for chaos).
        if let message { pieces = applyFaults(at: -1, message: message.bytes, to: pieces, notes: &actions) }
        actions += advanceProgress(at: now)
        actions += machine.append(pieces, waitingFor: progress, at: now)
        if stoppedAnswering { actions += machine.complete(at: now) }
        return actions
    }

    private mutating func advanceProgress(at now: Int64) -> [ReplayAction] {
        progress += 1
        return machine.clientProgressed(to: progress, at: now)
    }

    /// Unknown binary: the live client's bytes become a message once they are as long as the
    /// recorded message the conversation expects next.
    private mutating func cutOpaque() -> [FramedMessage] {
        // Checked by protocol first: a cast of the framer on every read costs more than the check.
        guard dialect.wireProtocol == .opaque, var opaque = framer as? OpaqueFramer, let cursor else { return [] }
        framer = LineFramer() // let go of the buffer so `opaque` mutates it without a copy
        var messages: [FramedMessage] = []
        var expected = cursor.lead.flatMap { lead -> Int? in
            let exchanges = cursor.set.conversations[lead].exchanges
            return exchanges[min(cursor.nextExchange, exchanges.count)...].first(where: { $0.request != nil })?.request?.bytes.count
        } ?? 0
        while let message = opaque.cut(length: expected) {
            messages.append(message)
            expected = 0
            if opaque.pendingClientBytes == 0 { break }
        }
        framer = opaque
        return messages
    }

    /// Rewrites the machine's wakeups so that the next `at=` fault's time is never missed.
    private mutating func withTimedFaults(_ actions: [ReplayAction]) -> [ReplayAction] {
        guard let due = timedFaults.first?.due, !machine.isFinished else { return actions }
        var result: [ReplayAction] = []
        var asked = false
        for action in actions {
            switch action {
            case .scheduleWakeup(let at):
                machineWakeup = at
                result.append(.scheduleWakeup(at: min(at, due)))
                asked = true
            case .cancelWakeup:
                machineWakeup = nil
                result.append(.scheduleWakeup(at: due))
                asked = true
            default:
                result.append(action)
            }
        }
        if !asked { result.append(.scheduleWakeup(at: min(machineWakeup ?? due, due))) }
        return result
    }

    /// Copies the echoed fields of the live request into the recorded reply pieces, keeping
    /// their chunking (a length change goes to the last data piece).
    private func echo(_ live: FramedMessage, _ recorded: FramedMessage, into pieces: [ReplayPlan.Step]) -> (pieces: [ReplayPlan.Step], changed: Bool) {
        var joined: [UInt8] = []
        var lengths: [Int] = []
        for piece in pieces {
            if case .send(let bytes) = piece.action {
                joined += bytes
                lengths.append(bytes.count)
            }
        }
        guard !joined.isEmpty, let echoed = dialect.echo(liveRequest: live, recordedRequest: recorded, reply: joined), echoed != joined else {
            return (pieces, false)
        }
        var result = pieces
        var position = 0
        let lastData = result.lastIndex { if case .send = $0.action { return true } else { return false } }
        var dataIndex = 0
        for index in result.indices {
            guard case .send = result[index].action else { continue }
            let length = index == lastData ? max(0, echoed.count - position) : min(lengths[dataIndex], max(0, echoed.count - position))
            result[index].action = .send(Array(echoed[position..<(position + length)]))
            position += length
            dataIndex += 1
        }
        return (result, true)
    }

    /// Keeps the live framer's view of the server side: every reply sent goes through it.
    private mutating func observe(_ actions: [ReplayAction]) -> [ReplayAction] {
        let actions = timedFaults.isEmpty ? actions : withTimedFaults(actions)
        guard cursor != nil else { return actions }
        for action in actions {
            switch action {
            case .send(let bytes):
                framer.observeServerBytes(bytes)
            case .startTLS:
                // The session starts afresh over TLS (SMTP's EHLO again): a new framer, and
                // whatever plaintext the old one held is gone with it.
                framer = dialect.makeFramer()
                awaitingTLS = false
            default:
                continue
            }
        }
        return actions
    }
}
