/// One recorded session compiled into the server's side of it: what to send, in which order,
/// after which client progress and after how long.
///
/// Every step is something the recorded server did (a chunk, a gap, a FIN, an RST, or the
/// proxy giving up on a connect). Each step carries the client progress it must wait for (the
/// cumulative client bytes, and the client's FIN, that the recording had seen before it) and
/// the recorded delay from the event just before it in the session, whatever that event was.
public struct ReplayPlan: Sendable, Equatable {
    /// What the server does at one step.
    public enum Action: Sendable, Equatable {
        /// Write this chunk and flush it, as one write.
        case send([UInt8])
        /// Bytes the capture lost: nothing can be sent for them.
        case skipGap(Int)
        /// The server half-closed (FIN).
        case halfClose
        /// The server reset the connection (RST).
        case reset
        /// The recording proxy could not reach the server and closed the client.
        case connectFailed(ConnectFailure)
        /// TLS began here (a `tls` event): at the start for implicit TLS, right after the
        /// server's positive reply to STARTTLS otherwise. What follows is the plaintext.
        case startTLS
    }

    /// One thing the recorded server did.
    public struct Step: Sendable, Equatable {
        public var action: Action
        /// Cumulative client-to-server bytes the recording had seen before this step.
        public var clientBytes: Int
        /// Whether the recorded client had half-closed (FIN) before this step.
        public var afterClientClose: Bool
        /// Recorded nanoseconds from the event just before this one in the session
        /// (the open, client data, the client's FIN, or the previous server step).
        public var delay: Int64
        /// Recorded offset of the step in the session, for messages.
        public var offset: Int64
        /// Nanoseconds a fault rule adds (`delay=5s`): waited as given, whatever `--speed` or
        /// `--no-delay` do to recorded delays.
        public var faultDelay: Int64 = 0

        public init(action: Action, clientBytes: Int, afterClientClose: Bool, delay: Int64, offset: Int64) {
            self.action = action
            self.clientBytes = clientBytes
            self.afterClientClose = afterClientClose
            self.delay = delay
            self.offset = offset
        }
    }

    /// How the recorded server side ended.
    public enum Ending: Sendable, Equatable {
        case fin
        case rst
        /// No close from the server: it went silent and kept the connection open.
        case silent
        case connectFailed(ConnectFailure)
    }

    /// The session number in the cassette.
    public var sessionID: Int
    public var steps: [Step]
    public var ending: Ending
    /// All client bytes of the recording (for the per-connection summary).
    public var recordedClientBytes: Int
    /// All server bytes the plan sends.
    public var recordedServerBytes: Int

    public init(sessionID: Int, steps: [Step], ending: Ending, recordedClientBytes: Int, recordedServerBytes: Int) {
        self.sessionID = sessionID
        self.steps = steps
        self.ending = ending
        self.recordedClientBytes = recordedClientBytes
        self.recordedServerBytes = recordedServerBytes
    }

    /// Compiles a session. Nothing the server did after its own FIN or RST, or after the
    /// client's RST, is kept: no real server could have sent it on that connection.
    public init(session: Session) {
        var steps: [Step] = []
        var ending: Ending = .silent
        var clientBytes = 0
        var clientClosed = false
        var serverBytes = 0
        let openOffset = session.events.first.map(\.offset) ?? 0
        var previousOffset = openOffset

        func add(_ action: Action, at offset: Int64) {
            steps.append(Step(action: action, clientBytes: clientBytes, afterClientClose: clientClosed,
                              delay: max(0, offset - previousOffset), offset: offset))
            previousOffset = max(previousOffset, offset)
        }

        events: for event in session.events {
            switch event.kind {
            case .open, .end:
                continue
            case .tls(let marker):
                // A handshake that failed on the recording is no place to start TLS.
                if marker.startsTLS { add(.startTLS, at: event.offset) }
            case .redacted, .fault, .pattern:
                // Markers the plan does not act on: the data events hold the bytes to replay.
                continue
            case .data(.clientToServer, let bytes):
                clientBytes += bytes.count
                previousOffset = max(previousOffset, event.offset)
            case .gap(.clientToServer, let count):
                // The client did send these bytes; the replaying client will send them too.
                clientBytes += count
                previousOffset = max(previousOffset, event.offset)
            case .close(.clientToServer, .fin):
                clientClosed = true
                previousOffset = max(previousOffset, event.offset)
            case .reset(by: .clientToServer):
                break events
            case .data(.serverToClient, let bytes):
                serverBytes += bytes.count
                add(.send(bytes), at: event.offset)
            case .gap(.serverToClient, let count):
                add(.skipGap(count), at: event.offset)
            case .close(.serverToClient, .fin):
                add(.halfClose, at: event.offset)
                ending = .fin
                break events
            case .reset(by: .serverToClient):
                add(.reset, at: event.offset)
                ending = .rst
                break events
            case .connectFailed(let failure):
                // What the client saw: its connection closed once the attempt had failed, by a
                // reset when the recording says so (a client whose bytes the proxy did not take).
                steps = [Step(action: .connectFailed(failure), clientBytes: 0, afterClientClose: false,
                              delay: max(0, failure.elapsed), offset: event.offset)]
                if Self.resetFollows(event, in: session.events) {
                    steps.append(Step(action: .reset, clientBytes: 0, afterClientClose: false, delay: 0, offset: event.offset))
                }
                serverBytes = 0
                ending = .connectFailed(failure)
                break events
            }
        }
        self.init(sessionID: session.id, steps: steps, ending: ending,
                  recordedClientBytes: session.bytes(.clientToServer).count, recordedServerBytes: serverBytes)
    }
}

extension ReplayPlan {
    /// Whether the server side's `reset` comes after the connect failure `failure` in `events`:
    /// the recording proxy reset the client instead of closing it.
    static func resetFollows(_ failure: SessionEvent, in events: [SessionEvent]) -> Bool {
        guard let index = events.firstIndex(of: failure) else { return false }
        return events[(index + 1)...].contains { $0.kind == .reset(by: .serverToClient) }
    }

    /// The plan of `--match none`: every step waits for nothing the client does, only for its
    /// recorded delay after the server's previous step (the first one after the open), as a
    /// blind script plays.
    public func ignoringClient() -> ReplayPlan {
        var result = self
        var previous: Int64 = 0
        result.steps = steps.map { step in
            var blind = step
            blind.clientBytes = 0
            blind.afterClientClose = false
            blind.delay = max(0, step.offset - previous)
            previous = max(previous, step.offset)
            return blind
        }
        return result
    }
}
