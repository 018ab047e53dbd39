/// One verified session without I/O: it plays the recorded client side of a `VerifyScript`
/// against a live server and decides whether the server still answers as recorded.
///
/// One method per event (the connection is up, server bytes arrived, the server closed, a
/// timer fired), each returning the actions for the driver: bytes to send, a half-close, a
/// wakeup, the verdict. Times are nanoseconds of the driver's clock, passed in, so tests need
/// neither sockets nor sleeps.
///
/// Replies are read by framing, never by a fixed sleep: live server bytes go through the
/// dialect's framer, and a step's reply is complete when the framer says a message completes
/// it (or, where a protocol has no such notion, when as many messages or bytes as recorded have
/// come). Every wait has a deadline. At the first difference the machine stops comparing and
/// leaves politely (SMTP `QUIT`), so one changed answer is reported where it happened.
public struct VerifyMachine: Sendable {
    public let script: VerifyScript
    private let options: VerifyOptions
    private let masks: MaskSet
    private let dialect: any ProtocolDialect
    private var framer: any MessageFramer

    private enum Phase: Sendable, Equatable {
        case idle
        /// The recorded client's think time before `step`.
        case thinking(step: Int, until: Int64)
        case awaitingReply(step: Int, deadline: Int64)
        /// After the last reply: the server's FIN, RST or silence until `deadline`.
        case awaitingEnd(deadline: Int64)
        /// The polite exit after a difference: its reply is read, not compared.
        case leaving(deadline: Int64)
        case done
    }

    private var phase = Phase.idle
    /// Live server messages no step has taken yet.
    private var live: [FramedMessage] = []
    private var serverEnded: VerifyEnding?
    private var steps: [SessionVerdict.Step] = []
    private var difference: SessionVerdict.Difference?
    private var endings: (recorded: VerifyEnding, live: VerifyEnding)?

    public init(script: VerifyScript, options: VerifyOptions = VerifyOptions(), masks: MaskSet = .none) {
        self.script = script
        self.options = options
        self.masks = masks
        self.dialect = script.proto.dialect
        self.framer = dialect.makeFramer()
    }

    public var isFinished: Bool { phase == .done }

    // MARK: - Events

    /// The connection to the server is up.
    public mutating func start(at now: Int64) -> [VerifyAction] {
        guard phase == .idle else { return [] }
        // Implicit TLS: the handshake comes before the server says anything.
        if script.implicitTLS || options.implicitTLS { return [.startTLS] + begin(0, at: now) }
        return begin(0, at: now)
    }

    /// TLS with the server failed (`reason` in words): the session differs there, and nothing
    /// more can be said over the broken connection.
    public mutating func tlsFailed(_ reason: String, at now: Int64) -> [VerifyAction] {
        guard phase != .done else { return [] }
        let step: Int? = {
            switch phase {
            case .thinking(let step, _), .awaitingReply(let step, _): return step
            default: return nil
            }
        }()
        let kind = step.map { script.steps[$0].kind }
        difference = .init(step: step, kind: kind, sent: nil, recorded: Array("a TLS handshake".utf8), live: Array(reason.utf8),
                           detail: "TLS with the server failed: \(reason)")
        return finish()
    }

    /// The server sent `bytes`.
    public mutating func received(_ bytes: [UInt8], at now: Int64) -> [VerifyAction] {
        guard phase != .done else { return [] }
        live += framer.serverBytes(bytes)
        switch phase {
        case .awaitingReply(let step, _):
            return completeReply(step, at: now) ?? []
        case .awaitingEnd:
            let extra = live.reduce(into: [UInt8]()) { $0 += $1.bytes }
            guard !extra.isEmpty else { return [] }
            live.removeAll()
            return differ(step: nil, kind: nil, sent: nil, recorded: [], live: extra,
                          detail: "after the last recorded reply the server sent \(extra.count) more bytes", at: now)
        case .leaving:
            return leftPolitely() ? finish() : []
        case .idle, .thinking, .done:
            return []
        }
    }

    /// The server closed its side (FIN) or reset the connection (RST).
    public mutating func serverClosed(_ how: DirectionEnding, at now: Int64) -> [VerifyAction] {
        guard phase != .done, serverEnded == nil else { return [] }
        if how == .fin { live += framer.serverFinished() }
        serverEnded = how == .fin ? .fin : .rst
        switch phase {
        case .awaitingReply(let step, _):
            return completeReply(step, at: now) ?? []
        case .awaitingEnd:
            return compareEnding(serverEnded ?? .fin, at: now)
        case .thinking(let step, _):
            // The recorded client's FIN is due anyway: no reason to wait for it.
            return crossedFIN(script.steps[step]) ? send(step, at: now) : closedEarly(before: step, at: now)
        case .leaving, .idle:
            return finish()
        case .done:
            return []
        }
    }

    /// A wakeup asked for with `.wait(until:)` came (early or stale ones are fine).
    public mutating func timerFired(at now: Int64) -> [VerifyAction] {
        switch phase {
        case .thinking(let step, let until):
            return now >= until ? send(step, at: now) : [.wait(until: until)]
        case .awaitingReply(let step, let deadline):
            guard now >= deadline else { return [.wait(until: deadline)] }
            return timedOut(step, at: now)
        case .awaitingEnd(let deadline):
            guard now >= deadline else { return [.wait(until: deadline)] }
            return compareEnding(.silent, at: now)
        case .leaving(let deadline):
            return now >= deadline ? finish() : [.wait(until: deadline)]
        case .idle, .done:
            return []
        }
    }

    // MARK: - Steps

    /// Starts `index`: the think time first, unless the server speaks first (the opening).
    private mutating func begin(_ index: Int, at now: Int64) -> [VerifyAction] {
        guard index < script.steps.count else { return end(at: now) }
        let step = script.steps[index]
        if step.send == .nothing { return awaitReply(index, at: now) }
        if serverEnded != nil, !crossedFIN(step) { return closedEarly(before: index, at: now) }
        let think = options.think(step.think)
        guard think > 0 else { return send(index, at: now) }
        phase = .thinking(step: index, until: now + think)
        return [.wait(until: now + think)]
    }

    private mutating func send(_ index: Int, at now: Int64) -> [VerifyAction] {
        if serverEnded != nil, !crossedFIN(script.steps[index]) { return closedEarly(before: index, at: now) }
        var actions: [VerifyAction] = []
        switch script.steps[index].send {
        case .bytes(let bytes):
            // The framer sees the client side too: SMTP frames the reply after DATA by it.
            _ = framer.clientBytes(bytes)
            actions.append(.send(bytes))
        case .halfClose:
            _ = framer.clientFinished()
            actions.append(.halfClose)
        case .nothing:
            break
        }
        return actions + awaitReply(index, at: now)
    }

    /// Whether `step` is the client's FIN after the server's own: the two FINs crossed (the
    /// recorded client closed first by a hair, the live server did), which is no difference.
    /// The ending is compared after it, as recorded.
    private func crossedFIN(_ step: VerifyStep) -> Bool {
        step.send == .halfClose && serverEnded == .fin
    }

    private mutating func awaitReply(_ index: Int, at now: Int64) -> [VerifyAction] {
        let deadline = now + options.replyWait(recordedDelay: script.steps[index].reply.recordedDelay)
        phase = .awaitingReply(step: index, deadline: deadline)
        return completeReply(index, at: now) ?? [.wait(until: deadline)]
    }

    /// The reply of `index` once it is complete (`nil` while it is not): compared, then the
    /// next step.
    private mutating func completeReply(_ index: Int, at now: Int64) -> [VerifyAction]? {
        let step = script.steps[index]
        guard step.compares else {
            // The polite exit: any answer, or the server's close, will do.
            let answered = live.contains { $0.completesReply } || serverEnded != nil || (dialect.pairing == .latest && !live.isEmpty)
            guard answered else { return nil }
            steps.append(.init(step: index, kind: step.kind, sent: step.shown, result: .notCompared, recorded: [],
                               live: take(live.count), detail: nil))
            return finish()
        }
        guard let count = replyLength(step) ?? (serverEnded != nil ? live.count : nil) else { return nil }
        let messages = Array(live.prefix(count))
        live.removeFirst(count)
        let liveBytes = messages.reduce(into: [UInt8]()) { $0 += $1.bytes }
        switch ReplyComparison.compare(step.reply, live: messages, dialect: dialect, masks: masks) {
        case .same:
            // An opening or a client FIN with nothing recorded and nothing live is no step a person counts.
            let isMessage: Bool = { if case .bytes = step.send { return true } else { return false } }()
            if isMessage || !step.reply.isEmpty {
                steps.append(.init(step: index, kind: step.kind, sent: step.shown, result: .matched, recorded: step.reply.bytes,
                                   live: liveBytes, detail: nil))
            }
            if step.startsTLS {
                // The server said yes to STARTTLS: the session starts afresh over TLS.
                framer = dialect.makeFramer()
                live.removeAll()
                return [.startTLS] + begin(index + 1, at: now)
            }
            return begin(index + 1, at: now)
        case .different(var detail):
            if let ended = serverEnded, replyLength(step) == nil { detail += "; the server closed the connection (\(ended.text)) before the reply was complete" }
            steps.append(.init(step: index, kind: step.kind, sent: step.shown, result: .different, recorded: step.reply.bytes,
                               live: liveBytes, detail: detail))
            let actions = differ(step: index, kind: step.kind, sent: index == 0 ? nil : step.shown, recorded: step.reply.bytes,
                                 live: liveBytes, detail: detail, at: now)
            difference?.recordedPatterns = step.reply.shownWithPatterns
            return actions
        }
    }

    /// How many live messages make the reply of `step`, or `nil` while they have not all come.
    private func replyLength(_ step: VerifyStep) -> Int? {
        let expected = step.reply
        if expected.isEmpty { return 0 }
        if dialect.pairing == .inOrder {
            // A request's reply ends with the message that completes it, however many came before.
            if step.send != .nothing, expected.messages.last?.completesReply == true {
                return live.firstIndex { $0.completesReply }.map { $0 + 1 }
            }
            return live.count >= expected.messages.count ? expected.messages.count : nil
        }
        // Unknown protocols: the reply is as long as the recorded one.
        var bytes = 0
        for (index, message) in live.enumerated() {
            bytes += message.bytes.count
            if bytes >= expected.bytes.count { return index + 1 }
        }
        return nil
    }

    private mutating func timedOut(_ index: Int, at now: Int64) -> [VerifyAction] {
        let step = script.steps[index]
        guard step.compares else { return finish() }
        let seconds = Self.seconds(options.replyWait(recordedDelay: step.reply.recordedDelay))
        let partial = take(live.count)
        let detail = partial.isEmpty ? "no reply within \(seconds) s" : "no complete reply within \(seconds) s"
        steps.append(.init(step: index, kind: step.kind, sent: step.shown, result: .different, recorded: step.reply.bytes,
                           live: partial, detail: detail))
        difference = .init(step: index, kind: step.kind, sent: index == 0 ? nil : step.shown, recorded: step.reply.bytes,
                           live: partial, detail: detail, recordedPatterns: step.reply.shownWithPatterns)
        // A server that does not answer would not answer a QUIT either: close.
        return finish()
    }

    /// The server closed while the recording had the client send `index` next.
    private mutating func closedEarly(before index: Int, at now: Int64) -> [VerifyAction] {
        let step = script.steps[index]
        guard step.compares else { return finish() }
        let ended = serverEnded ?? .fin
        return differ(step: index, kind: step.kind, sent: step.shown, recorded: step.reply.bytes, live: [],
                      detail: "the server closed the connection (\(ended.text)) before this step; the recording went on", at: now)
    }

    // MARK: - The ending

    private mutating func end(at now: Int64) -> [VerifyAction] {
        guard script.ending != nil else { return finish() }
        if let ended = serverEnded { return compareEnding(ended, at: now) }
        let extra = take(live.count)
        if !extra.isEmpty {
            return differ(step: nil, kind: nil, sent: nil, recorded: [], live: extra,
                          detail: "after the last recorded reply the server sent \(extra.count) more bytes", at: now)
        }
        let deadline = now + options.silenceWindow(recordedPause: script.endingPause)
        phase = .awaitingEnd(deadline: deadline)
        return [.wait(until: deadline)]
    }

    private mutating func compareEnding(_ liveEnding: VerifyEnding, at now: Int64) -> [VerifyAction] {
        let recorded = script.ending ?? liveEnding
        endings = (recorded, liveEnding)
        guard recorded != liveEnding else { return finish() }
        let window = Self.seconds(options.silenceWindow(recordedPause: script.endingPause))
        let words: (VerifyEnding) -> String = { ending in
            ending == .silent ? "silence (no byte and no close for \(window) s)" : ending.text
        }
        difference = .init(step: nil, kind: nil, sent: nil, recorded: Array(words(recorded).utf8), live: Array(words(liveEnding).utf8),
                           detail: "the server ended with \(liveEnding.text) where the recording had \(recorded.text)")
        return finish()
    }

    // MARK: - Leaving

    /// Records the first difference and leaves politely: the protocol's exit message (its reply
    /// read, not compared), or a half-close where it has none; at once if the server has closed.
    private mutating func differ(step: Int?, kind: String?, sent: [UInt8]?, recorded: [UInt8], live: [UInt8], detail: String,
                                 at now: Int64) -> [VerifyAction] {
        difference = .init(step: step, kind: kind, sent: sent, recorded: recorded, live: live, detail: detail)
        guard serverEnded == nil else { return finish() }
        let deadline = now + options.replyTimeout
        phase = .leaving(deadline: deadline)
        self.live.removeAll()
        if let exit = PoliteExit.bytes(for: script.proto) {
            _ = framer.clientBytes(exit)
            return [.send(exit), .wait(until: deadline)]
        }
        return [.halfClose, .wait(until: deadline)]
    }

    private func leftPolitely() -> Bool {
        live.contains { $0.completesReply } || (dialect.pairing == .latest && !live.isEmpty)
    }

    private mutating func finish() -> [VerifyAction] {
        phase = .done
        let verdict = SessionVerdict(session: script.ref, label: script.label, proto: script.proto, steps: steps,
                                     difference: difference, recordedEnding: endings?.recorded, liveEnding: endings?.live)
        return [.finish(verdict)]
    }

    /// Removes and joins the first `count` live messages.
    private mutating func take(_ count: Int) -> [UInt8] {
        let bytes = live.prefix(count).reduce(into: [UInt8]()) { $0 += $1.bytes }
        live.removeFirst(min(count, live.count))
        return bytes
    }

    static func seconds(_ nanoseconds: Int64) -> String {
        let tenths = (nanoseconds + 50_000_000) / 100_000_000
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }
}
