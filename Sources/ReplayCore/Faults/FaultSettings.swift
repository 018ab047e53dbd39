/// A run's faults: the `--fault` rules, `--chaos`, and the seed every connection's plan is
/// drawn from.
public struct FaultSettings: Sendable {
    public var rules: [FaultRule]
    public var chaos: FaultChaos?
    public var seed: UInt64

    public init(rules: [FaultRule], chaos: FaultChaos?, seed: UInt64) {
        self.rules = rules
        self.chaos = chaos
        self.seed = seed
    }

    public var isEmpty: Bool { rules.isEmpty && chaos == nil }

    /// The plan of connection `connection` (numbered from 1 in accept order).
    public func plan(connection: Int) -> FaultPlan {
        FaultPlan(rules: rules, connection: connection, seed: seed, chaos: chaos)
    }
}
