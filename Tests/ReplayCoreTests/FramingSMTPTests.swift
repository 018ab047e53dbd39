import Testing
@testable import ReplayCore

@Suite struct FramingSMTPTests {
    let dialect = SMTPDialect()
    func framer() -> any MessageFramer { SMTPDialect().makeFramer() }
    func key(_ text: String, masks: MaskSet = .none) -> MessageKey {
        dialect.key(ofClient: FramedMessage(bytes: Array(text.utf8)), masks: masks)
    }
    func masked(_ text: String, masks: MaskSet = .none) -> String {
        String(decoding: dialect.maskedReply(FramedMessage(bytes: Array(text.utf8)), masks: masks), as: UTF8.self)
    }

    static let body = "From: a@example.org\r\nSubject: hi\r\n\r\n..leading dot\r\nline\r\n.\r\n"
    static let session: [TextFeed] = [
        .server("220 mx.example.net ESMTP Postfix\r\n"),
        .client("EHLO client.example.org\r\n"),
        .server("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        .client("MAIL FROM:<a@example.org>\r\n"),
        .server("250 2.1.0 Ok\r\n"),
        .client("RCPT TO:<b@example.net>\r\n"),
        .server("250 2.1.5 Ok\r\n"),
        .client("DATA\r\n"),
        .server("354 End data with <CR><LF>.<CR><LF>\r\n"),
        .client(body),
        .server("250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n"),
        .client("QUIT\r\n"),
        .server("221 2.0.0 Bye\r\n"),
    ]

    @Test func framesASession() {
        let run = TextFramerDriver.run(framer(), Self.session)
        #expect(run.clientTexts == ["EHLO client.example.org\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.net>\r\n", "DATA\r\n", Self.body, "QUIT\r\n"])
        #expect(run.serverTexts == Self.session.filter { !$0.isClient }.map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(run.client.allSatisfy { $0.expectsReply })
        #expect(run.server.allSatisfy { $0.completesReply })
    }

    @Test func chunkingDoesNotChangeMessages() {
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, Self.session)
        for other in others { #expect(other == whole) }
        #expect(TextFramerDriver.run(framer(), TextFramerDriver.joined(Self.session)) == whole)
    }

    @Test func pipelinedCommandsAndRepliesInOneWrite() {
        let feeds: [TextFeed] = [
            .server("220 mx ESMTP\r\n"),
            .client("EHLO c\r\n"),
            .server("250-mx\r\n250 PIPELINING\r\n"),
            .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"),
            .server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"),
            .client("Subject: x\r\n\r\nRCPT TO:<not-a-command>\r\n.\r\nQUIT\r\n"),
            .server("250 2.0.0 Ok\r\n221 Bye\r\n"),
        ]
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        #expect(whole.clientTexts == ["EHLO c\r\n", "MAIL FROM:<a@x>\r\n", "RCPT TO:<b@y>\r\n", "RCPT TO:<c@y>\r\n", "DATA\r\n",
                                      "Subject: x\r\n\r\nRCPT TO:<not-a-command>\r\n.\r\n", "QUIT\r\n"])
        #expect(whole.serverTexts == ["220 mx ESMTP\r\n", "250-mx\r\n250 PIPELINING\r\n", "250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n",
                                      "250 2.1.5 Ok\r\n", "354 go ahead\r\n", "250 2.0.0 Ok\r\n", "221 Bye\r\n"])
        for other in others { #expect(other == whole) }
    }

    @Test func pipelinedRepliesPairInOrder() {
        let exchanges = TextFramerDriver.inOrderExchanges(framer(), [
            .server("220 mx\r\n"),
            .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"),
            .server("250 a\r\n250 b\r\n550 c\r\n354 go\r\n"),
            .client("hi\r\n.\r\n"),
            .server("250 queued\r\n"),
        ])
        #expect(exchanges.map(\.request) == ["", "MAIL FROM:<a@x>\r\n", "RCPT TO:<b@y>\r\n", "RCPT TO:<c@y>\r\n", "DATA\r\n", "hi\r\n.\r\n"])
        #expect(exchanges.map(\.replies) == [["220 mx\r\n"], ["250 a\r\n"], ["250 b\r\n"], ["550 c\r\n"], ["354 go\r\n"], ["250 queued\r\n"]])
    }

    @Test func emptyBodyIsOneMessage() {
        let run = TextFramerDriver.run(framer(), [
            .server("220 mx\r\n"), .client("DATA\r\n"), .server("354 go\r\n"), .client(".\r\nQUIT\r\n"),
        ])
        #expect(run.clientTexts == ["DATA\r\n", ".\r\n", "QUIT\r\n"])
        #expect(key(".\r\n").kind == "(message body)")
    }

    @Test func bodyEndsOnlyAtALoneDot() {
        let body = "a\r\n..\r\n.x\r\n .\r\n.\r\n"
        let run = TextFramerDriver.run(framer(), [.server("220 mx\r\n"), .client("DATA\r\n"), .server("354 go\r\n"), .client(body + "QUIT\r\n")])
        #expect(run.clientTexts == ["DATA\r\n", body, "QUIT\r\n"])
    }

    @Test func rejectedDataHasNoBody() {
        let feeds: [TextFeed] = [
            .server("220 mx\r\n"),
            .client("MAIL FROM:<a@x>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n"),
            .server("250 Ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n"),
            .client("RSET\r\nQUIT\r\n"),
        ]
        let run = TextFramerDriver.run(framer(), feeds)
        #expect(run.clientTexts == ["MAIL FROM:<a@x>\r\n", "RCPT TO:<nobody@y>\r\n", "DATA\r\n", "RSET\r\n", "QUIT\r\n"])
    }

    @Test func bytesSentBeforeTheDataReplyWaitForIt() {
        var framer = SMTPFramer()
        _ = framer.serverBytes(Array("220 mx\r\n".utf8))
        #expect(framer.clientBytes(Array("DATA\r\nSubject: early\r\n".utf8)).map(\.bytes) == [Array("DATA\r\n".utf8)])
        #expect(framer.pendingClientBytes == "Subject: early\r\n".utf8.count)
        _ = framer.serverBytes(Array("354 go\r\n".utf8))
        #expect(framer.clientBytes(Array("\r\n.\r\n".utf8)).map(\.bytes) == [Array("Subject: early\r\n\r\n.\r\n".utf8)])
    }

    @Test func greetingNotFedOrAfterAnEarlyTalker() {
        let notFed = TextFramerDriver.inOrderExchanges(framer(), [
            .client("EHLO c\r\n"), .server("250 mx\r\n"), .client("DATA\r\n"), .server("354 go\r\n"), .client(".\r\n"), .server("250 ok\r\n"),
        ])
        #expect(notFed.map(\.request) == ["", "EHLO c\r\n", "DATA\r\n", ".\r\n"])
        #expect(notFed.map(\.replies) == [[], ["250 mx\r\n"], ["354 go\r\n"], ["250 ok\r\n"]])
        let early = TextFramerDriver.inOrderExchanges(framer(), [
            .client("EHLO c\r\n"), .server("220 mx\r\n250 mx\r\n"), .client("DATA\r\n"), .server("354 go\r\n"), .client(".\r\n"),
        ])
        #expect(early.map(\.request) == ["", "EHLO c\r\n", "DATA\r\n", ".\r\n"])
        #expect(early[1].replies == ["220 mx\r\n", "250 mx\r\n"])
    }

    @Test func bareLineFeeds() {
        let run = TextFramerDriver.run(framer(), [
            .server("220 mx\n"), .client("EHLO c\n"), .server("250-mx\n250 SIZE\n"), .client("DATA\n"), .server("354 go\n"),
            .client("Subject: x\n\nbody\n.\nQUIT\n"),
        ])
        #expect(run.clientTexts == ["EHLO c\n", "DATA\n", "Subject: x\n\nbody\n.\n", "QUIT\n"])
        #expect(run.serverTexts == ["220 mx\n", "250-mx\n250 SIZE\n", "354 go\n"])
    }

    @Test func multiLineRepliesEndAtTheirLastLine() {
        let run = TextFramerDriver.run(framer(), [.server("220-mx.example.net ESMTP\r\n220-more\r\n220 end\r\n250\r\n250-a\r\n250-b\r\n250 c\r\n")])
        #expect(run.serverTexts == ["220-mx.example.net ESMTP\r\n220-more\r\n220 end\r\n", "250\r\n", "250-a\r\n250-b\r\n250 c\r\n"])
    }

    @Test func bdatChunksIncludeTheirBytes() {
        let feeds: [TextFeed] = [
            .server("220 mx\r\n"),
            .client("BDAT 12\r\nline one\r\n\r\nBDAT 5 LAST\r\nab\r\n\nQUIT\r\nBDAT 0 LAST\r\nBDAT x\r\n"),
        ]
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        #expect(whole.clientTexts == ["BDAT 12\r\nline one\r\n\r\n", "BDAT 5 LAST\r\nab\r\n\n", "QUIT\r\n", "BDAT 0 LAST\r\n", "BDAT x\r\n"])
        for other in others { #expect(other == whole) }
        #expect(key("BDAT 5 LAST\r\nab\r\n\n").kind == "BDAT")
        #expect(key("BDAT 5 LAST\r\nab\r\n\n").content.hasPrefix("BDAT LAST "))
    }

    @Test func lmtpAnswersTheBodyOncePerAcceptedRecipient() {
        let feeds: [TextFeed] = [
            .server("220 lmtp ready\r\n"),
            .client("LHLO c\r\n"),
            .server("250-lmtp\r\n250 PIPELINING\r\n"),
            .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n"),
            .server("250 ok\r\n250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n"),
            .client("Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"),
            .server("250 2.0.0 <b@y> delivered\r\n452 4.2.2 <c@y> over quota\r\n221 bye\r\n"),
        ]
        let run = TextFramerDriver.run(framer(), feeds)
        #expect(run.clientTexts.count == 8)
        #expect(run.clientTexts[6] == "Subject: x\r\n\r\nhi\r\n.\r\n")
        #expect(run.server.map(\.completesReply) == [true, true, true, true, true, true, true, false, true, true])
        // Plain SMTP: one reply per body.
        let smtp = TextFramerDriver.run(framer(), feeds.map { feed in
            if case .client(let text) = feed, text == "LHLO c\r\n" { return .client("EHLO c\r\n") }
            return feed
        })
        #expect(smtp.server.allSatisfy { $0.completesReply })
    }

    @Test(.timeLimit(.minutes(1)))
    func largeBodyInOneWriteIsOneMessage() {
        let line = "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
        let body = "Subject: big\r\n\r\n" + String(repeating: line, count: 30_000) + ".\r\n"
        var framer = SMTPFramer()
        _ = framer.serverBytes(Array("220 mx\r\n".utf8))
        _ = framer.clientBytes(Array("DATA\r\n".utf8))
        _ = framer.serverBytes(Array("354 go\r\n".utf8))
        let messages = framer.clientBytes(Array((body + "QUIT\r\n").utf8))
        #expect(messages.map(\.bytes) == [Array(body.utf8), Array("QUIT\r\n".utf8)])
        #expect(key(body).kind == "(message body)")
    }

    @Test func finishReturnsWhatIsLeft() {
        var framer = SMTPFramer()
        _ = framer.serverBytes(Array("220 mx\r\n".utf8))
        _ = framer.clientBytes(Array("DATA\r\n".utf8))
        _ = framer.serverBytes(Array("354 go\r\n".utf8))
        #expect(framer.clientBytes(Array("Subject: cut".utf8)).isEmpty)
        #expect(framer.serverBytes(Array("250-partial\r\n".utf8)).isEmpty)
        #expect(framer.clientFinished().map(\.bytes) == [Array("Subject: cut".utf8)])
        #expect(framer.serverFinished().map(\.bytes) == [Array("250-partial\r\n".utf8)])
    }

    // MARK: keys

    @Test func mailAndRcptContentIsTheAddress() {
        let lower = key("mail from:<A@B> SIZE=1234 BODY=8BITMIME\r\n")
        let upper = key("MAIL FROM:<a@b>\r\n")
        #expect(lower.kind == "MAIL")
        #expect(lower.content == "MAIL <a@b>")
        #expect(lower.content == upper.content)
        #expect(lower.exact != upper.exact)
        #expect(key("mail from: <a@b>\r\n").content == "MAIL <a@b>")
        #expect(key("MAIL FROM:a@b\r\n").content == "MAIL <a@b>")
        #expect(key("MAIL FROM:<>\r\n").content == "MAIL <>")
        #expect(key("RCPT TO:<Oncall@Example.NET> NOTIFY=NEVER\r\n").content == "RCPT <oncall@example.net>")
        #expect(key("RCPT TO:<a@x>\r\n").content != key("RCPT TO:<b@x>\r\n").content)
        #expect(key("RCPT TO:<a@x>\r\n").kind == key("rcpt to:<b@x>\r\n").kind)
        #expect(key("MAIL nonsense\r\n").content == "MAIL nonsense")
    }

    @Test func ehloNameIsMasked() {
        let one = key("EHLO client-one.example.org\r\n")
        let two = key("EHLO [10.0.0.7]\r\n")
        #expect(one.kind == "EHLO")
        #expect(one.content == "EHLO")
        #expect(one.exact == two.exact)
        #expect(one.exact == Array("EHLO *\r\n".utf8))
        #expect(key("helo x\r\n").content == "HELO")
        #expect(key("EHLO a\r\n").exact != key("HELO a\r\n").exact)
    }

    @Test func authKeepsOnlyTheMechanism() {
        let plain = key("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        #expect(plain.kind == "AUTH")
        #expect(plain.content == "AUTH PLAIN")
        #expect(plain.exact == Array("AUTH PLAIN *\r\n".utf8))
        #expect(key("auth login\r\n").content == "AUTH LOGIN")
        let response = key("YWxpY2U=\r\n")
        #expect(response.kind == "(auth response)")
        #expect(response.exact == key("Ym9i\r\n").exact)
        #expect(key("QUIT\r\n").kind == "QUIT")
    }

    @Test func otherCommandsKeepTheirArguments() {
        #expect(key("vrfy  bob  \r\n").content == "VRFY bob")
        #expect(key("quit\r\n").content == "QUIT")
        #expect(key("STARTTLS\r\n").kind == "STARTTLS")
    }

    @Test func bodyKeyMasksVolatileHeaders() {
        let first = "Date: Wed, 02 Dec 2026 12:49:48 +0000\r\nTo: b@example.net\r\nFrom: a@example.org\r\n"
            + "Subject: test Wed, 02 Dec 2026 12:49:48 +0000\r\nMessage-Id: <20261202124948.012345@client.example.org>\r\n"
            + "X-Mailer: swaks v20240103.0 jetmore.org/john/code/swaks/\r\nReceived: from x (x [1.2.3.4])\r\n\tby y; Wed, 02 Dec 2026 12:49:48 +0000\r\n"
            + "\r\nThis is a test mailing\r\n\r\n.\r\n"
        let second = "Date: Thu, 3 Dec 2026 08:00:01 -0500\r\nTo: b@example.net\r\nFrom: a@example.org\r\n"
            + "Subject: test Thu, 3 Dec 2026 08:00:01 -0500\r\nMessage-Id: <other@client.example.org>\r\n"
            + "X-Mailer: swaks v20201014.0 jetmore.org/john/code/swaks/\r\nReceived: from z\r\n"
            + "\r\nThis is a test mailing\r\n\r\n.\r\n"
        let one = key(first)
        let two = key(second)
        #expect(one.kind == "(message body)")
        #expect(one.content == two.content)
        #expect(one.exact == two.exact)
        #expect(one.content.contains("Subject: test *\r\n"))
        #expect(one.content.contains("Date: *\r\n"))
        #expect(one.content.contains("To: b@example.net\r\n"))
        #expect(!one.content.contains("by y"))
        #expect(key(first.replacingOccurrences(of: "This is a test", with: "Another")).content != one.content)
        #expect(key(first.replacingOccurrences(of: "To: b@", with: "To: c@")).content != one.content)
    }

    @Test func datesInTheBodyTextStay() {
        let body = "Subject: x\r\n\r\nWed, 02 Dec 2026 12:49:48 +0000\r\n.\r\n"
        #expect(key(body).content == body)
    }

    @Test func userMasksApplyAfterTheBuiltInOnes() throws {
        let masks = try MaskSet(patterns: ["ticket-[0-9]+"])
        let one = key("VRFY ticket-123\r\n", masks: masks)
        #expect(one.content == "VRFY *")
        #expect(one.exact == Array("VRFY *\r\n".utf8))
        #expect(one.exact == key("VRFY ticket-99\r\n", masks: masks).exact)
    }

    // MARK: replies

    @Test func replyMasks() {
        #expect(masked("250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n") == "250 2.0.0 Ok: queued as *\r\n")
        #expect(masked("250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n") == masked("250 2.0.0 Ok: queued as 9ABCDEF012\r\n"))
        #expect(masked("250 OK id=1rXyZ-0001aB-Cd\r\n") == "250 OK id=*\r\n")
        #expect(masked("220 mx.example.net ESMTP Sendmail 8.15.2; Wed, 2 Dec 2026 12:49:48 +0000\r\n") == "220 mx.example.net ESMTP Sendmail 8.15.2; *\r\n")
        #expect(masked("250-mx.example.net Hello client.example.org [127.0.0.1]\r\n250-SIZE 10240000\r\n250 HELP\r\n")
            == "250-mx.example.net *\r\n250-SIZE 10240000\r\n250 HELP\r\n")
        #expect(masked("250 mx.example.net Hello other [10.1.1.1], pleased to meet you\r\n") == "250 mx.example.net *\r\n")
        #expect(masked("250-mx.example.net\r\n250 PIPELINING\r\n") == "250-mx.example.net\r\n250 PIPELINING\r\n")
        #expect(masked("250 2.1.0 Ok\r\n") == "250 2.1.0 Ok\r\n")
        #expect(masked("250 Accepted <b@x>\r\n") == "250 Accepted <b@x>\r\n")
        #expect(masked("220 mx.example.net ESMTP Postfix\r\n") == "220 mx.example.net ESMTP Postfix\r\n")
        #expect(masked("220 mx ready 2 Dec 2026 12:49 then more\r\n") == "220 mx ready * then more\r\n")
        #expect(masked("220 mx Wed Dec  2 12:49:48 2026 ready\r\n") == "220 mx * ready\r\n")
        #expect(masked("220 mx 2026-12-02T12:49:48Z ready\r\n") == "220 mx * ready\r\n")
    }

    @Test func housekeeping() {
        for text in ["RSET\r\n", "rset\r\n", "NOOP\r\n", "noop\n"] {
            let message = FramedMessage(bytes: Array(text.utf8))
            #expect(dialect.housekeepingReply(to: message, key: dialect.key(ofClient: message, masks: .none)) == Array("250 2.0.0 Ok\r\n".utf8))
        }
        let quit = FramedMessage(bytes: Array("QUIT\r\n".utf8))
        #expect(dialect.housekeepingReply(to: quit, key: dialect.key(ofClient: quit, masks: .none)) == nil)
        #expect(dialect.echo(liveRequest: quit, recordedRequest: quit, reply: Array("221 Bye\r\n".utf8)) == nil)
        #expect(dialect.pairing == .inOrder)
    }

    @Test func tlsAndScramAreUnreplayable() {
        func reason(_ text: String) -> String? { dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Array(text.utf8))) }
        #expect(reason("starttls\r\n")?.contains("STARTTLS") == true)
        #expect(reason("AUTH SCRAM-SHA-256 biwsbj1h\r\n")?.contains("SCRAM-SHA-256") == true)
        #expect(reason("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n") == nil)
        #expect(reason("MAIL FROM:<a@b>\r\n") == nil)
    }

    @Test func errorReplyIsOneSafeLine() throws {
        let message = FramedMessage(bytes: Array("RCPT TO:<x@y>\r\n".utf8))
        let reply = try #require(dialect.errorReply(to: message, reason: "no recorded RCPT\r\n250 fake é"))
        #expect(String(decoding: reply, as: UTF8.self) == "502 5.5.1 replayd: no recorded RCPT  250 fake ?\r\n")
        let long = try #require(dialect.errorReply(to: message, reason: String(repeating: "x", count: 2000)))
        #expect(long.count <= 430)
        #expect(long.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        #expect(long.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 13 || $0 == 10 })
    }

    @Test(arguments: [51, 52, 53])
    func chunkingNeverChangesMessagesOfRandomScripts(seed: UInt64) {
        let feeds = TextFramerDriver.randomScript(seed: seed, alphabet: ["EHLO x\r\n", "DATA\r\n", "354 go\r\n", "250-a\r\n", "250 b\r\n", ".\r\n", "x\r\n", "BDAT 3\r\n", "BDAT 2 LAST\r\n", "LHLO y\n", "RCPT TO:<a>\r\n", "220 hi\r\n", "abc", "\n"])
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        for other in others { #expect(other == whole) }
        #expect(whole.client.flatMap(\.bytes) == feeds.filter(\.isClient).flatMap(\.bytes))
        #expect(whole.server.flatMap(\.bytes) == feeds.filter { !$0.isClient }.flatMap(\.bytes))
    }

    @Test(arguments: [UInt64(7), 8, 9, 10, 11, 12])
    func garbageNeverCrashesAndLosesNoByte(seed: UInt64) {
        let result = TextFramerDriver.garbage(framer, seed: seed, alphabet: Array("\r\n.-354 250DATABDAT 3\r\n".utf8))
        #expect(result.clientOut == result.clientIn)
        #expect(result.serverOut == result.serverIn)
        _ = key(String(decoding: result.clientIn, as: UTF8.self))
        _ = dialect.key(ofClient: FramedMessage(bytes: result.clientIn), masks: .none)
        _ = dialect.maskedReply(FramedMessage(bytes: result.serverIn), masks: .none)
    }
}

@Suite("RFC 5322 date mask")
struct FramingDateMaskTests {
    @Test func aMessageWithoutAClockTimeIsLeftAloneAndOneWithADateIsMasked() {
        let plain = Array("Subject: meeting at noon\r\nTo: a@b\r\n".utf8)
        #expect(!RFC5322DateMask.containsClockTime(plain))
        #expect(RFC5322DateMask.apply(plain) == plain)
        let dated = Array("Subject: test Wed, 02 Dec 2026 12:49:48 +0000\r\n".utf8)
        #expect(RFC5322DateMask.containsClockTime(dated))
        #expect(RFC5322DateMask.apply(dated) == Array("Subject: test *\r\n".utf8))
        #expect(RFC5322DateMask.containsClockTime(Array("1:00".utf8)))
        #expect(!RFC5322DateMask.containsClockTime(Array("a:bc 1:0".utf8)))
    }
}
