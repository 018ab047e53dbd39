import NIOConcurrencyHelpers

/// Hands out the recorded sessions to accepted connections, in recorded order. Safe to call
/// from any event loop.
public final class SessionDispenser: Sendable {
    /// What one connection gets.
    public enum Ticket: Sendable, Equatable {
        /// Replay this plan; `connection` counts accepted connections from 1.
        case session(connection: Int, plan: ReplayPlan)
        /// Every session has been served and looping is off.
        case exhausted(connection: Int, sessions: Int)
    }

    private let plans: [ReplayPlan]
    private let loop: Bool
    private let served = NIOLockedValueBox(0)

    public init(plans: [ReplayPlan], loop: Bool) {
        self.plans = plans
        self.loop = loop
    }

    public convenience init(sessions: [Session], loop: Bool) {
        self.init(plans: sessions.map(ReplayPlan.init(session:)), loop: loop)
    }

    public var sessionCount: Int { plans.count }

    /// The ticket for the next accepted connection.
    public func next() -> Ticket {
        let index = served.withLockedValue { count in
            defer { count += 1 }
            return count
        }
        let connection = index + 1
        guard !plans.isEmpty else { return .exhausted(connection: connection, sessions: 0) }
        if index < plans.count { return .session(connection: connection, plan: plans[index]) }
        if loop { return .session(connection: connection, plan: plans[index % plans.count]) }
        return .exhausted(connection: connection, sessions: plans.count)
    }
}
