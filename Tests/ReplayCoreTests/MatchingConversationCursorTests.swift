import Testing
@testable import ReplayCore

private typealias S = ScriptedSession

/// Three recorded sessions that differ only in the recipient and its reply.
private func recipients() -> ConversationSet {
    let sessions = [
        ("RCPT TO:<valid@example.net>\r\n", "250 2.1.5 Ok\r\n"),
        ("RCPT TO:<nosuchuser@example.net>\r\n", "550 5.1.1 User unknown\r\n"),
        ("RCPT TO:<someone@elsewhere.org>\r\n", "554 5.7.1 Relay access denied\r\n"),
    ].enumerated().map { index, step in
        S.lines([("EHLO client\r\n", "250 mx\r\n"), ("MAIL FROM:<a@b>\r\n", "250 Ok\r\n"), step, ("QUIT\r\n", "221 Bye\r\n")], id: index + 1)
    }
    return ConversationSet(cassettes: [("three.cassette", sessions)])
}

private func key(_ text: String) -> (FramedMessage, MessageKey) {
    let message = FramedMessage(bytes: utf8(text))
    return (message, LineDialect().key(ofClient: message, masks: .none))
}

private func send(_ cursor: inout ConversationCursor, _ text: String) -> ConversationCursor.Outcome {
    let (message, key) = key(text)
    return cursor.receive(message, key: key, dialect: LineDialect())
}

private func chosen(_ outcome: ConversationCursor.Outcome) -> ConversationCursor.Choice? {
    if case .matched(let choice) = outcome { return choice }
    return nil
}

@Suite("ConversationCursor")
struct MatchingConversationCursorTests {
    @Test func identicalPrefixesShareOneNodeAndTheRecipientPicksTheSession() {
        let set = recipients()
        // open, EHLO, MAIL are shared; RCPT has three edges (three replies); QUIT under each.
        #expect(set.index.edges.count == 3 + 3 + 3)
        var cursor = ConversationCursor(set: set, connection: 1)
        #expect(cursor.open()?.exchange == 0)
        #expect(chosen(send(&cursor, "ehlo other.name\r\n"))?.level == .kind)
        #expect(chosen(send(&cursor, "MAIL FROM:<a@b>\r\n"))?.level == .exact)
        let rcpt = chosen(send(&cursor, "RCPT TO:<nosuchuser@example.net>\r\n"))
        #expect(rcpt?.conversation == 1)
        #expect(rcpt?.exchange == 3)
        #expect(rcpt?.level == .exact)
        #expect(chosen(send(&cursor, "QUIT\r\n"))?.conversation == 1)
        #expect(cursor.isAtEnd)
    }

    @Test func aRecipientNeverRecordedGetsTheLeastServedThenTheEarliest() {
        let set = recipients()
        var first = ConversationCursor(set: set, connection: 1)
        _ = first.open()
        _ = send(&first, "EHLO x\r\n")
        _ = send(&first, "MAIL FROM:<x@y>\r\n")
        #expect(chosen(send(&first, "RCPT TO:<new@example.net>\r\n"))?.conversation == 0)
        // While the first connection follows session 1, a second one gets session 2.
        var second = ConversationCursor(set: set, connection: 2)
        _ = second.open()
        _ = send(&second, "EHLO x\r\n")
        _ = send(&second, "MAIL FROM:<x@y>\r\n")
        #expect(chosen(send(&second, "RCPT TO:<new@example.net>\r\n"))?.conversation == 1)
    }

    @Test func aGreylistingPairReplaysAsItHappened() {
        let command = ("RCPT TO:<a@example.net>\r\n", "")
        let first = S.lines([("EHLO x\r\n", "250 mx\r\n"), (command.0, "450 4.7.1 Greylisted\r\n")], id: 1)
        let retry = S.lines([("EHLO x\r\n", "250 mx\r\n"), (command.0, "250 2.1.5 Ok\r\n")], id: 2)
        let set = ConversationSet(cassettes: [("grey.cassette", [first, retry])])
        var replies: [Int] = []
        for connection in 1...3 {
            var cursor = ConversationCursor(set: set, connection: connection)
            _ = cursor.open()
            _ = send(&cursor, "EHLO x\r\n")
            replies.append(chosen(send(&cursor, command.0))?.conversation ?? -1)
            // Each connection ends before the next starts: its count stays with its session.
        }
        #expect(replies == [0, 1, 0])
        #expect(set.served.snapshot == [2, 1])
    }

    @Test func exactModeTurnsAKindOnlyMatchIntoAnExplainedMismatch() {
        let set = recipients()
        var cursor = ConversationCursor(set: set, mode: .exact, connection: 4)
        _ = cursor.open()
        guard case .mismatch(let mismatch) = send(&cursor, "EHLO other\r\n") else {
            Issue.record("expected a mismatch")
            return
        }
        #expect(mismatch.reason == .notExact)
        #expect(mismatch.step == 1)
        #expect(mismatch.nearest == utf8("EHLO client\r\n"))
        #expect(mismatch.firstDifferingColumn == 6)
        #expect(mismatch.description.contains("connection 4, client message 1"))
        #expect(mismatch.description.contains("\"EHLO other\\r\\n\""))
        #expect(mismatch.description.contains("three.cassette:1"))
        #expect(mismatch.description.contains("column 6"))
        #expect(chosen(send(&cursor, "EHLO client\r\n"))?.level == .exact)
    }

    @Test func aClientThatSkipsStepsContinuesAtTheLaterStepThatFits() {
        let set = recipients()
        var cursor = ConversationCursor(set: set, connection: 1)
        _ = cursor.open()
        _ = send(&cursor, "EHLO x\r\n")
        let quit = chosen(send(&cursor, "QUIT\r\n"))
        #expect(quit?.exchange == 4)
        #expect(quit?.skipped == 2)
        #expect(cursor.isAtEnd)
    }

    @Test func aCommandNeverRecordedAndOneTooManyAreMismatches() {
        let set = recipients()
        var cursor = ConversationCursor(set: set, connection: 1)
        _ = cursor.open()
        guard case .mismatch(let unknown) = send(&cursor, "VRFY root\r\n") else {
            Issue.record("expected a mismatch")
            return
        }
        #expect(unknown.reason == .unknownKind)
        #expect(unknown.nearest == utf8("EHLO client\r\n"))
        _ = send(&cursor, "QUIT\r\n")
        guard case .mismatch(let beyond) = send(&cursor, "QUIT\r\n") else {
            Issue.record("expected a mismatch")
            return
        }
        #expect(beyond.reason == .beyondRecording)
        #expect(beyond.step == 3)
    }

    @Test func followingOneSessionUsesOnlyIt() {
        let set = recipients()
        var cursor = ConversationCursor(set: set, connection: 1, only: 2)
        #expect(cursor.open()?.conversation == 2)
        _ = send(&cursor, "EHLO x\r\n")
        _ = send(&cursor, "MAIL FROM:<x@y>\r\n")
        let rcpt = chosen(send(&cursor, "RCPT TO:<valid@example.net>\r\n"))
        #expect(rcpt?.conversation == 2)
        #expect(rcpt?.level == .kind)
    }

    @Test func thousandsOfIdenticalSessionsAreOnePathAndEqualCandidatesAreSpread() {
        let sessions = (1...5_000).map { S.lines([("EHLO x\r\n", "250 mx\r\n"), ("QUIT\r\n", "221 Bye\r\n")], id: $0) }
        let set = ConversationSet(cassettes: [("many.cassette", sessions)])
        #expect(set.index.edges.count == 3)
        var seen = Set<Int>()
        for connection in 1...40 {
            var cursor = ConversationCursor(set: set, connection: connection)
            _ = cursor.open()
            if let choice = chosen(send(&cursor, "EHLO y\r\n")) { seen.insert(choice.conversation) }
        }
        // Equal candidates are spread over the set, not all sent to session 1.
        #expect(seen.count > 20)
    }
}

@Suite("Mismatch text")
struct MatchingMismatchTextTests {
    @Test func binaryMessagesAreShownByTheirContentKeys() {
        let mismatch = Mismatch(connection: 2, step: 1, reason: .unknownKind, received: [0, 29, 0x12, 0x34, 1, 0],
                                nearest: [0, 27, 0x56, 0x78, 1, 0], nearestSession: SessionRef(file: "dns.cassette", session: 1),
                                receivedContent: "A IN three.example.", nearestContent: "A IN one.example.")
        #expect(mismatch.description == "mismatch: connection 2, client message 1: nothing recorded fits 6 bytes: A IN three.example.; nearest recording (dns.cassette:1) had 6 bytes: A IN one.example., first difference at column 6 of that")
    }

    @Test func textMessagesAreShownEscapedWithTheirFirstDifference() {
        let mismatch = Mismatch(connection: 1, step: 3, reason: .notExact, received: utf8("RCPT TO:<b@x>\r\n"),
                                nearest: utf8("RCPT TO:<a@x>\r\n"), nearestSession: nil, receivedContent: "RCPT <b@x>", nearestContent: "RCPT <a@x>")
        #expect(mismatch.description == "mismatch: connection 1, client message 3: no recorded message equals \"RCPT TO:<b@x>\\r\\n\"; nearest recording had \"RCPT TO:<a@x>\\r\\n\", first difference at column 10")
    }
}

@Suite("ReplaySource")
struct ReplaySourceTests {
    @Test func inOrderServesEachSessionOnceUnlessLooping() {
        let sessions = (1...2).map { S.lines([("EHLO x\r\n", "250 mx\r\n")], id: $0) }
        let set = ConversationSet(cassettes: [("t.cassette", sessions)])
        let source = ReplaySource(set: set, match: .similar, onMismatch: .error, inOrder: true, options: ReplayOptions())
        var followed: [SessionRef?] = []
        for _ in 1...2 {
            guard case .replay(var replayer, _) = source.next(writesMayBlock: false) else { Issue.record("exhausted early"); return }
            _ = replayer.connected(at: 0)
            followed.append(replayer.followed)
        }
        #expect(followed == [SessionRef(file: "t.cassette", session: 1), SessionRef(file: "t.cassette", session: 2)])
        guard case .exhausted(let connection, let count) = source.next(writesMayBlock: false) else {
            Issue.record("a third connection should find no session left")
            return
        }
        #expect(connection == 3)
        #expect(count == 2)
    }

    @Test func byContentAnyNumberOfConnectionsAreServed() {
        let set = ConversationSet(cassettes: [("t.cassette", [S.lines([("EHLO x\r\n", "250 mx\r\n")])])])
        let source = ReplaySource(set: set, match: .similar, onMismatch: .error, inOrder: false, options: ReplayOptions())
        for _ in 1...5 {
            guard case .replay = source.next(writesMayBlock: false) else { Issue.record("a connection was refused"); return }
        }
        #expect(source.unused.isEmpty == false) // no connection has opened yet
    }
}
