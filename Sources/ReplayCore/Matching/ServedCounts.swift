import NIOConcurrencyHelpers

/// How many connections have followed each recorded conversation, shared by every connection
/// of a replay server (from any event loop): ties between equally good conversations go to the
/// one served least often, so a greylisting pair (the same client bytes answered 450, then 250
/// on the retry) replays as it happened. A connection counts for the conversation it follows
/// now; when it switches to another, the count moves with it.
public final class ServedCounts: Sendable {
    /// The counts, with the lowest of them and how many conversations have each count, kept as
    /// they change: "is this one served least?" is then a comparison, not a scan.
    private struct Tally {
        var counts: [Int]
        var minimum = 0
        /// How many conversations have each count (only counts some conversation has).
        var histogram: [Int: Int]

        init(conversations: Int) {
            counts = Array(repeating: 0, count: conversations)
            histogram = conversations > 0 ? [0: conversations] : [:]
        }

        mutating func change(_ conversation: Int, by delta: Int) {
            guard counts.indices.contains(conversation) else { return }
            let old = counts[conversation], new = old + delta
            counts[conversation] = new
            let left = (histogram[old] ?? 1) - 1
            histogram[old] = left == 0 ? nil : left
            histogram[new, default: 0] += 1
            if new < minimum {
                minimum = new
            } else if old == minimum, left == 0 {
                // The last one at the lowest count moved up (by one: moves are single steps).
                minimum = new
            }
        }
    }

    private let tally: NIOLockedValueBox<Tally>
    /// A rotating start for very large sets of equal candidates (see `leastServed`).
    private let rotation = NIOLockedValueBox(0)
    /// Up to this many candidates are compared exactly; beyond, a rotating window of this size.
    static let exactScanLimit = 32

    public init(conversations: Int) {
        tally = NIOLockedValueBox(Tally(conversations: conversations))
    }

    public func count(_ conversation: Int) -> Int {
        tally.withLockedValue { $0.counts.indices.contains(conversation) ? $0.counts[conversation] : 0 }
    }

    /// All counts, for the report of sessions never used.
    public var snapshot: [Int] { tally.withLockedValue { $0.counts } }

    /// The connection now follows `new` instead of `old`.
    public func move(from old: Int?, to new: Int) {
        guard old != new else { return }
        tally.withLockedValue { tally in
            if let old { tally.change(old, by: -1) }
            tally.change(new, by: 1)
        }
    }

    /// The served count of `conversation` (without the asking connection, which follows it)
    /// when no conversation at all was served less: then it is the least served of any
    /// candidates it is among, and `leastServed` need not scan them. `nil` otherwise.
    public func servedIfLeast(_ conversation: Int, followedByAsker: Bool) -> Int? {
        tally.withLockedValue { tally in
            guard tally.counts.indices.contains(conversation) else { return nil }
            let served = tally.counts[conversation] - (followedByAsker ? 1 : 0)
            return served <= tally.minimum ? served : nil
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
        return tally.withLockedValue { tally in
            let counts = tally.counts
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
