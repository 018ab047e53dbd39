import NIOConcurrencyHelpers

/// How many connections have followed each recorded conversation, shared by every connection
/// of a replay server (from any event loop): ties between equally good conversations go to the
/// one served least often, so a greylisting pair (the same client bytes answered 450, then 250
/// on the retry) replays as it happened. A connection counts for the conversation it follows
/// now; when it switches to another, the count moves with it.
public final class ServedCounts: Sendable {
    private let counts: NIOLockedValueBox<[Int]>
    /// A rotating start for very large sets of equal candidates (see `leastServed`).
    private let rotation = NIOLockedValueBox(0)
    /// Up to this many candidates are compared exactly; beyond, a rotating window of this size.
    static let exactScanLimit = 32

    public init(conversations: Int) {
        counts = NIOLockedValueBox(Array(repeating: 0, count: conversations))
    }

    public func count(_ conversation: Int) -> Int {
        counts.withLockedValue { $0.indices.contains(conversation) ? $0[conversation] : 0 }
    }

    /// All counts, for the report of sessions never used.
    public var snapshot: [Int] { counts.withLockedValue { $0 } }

    /// The connection now follows `new` instead of `old`.
    public func move(from old: Int?, to new: Int) {
        guard old != new else { return }
        counts.withLockedValue { counts in
            if let old, counts.indices.contains(old) { counts[old] -= 1 }
            if counts.indices.contains(new) { counts[new] += 1 }
        }
    }

    /// The candidate served least often, the earliest recorded among equals. `candidates` are in
    /// recorded order. Past `exactScanLimit` candidates (thousands of identical recorded sessions)
    /// it compares a window of that size that rotates with every call, which spreads connections
    /// over the set as evenly without scanning all of it.
    ///
    /// `asking` is the conversation the asking connection follows now: its own count is left
    /// out, so a connection does not turn away from a conversation because it follows it.
    public func leastServed(_ candidates: [Int], asking: Int? = nil) -> (conversation: Int, served: Int)? {
        guard let first = candidates.first else { return nil }
        if candidates.count == 1 { return (first, count(first) - (first == asking ? 1 : 0)) }
        let window = min(candidates.count, Self.exactScanLimit)
        let start = candidates.count <= Self.exactScanLimit ? 0 : rotation.withLockedValue { value in
            defer { value = value &+ window }
            return value % candidates.count
        }
        return counts.withLockedValue { counts in
            var best: (conversation: Int, served: Int)?
            // The window wraps at most once: an index that steps and wraps, not a division per
            // candidate (this loop showed as 5 % of the replay's own work).
            var index = start
            for _ in 0..<window {
                let candidate = candidates[index]
                index += 1
                if index == candidates.count { index = 0 }
                let served = (counts.indices.contains(candidate) ? counts[candidate] : 0) - (candidate == asking ? 1 : 0)
                if let current = best, (current.served, current.conversation) <= (served, candidate) { continue }
                best = (candidate, served)
            }
            return best
        }
    }
}
