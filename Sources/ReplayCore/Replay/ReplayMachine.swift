/// The server side of one replayed connection, without I/O: it is told what the client did and
/// what time it is, and answers with the actions to carry out.
///
/// Timing rule: a step is due `delay` (scaled) after the later of the previous step and the
/// moment the replaying client reached the progress the step waits for (its cumulative byte
/// count, its FIN). So the recorded server think time is kept whether the client is faster or
/// slower than the recorded one, and chunks never overtake each other. A step that is due at
/// once runs in the same call (with `writesMayBlock`, only up to the first chunk: the rest go
/// through an immediate wakeup); otherwise the machine asks for a wakeup.
///
/// Backpressure: the I/O layer reports with `outputBlocked(at:)` and `outputWritable(at:)`
/// when its output buffer fills up and drains. While the output is blocked the machine carries
/// out no step at all (no chunk, and no FIN, RST or close of the plan, which must follow the
/// data), so a client that stops reading costs one buffer, not the rest of the session. The
/// hold after the last step waits for the output too.
///
/// Timing after a stall: a step that came due while the output was blocked goes out as soon as
/// the output is writable again, and the next step's delay counts from that moment, not from
/// the due time the stall already passed. That is what the recorded server did: a TCP server
/// whose client stops reading blocks in its next write, and once the write returns it goes on
/// at its own pace (the recorded think times), it does not catch up with a burst. Keeping the
/// due-time grid instead would dump every chunk the stall skipped as fast as the client reads,
/// a download shape the recorded server never produced. A short block that ends before the next
/// step is due changes nothing. Timer lateness is not a stall: it is never carried over.
///
/// Open-ended plans: replay by messages does not know the plan ahead. `init(openEndedSession:)`
/// starts with no steps; the conversation cursor `append`s the steps of each recorded exchange
/// as the live client's message that it answers arrives, with the live message count as the
/// progress they wait for (`clientProgressed(to:at:)`), and says `complete` once the recorded
/// conversation has nothing more. Until then, running out of steps means waiting for the client.
///
/// Times are monotonic nanoseconds chosen by the caller; the machine never reads a clock.
public struct ReplayMachine: Sendable {
    private enum State: Sendable, Equatable {
        case idle
        /// Working through the plan.
        case running
        /// The server sent its FIN; waiting for the client to close.
        case awaitingClientClose(holdUntil: Int64?)
        /// Everything was sent and the server stays silent.
        case holding(until: Int64?)
        case finished
    }

    public private(set) var plan: ReplayPlan
    public let options: ReplayOptions
    /// Whether steps wait for client bytes (a compiled plan) or for a progress count the
    /// caller reports (an open-ended plan fed by the conversation cursor).
    public let progressByBytes: Bool
    /// Whether every step of the plan is known: only then does running out of steps mean
    /// the server is silent (hold) rather than waiting for the client's next message.
    public private(set) var planIsComplete: Bool
    /// The client progress reached, in the plan's unit (bytes, or messages).
    private var progress = 0
    /// Whether each call hands out at most one chunk (see `init(plan:options:writesMayBlock:)`).
    public let writesMayBlock: Bool
    private var state: State = .idle
    /// Whether the I/O layer said its output buffer is full.
    private var outputIsBlocked = false
    /// When the output last became writable after being blocked: a step that came due before
    /// then was held by the stall, and the next delay counts from here.
    private var resumedAt: Int64 = .min
    /// Index of the next step to carry out.
    private var next = 0
    /// Steps of an open-ended plan carried out and forgotten (`dropDoneSteps`).
    private var stepsDropped = 0
    /// When the previous step was carried out (or the connection opened).
    private var lastDoneAt: Int64 = 0
    /// For each step, when the replaying client reached the byte count the step waits for.
    private var reachedAt: [Int64]
    /// How many entries of `reachedAt` are known.
    private var reachedCount = 0
    private var clientClosedAt: Int64?
    private var wakeup: Int64?
    private var gapWarned = false

    /// Bytes sent to the client so far.
    public private(set) var bytesSent = 0
    /// Bytes received from the client so far.
    public private(set) var bytesReceived = 0
    /// Server bytes the recording had that could not be sent (gaps).
    public private(set) var bytesSkipped = 0
    /// How the connection ended; `nil` while it goes on.
    public private(set) var outcome: ReplayOutcome?

    /// - Parameter writesMayBlock: `true` when the I/O layer's output can fill up (a socket). Then
    ///   a call carries out at most one `.send`: if the next step is already due, it asks for a
    ///   wakeup at once instead, so the I/O layer can report `outputBlocked(at:)` (which it must
    ///   do before it delivers that wakeup) before the machine hands it more. With `false` a call
    ///   carries out every step that is due, until `outputBlocked(at:)` says otherwise.
    public init(plan: ReplayPlan, options: ReplayOptions = ReplayOptions(), writesMayBlock: Bool = false) {
        self.plan = plan
        self.options = options
        self.writesMayBlock = writesMayBlock
        self.reachedAt = Array(repeating: 0, count: plan.steps.count)
        self.progressByBytes = true
        self.planIsComplete = true
    }

    /// A machine whose steps come later, through `append(_:at:)`.
    /// Steps an open-ended plan makes room for at its first append.
    static let initialStepCapacity = 4

    public init(openEndedSession sessionID: Int, options: ReplayOptions = ReplayOptions(), writesMayBlock: Bool = false) {
        self.plan = ReplayPlan(sessionID: sessionID, steps: [], ending: .silent, recordedClientBytes: 0, recordedServerBytes: 0)
        self.options = options
        self.writesMayBlock = writesMayBlock
        self.reachedAt = []
        self.progressByBytes = false
        self.planIsComplete = false
    }

    public init(session: Session, options: ReplayOptions = ReplayOptions(), writesMayBlock: Bool = false) {
        self.init(plan: ReplayPlan(session: session), options: options, writesMayBlock: writesMayBlock)
    }

    /// Whether the machine has nothing more to do.
    public var isFinished: Bool { state == .finished }

    /// The client connected.
    public mutating func connected(at now: Int64) -> [ReplayAction] {
        guard state == .idle else { return [] }
        state = .running
        lastDoneAt = now
        markReached(at: now)
        return advance(now)
    }

    /// The client sent `byteCount` more bytes.
    public mutating func clientSent(byteCount: Int, at now: Int64) -> [ReplayAction] {
        bytesReceived += max(0, byteCount)
        guard progressByBytes else { return [] }
        progress = bytesReceived
        guard state == .running else { return [] }
        markReached(at: now)
        return advance(now)
    }

    /// Open-ended plans: the client's progress (messages answered so far) reached `value`.
    public mutating func clientProgressed(to value: Int, at now: Int64) -> [ReplayAction] {
        guard !progressByBytes, value > progress else { return [] }
        progress = value
        guard state == .running else { return [] }
        markReached(at: now)
        return advance(now)
    }

    /// Open-ended plans: more steps, each waiting for the progress in its `clientBytes`
    /// (messages, here). Steps appended while the machine holds a silent connection wake it.
    public mutating func append(_ steps: [ReplayPlan.Step], at now: Int64) -> [ReplayAction] {
        guard !steps.isEmpty else { return [] }
        dropDoneSteps()
        plan.steps += steps
        reachedAt += repeatElement(0, count: steps.count)
        return resumeAfterAppend(at: now)
    }

    /// Open-ended plans: `pieces` (recorded steps) appended as steps that wait for the progress
    /// `value`, whatever their recorded wait; the same as `append(_:at:)` without building them first.
    public mutating func append(_ pieces: [ReplayPlan.Step], waitingFor value: Int, at now: Int64) -> [ReplayAction] {
        guard !pieces.isEmpty else { return [] }
        dropDoneSteps()
        // Room for a few exchanges' steps at the first append: the arrays keep their capacity
        // from exchange to exchange, so they are not grown step by step.
        if plan.steps.capacity == 0 {
            plan.steps.reserveCapacity(Self.initialStepCapacity)
            reachedAt.reserveCapacity(Self.initialStepCapacity)
        }
        for piece in pieces {
            var step = piece
            step.clientBytes = value
            step.afterClientClose = false
            plan.steps.append(step)
            // One append per step: `+= repeatElement` went through a generic range replacement.
            reachedAt.append(0)
        }
        return resumeAfterAppend(at: now)
    }

    /// Open-ended plans: forgets the steps carried out once none is left to do, so a long
    /// connection (a million Redis commands) holds the steps of one exchange, not all of them.
    private mutating func dropDoneSteps() {
        guard !progressByBytes, next > 0, next == plan.steps.count, reachedCount == next else { return }
        stepsDropped += next
        plan.steps.removeAll(keepingCapacity: true)
        reachedAt.removeAll(keepingCapacity: true)
        next = 0
        reachedCount = 0
    }

    private mutating func resumeAfterAppend(at now: Int64) -> [ReplayAction] {
        var actions: [ReplayAction] = []
        if case .holding = state {
            state = .running
            if wakeup != nil {
                wakeup = nil
                actions.append(.cancelWakeup)
            }
        }
        guard state == .running else { return actions }
        markReached(at: now)
        return actions + advance(now)
    }

    /// Open-ended plans: no step follows those appended so far; once they are done the server
    /// is silent (hold), as a compiled plan's end is.
    public mutating func complete(at now: Int64) -> [ReplayAction] {
        guard !planIsComplete else { return [] }
        planIsComplete = true
        guard state == .running else { return [] }
        return advance(now)
    }

    /// A `stall` fault at a time: the steps not carried out yet are dropped and no more come;
    /// the connection is then silent, held as at the end of a recording.
    public mutating func silence(at now: Int64) -> [ReplayAction] {
        guard state != .finished else { return [] }
        plan.steps.removeSubrange(next...)
        reachedAt.removeSubrange(min(next, reachedAt.count)...)
        reachedCount = min(reachedCount, next)
        planIsComplete = true
        var actions: [ReplayAction] = []
        if wakeup != nil, state == .running {
            wakeup = nil
            actions.append(.cancelWakeup)
        }
        guard state == .running else { return actions }
        return actions + advance(now)
    }

    /// Ends the connection now, for a reason of the caller's (a mismatch policy), with `action`
    /// (`.close` or `.reset`) after what was already handed out.
    public mutating func end(_ outcome: ReplayOutcome, with action: ReplayAction) -> [ReplayAction] {
        guard state != .finished else { return [] }
        return finish(outcome, with: [action])
    }

    /// The client half-closed its side (FIN).
    public mutating func clientClosed(at now: Int64) -> [ReplayAction] {
        guard clientClosedAt == nil else { return [] }
        clientClosedAt = now
        switch state {
        case .idle, .finished:
            return []
        case .running:
            return advance(now)
        case .awaitingClientClose:
            return finish(.serverFINClientClosed, with: [.close])
        case .holding:
            return finish(.clientClosedWhileSilent, with: [.close])
        }
    }

    /// The client reset the connection, or it failed: nothing more can be sent.
    public mutating func clientReset(at now: Int64) -> [ReplayAction] {
        guard state != .finished else { return [] }
        return finish(.clientReset(stepsDone: stepsDropped + next, steps: stepsDropped + plan.steps.count), with: [.close])
    }

    /// The connection is gone without the machine having closed it. NIO reports a client's
    /// FIN this way once our own output is already shut down, so after the server's FIN this
    /// is the client closing; otherwise the client reset it.
    public mutating func connectionLost(at now: Int64) -> [ReplayAction] {
        switch state {
        case .finished:
            return []
        case .awaitingClientClose:
            clientClosedAt = clientClosedAt ?? now
            return finish(.serverFINClientClosed, with: [])
        case .idle, .running, .holding:
            return finish(.clientReset(stepsDone: stepsDropped + next, steps: stepsDropped + plan.steps.count), with: [])
        }
    }

    /// The server is shutting down.
    public mutating func stop(at now: Int64) -> [ReplayAction] {
        guard state != .finished else { return [] }
        return finish(.stopped, with: [.close])
    }

    /// The output buffer is full (the client is not reading fast enough): no step is carried
    /// out until `outputWritable(at:)`. Returns no actions; it has the same shape as the other
    /// inputs so the I/O layer can feed every event the same way.
    public mutating func outputBlocked(at now: Int64) -> [ReplayAction] {
        outputIsBlocked = true
        return []
    }

    /// The output buffer has drained: the machine goes on with the plan. Steps that came due
    /// during the stall are carried out now, and the delay of the one after counts from `now`.
    public mutating func outputWritable(at now: Int64) -> [ReplayAction] {
        guard outputIsBlocked else { return [] }
        outputIsBlocked = false
        resumedAt = now
        guard state == .running else { return [] }
        return advance(now)
    }

    /// The wakeup asked for with `.scheduleWakeup` came (possibly late, or stale).
    public mutating func timerFired(at now: Int64) -> [ReplayAction] {
        switch state {
        case .idle, .finished:
            return []
        case .running:
            wakeup = nil
            return advance(now)
        case .awaitingClientClose(let until), .holding(let until):
            guard let until else { return [] }
            if now < until {
                wakeup = until
                return [.scheduleWakeup(at: until)]
            }
            wakeup = nil
            let isFIN: Bool
            if case .awaitingClientClose = state { isFIN = true } else { isFIN = false }
            return finish(isFIN ? .serverFINHoldExpired : .holdExpired, with: [.close])
        }
    }

    // MARK: - Internals

    /// Records `now` as the time the client reached the byte count of every step it now covers.
    private mutating func markReached(at now: Int64) {
        while reachedCount < plan.steps.count, plan.steps[reachedCount].clientBytes <= progress {
            reachedAt[reachedCount] = now
            reachedCount += 1
        }
    }

    /// Carries out every step that is due (one chunk at most when writes may block), then asks
    /// for a wakeup, waits for the client or the output, or holds.
    private mutating func advance(_ now: Int64) -> [ReplayAction] {
        var actions: [ReplayAction] = []
        var sent = false
        while state == .running, next < plan.steps.count {
            let step = plan.steps[next]
            let needsClose = step.afterClientClose && clientClosedAt == nil
            guard next < reachedCount, !needsClose else {
                // Blocked on the client. If it has closed, the bytes can never come.
                if clientClosedAt != nil {
                    return actions + finish(.clientClosedWhileWaiting(missing: step.clientBytes - bytesReceived), with: [.close])
                }
                return actions
            }
            // TLS starts right behind the reply before it, without a delay or a turn of the
            // loop: the client's handshake follows that reply at once, and must meet TLS.
            if case .startTLS = step.action {
                next += 1
                actions.append(.startTLS)
                continue
            }
            var ready = max(lastDoneAt, reachedAt[next])
            if step.afterClientClose, let closedAt = clientClosedAt { ready = max(ready, closedAt) }
            let due = ready + options.scaled(step.delay) + step.faultDelay
            if due > now {
                if wakeup != due {
                    wakeup = due
                    actions.append(.scheduleWakeup(at: due))
                }
                return actions
            }
            // Nothing goes out behind a full buffer; `outputWritable` picks this step up again.
            if outputIsBlocked { return actions }
            // Let the I/O layer say whether that chunk filled its buffer before the next step.
            if writesMayBlock, sent { return actions + wakeUpAtOnce(now) }
            // Count from when the step was due, not when the timer came, so lateness does not add
            // up; but a step held by a full output counts from when the output took it (see above).
            lastDoneAt = max(due, resumedAt)
            next += 1
            if case .send = step.action { sent = true }
            actions += carryOut(step.action, now: now)
        }
        // Holding (or closing) waits for the last chunk to leave the buffer, like a step would.
        if outputIsBlocked { return actions }
        if state == .running, next == plan.steps.count {
            // An open-ended plan waits for the client's next message, or for `complete`. No
            // step is left for a full buffer to hold back, so no wakeup after the chunk: steps
            // appended later come in a call of their own, after the I/O layer has reported the
            // buffer (a blocked output holds them); `complete` never waited for it (each call
            // counts only its own chunk). This saved a wakeup per reply replayed by messages.
            if !planIsComplete { return actions }
            if writesMayBlock, sent { return actions + wakeUpAtOnce(now) }
            if clientClosedAt != nil { return actions + finish(.clientClosedWhileSilent, with: [.close]) }
            let until = options.hold.map { now + $0 }
            state = .holding(until: until)
            actions.append(.hold(until: until))
            if let until { wakeup = until; actions.append(.scheduleWakeup(at: until)) }
        }
        return actions
    }

    /// Asks to be called again right away, through the I/O layer's loop.
    private mutating func wakeUpAtOnce(_ now: Int64) -> [ReplayAction] {
        guard wakeup != now else { return [] }
        wakeup = now
        return [.scheduleWakeup(at: now)]
    }

    private mutating func carryOut(_ action: ReplayPlan.Action, now: Int64) -> [ReplayAction] {
        switch action {
        case .send(let bytes):
            bytesSent += bytes.count
            return [.send(bytes)]
        case .skipGap(let count):
            bytesSkipped += count
            if gapWarned { return [] }
            gapWarned = true
            return [.warnGapSkipped(bytes: count)]
        case .halfClose:
            if clientClosedAt != nil { return finish(.serverFINClientClosed, with: [.halfClose, .close]) }
            let until = options.hold.map { now + $0 }
            state = .awaitingClientClose(holdUntil: until)
            guard let until else { return [.halfClose] }
            wakeup = until
            return [.halfClose, .scheduleWakeup(at: until)]
        case .reset:
            return finish(.serverReset, with: [.reset])
        case .startTLS:
            return [.startTLS]
        case .connectFailed(let failure):
            // A `reset` step right after it: the recorded client was reset, not closed.
            let resets = next < plan.steps.count && plan.steps[next].action == .reset
            return finish(.connectFailure(failure), with: [resets ? .reset : .close])
        }
    }

    private mutating func finish(_ outcome: ReplayOutcome, with actions: [ReplayAction]) -> [ReplayAction] {
        state = .finished
        self.outcome = outcome
        if wakeup != nil {
            wakeup = nil
            return [.cancelWakeup] + actions
        }
        return actions
    }
}
