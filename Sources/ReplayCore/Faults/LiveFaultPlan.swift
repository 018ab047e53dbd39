/// `record --fault`: the faults of one proxied connection between a real client and a real
/// server, without I/O. It frames the client's stream with the session's protocol, and when a
/// rule's point comes (the reply to a matching client message, the first server bytes for a
/// rule without `match=`, the server byte that `after=` counts to), it turns the server's bytes
/// into `LiveFaultStep`s: what to forward, when, what to say instead, what to record as
/// replayd's own event, and whether the connection ends. `at=` rules are timers the proxy
/// starts (`timedRules`, `fireTimed`).
///
/// Every action works on live traffic; `dir=c2s` (the client's message kept from the server)
/// takes the actions that answer in the server's place: reset, close, reply=, drop, stall.
public struct LiveFaultPlan: Sendable {
    public let connection: Int
    private let rules: [FaultRule]
    private var random: FaultRandom
    private let serverPort: Int?
    private var framer: (any MessageFramer)?
    private var serverSeen: [UInt8] = []
    private var pendingClient: [UInt8] = []
    private var selected: [Int]
    private var fired: [Bool]
    private var openingDone = false
    /// Server bytes read so far (for `after=`).
    private var serverBytesRead = 0
    /// Rules whose point is the next server bytes, in the order given.
    private var armed: [(rule: FaultRule, point: String, chaos: Bool)] = []
    /// A `delay=` that found no server bytes to hold at its point: it holds the next ones.
    private var pendingDelay: Int64 = 0
    /// `--chaos`: the fault drawn for this connection and the client message it follows (0: the
    /// first server bytes). A live conversation's length is not known ahead: the point is drawn
    /// from its first `chaosSteps` messages, and a shorter conversation gets no fault.
    private var chaosPick: (name: String, step: Int)?
    private var messages = 0
    private var words: [String: Int] = [:]
    static let chaosSteps = 6

    public init(rules: [FaultRule], connection: Int, seed: UInt64, serverPort: Int?, chaos: FaultChaos? = nil) {
        self.connection = connection
        self.rules = rules.filter { $0.selects(connection: connection) }
        random = FaultRandom(seed: seed, connection: connection)
        self.serverPort = serverPort
        selected = Array(repeating: 0, count: self.rules.count)
        fired = Array(repeating: false, count: self.rules.count)
        if let chaos, random.unit() < chaos.probability {
            let names = chaos.faults
            if !names.isEmpty {
                chaosPick = (names[Int(random.next() % UInt64(names.count))], Int(random.next() % UInt64(Self.chaosSteps)))
            }
        }
        isActive = !self.rules.isEmpty || chaosPick != nil
    }

    /// Whether a rule or a chaos pick can fire on this connection (decided once: a pick that
    /// is armed is no longer pending, and must still fire).
    public private(set) var isActive = false

    /// At accept: a `refuse` rule for this connection resets it before any byte.
    public mutating func refusal() -> FaultPlan.Firing? {
        guard isActive else { return nil }
        for (index, rule) in rules.enumerated() where rule.action == .refuse {
            fired[index] = true
            guard chance(rule.probability) else { continue }
            return firing(rule, point: "at accept")
        }
        return nil
    }

    /// Client bytes: complete messages may arm rules for the server's reply, or (`dir=c2s`)
    /// fire at once, before these bytes are forwarded.
    @discardableResult
    public mutating func clientBytes(_ bytes: [UInt8]) -> FaultPlan.Firing? {
        guard isActive else { return nil }
        defer { immediate = nil }
        if framer == nil {
            pendingClient += bytes
            var fresh = currentProtocol(client: pendingClient).dialect.makeFramer()
            _ = fresh.serverBytes(serverSeen)
            framer = fresh
            let held = pendingClient
            pendingClient = []
            take(held)
        } else {
            take(bytes)
        }
        return immediate
    }

    /// A `dir=c2s` firing of the bytes being taken.
    private var immediate: FaultPlan.Firing?

    private mutating func take(_ bytes: [UInt8]) {
        guard var framer else { return }
        let messages = framer.clientBytes(bytes)
        self.framer = framer
        for message in messages {
            self.messages += 1
            let word = FaultPlan.firstWord(message.bytes)
            words[word, default: 0] += 1
            let point = "after \(FaultPlan.quoted(message.bytes))"
            if let pick = chaosPick, pick.step == self.messages, !word.isEmpty {
                chaosPick = nil
                let nth = (words[word] ?? 1) > 1 ? " nth=\(words[word] ?? 1)" : ""
                if let rule = chaosRule(pick.name, selectors: "conn=\(connection) match=^\(FaultPlan.regexQuoted(word))\(nth)") {
                    armed.append((rule, point, true))
                }
            }
            for (index, rule) in rules.enumerated() where rule.matches(message.bytes) {
                selected[index] += 1
                if let nth = rule.nth, selected[index] != nth { continue }
                guard chance(rule.probability) else { continue }
                if rule.direction == .clientToServer {
                    if immediate == nil { immediate = firing(rule, point: "on \(FaultPlan.quoted(message.bytes)) from the client") }
                    continue
                }
                armed.append((rule, point, false))
            }
        }
    }

    /// The line ending of `reply=` texts: the session's protocol's.
    public var lineEnding: [UInt8] {
        LineEnding.standard(for: currentProtocol(client: [])).bytes
    }

    private func currentProtocol(client: [UInt8]) -> WireProtocol {
        ProtocolDetector.detect(serverPort: serverPort, client: Array(client.prefix(512)), server: Array(serverSeen.prefix(512)))
    }

    /// A fault that fired, with what the proxy must do.
    public struct Decision: Sendable, Equatable {
        /// Each fault applied here, for the log.
        public var firings: [FaultPlan.Firing]
        public var steps: [LiveFaultStep]
    }

    /// Server bytes arrived: nil to forward them as they are, or the faults that fire on them
    /// and what becomes of the bytes.
    public mutating func serverBytes(_ bytes: [UInt8]) -> Decision? {
        guard isActive else { return nil }
        let position = serverBytesRead
        serverBytesRead += bytes.count
        if framer == nil {
            serverSeen += bytes.prefix(max(0, 4096 - serverSeen.count))
        } else if var framer {
            _ = framer.serverBytes(bytes)
            self.framer = framer
        }
        var here: [(rule: FaultRule, point: String, chaos: Bool)] = []
        if !openingDone {
            openingDone = true
            let point = "before the first server message"
            for (index, rule) in rules.enumerated() where rule.expression == nil && rule.after == nil && rule.at == nil && rule.action != .refuse {
                fired[index] = true
                if chance(rule.probability) { here.append((rule, point, false)) }
            }
            if let pick = chaosPick, pick.step == 0 {
                chaosPick = nil
                if let rule = chaosRule(pick.name, selectors: "conn=\(connection)") { here.append((rule, point, true)) }
            }
        }
        here += armed
        armed = []
        var cut = 0
        if here.isEmpty {
            // `after=`: the first rule whose count falls in these bytes cuts them there.
            for (index, rule) in rules.enumerated() where !fired[index] && rule.expression == nil {
                guard let threshold = rule.after, threshold < position + bytes.count || threshold <= position else { continue }
                fired[index] = true
                guard chance(rule.probability) else { continue }
                cut = max(0, threshold - position)
                here.append((rule, "after \(threshold) server bytes", false))
                break
            }
        }
        guard !here.isEmpty || pendingDelay > 0 else { return nil }
        var decision = Decision(firings: [], steps: [])
        if cut > 0 { decision.steps.append(.forward(Array(bytes.prefix(cut)), delay: 0)) }
        apply(here, to: Array(bytes.dropFirst(cut)), into: &decision)
        return decision
    }

    /// The faults of one point, in the order given, over the server bytes they find there.
    private mutating func apply(_ faults: [(rule: FaultRule, point: String, chaos: Bool)], to bytes: [UInt8], into decision: inout Decision) {
        var rest: [UInt8]? = bytes
        var delay = pendingDelay
        pendingDelay = 0
        func notForwarded(_ bytes: [UInt8]) -> String {
            bytes.isEmpty ? "" : "the server's \(bytes.count) bytes read and not forwarded: \(Escaped.text(Array(bytes.prefix(200))))"
        }
        for fault in faults {
            let firing = firing(fault.rule, point: fault.point, chaos: fault.chaos)
            decision.firings.append(firing)
            let name = fault.chaos ? "chaos" : fault.rule.text
            func injected(_ detail: String) -> InjectedFault {
                InjectedFault(rule: name, action: fault.rule.action.name, detail: detail.isEmpty ? nil : detail)
            }
            switch fault.rule.action {
            case .reset, .close:
                decision.steps.append(.end(injected(notForwarded(rest ?? [])), reset: fault.rule.action == .reset))
                return
            case .stall:
                decision.steps += [.mark(injected(notForwarded(rest ?? []))), .stall]
                return
            case .reply(let text):
                decision.steps += [.mark(injected(notForwarded(rest ?? []))), .answer(Array(text.utf8) + lineEnding, delay: delay)]
                delay = 0
                rest = nil
            case .drop:
                decision.steps.append(.mark(injected(notForwarded(rest ?? []))))
                rest = nil
            case .delay(let extra):
                decision.steps.append(.mark(injected("the server's next bytes held \(FaultRule.durationText(extra)) longer")))
                delay += extra
            case .truncate:
                let half = Array((rest ?? []).prefix(max(1, (rest ?? []).count / 2)))
                let dropped = Array((rest ?? []).dropFirst(half.count))
                decision.steps.append(.mark(injected("\(half.count) bytes forwarded, then nothing; " + notForwarded(dropped))))
                if !half.isEmpty { decision.steps.append(.forward(half, delay: delay)) }
                decision.steps.append(.stall)
                return
            case .slow(let rate):
                decision.steps += [.mark(injected("at most \(rate) bytes per second from here on")), .shape(rate: rate, slice: nil)]
            case .slice(let size):
                decision.steps += [.mark(injected("server writes cut into \(size)-byte pieces from here on")), .shape(rate: nil, slice: size)]
            case .refuse:
                continue
            }
        }
        if let rest, !rest.isEmpty {
            decision.steps.append(.forward(rest, delay: delay))
        } else if rest != nil {
            // Nothing to hold here (a point with no bytes after the cut): the next bytes are held.
            pendingDelay = delay
        }
    }

    /// The `at=` rules of this connection: nanoseconds after the open, with the index
    /// `fireTimed` takes, earliest first.
    public var timedRules: [(at: Int64, rule: Int)] {
        rules.enumerated().compactMap { index, rule in rule.at.map { ($0, index) } }.sorted { $0.at < $1.at }
    }

    /// An `at=` rule's time came: the fault, unless its odds say no or the connection's plan
    /// fired it already. `reset`, `close` and `stall` act at once (the proxy carries them out);
    /// any other action is armed for the server's next bytes and reported with them.
    public mutating func fireTimed(_ index: Int) -> FaultPlan.Firing? {
        guard rules.indices.contains(index), !fired[index] else { return nil }
        fired[index] = true
        let rule = rules[index]
        guard chance(rule.probability) else { return nil }
        let point = "at \(FaultRule.durationText(rule.at ?? 0)) into the connection"
        if !FaultPlan.actsAtOnce(rule.action) { armed.append((rule, point, false)) }
        return firing(rule, point: point)
    }

    private mutating func chance(_ probability: Double?) -> Bool {
        guard let probability else { return true }
        return random.unit() < probability
    }

    private func firing(_ rule: FaultRule, point: String, chaos: Bool = false) -> FaultPlan.Firing {
        FaultPlan.Firing(connection: connection, action: rule.action, point: point,
                         reproduce: FaultPlan.reproducing(rule, connection: connection), rule: chaos ? "chaos" : rule.text)
    }

    /// The rule a chaos pick stands for, its parameters drawn (a reply from the protocol's own failures).
    private mutating func chaosRule(_ name: String, selectors: String) -> FaultRule? {
        guard let action = FaultChaos.action(named: name, for: currentProtocol(client: []), using: &random) else { return nil }
        return try? FaultRule(selectors + " " + action.ruleText)
    }
}

extension FaultRule {
    /// What `record --fault` cannot do: `dir=c2s` keeps the client's message from the server,
    /// so only the actions that answer in the server's place go with it.
    public func checkForRecord() throws(FaultRuleError) {
        guard direction == .clientToServer else { return }
        switch action {
        case .reset, .close, .reply, .drop, .stall:
            return
        default:
            throw FaultRuleError(rule: text, word: action.ruleText, expected: "with dir=c2s: reset, close, reply=TEXT, drop or stall (the client's message is kept from the server; the others shape the server's bytes)")
        }
    }
}
