/// When one proxied connection may read, free of I/O. Two reasons hold a side's `read()` back:
///
/// - its partner's channel is not writable (a slow reader on the other side), until the partner
///   becomes writable again;
/// - the cassette recorder is backlogged (lossless mode), which holds BOTH sides until the
///   recorder reports it has drained.
///
/// A held read is remembered and done once neither reason applies. Writability is asked of the
/// channels when a decision needs it and passed in, so tests drive the gate with plain values.
public struct ReadGate: Sendable, Equatable {
    /// What the handlers must do after an event.
    public enum Action: Sendable, Equatable {
        /// Do the read of `side` (the one requested and held back, or the one requested now).
        case read(ProxySide)
        /// Ask the recorder to call back once it has drained (`CassetteRecorder.whenDrained`).
        case waitForRecorder
    }

    /// Reads requested by the channel and held back.
    private var held: Set<ProxySide> = []
    /// Waiting for the recorder to drain.
    public private(set) var waitingForRecorder = false

    public init() {}

    /// Whether `side` has a read held back.
    public func isHolding(_ side: ProxySide) -> Bool { held.contains(side) }

    /// The channel of `side` wants to read; `partnerWritable` is whether the other side's
    /// channel can take the bytes.
    public mutating func readRequested(_ side: ProxySide, partnerWritable: Bool) -> [Action] {
        guard partnerWritable, !waitingForRecorder else {
            held.insert(side)
            return []
        }
        return [.read(side)]
    }

    /// `side`'s channel became writable: its partner's held read may go on.
    public mutating func becameWritable(_ side: ProxySide) -> [Action] {
        let partner = side.partner
        guard !waitingForRecorder, held.remove(partner) != nil else { return [] }
        return [.read(partner)]
    }

    /// An event was handed to the recorder, which answered whether it is backlogged.
    public mutating func recorded(backlogged: Bool) -> [Action] {
        guard backlogged, !waitingForRecorder else { return [] }
        waitingForRecorder = true
        return [.waitForRecorder]
    }

    /// The recorder called back: it has drained (or given up holding). `writable` holds the
    /// sides whose channel can take writes now.
    public mutating func recorderDrained(writable: Set<ProxySide>) -> [Action] {
        guard waitingForRecorder else { return [] }
        waitingForRecorder = false
        var actions: [Action] = []
        for side in [ProxySide.client, .server] where held.contains(side) && writable.contains(side.partner) {
            held.remove(side)
            actions.append(.read(side))
        }
        return actions
    }
}
