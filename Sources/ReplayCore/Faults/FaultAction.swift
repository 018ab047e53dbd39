/// What a fault rule does to a replayed connection (docs/faults.md).
public enum FaultAction: Sendable, Equatable {
    /// RST now, instead of the reply.
    case reset
    /// FIN now, instead of the reply.
    case close
    /// Send nothing more; hold the connection open.
    case stall
    /// Hold the next server message this many nanoseconds longer.
    case delay(Int64)
    /// Answer this text, with the protocol's line ending, instead of the recorded reply.
    case reply(String)
    /// Swallow the next server message.
    case drop
    /// Send the first half of the next server message, then stall.
    case truncate
    /// From here on, send at most this many bytes per second.
    case slow(Int)
    /// From here on, cut server writes into pieces of at most this many bytes.
    case slice(Int)
    /// Reset the connection at accept, before any byte.
    case refuse

    /// The action's word in a rule, as `--fault` spells it.
    public var ruleText: String {
        switch self {
        case .reset: return "reset"
        case .close: return "close"
        case .stall: return "stall"
        case .delay(let nanoseconds): return "delay=\(FaultRule.durationText(nanoseconds))"
        case .reply(let text): return "reply=\(text)"
        case .drop: return "drop"
        case .truncate: return "truncate"
        case .slow(let rate): return "slow=\(rate)"
        case .slice(let size): return "slice=\(size)"
        case .refuse: return "refuse"
        }
    }

    /// The action's name alone (`delay`, `reply`), for `--chaos-faults` and logs.
    public var name: String {
        ruleText.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ruleText
    }

    /// Whether the action replaces the reply it fires at (the recorded reply is not sent).
    var replacesReply: Bool {
        switch self {
        case .reset, .close, .stall, .reply, .refuse: return true
        case .delay, .drop, .truncate, .slow, .slice: return false
        }
    }
}
