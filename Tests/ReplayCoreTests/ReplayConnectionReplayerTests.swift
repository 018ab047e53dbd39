import Testing
@testable import ReplayCore

private typealias S = ScriptedSession
private let ms = ScriptedSession.ms

/// A line-protocol recording: banner at 100 ms, `HELLO` answered 300 ms later in two chunks,
/// `BYE` answered and closed.
private func recording() -> ConversationSet {
    let session = S.make([
        (100, S.s2c("220 ready\r\n")),
        (150, S.c2s("HELLO recorded.name\r\n")),
        (450, S.s2c("250-first\r\n")),
        (460, S.s2c("250 second\r\n")),
        (500, S.c2s("BYE\r\n")),
        (520, S.s2c("221 bye\r\n")),
        (521, .close(.serverToClient, .fin)),
    ], proto: .line)
    return ConversationSet(cassettes: [("t.cassette", [session])])
}

private func replayer(_ set: ConversationSet = recording(), policy: MismatchPolicy = .error, mode: MatchMode = .similar) -> ConnectionReplayer {
    ConnectionReplayer(set: set, mode: mode, policy: policy, options: ReplayOptions(), connection: 1, writesMayBlock: false)
}

private func sent(_ actions: [ReplayAction]) -> [[UInt8]] {
    actions.compactMap { if case .send(let bytes) = $0 { return bytes } else { return nil } }
}

@Suite("ConnectionReplayer")
struct ReplayConnectionReplayerTests {
    @Test func repliesComeTheRecordedThinkTimeAfterThisClientsOwnMessage() {
        var replay = replayer()
        #expect(replay.connected(at: 0) == [.scheduleWakeup(at: ms(100))])
        #expect(sent(replay.timerFired(at: ms(100))) == [utf8("220 ready\r\n")])
        // Another name, in two pieces, long after the recorded client: nothing until the line is whole.
        #expect(replay.clientData(utf8("HELLO "), count: 6, at: ms(2000)) == [])
        #expect(replay.clientData(utf8("x\r\n"), count: 3, at: ms(2500)) == [.scheduleWakeup(at: ms(2800))])
        #expect(sent(replay.timerFired(at: ms(2800))) == [utf8("250-first\r\n")])
        #expect(sent(replay.timerFired(at: ms(2810))) == [utf8("250 second\r\n")])
        #expect(replay.report.steps.map(\.result) == [.matched])
        #expect(replay.report.steps.first?.level == .kind)
    }

    @Test func aPipeliningClientGetsEachReplyInTurn() {
        var replay = replayer()
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(100))
        let actions = replay.clientData(utf8("HELLO a\r\nBYE\r\n"), count: 14, at: ms(200))
        #expect(actions == [.scheduleWakeup(at: ms(500))])
        #expect(sent(replay.timerFired(at: ms(500))) == [utf8("250-first\r\n")])
        #expect(sent(replay.timerFired(at: ms(510))) == [utf8("250 second\r\n")])
        // BYE's reply counts 20 ms from the later of BYE and the previous reply.
        #expect(sent(replay.timerFired(at: ms(530))) == [utf8("221 bye\r\n")])
        #expect(replay.timerFired(at: ms(531)).contains(.halfClose))
    }

    @Test func aMismatchIsLoggedAndClosesWhereTheProtocolHasNoErrorReply() {
        var replay = replayer()
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(100))
        let actions = replay.clientData(utf8("STRANGE thing\r\n"), count: 15, at: ms(200))
        let notes = actions.compactMap { if case .note(let note) = $0 { return note } else { return nil } }
        #expect(notes.count == 1)
        #expect(notes.first?.level == .warning)
        #expect(notes.first?.message.contains("mismatch: connection 1, client message 1") == true)
        #expect(notes.first?.message.contains("HELLO recorded.name") == true)
        #expect(actions.last == .close)
        #expect(replay.isFinished)
        #expect(replay.report.mismatches == 1)
    }

    @Test func continueSendsTheRecordedReplyAnyway() {
        var replay = replayer(policy: .continue)
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(100))
        #expect(replay.clientData(utf8("STRANGE\r\n"), count: 9, at: ms(200)).contains(.scheduleWakeup(at: ms(500))))
        #expect(sent(replay.timerFired(at: ms(500))) == [utf8("250-first\r\n")])
    }

    @Test func holdAnswersNothingMore() {
        var replay = replayer(policy: .hold)
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(100))
        let actions = replay.clientData(utf8("STRANGE\r\n"), count: 9, at: ms(200))
        #expect(actions.contains(.hold(until: nil)))
        #expect(sent(replay.clientData(utf8("HELLO x\r\n"), count: 9, at: ms(300))).isEmpty)
    }

    @Test func resetPolicyResets() {
        var replay = replayer(policy: .reset)
        _ = replay.connected(at: 0)
        #expect(replay.clientData(utf8("STRANGE\r\n"), count: 9, at: ms(200)).last == .reset)
    }

    @Test func aClientThatHalfClosesFirstStillGetsTheWholeReply() {
        var replay = replayer()
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(100))
        _ = replay.clientData(utf8("HELLO x\r\n"), count: 9, at: ms(200))
        // Nothing to answer for the FIN itself; what was asked for still comes, then the close.
        #expect(sent(replay.clientClosed(at: ms(210))).isEmpty)
        #expect(sent(replay.timerFired(at: ms(500))) == [utf8("250-first\r\n")])
        let rest = replay.timerFired(at: ms(510))
        #expect(sent(rest) == [utf8("250 second\r\n")])
        #expect(rest.last == .close)
    }

    @Test func blindReplayIgnoresTheClient() {
        let session = S.make([(100, S.s2c("a\n")), (150, S.c2s("x\n")), (400, S.s2c("b\n"))])
        let plan = ReplayPlan(session: session).ignoringClient()
        var replay = ConnectionReplayer(plan: plan, options: ReplayOptions(), connection: 1, session: nil, writesMayBlock: false)
        #expect(replay.connected(at: 0) == [.scheduleWakeup(at: ms(100))])
        #expect(replay.timerFired(at: ms(100)) == [.send(utf8("a\n")), .scheduleWakeup(at: ms(400))])
        #expect(sent(replay.timerFired(at: ms(400))) == [utf8("b\n")])
    }
}
