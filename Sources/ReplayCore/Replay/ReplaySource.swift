import NIOConcurrencyHelpers

/// Decides what each accepted connection replays, from any event loop: by messages over a
/// `ConversationSet` (`similar`, `exact`: any number of connections, each choosing by what it
/// sends, or in accept order with `inOrder`), or a compiled plan per connection in accept order
/// (`bytes`, `none`).
public final class ReplaySource: Sendable {
    /// What one connection gets.
    public enum Ticket: Sendable {
        case replay(ConnectionReplayer, connection: Int)
        /// Every session has been served and looping is off (in-order modes).
        case exhausted(connection: Int, sessions: Int)
    }

    private enum Mode: Sendable {
        case messages(ConversationSet, MatchMode, MismatchPolicy, inOrder: Bool)
        case plans([ReplayPlan], [SessionRef])
    }

    private let mode: Mode
    private let options: ReplayOptions
    private let accepted = NIOLockedValueBox(0)
    public let reports: ReplayReportLog
    /// Injected faults (by-message modes only: faults are aimed at messages and replies).
    private let faults: FaultSettings?

    /// Replay by messages. `keepsReports`: keep every connection's steps (for `--report`).
    public init(set: ConversationSet, match: MatchMode, onMismatch: MismatchPolicy, inOrder: Bool, options: ReplayOptions,
                keepsReports: Bool = true, faults: FaultSettings? = nil) {
        precondition(match == .similar || match == .exact, "by messages means similar or exact")
        mode = .messages(set, match, onMismatch, inOrder: inOrder)
        self.faults = faults.flatMap { $0.isEmpty ? nil : $0 }
        self.options = options
        reports = ReplayReportLog(keepsConnections: keepsReports)
    }

    /// Replay compiled plans in accept order: `bytes` waits for client byte counts, `none` for nothing.
    public init(sessions: [(ref: SessionRef, session: Session)], match: MatchMode, options: ReplayOptions) {
        let plans = sessions.map { entry -> ReplayPlan in
            let plan = ReplayPlan(session: entry.session)
            return match == .none ? plan.ignoringClient() : plan
        }
        mode = .plans(plans, sessions.map(\.ref))
        self.options = options
        faults = nil
        reports = ReplayReportLog(keepsConnections: false)
    }

    /// How many recorded sessions the source holds.
    public var sessionCount: Int {
        switch mode {
        case .messages(let set, _, _, _): return set.conversations.count
        case .plans(let plans, _): return plans.count
        }
    }

    /// Whether connections are answered by messages (`similar`, `exact`).
    public var byMessages: Bool {
        if case .messages = mode { return true }
        return false
    }

    /// Sessions no connection followed.
    public var unused: [SessionRef] {
        switch mode {
        case .messages(let set, _, _, _):
            return set.unused
        case .plans(_, let refs):
            let served = accepted.withLockedValue { $0 }
            return served >= refs.count || options.loop ? [] : Array(refs[served...])
        }
    }

    /// The ticket for the next accepted connection.
    public func next(writesMayBlock: Bool) -> Ticket {
        let index = accepted.withLockedValue { count in
            defer { count += 1 }
            return count
        }
        let connection = index + 1
        switch mode {
        case .messages(let set, let match, let policy, let inOrder):
            var only: Int?
            if inOrder {
                let count = set.conversations.count
                guard count > 0, index < count || options.loop else { return .exhausted(connection: connection, sessions: count) }
                only = index % count
            }
            return .replay(ConnectionReplayer(set: set, mode: match, policy: policy, options: options, connection: connection,
                                              only: only, keepsSteps: reports.keepsConnections, writesMayBlock: writesMayBlock,
                                              faults: faults?.plan(connection: connection)),
                           connection: connection)
        case .plans(let plans, let refs):
            guard !plans.isEmpty, index < plans.count || options.loop else { return .exhausted(connection: connection, sessions: plans.count) }
            let slot = index % plans.count
            return .replay(ConnectionReplayer(plan: plans[slot], options: options, connection: connection, session: refs[slot],
                                              writesMayBlock: writesMayBlock), connection: connection)
        }
    }
}
