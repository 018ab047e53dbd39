/// `record --fault`: the faults of one proxied connection between a real client and a real
/// server, without I/O. It frames the client's stream with the session's protocol, and when a
/// rule's point comes (the reply to a matching client message, or the first server bytes for a
/// rule without `match=`), it says so: the proxy then records the fault as replayd's own event,
/// keeps the server's reply out of the client's way (it goes into the fault's detail), and
/// resets or closes both legs.
///
/// On live traffic: `reset`, `close`, `reply=` (the client gets the text instead of the
/// server's reply), `drop` (the server's next bytes are swallowed) and `stall` (nothing the
/// server sends reaches the client any more); `FaultRule.checkForRecord` refuses the rest.
public struct LiveFaultPlan: Sendable {
    public let connection: Int
    private let rules: [FaultRule]
    private var random: FaultRandom
    private let serverPort: Int?
    private var framer: (any MessageFramer)?
    private var serverSeen: [UInt8] = []
    private var pendingClient: [UInt8] = []
    private var selected: [Int]
    private var openingDone = false
    /// A rule whose point is the next server bytes.
    private var armed: (rule: FaultRule, point: String, chaos: Bool)?
    /// `--chaos`: the fault drawn for this connection and the client message it follows (0: the
    /// first server bytes). A live conversation's length is not known ahead: the point is drawn
    /// from its first `chaosSteps` messages, and a shorter conversation gets no fault.
    private var chaosPick: (name: String, step: Int)?
    private var messages = 0
    private var words: [String: Int] = [:]
    static let chaosSteps = 6
    /// The faults chaos draws from on live traffic.
    public static let chaosCatalogue = ["reset", "close", "stall", "drop", "reply"]

    public init(rules: [FaultRule], connection: Int, seed: UInt64, serverPort: Int?, chaos: FaultChaos? = nil) {
        self.connection = connection
        self.rules = rules.filter { $0.selects(connection: connection) }
        random = FaultRandom(seed: seed, connection: connection)
        self.serverPort = serverPort
        selected = Array(repeating: 0, count: self.rules.count)
        if let chaos, random.unit() < chaos.probability {
            let names = chaos.faults.filter(Self.chaosCatalogue.contains)
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
        for rule in rules where rule.action == .refuse {
            if let probability = rule.probability, random.unit() >= probability { continue }
            return firing(rule, point: "at accept")
        }
        return nil
    }

    /// Client bytes: complete messages may arm a rule for the server's reply, or (`dir=c2s`)
    /// fire at once, before these bytes are forwarded.
    @discardableResult
    public mutating func clientBytes(_ bytes: [UInt8]) -> FaultPlan.Firing? {
        guard isActive else { return nil }
        defer { immediate = nil }
        if framer == nil {
            pendingClient += bytes
            let proto = ProtocolDetector.detect(serverPort: serverPort, client: Array(pendingClient.prefix(512)), server: Array(serverSeen.prefix(512)))
            var fresh = proto.dialect.makeFramer()
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
            if let pick = chaosPick, pick.step == self.messages, armed == nil, !word.isEmpty {
                chaosPick = nil
                let nth = (words[word] ?? 1) > 1 ? " nth=\(words[word] ?? 1)" : ""
                if let rule = chaosRule(pick.name, selectors: "conn=\(connection) match=^\(FaultPlan.regexQuoted(word))\(nth)") {
                    armed = (rule, "after \(FaultPlan.quoted(message.bytes))", true)
                }
            }
            for (index, rule) in rules.enumerated() where rule.matches(message.bytes) {
                selected[index] += 1
                if let nth = rule.nth, selected[index] != nth { continue }
                if let probability = rule.probability, random.unit() >= probability { continue }
                let point = "on \(FaultPlan.quoted(message.bytes)) from the client"
                if rule.direction == .clientToServer {
                    if immediate == nil { immediate = firing(rule, point: point) }
                    continue
                }
                if armed == nil {
                    armed = (rule, "after \(FaultPlan.quoted(message.bytes))", false)
                }
            }
        }
    }

    /// The line ending of `reply=` texts: the session's protocol's.
    public var lineEnding: [UInt8] {
        LineEnding.standard(for: ProtocolDetector.detect(serverPort: serverPort, client: [], server: Array(serverSeen.prefix(512)))).bytes
    }

    /// Server bytes arrived: the fault that fires instead of forwarding them, if any.
    public mutating func serverBytes(_ bytes: [UInt8]) -> FaultPlan.Firing? {
        guard isActive else { return nil }
        if !openingDone {
            openingDone = true
            for rule in rules where rule.expression == nil && rule.action != .refuse {
                if let probability = rule.probability, random.unit() >= probability { continue }
                return firing(rule, point: "before the first server message")
            }
            if let pick = chaosPick, pick.step == 0, let rule = chaosRule(pick.name, selectors: "conn=\(connection)") {
                chaosPick = nil
                return firing(rule, point: "before the first server message", chaos: true)
            }
        }
        if let armed {
            self.armed = nil
            return firing(armed.rule, point: armed.point, chaos: armed.chaos)
        }
        if framer == nil {
            serverSeen += bytes.prefix(max(0, 4096 - serverSeen.count))
        } else if var framer {
            _ = framer.serverBytes(bytes)
            self.framer = framer
        }
        return nil
    }

    private func firing(_ rule: FaultRule, point: String, chaos: Bool = false) -> FaultPlan.Firing {
        FaultPlan.Firing(connection: connection, action: rule.action, point: point,
                         reproduce: FaultPlan.reproducing(rule, connection: connection), rule: chaos ? "chaos" : rule.text)
    }

    /// The rule a chaos pick stands for; a reply comes from the protocol's own failures.
    private mutating func chaosRule(_ name: String, selectors: String) -> FaultRule? {
        var action = name
        if name == "reply" {
            let proto = ProtocolDetector.detect(serverPort: serverPort, client: [], server: Array(serverSeen.prefix(512)))
            guard let replies = FaultChaos.errorReplies[proto], !replies.isEmpty else { return nil }
            action = "reply=" + replies[Int(random.next() % UInt64(replies.count))]
        }
        return try? FaultRule(selectors + " " + action)
    }
}

extension FaultRule {
    /// On `record`, only actions that end the live connection are carried out so far.
    public func checkForRecord() throws(FaultRuleError) {
        switch action {
        case .refuse:
            return
        case .reset, .close, .reply, .drop, .stall:
            guard after == nil, at == nil else {
                throw FaultRuleError(rule: text, word: after != nil ? "after=" : "at=", expected: "on record: conn=, every=, match=, nth=, p= (after= and at= work on replay)")
            }
        default:
            throw FaultRuleError(rule: text, word: action.ruleText, expected: "on record: reset, close, reply=TEXT, drop, stall or refuse (the other actions work on replay)")
        }
    }
}
