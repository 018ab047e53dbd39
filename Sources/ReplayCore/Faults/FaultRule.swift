import Foundation

/// One `--fault` rule: selectors saying where, and one action saying what.
///
/// `conn=1-2 reset`, `match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy`, `every=3 delay=5s`. A
/// rule with no `match=` fires once per connection, at its first server message (`refuse`: at
/// accept). docs/faults.md is the reference.
public struct FaultRule: Sendable {
    /// The rule as the user wrote it.
    public let text: String
    /// `conn=N` or `conn=N-M`.
    public var connections: ClosedRange<Int>?
    /// `every=K`: connections K, 2K, 3K, ...
    public var every: Int?
    /// `match=REGEX` over a client message (its bytes read as Latin-1).
    public var match: String?
    /// `nth=N`: only the Nth message (from 1) of the connection that `match` selects.
    public var nth: Int?
    /// `after=BYTES`: once the server side has sent that many bytes.
    public var after: Int?
    /// `p=PROBABILITY`, drawn from the run's seeded generator.
    public var probability: Double?
    /// `at=DURATION`: that long after the connection opened (nanoseconds), whatever is happening.
    public var at: Int64?
    /// `dir=c2s|s2c` (record only): with `c2s` the fault acts on the matching client message
    /// itself, before it reaches the server; `s2c` (the default) on the server's reply to it.
    public var direction: Direction?
    public var action: FaultAction
    let expression: NSRegularExpression?

    /// Parses `text`; an error names the rule, the word and what was expected.
    public init(_ text: String) throws(FaultRuleError) {
        self.text = text
        var connections: ClosedRange<Int>?
        var every: Int?, nth: Int?, after: Int?
        var at: Int64?
        var direction: Direction?
        var match: String?
        var probability: Double?
        var action: FaultAction?
        var words = text.split(separator: " ", omittingEmptySubsequences: true)[...]
        func fail(_ word: Substring, _ expected: String) -> FaultRuleError { FaultRuleError(rule: text, word: String(word), expected: expected) }
        while let word = words.popFirst() {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0]
            let value = parts.count == 2 ? parts[1] : nil
            func setAction(_ new: FaultAction) throws(FaultRuleError) {
                guard action == nil else { throw fail(word, "one action per rule; give another --fault for a second one") }
                action = new
            }
            switch (key, value) {
            case ("conn", let value?):
                let bounds = value.split(separator: "-", maxSplits: 1)
                guard let low = bounds.first.flatMap({ Int($0) }), low >= 1,
                      let high = bounds.count == 2 ? Int(bounds[1]) : low, high >= low else {
                    throw fail(word, "conn=N or conn=N-M, connections numbered from 1")
                }
                connections = low...high
            case ("every", let value?):
                guard let count = Int(value), count >= 1 else { throw fail(word, "every=K, a whole number from 1") }
                every = count
            case ("match", let value?):
                guard !value.isEmpty else { throw fail(word, "match=REGEX, e.g. match=^RCPT") }
                match = String(value)
            case ("nth", let value?):
                guard let count = Int(value), count >= 1 else { throw fail(word, "nth=N, a whole number from 1") }
                nth = count
            case ("after", let value?):
                guard let bytes = Int(value), bytes >= 0 else { throw fail(word, "after=BYTES, a whole number of server bytes") }
                after = bytes
            case ("p", let value?):
                guard let chance = Double(value), chance >= 0, chance <= 1 else { throw fail(word, "p=PROBABILITY, from 0 to 1, e.g. p=0.1") }
                probability = chance
            case ("reset", nil): try setAction(.reset)
            case ("close", nil): try setAction(.close)
            case ("stall", nil): try setAction(.stall)
            case ("drop", nil): try setAction(.drop)
            case ("truncate", nil): try setAction(.truncate)
            case ("refuse", nil): try setAction(.refuse)
            case ("delay", let value?):
                guard let duration = Self.duration(value) else { throw fail(word, "delay=DURATION, e.g. delay=5s, delay=250ms") }
                try setAction(.delay(duration))
            case ("slow", let value?):
                guard let rate = Int(value), rate >= 1 else { throw fail(word, "slow=BYTES_PER_SECOND, a whole number from 1") }
                try setAction(.slow(rate))
            case ("slice", let value?):
                guard let size = Int(value), size >= 1 else { throw fail(word, "slice=BYTES, a whole number from 1") }
                try setAction(.slice(size))
            case ("reply", let value?):
                // The rest of the rule is the reply's text, spaces and all.
                let rest = ([value] + words).joined(separator: " ")
                words = []
                guard !rest.isEmpty else { throw fail(word, "reply=TEXT, e.g. reply=450 4.2.0 Mailbox busy") }
                try setAction(.reply(rest))
            case ("at", let value?):
                guard let duration = Self.duration(value) else { throw fail(word, "at=DURATION after the connection opened, e.g. at=2s, at=500ms") }
                at = duration
            case ("dir", let value?):
                guard let parsed = Direction(rawValue: String(value)) else { throw fail(word, "dir=c2s or dir=s2c") }
                direction = parsed
            default:
                throw fail(word, "a selector (conn=, every=, match=, nth=, after=, at=, dir=, p=) or an action (reset, close, stall, delay=, reply=, drop, truncate, slow=, slice=, refuse)")
            }
        }
        guard let action else {
            throw FaultRuleError(rule: text, word: "", expected: "an action: reset, close, stall, delay=DURATION, reply=TEXT, drop, truncate, slow=BPS, slice=BYTES or refuse")
        }
        if action == .refuse, match != nil || nth != nil || after != nil {
            throw FaultRuleError(rule: text, word: "refuse", expected: "refuse acts at accept, before any message: only conn=, every= and p= go with it")
        }
        if at != nil, match != nil || after != nil || action == .refuse {
            throw FaultRuleError(rule: text, word: "at=", expected: "at= is a time into the connection: it goes with conn=, every=, p= and any action but refuse (not with match= or after=)")
        }
        if after != nil, match != nil {
            throw FaultRuleError(rule: text, word: "after=", expected: "after= counts the server's bytes from the connection's start: give it without match=")
        }
        if direction == .clientToServer, match == nil {
            throw FaultRuleError(rule: text, word: "dir=c2s", expected: "dir=c2s acts on a client message: give match=REGEX too")
        }
        if nth != nil, match == nil {
            throw FaultRuleError(rule: text, word: "nth=\(nth ?? 0)", expected: "nth= counts the messages match= selects: give match=REGEX too")
        }
        var expression: NSRegularExpression?
        if let match {
            do {
                expression = try NSRegularExpression(pattern: match)
            } catch {
                throw FaultRuleError(rule: text, word: "match=\(match)", expected: "a valid regular expression (ICU syntax, as --mask)")
            }
        }
        self.connections = connections
        self.every = every
        self.match = match
        self.nth = nth
        self.after = after
        self.probability = probability
        self.at = at
        self.direction = direction
        self.action = action
        self.expression = expression
    }

    /// Whether the rule is for connection `connection` (its `conn=` and `every=`).
    public func selects(connection: Int) -> Bool {
        if let connections, !connections.contains(connection) { return false }
        if let every, connection % every != 0 { return false }
        return true
    }

    /// Whether a client message fits `match=` (a rule without one fits none).
    public func matches(_ message: [UInt8]) -> Bool {
        guard let expression else { return false }
        let text = MaskSet.latin1(message)
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// `5s`, `250ms`, `0.2s`, `20us`, `2m`: nanoseconds.
    public static func duration(_ text: some StringProtocol) -> Int64? {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("s", 1e9), ("m", 60e9)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let value = Double(text.dropLast(unit.count)), value >= 0, value.isFinite, value * scale < 1e18 else { return nil }
            return Int64((value * scale).rounded())
        }
        return nil
    }

    /// A duration as a rule writes it: `5s`, `250ms`.
    public static func durationText(_ nanoseconds: Int64) -> String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return "\(Double(nanoseconds) / 1e9)s"
    }
}

/// A `--fault` rule that cannot be used.
public struct FaultRuleError: Error, Equatable, CustomStringConvertible {
    public var rule: String
    public var word: String
    public var expected: String

    public init(rule: String, word: String, expected: String) {
        self.rule = rule
        self.word = word
        self.expected = expected
    }

    public var description: String {
        word.isEmpty ? "--fault \"\(rule)\": expected \(expected)" : "--fault \"\(rule)\": \"\(word)\": expected \(expected)"
    }
}
