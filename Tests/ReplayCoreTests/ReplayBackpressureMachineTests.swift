import Testing
@testable import ReplayCore

private func ms(_ value: Int64) -> Int64 { value * 1_000_000 }
private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func s2c(_ text: String) -> SessionEventKind { .data(.serverToClient, bytes(text)) }
private func c2s(_ text: String) -> SessionEventKind { .data(.clientToServer, bytes(text)) }

/// Builds a recorded session from (milliseconds, event) pairs.
private func session(_ events: [(Int64, SessionEventKind)]) -> Session {
    let open = SessionOpen(client: "127.0.0.1:5555", server: "127.0.0.1:80", start: WallClock(nanosecondsSinceEpoch: 0))
    let all = [SessionEvent(session: 1, offset: 0, kind: .open(open))]
        + events.map { SessionEvent(session: 1, offset: ms($0.0), kind: $0.1) }
    return Session(id: 1, open: open, events: all)
}

/// A download: the request, then chunks A, B, C 10 ms apart, then the server's FIN.
private let download = session([
    (0, c2s("GET\n")),
    (10, s2c("A")),
    (20, s2c("B")),
    (30, s2c("C")),
    (40, .close(.serverToClient, .fin)),
])

@Suite("ReplayMachine backpressure")
struct ReplayBackpressureMachineTests {
    @Test func blockedOutputHoldsSendsAndTheDelayCountsFromTheResume() {
        var machine = ReplayMachine(session: download)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 4, at: 0) == [.scheduleWakeup(at: ms(10))])
        #expect(machine.timerFired(at: ms(10)) == [.send(bytes("A")), .scheduleWakeup(at: ms(20))])
        #expect(machine.outputBlocked(at: ms(11)) == [])
        // B comes due while the client is not reading: nothing goes out, no wakeup is asked.
        #expect(machine.timerFired(at: ms(20)) == [])
        #expect(machine.timerFired(at: ms(400)) == [])
        #expect(machine.bytesSent == 1)
        // Writable at 500 ms: B at once, then C the recorded 10 ms after B went out (not at once
        // because its due time of 30 ms is long past): the pacing survives the stall.
        #expect(machine.outputWritable(at: ms(500)) == [.send(bytes("B")), .scheduleWakeup(at: ms(510))])
        #expect(machine.timerFired(at: ms(510)) == [.send(bytes("C")), .scheduleWakeup(at: ms(520))])
        #expect(machine.timerFired(at: ms(520)) == [.halfClose])
        #expect(machine.bytesSent == 3)
    }

    @Test func aBlockThatEndsBeforeTheNextStepIsDueChangesNothing() {
        var machine = ReplayMachine(session: download)
        _ = machine.connected(at: 0)
        _ = machine.clientSent(byteCount: 4, at: 0)
        #expect(machine.timerFired(at: ms(10)) == [.send(bytes("A")), .scheduleWakeup(at: ms(20))])
        #expect(machine.outputBlocked(at: ms(12)) == [])
        // The wakeup for B is still pending: nothing to do, nothing asked twice.
        #expect(machine.outputWritable(at: ms(15)) == [])
        #expect(machine.timerFired(at: ms(20)) == [.send(bytes("B")), .scheduleWakeup(at: ms(30))])
    }

    @Test func repeatedReportsAreHarmless() {
        var machine = ReplayMachine(session: download)
        _ = machine.connected(at: 0)
        _ = machine.clientSent(byteCount: 4, at: 0)
        #expect(machine.outputWritable(at: ms(1)) == [])
        #expect(machine.outputBlocked(at: ms(5)) == [])
        #expect(machine.outputBlocked(at: ms(6)) == [])
        #expect(machine.timerFired(at: ms(10)) == [])
        #expect(machine.outputWritable(at: ms(50)) == [.send(bytes("A")), .scheduleWakeup(at: ms(60))])
        #expect(machine.outputWritable(at: ms(51)) == [])
    }

    @Test func finWaitsBehindBlockedData() {
        var machine = ReplayMachine(session: download)
        _ = machine.connected(at: 0)
        _ = machine.clientSent(byteCount: 4, at: 0)
        _ = machine.timerFired(at: ms(10))
        _ = machine.timerFired(at: ms(20))
        #expect(machine.timerFired(at: ms(30)) == [.send(bytes("C")), .scheduleWakeup(at: ms(40))])
        #expect(machine.outputBlocked(at: ms(30)) == [])
        #expect(machine.timerFired(at: ms(40)) == [])
        // The FIN was held by the stall: it goes once C is out of the buffer.
        #expect(machine.outputWritable(at: ms(900)) == [.halfClose])
        #expect(machine.outcome == nil)
    }

    @Test func rstWaitsBehindBlockedData() {
        let recorded = session([(0, s2c("partial")), (5, .reset(by: .serverToClient))])
        var machine = ReplayMachine(session: recorded)
        #expect(machine.connected(at: 0) == [.send(bytes("partial")), .scheduleWakeup(at: ms(5))])
        #expect(machine.outputBlocked(at: ms(1)) == [])
        #expect(machine.timerFired(at: ms(5)) == [])
        #expect(machine.outcome == nil)
        #expect(machine.outputWritable(at: ms(300)) == [.reset])
        #expect(machine.outcome == .serverReset)
    }

    @Test func holdingStartsOnceTheLastChunkIsOut() {
        let recorded = session([(0, s2c("all of it"))])
        var machine = ReplayMachine(session: recorded, options: ReplayOptions(hold: ms(100)), writesMayBlock: true)
        #expect(machine.connected(at: 0) == [.send(bytes("all of it")), .scheduleWakeup(at: 0)])
        // The output filled before the machine could move on (as a socket reports it).
        #expect(machine.outputBlocked(at: 0) == [])
        #expect(machine.timerFired(at: 0) == [])
        // The hold counts from when the client took the data, not from when it was queued.
        #expect(machine.outputWritable(at: ms(700)) == [.hold(until: ms(800)), .scheduleWakeup(at: ms(800))])
    }

    @Test func clientResetAndStopStillCloseABlockedConnection() {
        var machine = ReplayMachine(session: download)
        _ = machine.connected(at: 0)
        _ = machine.clientSent(byteCount: 4, at: 0)
        _ = machine.outputBlocked(at: ms(1))
        #expect(machine.clientReset(at: ms(2)) == [.cancelWakeup, .close])
        var stopped = ReplayMachine(session: download)
        _ = stopped.connected(at: 0)
        _ = stopped.outputBlocked(at: ms(1))
        #expect(stopped.stop(at: ms(2)) == [.close])
        #expect(stopped.outcome == .stopped)
    }

    @Test func noDelayWithWritesThatMayBlockHandsOutOneChunkPerCall() {
        var machine = ReplayMachine(session: download, options: ReplayOptions(noDelay: true), writesMayBlock: true)
        #expect(machine.connected(at: 0) == [])
        // Everything is due at once, yet one chunk goes, and a wakeup asks to go on right away
        // so the I/O layer can first say whether that chunk filled its buffer.
        #expect(machine.clientSent(byteCount: 4, at: ms(1)) == [.send(bytes("A")), .scheduleWakeup(at: ms(1))])
        #expect(machine.outputBlocked(at: ms(1)) == [])
        #expect(machine.timerFired(at: ms(1)) == [])
        #expect(machine.bytesSent == 1)
        #expect(machine.outputWritable(at: ms(8)) == [.send(bytes("B")), .scheduleWakeup(at: ms(8))])
        #expect(machine.timerFired(at: ms(8)) == [.send(bytes("C")), .scheduleWakeup(at: ms(8))])
        #expect(machine.timerFired(at: ms(9)) == [.halfClose])
    }

    @Test func oneChunkPerCallKeepsTheRecordedGridWhenNothingBlocks() {
        // B and C were recorded in one burst; D 10 ms after them.
        let recorded = session([(10, s2c("A")), (20, s2c("B")), (20, s2c("C")), (30, s2c("D"))])
        var machine = ReplayMachine(session: recorded, writesMayBlock: true)
        #expect(machine.connected(at: 0) == [.scheduleWakeup(at: ms(10))])
        #expect(machine.timerFired(at: ms(10)) == [.send(bytes("A")), .scheduleWakeup(at: ms(20))])
        // A late timer: B, and C right after it.
        #expect(machine.timerFired(at: ms(23)) == [.send(bytes("B")), .scheduleWakeup(at: ms(23))])
        // C's hop through the loop is no stall: D keeps its place at 30 ms.
        #expect(machine.timerFired(at: ms(23)) == [.send(bytes("C")), .scheduleWakeup(at: ms(30))])
        #expect(machine.timerFired(at: ms(30)) == [.send(bytes("D")), .scheduleWakeup(at: ms(30))])
        #expect(machine.timerFired(at: ms(30)) == [.hold(until: nil)])
    }

    @Test func clientBytesThatCameDuringTheStallStillOnlyGateTheirStep() {
        // The reply to the second request waits for it, then its recorded 5 ms.
        let recorded = session([
            (0, c2s("1\n")), (1, s2c("one")), (2, s2c("more")), (50, c2s("2\n")), (55, s2c("two")),
        ])
        var machine = ReplayMachine(session: recorded)
        _ = machine.connected(at: 0)
        #expect(machine.clientSent(byteCount: 2, at: 0) == [.scheduleWakeup(at: ms(1))])
        #expect(machine.timerFired(at: ms(1)) == [.send(bytes("one")), .scheduleWakeup(at: ms(2))])
        _ = machine.outputBlocked(at: ms(1))
        #expect(machine.clientSent(byteCount: 2, at: ms(10)) == [])
        // "more" goes at the resume; "two" 5 ms after the later of that and the request.
        #expect(machine.outputWritable(at: ms(300)) == [.send(bytes("more")), .scheduleWakeup(at: ms(305))])
        #expect(machine.timerFired(at: ms(305)) == [.send(bytes("two")), .hold(until: nil)])
    }
}
