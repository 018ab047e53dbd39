/// All events of one session, in the order they were written.
public struct Session: Sendable, Equatable {
    /// The session number from the cassette (`s`).
    public var id: Int
    /// The endpoints and start time, from the `open` event.
    public var open: SessionOpen
    /// Every event of the session, the `open` event included.
    public var events: [SessionEvent]

    public init(id: Int, open: SessionOpen, events: [SessionEvent]) {
        self.id = id
        self.open = open
        self.events = events
    }

    /// All bytes sent in one direction, in order (gaps are left out).
    public func bytes(_ direction: Direction) -> [UInt8] {
        var result: [UInt8] = []
        for event in events {
            if case .data(let eventDirection, let bytes) = event.kind, eventDirection == direction {
                result.append(contentsOf: bytes)
            }
        }
        return result
    }

    /// How the side sending in `direction` ended in the recording, whichever came first: its
    /// FIN (`.fin`) or a reset it sent (`.rst`). `nil` means it went silent (a reset by the
    /// other side does not count here: this side did not stop on its own).
    public func closing(_ direction: Direction) -> DirectionEnding? {
        for event in events {
            switch event.kind {
            case .close(let eventDirection, .fin) where eventDirection == direction: return .fin
            case .reset(let by) where by == direction: return .rst
            default: continue
            }
        }
        return nil
    }

    /// The first reset of the connection: by whom and when (`nil`: it was never reset).
    public var reset: (by: Direction, offset: Int64)? {
        for event in events {
            if case .reset(let by) = event.kind { return (by, event.offset) }
        }
        return nil
    }

    /// Where the server's stream is broken: each `s2c` gap, with its time and the byte of the
    /// server's stream it lies at (counted over the data before it). A session with any is
    /// incomplete: replaying it cannot send what the server sent.
    public var serverGaps: [(offset: Int64, atByte: Int, bytes: Int)] {
        var gaps: [(offset: Int64, atByte: Int, bytes: Int)] = []
        var position = 0
        for event in events {
            switch event.kind {
            case .data(.serverToClient, let bytes): position += bytes.count
            case .gap(.serverToClient, let count) where count > 0: gaps.append((event.offset, position, count))
            default: continue
            }
        }
        return gaps
    }

    /// The upstream connection failure, if the recording proxy could not reach the server.
    public var connectFailure: ConnectFailure? {
        for event in events {
            if case .connectFailed(let failure) = event.kind { return failure }
        }
        return nil
    }
}
