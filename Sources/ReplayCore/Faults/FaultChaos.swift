import Foundation

/// `--chaos PROBABILITY --seed N`: for each connection, with that probability, one fault drawn
/// from the catalogue, at a step drawn from the conversation, its parameters drawn from
/// documented ranges (docs/faults.md).
public struct FaultChaos: Sendable, Equatable {
    /// The faults chaos draws from (`--chaos-faults`), by name.
    public static let catalogue = ["reset", "close", "stall", "delay", "reply", "drop", "truncate", "slow", "slice"]

    public var probability: Double
    public var faults: [String]

    /// `faults` empty: the whole catalogue. An unknown name is an error listing the known ones.
    public init(probability: Double, faults: [String] = []) throws(FaultRuleError) {
        guard probability >= 0, probability <= 1, probability.isFinite else {
            throw FaultRuleError(rule: "--chaos \(probability)", word: "", expected: "a probability from 0 to 1, e.g. --chaos 0.2")
        }
        for name in faults where !Self.catalogue.contains(name) {
            throw FaultRuleError(rule: "--chaos-faults \(faults.joined(separator: ","))", word: name,
                                 expected: "fault names from: \(Self.catalogue.joined(separator: ", "))")
        }
        self.probability = probability
        self.faults = faults.isEmpty ? Self.catalogue : faults
    }

    /// One fault with its parameters: delays 0.1–10 s, rates 1 KB/s–1 MB/s (both log-uniform),
    /// slices 1–64 bytes, replies from the protocol's own 4xx/5xx set. `nil` when nothing in the
    /// narrowed catalogue fits the protocol (a reply for a binary protocol).
    func draw(for proto: WireProtocol, using random: inout FaultRandom) -> FaultAction? {
        let replies = Self.errorReplies[proto] ?? []
        let usable = faults.filter { $0 != "reply" || !replies.isEmpty }
        guard !usable.isEmpty else { return nil }
        let name = usable[Int(random.next() % UInt64(usable.count))]
        return Self.action(named: name, for: proto, using: &random)
    }

    /// The fault `name` of the catalogue with its parameters drawn (see `draw`); `nil` for a
    /// reply in a protocol without a failure set of its own, or an unknown name.
    static func action(named name: String, for proto: WireProtocol, using random: inout FaultRandom) -> FaultAction? {
        switch name {
        case "reset": return .reset
        case "close": return .close
        case "stall": return .stall
        case "drop": return .drop
        case "truncate": return .truncate
        case "delay":
            let seconds = 0.1 * pow(10, random.unit() * 2)
            return .delay(Int64((seconds * 1000).rounded()) * 1_000_000)
        case "slow":
            return .slow(Int((1000 * pow(10, random.unit() * 3)).rounded()))
        case "slice":
            return .slice(1 + Int(random.next() % 64))
        case "reply":
            guard let replies = errorReplies[proto], !replies.isEmpty else { return nil }
            return .reply(replies[Int(random.next() % UInt64(replies.count))])
        default:
            return nil
        }
    }

    /// Each protocol's own temporary and permanent failures.
    static let errorReplies: [WireProtocol: [String]] = [
        .smtp: ["421 4.3.2 Service not available, closing transmission channel", "450 4.2.0 Mailbox busy",
                "451 4.3.0 Local error in processing", "452 4.3.1 Insufficient system storage",
                "550 5.1.1 Mailbox unavailable", "554 5.7.1 Transaction failed"],
        .pop3: ["-ERR [SYS/TEMP] Server busy", "-ERR [AUTH] Authentication failed", "-ERR [IN-USE] Mailbox locked"],
        .ftp: ["421 Service not available, closing control connection", "450 Requested file action not taken",
               "451 Requested action aborted: local error in processing", "550 Requested action not taken: file unavailable"],
        .redis: ["-ERR unknown command", "-BUSY Redis is busy running a script", "-LOADING Redis is loading the dataset in memory",
                 "-OOM command not allowed when used memory > 'maxmemory'"],
        .http: ["HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n",
                "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n"],
        .line: ["ERROR"],
    ]
}
