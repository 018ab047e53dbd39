/// Turns 32-bit TCP sequence numbers into 64-bit positions that keep growing past 2^32, so
/// that every later comparison is a plain integer comparison.
///
/// Each new number is placed within ±2^31 of the highest position seen so far, which is the
/// window TCP itself relies on. An old retransmission therefore lands before, not 4 GiB after.
public struct SequenceUnwrapper: Sendable, Equatable {
    /// The highest position returned so far.
    public private(set) var highest: Int64

    /// Starts at `first`, which becomes position `Int64(first)`.
    public init(first: UInt32) {
        highest = Int64(first)
    }

    /// The 64-bit position of `sequence`.
    public mutating func unwrap(_ sequence: UInt32) -> Int64 {
        let delta = Int64(Int32(bitPattern: sequence &- UInt32(truncatingIfNeeded: highest)))
        let position = highest + delta
        if position > highest { highest = position }
        return position
    }

    /// The 64-bit position of `sequence` without moving the window (for acknowledgment numbers).
    public func peek(_ sequence: UInt32) -> Int64 {
        highest + Int64(Int32(bitPattern: sequence &- UInt32(truncatingIfNeeded: highest)))
    }
}
