/// The faults of one replayed connection, without I/O: told where the conversation is (the
/// accept, the opening, each client message), it says which rules fire and turns the reply
/// that would be sent into the faulty one. The same rules and seed over the same sequence of
/// connections give the same faults at the same points.
public struct FaultPlan: Sendable {
    /// One fault applied, for the log and the report.
    public struct Firing: Sendable, Equatable {
        public var connection: Int
        public var action: FaultAction
        /// Where: `before the first server message`, `after "RCPT TO:<a@b>"`.
        public var point: String
        /// A rule that reproduces this fault alone.
        public var reproduce: String
        /// The rule as given, or `chaos`.
        public var rule: String

        /// The log line: `fault: connection 3: reset after "RCPT TO:<a@b>" (reproduce: --fault "conn=3 match=^RCPT reset")`.
        public var logLine: String {
            "fault: connection \(connection): \(action.ruleText) \(point) (reproduce: --fault \"\(reproduce)\")"
        }
    }

    /// What a fault did to one reply.
    public struct Result: Sendable, Equatable {
        public var pieces: [ReplayPlan.Step]
        /// The connection sends nothing more (stall, truncate, close, reset).
        public var stopsAnswering: Bool
        public var firings: [Firing]
    }

    public let connection: Int
    private let rules: [FaultRule]
    private var random: FaultRandom
    private let chaos: FaultChaos?
    /// For each rule: whether it already fired (rules without `match=` fire once), and how
    /// many client messages its `match=` selected.
    private var fired: [Bool]
    private var selected: [Int]
    /// Server bytes handed out so far (for `after=`).
    private var serverBytes = 0
    /// Client messages so far, and how often each first word came (for reproducing rules).
    private var messages = 0
    private var wordCounts: [String: Int] = [:]
    /// A delay or drop that found no server message at its point waits for the next one.
    private var pending: [(FaultAction, Firing)] = []
    /// Shaping that lasts once fired.
    private var slow: Int?
    private var slice: Int?
    /// The chaos fault drawn for this connection: its action and the step it fires at.
    private var chaosPick: (action: FaultAction, step: Int)?
    private var line: [UInt8]
    private var protocolName: WireProtocol

    public init(rules: [FaultRule], connection: Int, seed: UInt64, chaos: FaultChaos? = nil) {
        self.connection = connection
        self.rules = rules.filter { $0.selects(connection: connection) }
        random = FaultRandom(seed: seed, connection: connection)
        self.chaos = chaos
        fired = Array(repeating: false, count: self.rules.count)
        selected = Array(repeating: 0, count: self.rules.count)
        line = [0x0D, 0x0A]
        protocolName = .line
    }

    /// Whether any rule or chaos can fire on this connection (a plan that cannot costs nothing).
    public var isActive: Bool { !rules.isEmpty || chaos != nil }

    /// At accept: a `refuse` rule for this connection resets it before any byte.
    public mutating func refusal() -> Firing? {
        for (index, rule) in rules.enumerated() where rule.action == .refuse && !fired[index] {
            fired[index] = true
            guard chance(rule.probability) else { continue }
            return Firing(connection: connection, action: .refuse, point: "at accept", reproduce: "conn=\(connection) refuse", rule: rule.text)
        }
        return nil
    }

    /// The session is known: its protocol (for reply texts and line endings) and how many
    /// exchanges it has (where chaos may strike). Draws the chaos fault, if any.
    public mutating func started(proto: WireProtocol, exchanges: Int) {
        protocolName = proto
        line = LineEnding.standard(for: proto).bytes
        guard let chaos, random.unit() < chaos.probability else { return }
        if let action = chaos.draw(for: proto, using: &random) {
            let step = exchanges > 1 ? Int(random.next() % UInt64(exchanges)) : 0
            chaosPick = (action, step)
        }
    }

    /// The reply at `step` (0: the opening, before the client spoke; then one per client
    /// message, `message` its bytes), with every fault that fires there applied.
    public mutating func apply(at step: Int, message: [UInt8]?, to pieces: [ReplayPlan.Step]) -> Result {
        var actions: [(FaultAction, Firing)] = pending
        pending = []
        let point: String
        var word = ""
        var occurrence = 0
        if let message {
            messages += 1
            word = Self.firstWord(message)
            wordCounts[word, default: 0] += 1
            occurrence = wordCounts[word] ?? 1
            point = "after \(Self.quoted(message))"
        } else {
            point = "before the first server message"
        }
        for (index, rule) in rules.enumerated() where rule.action != .refuse {
            if let message {
                guard rule.expression != nil, rule.matches(message) else { continue }
                selected[index] += 1
                if let nth = rule.nth, selected[index] != nth { continue }
            } else {
                guard rule.expression == nil, !fired[index], rule.after == nil, rule.at == nil else { continue }
            }
            guard chance(rule.probability) else { continue }
            fired[index] = true
            let reproduce = Self.reproducing(rule, connection: connection)
            actions.append((rule.action, Firing(connection: connection, action: rule.action, point: point, reproduce: reproduce, rule: rule.text)))
        }
        if let pick = chaosPick, pick.step == step {
            chaosPick = nil
            var reproduce = "conn=\(connection)"
            if message != nil {
                reproduce += " match=^\(Self.regexQuoted(word))"
                if occurrence > 1 { reproduce += " nth=\(occurrence)" }
            }
            reproduce += " \(pick.action.ruleText)"
            actions.append((pick.action, Firing(connection: connection, action: pick.action, point: point, reproduce: reproduce, rule: "chaos")))
        }
        var result = transform(pieces, actions: actions)
        result.pieces = shape(result.pieces)
        afterBytes(&result)
        for piece in result.pieces { if case .send(let bytes) = piece.action { serverBytes += bytes.count } }
        return result
    }

    // MARK: - Transforming a reply

    private mutating func transform(_ pieces: [ReplayPlan.Step], actions: [(FaultAction, Firing)]) -> Result {
        var result = Result(pieces: pieces, stopsAnswering: false, firings: [])
        var replaced = false
        let firstDelay = pieces.first?.delay ?? 0
        let offset = pieces.first?.offset ?? 0
        for (action, firing) in actions {
            guard !result.stopsAnswering else { break }
            result.firings.append(firing)
            switch action {
            case .reset, .close:
                let ending = ReplayPlan.Step(action: action == .reset ? .reset : .halfClose, clientBytes: 0, afterClientClose: false,
                                             delay: replaced ? 0 : firstDelay, offset: offset)
                result.pieces = (replaced ? result.pieces : []) + [ending]
                result.stopsAnswering = true
            case .stall:
                result.pieces = replaced ? result.pieces : []
                result.stopsAnswering = true
            case .reply(let text):
                let endings = result.pieces.filter { if case .send = $0.action { return false } else { return true } }
                result.pieces = [ReplayPlan.Step(action: .send(Array(text.utf8) + line), clientBytes: 0, afterClientClose: false,
                                                 delay: firstDelay, offset: offset)] + (replaced ? [] : endings.map { var step = $0; step.delay = 0; return step })
                replaced = true
            case .delay(let extra):
                if let index = result.pieces.firstIndex(where: { $0.isData }) {
                    result.pieces[index].faultDelay += extra
                } else {
                    pending.append((action, firing))
                    result.firings.removeLast()
                }
            case .drop:
                if let index = result.pieces.firstIndex(where: { $0.isData }) {
                    let dropped = result.pieces.remove(at: index)
                    if index < result.pieces.count { result.pieces[index].delay += dropped.delay }
                } else {
                    pending.append((action, firing))
                    result.firings.removeLast()
                }
            case .truncate:
                if let index = result.pieces.firstIndex(where: { $0.isData }), case .send(let bytes) = result.pieces[index].action {
                    result.pieces[index].action = .send(Array(bytes.prefix(max(1, bytes.count / 2))))
                    result.pieces = Array(result.pieces[...index])
                    result.stopsAnswering = true
                } else {
                    pending.append((action, firing))
                    result.firings.removeLast()
                }
            case .slow(let rate):
                slow = rate
            case .slice(let size):
                slice = size
            case .refuse:
                continue
            }
        }
        return result
    }

    /// `slow=` and `slice=`, once fired, cut every later write.
    private func shape(_ pieces: [ReplayPlan.Step]) -> [ReplayPlan.Step] {
        guard slow != nil || slice != nil else { return pieces }
        var shaped: [ReplayPlan.Step] = []
        for piece in pieces {
            guard case .send(let bytes) = piece.action, !bytes.isEmpty else {
                shaped.append(piece)
                continue
            }
            // At a rate, writes of a twentieth of a second's bytes, each after its own time.
            let size = min(slice ?? Int.max, slow.map { max(1, $0 / 20) } ?? Int.max)
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + size)
                var step = piece
                step.action = .send(Array(bytes[start..<end]))
                if start > 0 { step.delay = 0; step.faultDelay = 0 }
                if let rate = slow { step.faultDelay += Int64(end - start) * 1_000_000_000 / Int64(rate) }
                shaped.append(step)
                start = end
            }
        }
        return shaped
    }

    /// `after=BYTES` rules: fire where the server's bytes pass the count, cutting the write there.
    private mutating func afterBytes(_ result: inout Result) {
        guard !result.stopsAnswering else { return }
        for (index, rule) in rules.enumerated() where !fired[index] && rule.after != nil && rule.expression == nil {
            guard let threshold = rule.after else { continue }
            var position = serverBytes
            for (pieceIndex, piece) in result.pieces.enumerated() {
                guard case .send(let bytes) = piece.action else { continue }
                guard position + bytes.count > threshold || (threshold == position) else {
                    position += bytes.count
                    continue
                }
                fired[index] = true
                guard chance(rule.probability) else { return }
                let cut = threshold - position
                var head = Array(result.pieces[..<pieceIndex])
                if cut > 0 {
                    var first = piece
                    first.action = .send(Array(bytes.prefix(cut)))
                    head.append(first)
                }
                var tail = Array(result.pieces[pieceIndex...])
                if cut > 0 {
                    tail[0].action = .send(Array(bytes.dropFirst(cut)))
                    tail[0].delay = 0
                }
                let reproduce = Self.reproducing(rule, connection: connection)
                let firing = Firing(connection: connection, action: rule.action, point: "after \(threshold) server bytes", reproduce: reproduce, rule: rule.text)
                let rest = transform(tail, actions: [(rule.action, firing)])
                result.pieces = head + rest.pieces
                result.stopsAnswering = rest.stopsAnswering
                result.firings += rest.firings
                return
            }
        }
    }

    /// The `at=` rules of this connection: nanoseconds after the open, earliest first.
    public var timedRules: [(at: Int64, rule: Int)] {
        rules.enumerated().compactMap { index, rule in rule.at.map { ($0, index) } }.sorted { $0.at < $1.at }
    }

    /// An `at=` rule's time came: the fault, unless its odds say no. `reset`, `close` and
    /// `stall` act at once (the caller carries them out); any other action waits for the next
    /// server message and is applied (and reported) with it, as a `delay=` with none to hold does.
    public mutating func fireTimed(_ index: Int) -> Firing? {
        guard rules.indices.contains(index), !fired[index] else { return nil }
        fired[index] = true
        let rule = rules[index]
        guard chance(rule.probability) else { return nil }
        let firing = Firing(connection: connection, action: rule.action, point: "at \(FaultRule.durationText(rule.at ?? 0)) into the connection",
                            reproduce: Self.reproducing(rule, connection: connection), rule: rule.text)
        if !Self.actsAtOnce(rule.action) { pending.append((rule.action, firing)) }
        return firing
    }

    /// The actions an `at=` rule carries out at its time; the others wait for a server message.
    public static func actsAtOnce(_ action: FaultAction) -> Bool {
        action == .reset || action == .close || action == .stall
    }

    private mutating func chance(_ probability: Double?) -> Bool {
        guard let probability else { return true }
        return random.unit() < probability
    }

    /// The rule that gives this connection's fault alone: `conn=N`, then the rule without its
    /// connection selectors and odds (`every=3 delay=5s` on connection 6 is `conn=6 delay=5s`).
    static func reproducing(_ rule: FaultRule, connection: Int) -> String {
        var words = ["conn=\(connection)"]
        var inReply = false
        for word in rule.text.split(separator: " ") {
            if word.hasPrefix("reply=") { inReply = true }
            if !inReply, word.hasPrefix("conn=") || word.hasPrefix("every=") || word.hasPrefix("p=") { continue }
            words.append(String(word))
        }
        return words.joined(separator: " ")
    }

    /// A client message for a log line: quoted, escaped, without its line ending, at most 80 bytes.
    static func quoted(_ message: [UInt8]) -> String {
        "\"" + Escaped.text(Array(MessagePattern.withoutLineEnding(Array(message.prefix(200))).prefix(80))) + "\""
    }

    static func firstWord(_ message: [UInt8]) -> String {
        let word = message.prefix { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A && $0 != 0x3A }.prefix(32)
        return String(decoding: word, as: UTF8.self)
    }

    static func regexQuoted(_ word: String) -> String {
        word.unicodeScalars.map { scalar in
            "\\^$.|?*+()[]{}/".unicodeScalars.contains(scalar) ? "\\" + String(scalar) : String(scalar)
        }.joined()
    }
}

extension ReplayPlan.Step {
    var isData: Bool {
        if case .send = action { return true }
        return false
    }
}
