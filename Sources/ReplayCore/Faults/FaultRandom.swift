/// SplitMix64: the small, fast, well-mixed generator the fault plans draw from, keyed by the
/// run's seed and the connection number, so a connection's faults do not depend on how many
/// other connections ran before it or concurrently.
public struct FaultRandom: Sendable, RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64, connection: Int) {
        // Both keys go through the mixer: a plain XOR of the two would give connection N+1 the
        // stream of connection N shifted by one draw (SplitMix steps its state by the same constant).
        state = Self.mix(Self.mix(seed) ^ UInt64(truncatingIfNeeded: connection))
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0 ..< 1.
    public mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}
