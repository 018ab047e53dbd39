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

@Suite("ConnectionReplayer: echoed fields")
struct ReplayConnectionReplayerEchoTests {
    @Test func anIMAPReplyAfterALiteralCarriesTheTagOfTheCommandItContinues() {
        let session = S.make([
            (10, S.s2c("* OK IMAP ready\r\n")),
            (20, S.c2s("A1 LOGIN {5}\r\n")),
            (21, S.s2c("+ Ready\r\n")),
            (30, S.c2s("alice secret\r\n")),
            (31, S.s2c("A1 OK LOGIN completed\r\n")),
            (40, S.c2s("A2 LOGOUT\r\n")),
            (41, S.s2c("* BYE\r\nA2 OK LOGOUT completed\r\n")),
        ], proto: .imap)
        let set = ConversationSet(cassettes: [("imap.cassette", [session])])
        var replay = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(noDelay: true), connection: 1, writesMayBlock: false)
        #expect(sent(replay.connected(at: 0)) == [utf8("* OK IMAP ready\r\n")])
        #expect(sent(replay.clientData(utf8("x9 LOGIN {5}\r\n"), count: 14, at: ms(1))) == [utf8("+ Ready\r\n")])
        #expect(sent(replay.clientData(utf8("alice secret\r\n"), count: 14, at: ms(2))) == [utf8("x9 OK LOGIN completed\r\n")])
        #expect(sent(replay.clientData(utf8("x10 LOGOUT\r\n"), count: 12, at: ms(3))) == [utf8("* BYE\r\nx10 OK LOGOUT completed\r\n")])
    }

    @Test func aDNSReplyCarriesTheLiveQueryID() {
        func query(id: UInt16, name: String) -> [UInt8] {
            var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            for label in name.split(separator: ".") { message += [UInt8(label.utf8.count)] + Array(label.utf8) }
            message += [0, 0, 1, 0, 1]
            return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        }
        var answer = query(id: 0x1111, name: "one.example")
        answer[4] = 0x81
        answer[5] = 0x80
        let session = S.make([(10, .data(.clientToServer, query(id: 0x1111, name: "one.example"))), (12, .data(.serverToClient, answer))],
                             server: "127.0.0.1:53", proto: .dns)
        let set = ConversationSet(cassettes: [("dns.cassette", [session])])
        var replay = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(noDelay: true), connection: 1, writesMayBlock: false)
        _ = replay.connected(at: 0)
        let live = query(id: 0xBEEF, name: "one.example")
        let reply = sent(replay.clientData(live, count: live.count, at: ms(1))).first ?? []
        #expect(Array(reply.prefix(4)) == [answer[0], answer[1], 0xBE, 0xEF])
        #expect(Array(reply.dropFirst(4)) == Array(answer.dropFirst(4)))
    }
}
