import Testing
@testable import ReplayCore

/// The proxy's decisions with no sockets and no clock: time is a number passed in.
@Suite("ProxySessionTap")
struct ProxySessionTapTests {
    static let start = WallClock(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)

    func makeTap() -> SessionTap {
        SessionTap(session: 4, client: "127.0.0.1:5000", server: "127.0.0.1:25", start: Self.start, startUptime: 1_000)
    }

    func recorded(_ actions: [SessionTap.Action]) -> [SessionEventKind] {
        actions.compactMap { if case .record(let event) = $0 { event.kind } else { nil } }
    }

    @Test("open, data with offsets from the session start, half-close both ways, end")
    func orderlySession() {
        var tap = makeTap()
        let opened = tap.accepted()
        #expect(opened == [.record(SessionEvent(session: 4, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:5000", server: "127.0.0.1:25", start: Self.start))))])
        #expect(tap.upstreamConnected(now: 2_000) == [.startReadingClient])
        #expect(tap.read([1, 2, 3], from: .server, now: 301_000) == SessionEvent(session: 4, offset: 300_000, kind: .data(.serverToClient, [1, 2, 3])))
        #expect(tap.inputClosed(.client, now: 5_000) == [.record(SessionEvent(session: 4, offset: 4_000, kind: .close(.clientToServer, .fin))), .shutdownOutput(.server)])
        #expect(recorded(tap.inputClosed(.server, now: 6_000)) == [.close(.serverToClient, .fin)])
        #expect(tap.inactive(.client, now: 7_000) == [.drainAndClose(.server)])
        let last = tap.inactive(.server, now: 8_000)
        #expect(recorded(last) == [.end])
        guard case .finished(let summary) = last.last else { Issue.record("no summary"); return }
        #expect(summary.bytesServerToClient == 3)
        #expect(summary.clientEnding == .fin && summary.serverEnding == .fin)
        #expect(tap.isFinished)
    }

    @Test("EOF after the proxy shut that side's output closes the channel in SwiftNIO: still a FIN")
    func eofAfterOurFin() {
        var tap = makeTap()
        _ = tap.accepted()
        _ = tap.upstreamConnected(now: 0)
        _ = tap.inputClosed(.client, now: 10)  // output to the server is shut
        let actions = tap.inactive(.server, now: 20)  // the server's FIN arrives as a close
        #expect(recorded(actions) == [.close(.serverToClient, .fin)])
        #expect(actions.contains(.drainAndClose(.client)))
    }

    @Test("a reset is recorded as rst and carried to the other side as a reset")
    func reset() {
        var tap = makeTap()
        _ = tap.accepted()
        _ = tap.upstreamConnected(now: 0)
        let actions = tap.failed(.server, now: 50)
        #expect(recorded(actions) == [.reset(by: .serverToClient)])
        #expect(actions.contains(.reset(.client)))
        #expect(tap.inactive(.server, now: 60).isEmpty)
        #expect(recorded(tap.inactive(.client, now: 70)) == [.end])
    }

    @Test("a side gone without FIN, error or close of ours counts as a reset")
    func silentReset() {
        var tap = makeTap()
        _ = tap.accepted()
        _ = tap.upstreamConnected(now: 0)
        let actions = tap.inactive(.client, now: 5)
        #expect(recorded(actions) == [.reset(by: .clientToServer)])
        #expect(actions.contains(.reset(.server)))
    }

    @Test("a refused upstream, client silent: the client is drained, then connect-failed, FIN to the client, end")
    func refused() {
        var tap = makeTap()
        _ = tap.accepted()
        let failure = ConnectFailure(reason: .refused, elapsed: 900, message: "Connection refused")
        #expect(tap.upstreamFailed(failure, now: 2_000) == [.drainClient])
        let drained = tap.clientDrained(now: 2_500)
        #expect(drained == [
            .record(SessionEvent(session: 4, offset: 1_000, kind: .connectFailed(failure))),
            .record(SessionEvent(session: 4, offset: 1_500, kind: .close(.serverToClient, .fin))),
            .close(.client),
        ])
        #expect(tap.clientDrained(now: 2_600).isEmpty, "drained once")
        let last = tap.inactive(.client, now: 3_000)
        #expect(recorded(last) == [.end])
        guard case .finished(let summary) = last.last else { Issue.record("no summary"); return }
        #expect(summary.serverEnding == .notConnected)
        #expect(summary.connectFailure == failure)
    }

    @Test("a refused upstream after the client sent bytes: they come before connect-failed, and the client is reset")
    func refusedAfterClientBytes() {
        var tap = makeTap()
        _ = tap.accepted()
        // Read while connecting: recorded at its own time.
        #expect(tap.read(Array("GET".utf8), from: .client, now: 1_200) == SessionEvent(session: 4, offset: 200, kind: .data(.clientToServer, Array("GET".utf8))))
        let failure = ConnectFailure(reason: .refused, elapsed: 900, message: "Connection refused")
        #expect(tap.upstreamFailed(failure, now: 2_000) == [.drainClient])
        // Read while draining: it had arrived before the failure, so it carries the failure's time.
        #expect(tap.read(Array(" /".utf8), from: .client, now: 2_300) == SessionEvent(session: 4, offset: 1_000, kind: .data(.clientToServer, Array(" /".utf8))))
        #expect(tap.clientDrained(now: 2_500) == [
            .record(SessionEvent(session: 4, offset: 1_000, kind: .connectFailed(failure))),
            .record(SessionEvent(session: 4, offset: 1_500, kind: .reset(by: .serverToClient))),
            .reset(.client),
        ])
        let last = tap.inactive(.client, now: 3_000)
        #expect(recorded(last) == [.end])
        guard case .finished(let summary) = last.last else { Issue.record("no summary"); return }
        #expect(summary.bytesClientToServer == 5)
    }

    @Test("a client that resets while it is drained: connect-failed first, then its reset")
    func clientResetWhileDrained() {
        var tap = makeTap()
        _ = tap.accepted()
        let failure = ConnectFailure(reason: .timeout, elapsed: 900, message: "no answer")
        #expect(tap.upstreamFailed(failure, now: 2_000) == [.drainClient])
        #expect(recorded(tap.failed(.client, now: 2_100)) == [.connectFailed(failure), .reset(by: .clientToServer)])
        #expect(tap.clientDrained(now: 2_500).isEmpty)
        #expect(recorded(tap.inactive(.client, now: 3_000)) == [.end])
    }

    @Test("a client that half-closes while the upstream connects gets its FIN carried once connected")
    func halfCloseBeforeConnect() {
        var tap = makeTap()
        _ = tap.accepted()
        #expect(recorded(tap.inputClosed(.client, now: 10)) == [.close(.clientToServer, .fin)])
        #expect(tap.upstreamConnected(now: 20) == [.startReadingClient, .shutdownOutput(.server)])
    }

    @Test("stopping while the upstream connects cancels it without a connect-failed event")
    func stopWhileConnecting() {
        var tap = makeTap()
        _ = tap.accepted()
        #expect(tap.stop(now: 5) == [.close(.client), .close(.server)])
        let cancelled = tap.upstreamFailed(ConnectFailure(reason: .other, elapsed: 5, message: "closed"), now: 6)
        #expect(recorded(cancelled).isEmpty)
        #expect(recorded(tap.inactive(.client, now: 7)) == [.end])
    }
}
