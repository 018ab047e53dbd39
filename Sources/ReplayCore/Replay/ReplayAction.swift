/// What the replay machine asks its I/O layer to do, in order.
public enum ReplayAction: Sendable, Equatable {
    /// Write these bytes to the client and flush them as one write.
    case send([UInt8])
    /// Half-close the output (FIN); keep reading.
    case halfClose
    /// Abort the connection: SO_LINGER {1, 0}, then close, so the client sees RST.
    case reset
    /// Close the connection fully.
    case close
    /// Call `timerFired(at:)` at this absolute monotonic time (nanoseconds). Replaces any
    /// wakeup asked for before: the machine never needs more than one. A time that has already
    /// come means "on the next turn of the loop", after any pending writability report.
    case scheduleWakeup(at: Int64)
    /// Drop the pending wakeup.
    case cancelWakeup
    /// Everything recorded has been sent and the server stays silent: the connection is held
    /// open until the client closes it or `until` (when not `nil`) passes.
    case hold(until: Int64?)
    /// The recording lost server bytes that cannot be replayed (asked for once per connection).
    case warnGapSkipped(bytes: Int)
    /// Start TLS as the server now, with the replay's certificate: every write before this
    /// one goes out in plaintext (the recorded STARTTLS reply), every byte after it is TLS.
    case startTLS
    /// Something for the connection's log (a mismatch explained, a synthesized reply, an echo).
    case note(ReplayNote)
}

/// One log line a replayed connection asks for.
public struct ReplayNote: Sendable, Equatable {
    public enum Level: Sendable, Equatable {
        case debug
        case info
        case warning
    }

    public var level: Level
    public var message: String

    public init(_ level: Level, _ message: String) {
        self.level = level
        self.message = message
    }
}

// Most action lists are empty or hold one or two actions, and most are joined to an empty one
// (`var actions = machine.clientSent(...)`, then `actions += answer(...)`): the standard
// operators would allocate a new buffer and copy into it. These take the other list whole
// when one side is empty. More specific than the generic ones, so every `[ReplayAction]` join
// in this module uses them.
extension Array where Element == ReplayAction {
    static func += (lhs: inout [ReplayAction], rhs: [ReplayAction]) {
        if lhs.isEmpty {
            lhs = rhs
        } else if !rhs.isEmpty {
            lhs.append(contentsOf: rhs)
        }
    }

    static func + (lhs: [ReplayAction], rhs: [ReplayAction]) -> [ReplayAction] {
        if lhs.isEmpty { return rhs }
        if rhs.isEmpty { return lhs }
        var joined = lhs
        joined.append(contentsOf: rhs)
        return joined
    }
}
