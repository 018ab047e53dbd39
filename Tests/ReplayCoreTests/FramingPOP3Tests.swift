import Testing
@testable import ReplayCore

@Suite struct FramingPOP3Tests {
    let dialect = POP3Dialect()
    func framer() -> any MessageFramer { POP3Dialect().makeFramer() }
    func key(_ text: String) -> MessageKey { dialect.key(ofClient: FramedMessage(bytes: Array(text.utf8)), masks: .none) }

    static let retr = "+OK 52 octets\r\nSubject: hi\r\n\r\n..dot-stuffed\r\n.x\r\nbody\r\n.\r\n"
    static let session: [TextFeed] = [
        .server("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        .client("CAPA\r\n"),
        .server("+OK\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n.\r\n"),
        .client("USER alice\r\n"),
        .server("+OK\r\n"),
        .client("PASS secret\r\n"),
        .server("+OK maildrop has 2 messages\r\n"),
        .client("STAT\r\n"),
        .server("+OK 2 320\r\n"),
        .client("LIST\r\n"),
        .server("+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        .client("LIST 2\r\n"),
        .server("+OK 2 200\r\n"),
        .client("UIDL\r\n"),
        .server("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"),
        .client("RETR 1\r\n"),
        .server(retr),
        .client("RETR 9\r\n"),
        .server("-ERR no such message\r\n"),
        .client("TOP 2 0\r\n"),
        .server("+OK\r\nSubject: two\r\n\r\n.\r\n"),
        .client("DELE 1\r\n"),
        .server("+OK message 1 deleted\r\n"),
        .client("QUIT\r\n"),
        .server("+OK bye\r\n"),
    ]

    @Test func framesASession() {
        let run = TextFramerDriver.run(framer(), Self.session)
        #expect(run.clientTexts == Self.session.filter(\.isClient).map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(run.serverTexts == Self.session.filter { !$0.isClient }.map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(run.client.allSatisfy { $0.expectsReply })
        #expect(run.server.allSatisfy { $0.completesReply })
    }

    @Test func sessionPairsInOrder() {
        let exchanges = TextFramerDriver.inOrderExchanges(framer(), Self.session)
        #expect(exchanges.count == 13)
        #expect(exchanges.allSatisfy { $0.replies.count == 1 })
        #expect(exchanges[8].request == "RETR 1\r\n")
        #expect(exchanges[8].replies == [Self.retr])
    }

    @Test func chunkingDoesNotChangeMessages() {
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, Self.session)
        for other in others { #expect(other == whole) }
        #expect(TextFramerDriver.run(framer(), TextFramerDriver.joined(Self.session)) == whole)
    }

    @Test func pipelinedCommandsAndReplies() {
        let feeds: [TextFeed] = [
            .server("+OK ready\r\n"),
            .client("STAT\r\nRETR 1\r\nLIST 1\r\nUIDL\r\n"),
            .server("+OK 1 10\r\n+OK\r\nbody\r\n.\r\n+OK 1 10\r\n+OK\r\n1 abc\r\n.\r\n"),
        ]
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        #expect(whole.serverTexts == ["+OK ready\r\n", "+OK 1 10\r\n", "+OK\r\nbody\r\n.\r\n", "+OK 1 10\r\n", "+OK\r\n1 abc\r\n.\r\n"])
        for other in others { #expect(other == whole) }
    }

    @Test func bareLineFeeds() {
        let run = TextFramerDriver.run(framer(), [.server("+OK hi\n"), .client("RETR 1\n"), .server("+OK\n..x\n.\n+OK extra\n")])
        #expect(run.clientTexts == ["RETR 1\n"])
        #expect(run.serverTexts == ["+OK hi\n", "+OK\n..x\n.\n", "+OK extra\n"])
    }

    @Test func saslExchangeIsSingleLines() {
        let feeds: [TextFeed] = [
            .server("+OK ready\r\n"),
            .client("AUTH\r\n"),
            .server("+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"),
            .client("AUTH LOGIN\r\n"),
            .server("+ VXNlcm5hbWU6\r\n"),
            .client("YWxpY2U=\r\n"),
            .server("+ UGFzc3dvcmQ6\r\n"),
            .client("c2VjcmV0\r\n"),
            .server("+OK logged in\r\n"),
            .client("AUTH BOGUS\r\n"),
            .server("-ERR unsupported\r\n"),
        ]
        let run = TextFramerDriver.run(framer(), feeds)
        #expect(run.serverTexts == ["+OK ready\r\n", "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n", "+ VXNlcm5hbWU6\r\n", "+ UGFzc3dvcmQ6\r\n", "+OK logged in\r\n", "-ERR unsupported\r\n"])
        #expect(key("YWxpY2U=\r\n").kind == "(auth response)")
        #expect(key("YWxpY2U=\r\n").exact == key("Ym9i\r\n").exact)
        #expect(key("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").content == "AUTH PLAIN")
        #expect(key("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").exact == Array("AUTH PLAIN *\r\n".utf8))
    }

    @Test func negativeMultiLineCommandsGetOneLine() {
        let run = TextFramerDriver.run(framer(), [.server("+OK\r\n"), .client("CAPA\r\nTOP 1 1\r\n"), .server("-ERR no\r\n-ERR no\r\n")])
        #expect(run.serverTexts == ["+OK\r\n", "-ERR no\r\n", "-ERR no\r\n"])
    }

    @Test func finishReturnsAnUnterminatedReply() {
        var framer = POP3Framer()
        _ = framer.serverBytes(Array("+OK\r\n".utf8))
        _ = framer.clientBytes(Array("RETR 1\r\n".utf8))
        #expect(framer.serverBytes(Array("+OK\r\npartial\r\n".utf8)).isEmpty)
        #expect(framer.serverFinished().map(\.bytes) == [Array("+OK\r\npartial\r\n".utf8)])
        #expect(framer.clientBytes(Array("QU".utf8)).isEmpty)
        #expect(framer.pendingClientBytes == 2)
        #expect(framer.clientFinished().map(\.bytes) == [Array("QU".utf8)])
    }

    @Test func keys() {
        #expect(key("user alice\r\n").kind == "USER")
        #expect(key("user alice\r\n").content == "USER alice")
        #expect(key("USER alice\r\n").content != key("USER bob\r\n").content)
        let one = key("PASS secret\r\n")
        let two = key("pass hunter2\r\n")
        #expect(one.content == "PASS")
        #expect(two.content == "PASS")
        #expect(one.exact == Array("PASS *\r\n".utf8))
        #expect(String(decoding: two.exact, as: UTF8.self) == "pass *\r\n")
        let apop = key("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n")
        #expect(apop.content == "APOP mrose")
        #expect(apop.exact == key("APOP mrose 00000000000000000000000000000000\r\n").exact)
        #expect(key("RETR 1\r\n").content == "RETR 1")
        #expect(key("retr 1\r\n").content != key("RETR 2\r\n").content)
        #expect(key("TOP 1 10\r\n").content == "TOP 1 10")
        #expect(key("DELE 3\r\n").content == "DELE 3")
        #expect(key("LIST\r\n").content == "LIST")
        #expect(key("QUIT\r\n").kind == "QUIT")
    }

    @Test func userMasks() throws {
        let masks = try MaskSet(patterns: ["alice|bob"])
        #expect(dialect.key(ofClient: FramedMessage(bytes: Array("USER alice\r\n".utf8)), masks: masks)
            == dialect.key(ofClient: FramedMessage(bytes: Array("USER bob\r\n".utf8)), masks: masks))
    }

    @Test func greetingTimestampIsMasked() {
        func masked(_ text: String) -> String {
            String(decoding: dialect.maskedReply(FramedMessage(bytes: Array(text.utf8)), masks: .none), as: UTF8.self)
        }
        #expect(masked("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n") == "+OK POP3 server ready <*>\r\n")
        #expect(masked("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n") == masked("+OK POP3 server ready <77.1@dbc.mtview.ca.us>\r\n"))
        #expect(masked("+OK Dovecot ready.\r\n") == "+OK Dovecot ready.\r\n")
        #expect(masked("+OK\r\nMessage-ID: <a@b>\r\n.\r\n") == "+OK\r\nMessage-ID: <a@b>\r\n.\r\n")
    }

    @Test func tlsAndScramAreUnreplayable() {
        func reason(_ text: String) -> String? { dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Array(text.utf8))) }
        #expect(reason("STLS\r\n")?.contains("STLS") == true)
        #expect(reason("AUTH scram-sha-1\r\n") != nil)
        #expect(reason("AUTH PLAIN\r\n") == nil)
        #expect(reason("RETR 1\r\n") == nil)
    }

    @Test func housekeepingAndErrors() throws {
        let noop = FramedMessage(bytes: Array("noop\r\n".utf8))
        #expect(dialect.housekeepingReply(to: noop, key: dialect.key(ofClient: noop, masks: .none)) == Array("+OK\r\n".utf8))
        let stat = FramedMessage(bytes: Array("STAT\r\n".utf8))
        #expect(dialect.housekeepingReply(to: stat, key: dialect.key(ofClient: stat, masks: .none)) == nil)
        let reply = try #require(dialect.errorReply(to: stat, reason: "nothing recorded\nfor STAT"))
        #expect(String(decoding: reply, as: UTF8.self) == "-ERR replayd: nothing recorded for STAT\r\n")
        #expect(dialect.pairing == .inOrder)
        #expect(dialect.echo(liveRequest: stat, recordedRequest: stat, reply: Array("+OK\r\n".utf8)) == nil)
    }

    @Test(arguments: [61, 62, 63])
    func chunkingNeverChangesMessagesOfRandomScripts(seed: UInt64) {
        let feeds = TextFramerDriver.randomScript(seed: seed, alphabet: ["+OK\r\n", "-ERR\r\n", "RETR 1\r\n", "LIST\r\n", "CAPA\r\n", ".\r\n", "..x\r\n", "AUTH\r\n", "+ \r\n", "abc", "\n"])
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        for other in others { #expect(other == whole) }
        #expect(whole.client.flatMap(\.bytes) == feeds.filter(\.isClient).flatMap(\.bytes))
        #expect(whole.server.flatMap(\.bytes) == feeds.filter { !$0.isClient }.flatMap(\.bytes))
    }

    @Test(arguments: [UInt64(21), 22, 23, 24, 25])
    func garbageNeverCrashesAndLosesNoByte(seed: UInt64) {
        let result = TextFramerDriver.garbage(framer, seed: seed, alphabet: Array("\r\n.+OK-ERR RETR LIST\r\n".utf8))
        #expect(result.clientOut == result.clientIn)
        #expect(result.serverOut == result.serverIn)
        _ = dialect.key(ofClient: FramedMessage(bytes: result.clientIn), masks: .none)
        _ = dialect.maskedReply(FramedMessage(bytes: result.serverIn), masks: .none)
    }
}
