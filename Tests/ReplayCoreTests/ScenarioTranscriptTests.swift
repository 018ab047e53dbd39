import Foundation
import Testing
@testable import ReplayCore

private func read(_ text: String, path: String = "t.txt") throws -> Cassette {
    try TranscriptReader(path: path).read(text).cassette
}

private func readError(_ text: String) -> TranscriptError? {
    do {
        _ = try TranscriptReader(path: "t.txt").read(text)
        return nil
    } catch {
        return error
    }
}

private func data(_ session: Session) -> [(Direction, String)] {
    session.events.compactMap { event in
        if case .data(let direction, let bytes) = event.kind { return (direction, String(decoding: bytes, as: UTF8.self)) }
        return nil
    }
}

/// Offsets rounded to the microsecond: what a transcript keeps.
private func rounded(_ session: Session) -> Session {
    var copy = session
    copy.events = session.events.map { event in
        var event = event
        event.offset = TranscriptWriter.micros(event.offset) * 1000
        return event
    }
    return copy
}

@Suite("Transcript grammar")
struct ScenarioTranscriptTests {
    static let issueExample = """
        S: 220 Welcome to the fake SMTP server
        C: EHLO *
        S: 250 OK
        C: MAIL FROM:*
        S: 250 OK
        C: RCPT TO:*
        S: +1s 450 Temporary failure
        C: QUIT*
        S: 221 Bye
        S: <FIN>
        """

    @Test func theIssuesExampleGivesCRLFLinesPatternsAndTheDelay() throws {
        let cassette = try read(Self.issueExample)
        try #require(cassette.sessions.count == 1)
        let session = cassette.sessions[0]
        #expect(session.open.proto == .smtp)
        #expect(cassette.header.requires == ["match"])
        let chunks = data(session)
        #expect(chunks.map(\.1) == ["220 Welcome to the fake SMTP server\r\n", "EHLO \r\n", "250 OK\r\n", "MAIL FROM:\r\n", "250 OK\r\n",
                                    "RCPT TO:\r\n", "450 Temporary failure\r\n", "QUIT\r\n", "221 Bye\r\n"])
        let marks = session.events.compactMap { event -> PatternMark? in
            if case .pattern(let mark) = event.kind { return mark }
            return nil
        }
        #expect(marks.map(\.source) == ["EHLO *", "MAIL FROM:*", "RCPT TO:*", "QUIT*"])
        #expect(marks.map(\.offset) == [0, 7, 19, 29])
        let reply = session.events.first { if case .data(_, let bytes) = $0.kind { return bytes.starts(with: utf8("450")) } else { return false } }
        #expect(reply?.offset == 1_000_000_000)
        #expect(session.events.last?.kind == .close(.serverToClient, .fin))
    }

    @Test func delaysTakeUnitsAndPlusOKIsText() throws {
        let session = try read("--- session proto=pop3\nS: +OK ready\nC: +150ms USER a\nS: +0.2s +OK\nC: +20us \\+5\nS: +OK\\c").sessions[0]
        let offsets = session.events.dropFirst().map(\.offset)
        #expect(offsets == [0, 150_000_000, 350_000_000, 350_020_000, 350_020_000])
        #expect(data(session).map(\.1) == ["+OK ready\r\n", "USER a\r\n", "+OK\r\n", "+5\r\n", "+OK"])
    }

    @Test func escapesHexAndContinuationLinesMakeChunksExactly() throws {
        let text = """
            --- session 7 client=10.0.0.1:4000 server=10.0.0.2:6379 proto=redis label="two writes"
            C: \\*2
            C| $3
            C| GET\\r\\n$1\\r\\nk
            S: <hex 2431 0d0a 78>
            S| \\c
            S: \\x0d\\n\\c
            S: <RST>
            """
        let cassette = try read(text)
        let session = cassette.sessions[0]
        #expect(session.id == 7)
        #expect(session.open.label == "two writes")
        #expect(session.open.server == "10.0.0.2:6379")
        #expect(data(session).map(\.1) == ["*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$1\r\nx", "\r\n"])
        #expect(session.events.last?.kind == .reset(by: .serverToClient))
        #expect(!cassette.header.requires.contains("match"))
    }

    @Test func slashesAreTextUnlessARegularExpressionEndsTheLine() throws {
        let get = try TranscriptText.parse("GET /index.html HTTP/1.1")
        #expect(!get.isPattern)
        #expect(get.literal == utf8("GET /index.html HTTP/1.1"))
        let regex = try TranscriptText.parse("RCPT TO:/<.*@example\\.org>/")
        #expect(regex.segments == [.literal(utf8("RCPT TO:")), .regex("<.*@example\\.org>")])
        #expect(try TranscriptText.parse("CWD \\/pub/").isPattern == false)
        #expect(try TranscriptText.parse("a \\* b").literal == utf8("a * b"))
    }

    @Test func patternsCompareVerbsInAnyCaseAndStarsAcrossLines() throws {
        let rcpt = try MessagePattern(source: "RCPT TO:*")
        #expect(rcpt.matches(utf8("rcpt to:<a@b> SIZE=5\r\n")))
        #expect(rcpt.matches(utf8("RCPT TO:<a@b>")))
        #expect(!rcpt.matches(utf8("MAIL FROM:<a@b>\r\n")))
        let quit = try MessagePattern(source: "QUIT*")
        #expect(quit.matches(utf8("quit\r\n")))
        let domain = try MessagePattern(source: "RCPT TO:/<[^@]+@example\\.net>/")
        #expect(domain.matches(utf8("rcpt TO:<bob@example.net>\r\n")))
        #expect(!domain.matches(utf8("RCPT TO:<bob@example.org>\r\n")))
        // Only the verb ignores case: the argument is compared as written.
        let exact = try MessagePattern(source: "MAIL FROM:<Ops@*")
        #expect(!exact.matches(utf8("mail from:<ops@x>\r\n")))
        let multiline = try MessagePattern(source: "250*")
        #expect(multiline.matches(utf8("250-mx\r\n250-SIZE 100\r\n250 8BITMIME\r\n")))
        #expect(throws: MessagePatternError.self) { try MessagePattern(source: "GET /(/") }
    }

    @Test("errors name the line and column and say what was expected", arguments: [
        ("S: 220 ok\nX: what\n", 2, 1, "expected S: or C:"),
        ("S: +1 220 ok\n", 1, 6, "a delay needs a unit"),
        ("S: 220 \\q\n", 1, 8, "unknown escape \\q"),
        ("S: <hex 0g>\n", 1, 10, "expected hex digits"),
        ("C: EHLO *\nC| more\n", 2, 1, "continues a chunk"),
        ("S: <html>\n", 1, 4, "unknown directive <html>"),
        ("--- session 1\nS: a\n--- session 1\n", 3, 13, "session 1 is already defined on line 1"),
        ("S: a\\c b\n", 1, 5, "\\c (no line ending) must end the line"),
    ])
    func errors(text: String, line: Int, column: Int, detail: String) {
        let error = readError(text)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.column == column, "\(String(describing: error))")
        #expect(error?.detail.contains(detail) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("t.txt:\(line):\(column): ") == true)
    }

    @Test func theWriterEscapesWhatTheReaderWouldTakeForSomethingElse() throws {
        let open = SessionOpen(client: "127.0.0.1:1", server: "127.0.0.1:6379", start: nil, proto: .redis)
        let chunks = ["*2\r\n$3\r\nGET\r\n", "+5 apples \r\n", "<b>bold</b>\r\n", "path/\r\n", "half", "tab\there\r\n", "\\c\r\n"]
        var events = [SessionEvent(session: 1, offset: 0, kind: .open(open))]
        for (index, chunk) in chunks.enumerated() {
            events.append(SessionEvent(session: 1, offset: Int64(index) * 1_234_567, kind: .data(index % 2 == 0 ? .clientToServer : .serverToClient, utf8(chunk))))
        }
        let session = Session(id: 1, open: open, events: events)
        let text = TranscriptWriter().lines(for: session).joined(separator: "\n")
        #expect(text.contains("C: \\*2\nC| $3\nC| GET"))
        #expect(text.contains("\\+5 apples\\x20"))
        #expect(text.contains("\\<b>bold</b>"))
        #expect(text.contains("path\\/"))
        #expect(text.contains("half\\c"))
        let back = try read(text).sessions[0]
        #expect(back == rounded(session))
    }

    @Test func aSessionOfLFLinesPrintsEolLF() throws {
        let session = ScriptedSession.make([(1, ScriptedSession.s2c("hello\n")), (2, ScriptedSession.c2s("hi\n")), (3, ScriptedSession.s2c("bye\r\n"))], proto: .line)
        let lines = TranscriptWriter().lines(for: session)
        #expect(lines[0].contains("eol=lf"))
        #expect(lines[1] == "S: +0.001s hello")
        // The CR is written out; the reader adds the session's LF after it.
        #expect(lines[3] == "S: +0.001s bye\\r")
        #expect(try read(lines.joined(separator: "\n")).sessions[0] == rounded(session))
    }

    @Test func delaysAreDifferencesOfRoundedTimesSoRoundingNeverAddsUp() throws {
        // 1000 events 1.4 µs apart: each delay alone rounds to 1 µs, the sum must stay 1400 µs.
        var events: [(Int64, SessionEventKind)] = []
        let open = SessionOpen(client: "a:1", server: "b:2", start: nil, proto: .line)
        var all = [SessionEvent(session: 1, offset: 0, kind: .open(open))]
        for index in 1...1000 { all.append(SessionEvent(session: 1, offset: Int64(index) * 1400, kind: .data(.serverToClient, utf8("x\r\n")))) }
        _ = events
        events = []
        let session = Session(id: 1, open: open, events: all)
        let back = try read(TranscriptWriter().lines(for: session).joined(separator: "\n")).sessions[0]
        #expect(back.events.last?.offset == 1_400_000)
        #expect(back == rounded(session))
    }

    @Test func everyFixtureCassetteRoundTrips() throws {
        let folder = TestPaths.fixture("")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".cassette") }
        #expect(!names.isEmpty)
        for name in names {
            let cassette = try Cassette.load(path: folder + name)
            let text = TranscriptWriter().text(for: cassette)
            let back = try read(text)
            // A version 1 cassette has no protocol on its sessions: the transcript names the detected one.
            let expected = cassette.sessions.map { session in
                var session = rounded(session)
                let proto = session.open.proto ?? RecordedConversation.detect(session)
                session.open.proto = proto
                if case .open(var open) = session.events[0].kind {
                    open.proto = proto
                    session.events[0].kind = .open(open)
                }
                return session
            }
            #expect(back.sessions == expected, "\(name)")
            #expect(back.header.masks == cassette.header.masks)
        }
    }

    @Test func scenarioFilesAreDetectedByContent() throws {
        let directory = try TestPaths.temporaryDirectory("sniff")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let transcript = directory + "/x.cassette"
        try Self.issueExample.write(toFile: transcript, atomically: true, encoding: .utf8)
        #expect(ScenarioFile.sniff(path: transcript) == .transcript)
        #expect(ScenarioFile.sniff(path: TestPaths.fixture("smtp-rcpt-450.cassette")) == .cassette)
        let loaded = try ScenarioFile.load(path: transcript)
        #expect(loaded.cassette.sessions.count == 1)
        #expect(loaded.serverPatterns.isEmpty)
        let verifyOnly = directory + "/policy.txt"
        try "S: 220*\nC: EHLO me\nS: 250*\n".write(toFile: verifyOnly, atomically: true, encoding: .utf8)
        let policy = try ScenarioFile.load(path: verifyOnly)
        #expect(policy.serverPatterns.map(\.line) == [1, 3])
    }
}

@Suite("Transcript patterns in the conversation tree")
struct ScenarioPatternMatchingTests {
    static let policy = """
        --- session postmaster
        S: 220 mx.example.net ESMTP
        C: EHLO *
        S: 250 mx.example.net
        C: RCPT TO:<postmaster@example.net>*
        S: 250 2.1.5 Ok
        --- session unknown user
        S: 220 mx.example.net ESMTP
        C: EHLO *
        S: 250 mx.example.net
        C: RCPT TO:<*@example.net>*
        S: 550 5.1.1 User unknown
        --- session relay
        S: 220 mx.example.net ESMTP
        C: EHLO *
        S: 250 mx.example.net
        C: RCPT TO:*
        S: 554 5.7.1 Relay access denied
        """

    func reply(to commands: [String], in set: ConversationSet) -> [UInt8]? {
        var cursor = ConversationCursor(set: set, connection: 1)
        _ = cursor.open()
        var last: ConversationCursor.Outcome?
        for command in commands {
            let message = FramedMessage(bytes: utf8(command))
            last = cursor.receive(message, key: SMTPDialect().key(ofClient: message, masks: .none), dialect: SMTPDialect())
        }
        guard case .matched(let choice)? = last else { return nil }
        return set.conversations[choice.conversation].exchanges[choice.exchange].replyBytes
    }

    @Test func theMostLiteralPatternWinsAndAPatternNeverMatchesByKindAlone() throws {
        let cassette = try read(Self.policy)
        let set = ConversationSet(cassettes: [("policy.txt", cassette.sessions)])
        #expect(reply(to: ["ehlo a\r\n", "rcpt TO:<postmaster@example.net>\r\n"], in: set) == utf8("250 2.1.5 Ok\r\n"))
        #expect(reply(to: ["EHLO b\r\n", "RCPT TO:<bob@example.net>\r\n"], in: set) == utf8("550 5.1.1 User unknown\r\n"))
        #expect(reply(to: ["EHLO c\r\n", "RCPT TO:<eve@elsewhere.org>\r\n"], in: set) == utf8("554 5.7.1 Relay access denied\r\n"))

        // Without the catch-all, a foreign recipient fits no pattern: a mismatch, not the 550.
        let narrow = try read(Self.policy.components(separatedBy: "--- session relay")[0])
        let narrowSet = ConversationSet(cassettes: [("policy.txt", narrow.sessions)])
        var cursor = ConversationCursor(set: narrowSet, connection: 1)
        _ = cursor.open()
        let ehlo = FramedMessage(bytes: utf8("EHLO c\r\n"))
        _ = cursor.receive(ehlo, key: SMTPDialect().key(ofClient: ehlo, masks: .none), dialect: SMTPDialect())
        let rcpt = FramedMessage(bytes: utf8("RCPT TO:<eve@elsewhere.org>\r\n"))
        let outcome = cursor.receive(rcpt, key: SMTPDialect().key(ofClient: rcpt, masks: .none), dialect: SMTPDialect())
        if case .mismatch = outcome {} else { Issue.record("expected a mismatch, got \(outcome)") }
    }

    @Test func aDNSScenarioThatAcceptsAndNeverAnswersMatchesAnyQuery() throws {
        let cassette = try read("--- session blackhole proto=dns\nC: *\nS: <STALL>\n")
        let conversation = RecordedConversation(session: cassette.sessions[0], file: "dns.txt")
        #expect(conversation.exchanges.count == 2)
        #expect(conversation.exchanges[1].request?.pattern?.source == "*")
        #expect(conversation.exchanges[1].pieces.isEmpty)
        let query: [UInt8] = [0, 12] + [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(conversation.exchanges[1].request?.fits(query) == true)
    }
}
