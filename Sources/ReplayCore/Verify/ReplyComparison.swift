/// The comparison of one live reply with the recorded one: exact after masks, or, for a
/// message a hand-written transcript gave as a pattern (`S: 550*`), by the pattern. A changed
/// Redis value or a `250` where `550` was recorded is a difference; a new Postfix queue id or
/// date is not (the dialect's masks hide them).
public enum ReplyComparison {
    public enum Result: Sendable, Equatable {
        case same
        /// Why not, in a few words (`differs after masks from byte 5`).
        case different(String)
    }

    /// Compares the live reply's `messages` (framed by the dialect's framer) with `expected`.
    public static func compare(_ expected: ExpectedReply, live messages: [FramedMessage], dialect: any ProtocolDialect,
                               masks: MaskSet) -> Result {
        if expected.hasPatterns {
            guard messages.count == expected.messages.count else {
                return .different("recorded \(count(expected.messages.count)), live \(count(messages.count))")
            }
            for (index, (recorded, live)) in zip(expected.messages, messages).enumerated() {
                if let pattern = recorded.pattern {
                    if !pattern.matches(live.bytes) { return .different("message \(index + 1) does not match the pattern \"\(pattern.source)\"") }
                } else if recorded.masked != dialect.maskedReply(live, masks: masks) {
                    return .different("message \(index + 1) differs after masks")
                }
            }
            return .same
        }
        let live = messages.reduce(into: [UInt8]()) { $0 += dialect.maskedReply($1, masks: masks) }
        guard live != expected.masked else { return .same }
        if live.isEmpty { return .different("no reply") }
        let common = zip(live, expected.masked).prefix { $0 == $1 }.count
        return .different("differs after masks from byte \(common + 1)")
    }

    private static func count(_ n: Int) -> String { "\(n) message\(n == 1 ? "" : "s")" }
}
