import Testing
@testable import ReplayCore

@Suite struct FramingIMAPTests {
    let dialect = IMAPDialect()
    func framer() -> any MessageFramer { IMAPDialect().makeFramer() }
    func key(_ text: String, masks: MaskSet = .none) -> MessageKey {
        dialect.key(ofClient: FramedMessage(bytes: Array(text.utf8)), masks: masks)
    }
    func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    static let fetched = "Subject: hi\r\n\r\nbody {3}\r\n"
    static let session: [TextFeed] = [
        .server("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
        .client("a1 LOGIN {5}\r\n"),
        .server("+ Ready for literal\r\n"),
        .client("alice {6}\r\n"),
        .server("+ Ready\r\n"),
        .client("secret\r\n"),
        .server("a1 OK LOGIN completed\r\n"),
        .client("a2 SELECT INBOX\r\n"),
        .server("* 2 EXISTS\r\n* FLAGS (\\Seen)\r\na2 OK [READ-WRITE] SELECT completed\r\n"),
        .client("a3 UID FETCH 1 (BODY[])\r\n"),
        .server("* 1 FETCH (UID 1 BODY[] {\(fetched.utf8.count)}\r\n\(fetched) FLAGS (\\Seen))\r\na3 OK FETCH completed\r\n"),
        .client("a4 APPEND INBOX {11+}\r\nhello\r\nworld FLAGS\r\n"),
        .server("a4 OK APPEND completed\r\n"),
        .client("a5 IDLE\r\n"),
        .server("+ idling\r\n* 3 EXISTS\r\n"),
        .client("DONE\r\n"),
        .server("a5 OK IDLE terminated\r\n"),
        .client("a6 LOGOUT\r\n"),
        .server("* BYE\r\na6 OK LOGOUT completed\r\n"),
    ]

    @Test func framesASession() {
        let run = TextFramerDriver.run(framer(), Self.session)
        #expect(run.clientTexts == [
            "a1 LOGIN {5}\r\n", "alice {6}\r\n", "secret\r\n", "a2 SELECT INBOX\r\n", "a3 UID FETCH 1 (BODY[])\r\n",
            "a4 APPEND INBOX {11+}\r\nhello\r\nworld FLAGS\r\n", "a5 IDLE\r\n", "DONE\r\n", "a6 LOGOUT\r\n",
        ])
        #expect(run.serverTexts == [
            "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n", "+ Ready for literal\r\n", "+ Ready\r\n", "a1 OK LOGIN completed\r\n",
            "* 2 EXISTS\r\n", "* FLAGS (\\Seen)\r\n", "a2 OK [READ-WRITE] SELECT completed\r\n",
            "* 1 FETCH (UID 1 BODY[] {\(Self.fetched.utf8.count)}\r\n\(Self.fetched) FLAGS (\\Seen))\r\n", "a3 OK FETCH completed\r\n",
            "a4 OK APPEND completed\r\n", "+ idling\r\n", "* 3 EXISTS\r\n", "a5 OK IDLE terminated\r\n", "* BYE\r\n", "a6 OK LOGOUT completed\r\n",
        ])
        #expect(run.client.allSatisfy { $0.expectsReply })
        #expect(run.server.map(\.completesReply) == [false, true, true, true, false, false, true, false, true, true, true, false, true, false, true])
    }

    @Test func sessionPairsInOrder() {
        let exchanges = TextFramerDriver.inOrderExchanges(framer(), Self.session)
        #expect(exchanges.map(\.replies.count) == [1, 1, 1, 1, 3, 2, 1, 2, 1, 2])
        #expect(exchanges[3].request == "secret\r\n")
        #expect(exchanges[3].replies == ["a1 OK LOGIN completed\r\n"])
        #expect(exchanges[7].replies == ["+ idling\r\n", "* 3 EXISTS\r\n"])
        #expect(exchanges[8].replies == ["a5 OK IDLE terminated\r\n"])
    }

    @Test func chunkingDoesNotChangeMessages() {
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, Self.session)
        for other in others { #expect(other == whole) }
        #expect(TextFramerDriver.run(framer(), TextFramerDriver.joined(Self.session)) == whole)
    }

    @Test func pipelinedCommands() {
        let run = TextFramerDriver.run(framer(), [.client("b1 NOOP\r\nb2 CAPABILITY\r\nb3 LOGOUT\r\n"), .server("b1 OK\r\n* CAPABILITY IMAP4rev1\r\nb2 OK\r\n")])
        #expect(run.clientTexts == ["b1 NOOP\r\n", "b2 CAPABILITY\r\n", "b3 LOGOUT\r\n"])
        #expect(run.server.map(\.completesReply) == [true, false, true])
    }

    @Test func bareLineFeedsAndZeroLiterals() {
        let run = TextFramerDriver.run(framer(), [.client("c1 LOGIN {0}\n"), .server("+ go\n"), .client(" {0+}\n x\nc2 NOOP\n")])
        #expect(run.clientTexts == ["c1 LOGIN {0}\n", " {0+}\n x\n", "c2 NOOP\n"])
    }

    @Test func literalBytesMayContainLineEndsAndBraces() {
        let literal = "a\r\nb {2}\r\n"
        let feeds: [TextFeed] = [.client("d1 APPEND box {\(literal.utf8.count)}\r\n"), .server("+ ok\r\n"), .client(literal + "\r\nd2 NOOP\r\n")]
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        #expect(whole.clientTexts == ["d1 APPEND box {\(literal.utf8.count)}\r\n", literal + "\r\n", "d2 NOOP\r\n"])
        for other in others { #expect(other == whole) }
    }

    @Test func refusedLiteralIsNotAwaited() {
        let run = TextFramerDriver.run(framer(), [
            .client("e1 APPEND box {999999}\r\n"), .server("e1 NO [TOOBIG] too big\r\n"), .client("e2 NOOP\r\n"), .server("e2 OK\r\n"),
        ])
        #expect(run.clientTexts == ["e1 APPEND box {999999}\r\n", "e2 NOOP\r\n"])
    }

    @Test func authenticateResponses() {
        let run = TextFramerDriver.run(framer(), [
            .client("f1 AUTHENTICATE PLAIN\r\n"), .server("+ \r\n"), .client("AGFsaWNlAHNlY3JldA==\r\n"), .server("f1 OK done\r\n"),
        ])
        #expect(run.clientTexts == ["f1 AUTHENTICATE PLAIN\r\n", "AGFsaWNlAHNlY3JldA==\r\n"])
        #expect(run.server.map(\.completesReply) == [true, true])
        #expect(key("AGFsaWNlAHNlY3JldA==\r\n").kind == "(continuation)")
        #expect(key("AGFsaWNlAHNlY3JldA==\r\n").exact == key("Ym9i\r\n").exact)
        #expect(key("f1 AUTHENTICATE plain AGFsaWNl\r\n").content == "AUTHENTICATE PLAIN")
        #expect(key("f1 AUTHENTICATE PLAIN AGFsaWNl\r\n").exact == key("g9 AUTHENTICATE PLAIN Ym9i\r\n").exact)
    }

    @Test func finishReturnsWhatIsLeft() {
        var framer = IMAPFramer()
        #expect(framer.clientBytes(Array("h1 APPEND x {10+}\r\nabc".utf8)).isEmpty)
        #expect(framer.pendingClientBytes == "h1 APPEND x {10+}\r\nabc".utf8.count)
        #expect(framer.clientFinished().map(\.bytes) == [Array("h1 APPEND x {10+}\r\nabc".utf8)])
        #expect(framer.serverBytes(Array("* 1 FETCH (BODY[] {5}\r\nab".utf8)).isEmpty)
        #expect(framer.serverFinished().map(\.bytes) == [Array("* 1 FETCH (BODY[] {5}\r\nab".utf8)])
    }

    // MARK: keys

    @Test func keysLeaveTheTagOut() {
        let one = key("A001 select INBOX\r\n")
        let two = key("x7 SELECT INBOX\r\n")
        #expect(one.kind == "SELECT")
        #expect(one.content == "SELECT INBOX")
        #expect(one.content == two.content)
        #expect(text(one.exact) == "* select INBOX\r\n")
        #expect(two.exact == Array("* SELECT INBOX\r\n".utf8))
        #expect(key("a1 SELECT Drafts\r\n").content != one.content)
        #expect(key("a3 uid fetch 1:* (FLAGS)\r\n").kind == "UID FETCH")
        #expect(key("a3 UID FETCH 1:* (FLAGS)\r\n").content == "UID FETCH 1:* (FLAGS)")
        #expect(key("a3 NOOP\r\n").content == "NOOP")
        #expect(key("a4 APPEND INBOX {11+}\r\nhello\r\nworld FLAGS\r\n").content == "APPEND INBOX {11+}\r\nhello\r\nworld FLAGS")
    }

    @Test func loginKeepsTheUserOnly() {
        let one = key("a1 LOGIN alice secret\r\n")
        let two = key("zz LOGIN \"alice\" \"hunter 2\"\r\n")
        #expect(one.kind == "LOGIN")
        #expect(one.content == "LOGIN alice")
        #expect(two.content == "LOGIN alice")
        #expect(text(one.exact) == "* LOGIN alice *\r\n")
        #expect(text(two.exact) == "* LOGIN \"alice\" *\r\n")
        #expect(key("a1 LOGIN bob secret\r\n").content != one.content)
        #expect(text(key("a1 LOGIN alice {6+}\r\nsecret\r\n").exact) == "* LOGIN alice *\r\n")
    }

    @Test func continuationKinds() {
        #expect(key("DONE\r\n").kind == "DONE")
        #expect(key("done\r\n").kind == "DONE")
        #expect(key("alice {6}\r\n").kind == "(literal)")
        #expect(key("Subject: hi\r\n\r\nbody\r\n").kind == "(literal)")
        #expect(key("* BAD\r\n").kind == "(literal)")
        let appended = key("Date: Wed, 02 Dec 2026 12:49:48 +0000\r\nMessage-ID: <1@x>\r\nSubject: a\r\n\r\nhi\r\n")
        #expect(appended == key("Date: Thu, 03 Dec 2026 01:00:00 +0100\r\nMessage-ID: <2@x>\r\nSubject: a\r\n\r\nhi\r\n"))
        #expect(appended.content == "Date: *\r\nMessage-ID: *\r\nSubject: a\r\n\r\nhi")
    }

    @Test func userMasks() throws {
        let masks = try MaskSet(patterns: ["msg-[0-9]+"])
        #expect(key("a1 SEARCH HEADER X-Id msg-1\r\n", masks: masks) == key("b2 SEARCH HEADER X-Id msg-22\r\n", masks: masks))
    }

    // MARK: replies

    @Test func echoPutsTheLiveTag() {
        let recorded = FramedMessage(bytes: Array("A001 SELECT INBOX\r\n".utf8))
        let live = FramedMessage(bytes: Array("a7 SELECT INBOX\r\n".utf8))
        #expect(text(dialect.echo(liveRequest: live, recordedRequest: recorded, reply: Array("A001 OK [READ-WRITE] done\r\n".utf8))) == "a7 OK [READ-WRITE] done\r\n")
        #expect(text(dialect.echo(liveRequest: live, recordedRequest: recorded, reply: Array("* 2 EXISTS\r\nA001 OK done\r\n".utf8))) == "* 2 EXISTS\r\na7 OK done\r\n")
        let literalReply = "* 1 FETCH (BODY[] {12}\r\nA001 OK fake)\r\nA001 OK done\r\n"
        #expect(text(dialect.echo(liveRequest: live, recordedRequest: recorded, reply: Array(literalReply.utf8))) == "* 1 FETCH (BODY[] {12}\r\nA001 OK fake)\r\na7 OK done\r\n")
        #expect(dialect.echo(liveRequest: live, recordedRequest: recorded, reply: Array("* 2 EXISTS\r\n".utf8)) == nil)
        #expect(dialect.echo(liveRequest: recorded, recordedRequest: recorded, reply: Array("A001 OK\r\n".utf8)) == nil)
        let done = FramedMessage(bytes: Array("DONE\r\n".utf8))
        #expect(dialect.echo(liveRequest: done, recordedRequest: recorded, reply: Array("A001 OK\r\n".utf8)) == nil)
        #expect(dialect.echo(liveRequest: live, recordedRequest: done, reply: Array("A001 OK\r\n".utf8)) == nil)
    }

    @Test func replyMasks() {
        func masked(_ text: String) -> String {
            String(decoding: dialect.maskedReply(FramedMessage(bytes: Array(text.utf8)), masks: .none), as: UTF8.self)
        }
        #expect(masked("A001 OK LOGIN completed\r\n") == "* OK LOGIN completed\r\n")
        #expect(masked("A001 OK LOGIN completed\r\n") == masked("x9 OK LOGIN completed\r\n"))
        #expect(masked("* 1 FETCH (INTERNALDATE \"02-Dec-2026 12:49:48 +0000\")\r\n") == "* 1 FETCH (INTERNALDATE \"*\")\r\n")
        #expect(masked("* OK server ready Wed, 2 Dec 2026 12:49:48 +0000\r\n") == "* OK server ready *\r\n")
        #expect(masked("+ Ready\r\n") == "+ Ready\r\n")
        #expect(masked("* 2 EXISTS\r\n") == "* 2 EXISTS\r\n")
    }

    @Test func tlsAndScramAreUnreplayable() {
        func reason(_ text: String) -> String? { dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Array(text.utf8))) }
        #expect(reason("a1 STARTTLS\r\n")?.contains("STARTTLS") == true)
        #expect(reason("a1 AUTHENTICATE SCRAM-SHA-256\r\n")?.contains("SCRAM-SHA-256") == true)
        #expect(reason("a1 AUTHENTICATE PLAIN\r\n") == nil)
        #expect(reason("a1 LOGIN a b\r\n") == nil)
        #expect(reason("STARTTLS\r\n") == nil)
    }

    @Test func housekeepingAndErrors() {
        let noop = FramedMessage(bytes: Array("a9 noop\r\n".utf8))
        #expect(text(dialect.housekeepingReply(to: noop, key: dialect.key(ofClient: noop, masks: .none))) == "a9 OK NOOP completed\r\n")
        let select = FramedMessage(bytes: Array("a9 SELECT x\r\n".utf8))
        #expect(dialect.housekeepingReply(to: select, key: dialect.key(ofClient: select, masks: .none)) == nil)
        #expect(text(dialect.errorReply(to: select, reason: "no recorded\r\nSELECT")) == "a9 BAD replayd: no recorded  SELECT\r\n")
        #expect(text(dialect.errorReply(to: FramedMessage(bytes: Array("DONE\r\n".utf8)), reason: "x")) == "* BAD replayd: x\r\n")
        #expect(dialect.pairing == .inOrder)
    }

    @Test(arguments: [71, 72, 73])
    func chunkingNeverChangesMessagesOfRandomScripts(seed: UInt64) {
        let feeds = TextFramerDriver.randomScript(seed: seed, alphabet: ["a1 LOGIN {3}\r\n", "+ go\r\n", "a1 NO\r\n", "abc", "{2+}\r\n", "* 1 FETCH {4}\r\n", "a2 OK\r\n", "DONE\r\n", "\r\n", "x {0}\n"])
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        for other in others { #expect(other == whole) }
        #expect(whole.client.flatMap(\.bytes) == feeds.filter(\.isClient).flatMap(\.bytes))
        #expect(whole.server.flatMap(\.bytes) == feeds.filter { !$0.isClient }.flatMap(\.bytes))
    }

    @Test(arguments: [UInt64(31), 32, 33, 34, 35, 36])
    func garbageNeverCrashesAndLosesNoByte(seed: UInt64) {
        let result = TextFramerDriver.garbage(framer, seed: seed, alphabet: Array("\r\n{3}{0+}{12}* + a1 OK LOGIN UID ~\"\\".utf8))
        #expect(result.clientOut == result.clientIn)
        #expect(result.serverOut == result.serverIn)
        _ = dialect.key(ofClient: FramedMessage(bytes: result.clientIn), masks: .none)
        _ = dialect.maskedReply(FramedMessage(bytes: result.serverIn), masks: .none)
        let request = FramedMessage(bytes: result.clientIn)
        _ = dialect.echo(liveRequest: FramedMessage(bytes: Array("z1 NOOP\r\n".utf8)), recordedRequest: request, reply: result.serverIn)
    }
}
