/// The decisions of one proxied connection, free of I/O: it turns what happened on the two
/// sockets (reads, half-closes, resets, closes) into cassette events with offsets, and into
/// the actions the channel handlers must carry out on the other side.
///
/// Time comes in as a monotonic reading in nanoseconds, so tests drive it with plain numbers.
public struct SessionTap: Sendable {
    /// What the handlers must do after an event.
    public enum Action: Sendable, Equatable {
        /// Hand this event to the cassette.
        case record(SessionEvent)
        /// The upstream is connected: start reading from the client.
        case startReadingClient
        /// Send what is queued for this side, then shut its write half (FIN).
        case shutdownOutput(ProxySide)
        /// Abort this side's connection (RST): SO_LINGER {1, 0}, then close.
        case reset(ProxySide)
        /// Send what is queued for this side, then close it.
        case drainAndClose(ProxySide)
        /// Close this side now (or cancel the upstream connection attempt).
        case close(ProxySide)
        /// The upstream could not be reached: read what the client has already sent (its
        /// bytes are recorded), then call `clientDrained(now:)`, at the latest after a short
        /// grace period.
        case drainClient
        /// Both sides are gone; the session is over.
        case finished(ConnectionSummary)
    }

    private enum Phase: Sendable {
        case connecting
        case open
        case gone
    }

    private struct SideState: Sendable {
        var phase: Phase
        /// The first way this side ended, as the summary reports it.
        var ending: SideEnding?
        /// The peer sent FIN.
        var inputEnded = false
        /// The peer failed abortively (RST or another error).
        var aborted = false
        /// The proxy shut (or will shut, once connected) this side's write half.
        var outputShut = false
        /// The proxy asked for this side to be closed or reset.
        var closing = false

        /// Open, and not on its way out because of the proxy.
        var isUsable: Bool { phase == .open && !closing }
    }

    public let session: Int
    private let client: String
    private let startUptime: Int64
    private var clientState = SideState(phase: .open)
    private var serverState = SideState(phase: .connecting)
    private var closedDirections: Set<Direction> = []
    private var resetRecorded = false
    private var byteCounts: [Direction: Int] = [.clientToServer: 0, .serverToClient: 0]
    private var connectFailure: ConnectFailure?
    /// The connect failure, and when it happened, while the client's last bytes are read:
    /// its event is written once they are, so they come before it.
    private var drainingFailure: (failure: ConnectFailure, at: Int64)?
    private var stopping = false
    private var ended = false
    private let openEvent: SessionEvent

    /// A session accepted at monotonic time `startUptime` (nanoseconds) and wall-clock `start`.
    public init(session: Int, client: String, server: String, start: WallClock, startUptime: Int64) {
        self.session = session
        self.client = client
        self.startUptime = startUptime
        self.openEvent = SessionEvent(session: session, offset: 0, kind: .open(SessionOpen(client: client, server: server, start: start)))
    }

    /// Whether the session has recorded its `end`.
    public var isFinished: Bool { ended }

    /// The connection was accepted: record its `open`.
    public mutating func accepted() -> [Action] {
        [.record(openEvent)]
    }

    /// The upstream connection is up.
    public mutating func upstreamConnected(now: Int64) -> [Action] {
        self[.server].phase = .open
        if self[.server].closing || stopping || self[.client].phase == .gone {
            self[.server].closing = true
            self[.server].ending = self[.server].ending ?? .closedByProxy
            return [.close(.server)]
        }
        var actions: [Action] = [.startReadingClient]
        // The client half-closed while the connection was being made.
        if self[.server].outputShut { actions.append(.shutdownOutput(.server)) }
        return actions
    }

    /// The upstream connection attempt failed (or was cancelled by the proxy).
    public mutating func upstreamFailed(_ failure: ConnectFailure, now: Int64) -> [Action] {
        guard self[.server].phase == .connecting else { return [] }
        self[.server].phase = .gone
        self[.server].ending = .notConnected
        var actions: [Action] = []
        if !self[.server].closing {
            connectFailure = failure
            if self[.client].isUsable {
                // Bytes the client sent before the failure may still wait unread: read them first.
                drainingFailure = (failure, now)
                return [.drainClient]
            }
            actions.append(.record(event(now, .connectFailed(failure))))
        }
        if self[.client].isUsable {
            self[.client].closing = true
            self[.client].ending = self[.client].ending ?? .closedByProxy
            actions.append(.close(.client))
        }
        return actions + finishIfDone(now: now)
    }

    /// The client's bytes that arrived before a connect failure have been read (or the grace
    /// period is over). A client that sent something is reset: it learns that its request was
    /// not taken, as it did when its unread bytes made the kernel answer the close with RST; one
    /// that sent nothing gets FIN. Either is recorded as the server side's ending.
    public mutating func clientDrained(now: Int64) -> [Action] {
        var actions = endDrain()
        guard !actions.isEmpty, self[.client].isUsable else { return actions }
        self[.client].closing = true
        self[.client].ending = self[.client].ending ?? .closedByProxy
        if byteCounts[.clientToServer, default: 0] > 0 {
            resetRecorded = true
            closedDirections.insert(.serverToClient)
            actions += [.record(event(now, .reset(by: .serverToClient))), .reset(.client)]
        } else {
            closedDirections.insert(.serverToClient)
            actions += [.record(event(now, .close(.serverToClient, .fin))), .close(.client)]
        }
        return actions
    }

    /// Writes the connect failure held while the client was drained.
    private mutating func endDrain() -> [Action] {
        guard let draining = drainingFailure else { return [] }
        drainingFailure = nil
        return [.record(event(draining.at, .connectFailed(draining.failure)))]
    }

    /// Bytes read from `side`; the handler forwards them unchanged.
    public mutating func read(_ bytes: [UInt8], from side: ProxySide, now: Int64) -> SessionEvent {
        byteCounts[side.sendingDirection, default: 0] += bytes.count
        return event(clientTime(now), .data(side.sendingDirection, bytes))
    }

    /// While the client is drained after a connect failure, what is read had arrived before
    /// the failure: it is recorded at the failure's time, which its event follows.
    private func clientTime(_ now: Int64) -> Int64 {
        guard let draining = drainingFailure else { return now }
        return min(now, draining.at)
    }

    /// `side` sent FIN: record it and carry it to the other side once what is queued there is sent.
    public mutating func inputClosed(_ side: ProxySide, now: Int64) -> [Action] {
        guard self[side].phase == .open else { return [] }
        var actions: [Action] = []
        self[side].inputEnded = true
        self[side].ending = self[side].ending ?? .fin
        if closedDirections.insert(side.sendingDirection).inserted {
            actions.append(.record(event(clientTime(now), .close(side.sendingDirection, .fin))))
        }
        let partner = side.partner
        if !self[partner].outputShut, !self[partner].closing {
            switch self[partner].phase {
            case .open:
                self[partner].outputShut = true
                actions.append(.shutdownOutput(partner))
            case .connecting:
                // Carried once connected (see `upstreamConnected`).
                self[partner].outputShut = true
            case .gone:
                break
            }
        }
        return actions
    }

    /// A marker event at `now` (an injected fault that does not end the connection).
    public func marker(_ kind: SessionEventKind, now: Int64) -> SessionEvent {
        event(clientTime(now), kind)
    }

    /// A `refuse` fault: the client is reset at accept and the upstream never contacted. The
    /// cassette holds the fault, then the reset the client saw.
    public mutating func refused(_ fault: InjectedFault, now: Int64) -> [Action] {
        guard self[.client].phase == .open, !self[.client].closing else { return [] }
        resetRecorded = true
        closedDirections.insert(.serverToClient)
        self[.server].phase = .gone
        self[.server].ending = .closedByProxy
        self[.client].closing = true
        self[.client].ending = .closedByProxy
        return [.record(event(now, .fault(fault))), .record(event(now, .reset(by: .serverToClient))), .reset(.client)]
    }

    /// A `--fault` rule fired (see `LiveFaultPlan`): the fault is recorded as replayd's own
    /// event, then both legs are reset, or the client gets FIN and the upstream is closed. What
    /// the client then saw (the RST or FIN) follows the fault event, so a replay reproduces it.
    public mutating func injected(_ fault: InjectedFault, reset: Bool, now: Int64) -> [Action] {
        guard self[.client].phase == .open, !self[.client].closing else { return [] }
        var actions: [Action] = [.record(event(now, .fault(fault)))]
        if reset {
            if !resetRecorded {
                resetRecorded = true
                closedDirections.insert(.serverToClient)
                actions.append(.record(event(now, .reset(by: .serverToClient))))
            }
            for side in [ProxySide.client, .server] where self[side].phase == .open && !self[side].closing {
                self[side].closing = true
                self[side].ending = self[side].ending ?? .closedByProxy
                actions.append(.reset(side))
            }
        } else {
            if closedDirections.insert(.serverToClient).inserted {
                actions.append(.record(event(now, .close(.serverToClient, .fin))))
            }
            if !self[.client].outputShut {
                self[.client].outputShut = true
                actions.append(.shutdownOutput(.client))
            }
            if self[.server].phase == .open, !self[.server].closing {
                self[.server].closing = true
                self[.server].ending = self[.server].ending ?? .closedByProxy
                actions.append(.close(.server))
            }
        }
        return actions
    }

    /// `side` failed: a read error such as ECONNRESET. Recorded as a reset by this side and carried to the other side as RST.
    public mutating func failed(_ side: ProxySide, now: Int64) -> [Action] {
        guard self[side].phase == .open, !self[side].closing, !self[side].aborted else { return [] }
        return endDrain() + abort(side, now: now)
    }

    /// `side`'s channel is closed.
    public mutating func inactive(_ side: ProxySide, now: Int64) -> [Action] {
        guard self[side].phase == .open else { return [] }
        let state = self[side]
        var actions: [Action] = endDrain()
        if !state.closing, !state.aborted {
            if !state.inputEnded, state.outputShut {
                // SwiftNIO closes a channel whose output is shut when EOF arrives, instead of
                // reporting `inputClosed`: this is the peer's FIN.
                actions += inputClosed(side, now: now)
            } else if !(state.inputEnded && state.outputShut) {
                // Gone without FIN, error or a close of ours: the kernel saw a reset.
                actions += abort(side, now: now)
            }
        }
        self[side].phase = .gone
        self[side].ending = self[side].ending ?? .closedByProxy
        let partner = side.partner
        if self[partner].isUsable {
            self[partner].closing = true
            self[partner].ending = self[partner].ending ?? .closedByProxy
            actions.append(.drainAndClose(partner))
        } else if self[partner].phase == .connecting, !self[partner].closing {
            self[partner].closing = true
            actions.append(.close(partner))
        }
        return actions + finishIfDone(now: now)
    }

    /// The proxy is stopping: close both sides (and cancel a pending upstream connection).
    public mutating func stop(now: Int64) -> [Action] {
        stopping = true
        var actions: [Action] = endDrain()
        for side in [ProxySide.client, .server] {
            // Sides already closing are closed again: one waiting to drain to a peer that
            // does not read would otherwise hold the stop up.
            guard self[side].phase != .gone else { continue }
            self[side].closing = true
            self[side].ending = self[side].ending ?? .closedByProxy
            actions.append(.close(side))
        }
        return actions
    }

    private mutating func abort(_ side: ProxySide, now: Int64) -> [Action] {
        var actions: [Action] = []
        self[side].aborted = true
        self[side].ending = .rst
        // A reset ends the connection both ways; it is recorded once, for the side that sent it
        // (a side that had already sent FIN reset nothing it had not already closed).
        if closedDirections.insert(side.sendingDirection).inserted, !resetRecorded {
            resetRecorded = true
            actions.append(.record(event(now, .reset(by: side.sendingDirection))))
        }
        let partner = side.partner
        switch self[partner].phase {
        case .open where !self[partner].closing:
            self[partner].closing = true
            self[partner].ending = self[partner].ending ?? .closedByProxy
            actions.append(.reset(partner))
        case .connecting where !self[partner].closing:
            self[partner].closing = true
            actions.append(.close(partner))
        default:
            break
        }
        return actions
    }

    private mutating func finishIfDone(now: Int64) -> [Action] {
        guard !ended, self[.client].phase == .gone, self[.server].phase == .gone else { return [] }
        ended = true
        let summary = ConnectionSummary(
            session: session, client: client,
            bytesClientToServer: byteCounts[.clientToServer, default: 0],
            bytesServerToClient: byteCounts[.serverToClient, default: 0],
            clientEnding: self[.client].ending ?? .closedByProxy,
            serverEnding: self[.server].ending ?? .closedByProxy,
            connectFailure: connectFailure
        )
        return [.record(event(now, .end)), .finished(summary)]
    }

    private subscript(side: ProxySide) -> SideState {
        get { side == .client ? clientState : serverState }
        set {
            if side == .client { clientState = newValue } else { serverState = newValue }
        }
    }

    private func event(_ now: Int64, _ kind: SessionEventKind) -> SessionEvent {
        SessionEvent(session: session, offset: max(0, now - startUptime), kind: kind)
    }
}
