import Testing
@testable import ReplayCore

/// Milliseconds as the machine's nanoseconds.
private func ms(_ value: Int64) -> Int64 { value * 1_000_000 }
private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Builds a recorded session from (milliseconds, event) pairs.
private func session(_ events: [(Int64, SessionEventKind)], id: Int = 1) -> Session {
    let open = SessionOpen(client: "127.0.0.1:5555", server: "127.0.0.1:25", start: WallClock(nanosecondsSinceEpoch: 0))
    var all = [SessionEvent(session: id, offset: 0, kind: .open(open))]
    all += events.map { SessionEvent(session: id, offset: ms($0.0), kind: $0.1) }
    return Session(id: id, open: open, events: all)
}

private func s2c(_ text: String) -> SessionEventKind { .data(.serverToClient, bytes(text)) }
private func c2s(_ text: String) -> SessionEventKind { .data(.clientToServer, bytes(text)) }

/// SMTP-like: greeting at 300 ms, EHLO at 1000 ms, a reply 200 ms later.
private let greetingThenReply = session([
    (300, s2c("220 mx ESMTP\r\n")),
    (1000, c2s("EHLO x\r\n")),
    (1200, s2c("250 mx\r\n")),
])

@Suite("ReplayMachine")
struct ReplayMachineTests {
    @Test func greetingIsSentAfterItsRecordedDelay() {
        var machine = ReplayMachine(session: greetingThenReply)
        #expect(machine.connected(at: ms(1000)) == [.scheduleWakeup(at: ms(1300))])
        // A timer that comes early sends nothing and asks again.
        #expect(machine.timerFired(at: ms(1299)) == [.scheduleWakeup(at: ms(1300))])
        #expect(machine.timerFired(at: ms(1300)) == [.send(bytes("220 mx ESMTP\r\n"))])
        #expect(machine.bytesSent == 14)
    }

    @Test func replyWaitsForClientBytesThenTheRecordedDelayWhenClientIsSlower() {
        var machine = ReplayMachine(session: greetingThenReply)
        _ = machine.connected(at: 0)
        _ = machine.timerFired(at: ms(300))
        // The client sends its 8 bytes in two pieces, long after the recorded client did.
        #expect(machine.clientSent(byteCount: 4, at: ms(5000)) == [])
        #expect(machine.clientSent(byteCount: 4, at: ms(6000)) == [.scheduleWakeup(at: ms(6200))])
        #expect(machine.timerFired(at: ms(6200)) == [.send(bytes("250 mx\r\n")), .hold(until: nil)])
    }

    @Test func replyDelayCountsFromTheClientBytesWhenClientIsFaster() {
        var machine = ReplayMachine(session: greetingThenReply)
        _ = machine.connected(at: 0)
        _ = machine.timerFired(at: ms(300))
        #expect(machine.clientSent(byteCount: 8, at: ms(400)) == [.scheduleWakeup(at: ms(600))])
        #expect(machine.timerFired(at: ms(600)) == [.send(bytes("250 mx\r\n")), .hold(until: nil)])
    }

    @Test func clientDataBeforeTheGreetingDoesNotLetTheReplyOvertakeIt() {
        var machine = ReplayMachine(session: greetingThenReply)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 8, at: ms(100)) == [])
        // The greeting goes first; the reply follows it by the recorded 200 ms.
        #expect(machine.timerFired(at: ms(300)) == [.send(bytes("220 mx ESMTP\r\n")), .scheduleWakeup(at: ms(500))])
        #expect(machine.timerFired(at: ms(500)) == [.send(bytes("250 mx\r\n")), .hold(until: nil)])
    }

    @Test func dribbledReplyKeepsItsChunksAndGaps() {
        let recorded = session([
            (900, c2s("GET\n")),
            (1000, s2c("part 1 ")),
            (1100, s2c("part 2 ")),
            (1350, s2c("part 3\n")),
            (1400, .close(.serverToClient, .fin)),
        ])
        var machine = ReplayMachine(session: recorded)
        #expect(machine.connected(at: 0) == [])
        #expect(machine.clientSent(byteCount: 4, at: ms(2000)) == [.scheduleWakeup(at: ms(2100))])
        #expect(machine.timerFired(at: ms(2100)) == [.send(bytes("part 1 ")), .scheduleWakeup(at: ms(2200))])
        // Late by 30 ms: the next chunk still keeps its place on the recorded grid.
        #expect(machine.timerFired(at: ms(2230)) == [.send(bytes("part 2 ")), .scheduleWakeup(at: ms(2450))])
        #expect(machine.timerFired(at: ms(2450)) == [.send(bytes("part 3\n")), .scheduleWakeup(at: ms(2500))])
        #expect(machine.timerFired(at: ms(2500)) == [.halfClose])
    }

    @Test func speedDividesEveryDelay() {
        var machine = ReplayMachine(session: greetingThenReply, options: ReplayOptions(speed: 2))
        #expect(machine.connected(at: 0) == [.scheduleWakeup(at: ms(150))])
        _ = machine.timerFired(at: ms(150))
        #expect(machine.clientSent(byteCount: 8, at: ms(1000)) == [.scheduleWakeup(at: ms(1100))])
    }

    @Test func noDelaySendsAsSoonAsTheClientAllows() {
        var machine = ReplayMachine(session: greetingThenReply, options: ReplayOptions(noDelay: true))
        #expect(machine.connected(at: 0) == [.send(bytes("220 mx ESMTP\r\n"))])
        #expect(machine.clientSent(byteCount: 7, at: ms(1)) == [])
        #expect(machine.clientSent(byteCount: 1, at: ms(2)) == [.send(bytes("250 mx\r\n")), .hold(until: nil)])
    }

    @Test func serverFINIsSentThenTheConnectionClosesWhenTheClientCloses() {
        let recorded = session([(100, s2c("bye\r\n")), (200, .close(.serverToClient, .fin)), (300, .end)])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.timerFired(at: ms(100)) == [.send(bytes("bye\r\n")), .scheduleWakeup(at: ms(200))])
        #expect(machine.timerFired(at: ms(200)) == [.halfClose])
        #expect(machine.outcome == nil)
        #expect(machine.clientClosed(at: ms(250)) == [.close])
        #expect(machine.outcome == .serverFINClientClosed)
    }

    @Test func serverFINThenHoldBoundsTheWaitForTheClient() {
        let recorded = session([(0, s2c("bye\r\n")), (0, .close(.serverToClient, .fin))])
        var machine = ReplayMachine(session: recorded, options: ReplayOptions(hold: ms(1000)))
        #expect(machine.connected(at: ms(10)) == [.send(bytes("bye\r\n")), .halfClose, .scheduleWakeup(at: ms(1010))])
        #expect(machine.timerFired(at: ms(1010)) == [.close])
        #expect(machine.outcome == .serverFINHoldExpired)
    }

    @Test func serverRSTIsSentAtItsRecordedTime() {
        let recorded = session([(50, s2c("oops")), (80, .reset(by: .serverToClient)), (90, s2c("never"))])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.timerFired(at: ms(50)) == [.send(bytes("oops")), .scheduleWakeup(at: ms(80))])
        #expect(machine.timerFired(at: ms(80)) == [.reset])
        #expect(machine.outcome == .serverReset)
        #expect(machine.isFinished)
        #expect(machine.clientSent(byteCount: 3, at: ms(90)) == [])
        #expect(machine.plan.steps.count == 2)
    }

    @Test func silentServerHoldsUntilHoldExpires() {
        let recorded = session([(0, s2c("hello\n")), (500, c2s("x\n")), (5000, .end)])
        var machine = ReplayMachine(session: recorded, options: ReplayOptions(hold: ms(2000)))
        #expect(machine.connected(at: ms(100)) == [.send(bytes("hello\n")), .hold(until: ms(2100)), .scheduleWakeup(at: ms(2100))])
        // Client bytes do not end the silence; an early timer asks again.
        #expect(machine.clientSent(byteCount: 2, at: ms(600)) == [])
        #expect(machine.timerFired(at: ms(2000)) == [.scheduleWakeup(at: ms(2100))])
        #expect(machine.timerFired(at: ms(2100)) == [.close])
        #expect(machine.outcome == .holdExpired)
    }

    @Test func silentServerWithoutHoldWaitsForTheClientToClose() {
        let recorded = session([(0, s2c("hello\n"))])
        var machine = ReplayMachine(session: recorded)
        #expect(machine.connected(at: 0) == [.send(bytes("hello\n")), .hold(until: nil)])
        #expect(machine.timerFired(at: ms(100_000)) == [])
        #expect(machine.clientClosed(at: ms(100_000)) == [.close])
        #expect(machine.outcome == .clientClosedWhileSilent)
    }

    @Test func connectFailureClosesTheClientAfterTheRecordedElapsedTime() {
        let failure = ConnectFailure(reason: .refused, elapsed: ms(250), message: "Connection refused")
        let recorded = session([(251, .connectFailed(failure)), (251, .end)])
        var machine = ReplayMachine(session: recorded)
        #expect(machine.connected(at: ms(1000)) == [.scheduleWakeup(at: ms(1250))])
        #expect(machine.timerFired(at: ms(1250)) == [.close])
        #expect(machine.outcome == .connectFailure(failure))
        var fast = ReplayMachine(session: recorded, options: ReplayOptions(noDelay: true))
        #expect(fast.connected(at: 0) == [.close])
    }

    @Test func clientFINWhileTheRecordingWaitsForMoreBytesCloses() {
        let recorded = session([(0, s2c("220\r\n")), (100, c2s("QUIT\r\n")), (110, s2c("221\r\n"))])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 2, at: ms(50)) == [])
        #expect(machine.clientClosed(at: ms(60)) == [.close])
        #expect(machine.outcome == .clientClosedWhileWaiting(missing: 4))
    }

    @Test func clientFINKeepsTheRestOfTheServerSideComing() {
        let recorded = session([
            (100, c2s("X")), (200, s2c("A")), (300, s2c("B")), (400, .close(.serverToClient, .fin)),
        ])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 1, at: ms(100)) == [.scheduleWakeup(at: ms(200))])
        #expect(machine.clientClosed(at: ms(110)) == [])
        #expect(machine.timerFired(at: ms(200)) == [.send(bytes("A")), .scheduleWakeup(at: ms(300))])
        #expect(machine.timerFired(at: ms(300)) == [.send(bytes("B")), .scheduleWakeup(at: ms(400))])
        #expect(machine.timerFired(at: ms(400)) == [.halfClose, .close])
        #expect(machine.outcome == .serverFINClientClosed)
    }

    @Test func aRecordedClientFINIsAnEventTheServerWaitsFor() {
        let recorded = session([
            (100, c2s("data")), (500, .close(.clientToServer, .fin)), (600, s2c("got it\n")),
            (650, .close(.serverToClient, .fin)),
        ])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 4, at: ms(100)) == [])
        #expect(machine.clientClosed(at: ms(1000)) == [.scheduleWakeup(at: ms(1100))])
        #expect(machine.timerFired(at: ms(1100)) == [.send(bytes("got it\n")), .scheduleWakeup(at: ms(1150))])
        #expect(machine.timerFired(at: ms(1150)) == [.halfClose, .close])
    }

    @Test func clientResetStopsTheTimers() {
        var machine = ReplayMachine(session: greetingThenReply)
        _ = machine.connected(at: 0)
        #expect(machine.clientReset(at: ms(10)) == [.cancelWakeup, .close])
        #expect(machine.outcome == .clientReset(stepsDone: 0, steps: 2))
        #expect(machine.timerFired(at: ms(300)) == [])
        #expect(machine.clientSent(byteCount: 8, at: ms(400)) == [])
        #expect(machine.bytesSent == 0)
    }

    @Test func connectionLostAfterServerFINIsTheClientClosing() {
        let recorded = session([(0, s2c("bye")), (0, .close(.serverToClient, .fin))])
        var machine = ReplayMachine(session: recorded)
        #expect(machine.connected(at: 0) == [.send(bytes("bye")), .halfClose])
        #expect(machine.connectionLost(at: ms(5)) == [])
        #expect(machine.outcome == .serverFINClientClosed)
    }

    @Test func serverGapsAreSkippedWithOneWarning() {
        let recorded = session([(0, s2c("A")), (10, .gap(.serverToClient, 100)), (20, .gap(.serverToClient, 50)), (30, s2c("B"))])
        var machine = ReplayMachine(session: recorded, options: ReplayOptions(noDelay: true))
        #expect(machine.connected(at: 0) == [.send(bytes("A")), .warnGapSkipped(bytes: 100), .send(bytes("B")), .hold(until: nil)])
        #expect(machine.bytesSkipped == 150)
    }

    @Test func planStopsAtTheClientsRecordedReset() {
        let recorded = session([(0, s2c("A")), (10, .reset(by: .clientToServer)), (20, s2c("B"))])
        let plan = ReplayPlan(session: recorded)
        #expect(plan.steps.map(\.action) == [.send(bytes("A"))])
        #expect(plan.ending == .silent)
    }

    @Test func planRecordsWhatEachStepWaitsFor() {
        let plan = ReplayPlan(session: greetingThenReply)
        #expect(plan.steps.map(\.clientBytes) == [0, 8])
        #expect(plan.steps.map(\.delay) == [ms(300), ms(200)])
        #expect(plan.recordedServerBytes == 22)
        #expect(plan.recordedClientBytes == 8)
    }

    /// An open-ended plan forgets what it has done: a long connection (a million commands)
    /// holds the steps of the exchange at hand, not the whole history, and still counts them.
    @Test func anOpenEndedPlanKeepsOnlyTheStepsNotYetDone() {
        var machine = ReplayMachine(openEndedSession: 1, options: ReplayOptions(noDelay: true))
        _ = machine.connected(at: 0)
        for index in 1...1000 {
            let reply = ReplayPlan.Step(action: .send(bytes("+OK \(index)\r\n")), clientBytes: 0, afterClientClose: false, delay: 0, offset: 0)
            _ = machine.clientProgressed(to: index, at: ms(Int64(index)))
            #expect(machine.append([reply, reply], waitingFor: index, at: ms(Int64(index))) == [.send(bytes("+OK \(index)\r\n")), .send(bytes("+OK \(index)\r\n"))])
        }
        #expect(machine.plan.steps.count <= 2)
        #expect(machine.bytesSent == 2 * (1...1000).reduce(0) { $0 + "+OK \($1)\r\n".utf8.count })
        #expect(machine.clientReset(at: ms(2000)) == [.close])
        #expect(machine.outcome == .clientReset(stepsDone: 2000, steps: 2000))
    }
}
