import NIOConcurrencyHelpers

/// Server bytes the replay has handed to NIO that the kernel has not taken yet, summed over
/// every connection: the memory a slow client can make the server hold. Backpressure keeps
/// it near the write-buffer high water mark per stalled connection; tests read it to prove so.
public final class ReplayOutputGauge: Sendable {
    private struct Counts {
        var queued = 0
        var peak = 0
    }

    private let counts = NIOLockedValueBox(Counts())

    public init() {}

    /// Bytes queued right now.
    public var queuedBytes: Int { counts.withLockedValue { $0.queued } }

    /// The most bytes that were ever queued at once.
    public var peakQueuedBytes: Int { counts.withLockedValue { $0.peak } }

    /// Starts a new peak from what is queued now (for measuring one phase of a transfer).
    public func resetPeak() {
        counts.withLockedValue { $0.peak = $0.queued }
    }

    func add(_ byteCount: Int) {
        counts.withLockedValue {
            $0.queued += byteCount
            $0.peak = max($0.peak, $0.queued)
        }
    }

    func remove(_ byteCount: Int) {
        counts.withLockedValue { $0.queued -= byteCount }
    }
}
