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

    /// How a direction ended in the recording; `nil` means it went silent.
    public func closing(_ direction: Direction) -> CloseKind? {
        for event in events {
            if case .close(let eventDirection, let how) = event.kind, eventDirection == direction { return how }
        }
        return nil
    }

    /// The upstream connection failure, if the recording proxy could not reach the server.
    public var connectFailure: ConnectFailure? {
        for event in events {
            if case .connectFailed(let failure) = event.kind { return failure }
        }
        return nil
    }
}
