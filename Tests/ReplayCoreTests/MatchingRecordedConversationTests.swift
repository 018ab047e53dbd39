import Testing
@testable import ReplayCore

private typealias S = ScriptedSession
private let ms = ScriptedSession.ms

@Suite("RecordedConversation")
struct MatchingRecordedConversationTests {
    @Test func exchangesPairEachCommandWithTheRepliesAfterIt() {
        let session = S.make([
            (100, S.s2c("220 mx\r\n")),
            (150, S.c2s("HELLO there\r\n")),
            (160, S.s2c("250-first\r\n")),
            (175, S.s2c("250 second\r\n")),
            (300, S.c2s("BYE\r\n")),
            (310, S.s2c("221 bye\r\n")),
            (311, .close(.serverToClient, .fin)),
            (320, .close(.clientToServer, .fin)),
        ], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t.cassette")
        #expect(conversation.proto == .line)
        // The client's FIN after the server's is not an exchange: nothing can answer it.
        #expect(conversation.exchanges.count == 3)
        let opening = conversation.exchanges[0]
        #expect(opening.request == nil)
        #expect(opening.pieces.map(\.action) == [.send(utf8("220 mx\r\n"))])
        #expect(opening.pieces.map(\.delay) == [ms(100)])

        let hello = conversation.exchanges[1]
        #expect(hello.request?.bytes == utf8("HELLO there\r\n"))
        #expect(hello.key.kind == "HELLO")
        #expect(hello.requestOffset == ms(150))
        // The first piece counts from the request, the second from the piece before it.
        #expect(hello.pieces.map(\.action) == [.send(utf8("250-first\r\n")), .send(utf8("250 second\r\n"))])
        #expect(hello.pieces.map(\.delay) == [ms(10), ms(15)])

        let bye = conversation.exchanges[2]
        #expect(bye.pieces.map(\.action) == [.send(utf8("221 bye\r\n")), .halfClose])
        #expect(bye.pieces.map(\.delay) == [ms(10), ms(1)])

        #expect(conversation.recordedClientBytes == 18)
        #expect(conversation.recordedServerBytes == 40)
    }

    @Test func aCommandSplitOverChunksIsOneRequestTimedFromItsLastChunk() {
        let session = S.make([
            (10, S.c2s("GET /a")),
            (40, S.c2s("bc\r\n")),
            (90, S.s2c("OK\r\n")),
        ], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t")
        #expect(conversation.exchanges.count == 2)
        #expect(conversation.exchanges[1].request?.bytes == utf8("GET /abc\r\n"))
        #expect(conversation.exchanges[1].pieces.map(\.delay) == [ms(50)])
    }

    @Test func serverDataAfterTheClientsFINAnswersTheFIN() {
        let session = S.make([
            (10, S.c2s("data without newline")),
            (20, .close(.clientToServer, .fin)),
            (70, S.s2c("got it\n")),
            (80, .close(.serverToClient, .fin)),
        ], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t")
        #expect(conversation.exchanges.count == 3)
        #expect(conversation.exchanges[1].request?.bytes == utf8("data without newline"))
        #expect(conversation.exchanges[2].isClientFIN)
        #expect(conversation.exchanges[2].pieces.map(\.action) == [.send(utf8("got it\n")), .halfClose])
        #expect(conversation.exchanges[2].pieces.first?.delay == ms(50))
    }

    @Test func opaqueClientMessagesEndWhereTheServerSpoke() {
        let session = S.make([
            (10, .data(.clientToServer, [1, 2, 3])),
            (11, .data(.clientToServer, [4, 5])),
            (30, .data(.serverToClient, [9, 9])),
            (40, .data(.clientToServer, [6])),
            (50, .data(.serverToClient, [8])),
        ], proto: .opaque)
        let conversation = RecordedConversation(session: session, file: "t")
        #expect(conversation.exchanges.map { $0.request?.bytes } == [nil, [1, 2, 3, 4, 5], [6]])
        #expect(conversation.exchanges[1].pieces.map(\.delay) == [ms(19)])
    }

    @Test func aClientGapBecomesAWildcardOfItsMessage() {
        let session = S.make([
            (10, S.c2s("LOGIN alice ")),
            (11, .gap(.clientToServer, 6)),
            (12, S.c2s("\r\n")),
            (20, S.s2c("OK\r\n")),
        ], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t")
        let request = conversation.exchanges[1].request
        #expect(request?.wildcards == [12..<18])
        #expect(WildcardPattern.matches(recorded: request?.bytes ?? [], wildcards: request?.wildcards ?? [], live: utf8("LOGIN alice hunter2\r\n")))
        #expect(!WildcardPattern.matches(recorded: request?.bytes ?? [], wildcards: request?.wildcards ?? [], live: utf8("LOGIN bob hunter2\r\n")))
    }

    @Test func aFailedUpstreamConnectIsTheWholeOpening() {
        let failure = ConnectFailure(reason: .refused, elapsed: ms(3), message: "Connection refused")
        let session = S.make([(3, .connectFailed(failure))], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t")
        #expect(conversation.exchanges.count == 1)
        #expect(conversation.exchanges[0].pieces.map(\.action) == [.connectFailed(failure)])
    }

    @Test func sessionsWithoutAProtocolAreDetected() {
        let session = S.make([(10, S.s2c("220 mx ESMTP Postfix\r\n")), (20, S.c2s("EHLO x\r\n"))])
        #expect(RecordedConversation(session: session, file: "t").proto == .smtp)
        #expect(RecordedConversation(session: session, file: "t", proto: .line).proto == .line)
    }
}

@Suite("RecordedConversation: redaction markers")
struct MatchingRedactionWildcardTests {
    @Test func aRedactedSecretMatchesAnyPassword() {
        let session = S.make([
            (10, S.c2s("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n")),
            (11, .redacted(Redaction(direction: .clientToServer, offset: 11, length: 17, rule: "smtp-auth-plain"))),
            (20, S.s2c("235 2.7.0 Authentication successful\r\n")),
        ], proto: .line)
        let conversation = RecordedConversation(session: session, file: "t")
        let request = conversation.exchanges[1].request
        #expect(request?.wildcards == [11..<28])
        #expect(WildcardPattern.matches(recorded: request?.bytes ?? [], wildcards: request?.wildcards ?? [], live: utf8("AUTH PLAIN AGFsaWNlAG90aGVycGFzc3dvcmQ=\r\n")))
        #expect(!WildcardPattern.matches(recorded: request?.bytes ?? [], wildcards: request?.wildcards ?? [], live: utf8("AUTH LOGIN\r\n")))
    }
}

@Suite("RecordedConversation: SMTP pipelining")
struct MatchingPipeliningTests {
    @Test func oneWriteAnsweringThreeCommandsIsCutIntoTheirThreeReplies() {
        let session = S.make([
            (10, S.s2c("220 mx ESMTP\r\n")),
            (20, S.c2s("EHLO x\r\n")),
            (21, S.s2c("250-mx\r\n250 PIPELINING\r\n")),
            (30, S.c2s("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")),
            (35, S.s2c("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n")),
            (40, S.c2s("Subject: x\r\n\r\nbody\r\n.\r\n")),
            (45, S.s2c("250 2.0.0 Ok: queued as 4F3A2B\r\n")),
        ], proto: .smtp)
        let conversation = RecordedConversation(session: session, file: "t")
        #expect(conversation.exchanges.map(\.key.kind) == ["(open)", "EHLO", "MAIL", "RCPT", "DATA", "(message body)"])
        #expect(conversation.exchanges.map(\.replyBytes) == [
            utf8("220 mx ESMTP\r\n"), utf8("250-mx\r\n250 PIPELINING\r\n"), utf8("250 2.1.0 Ok\r\n"), utf8("250 2.1.5 Ok\r\n"),
            utf8("354 End data with <CR><LF>.<CR><LF>\r\n"), utf8("250 2.0.0 Ok: queued as 4F3A2B\r\n"),
        ])
        // The multi-line EHLO reply written at once stays one write.
        #expect(conversation.exchanges[1].pieces.count == 1)
        // Each cut piece keeps the recorded think time from the pipelined request.
        #expect(conversation.exchanges[2...4].map { $0.pieces.first?.delay } == [ms(5), 0, 0])
    }
}
