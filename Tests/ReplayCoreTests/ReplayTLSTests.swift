import NIOSSL
import Testing
@testable import ReplayCore

private typealias S = ScriptedSession
private let ms = ScriptedSession.ms

/// An SMTP session recorded through `record --starttls smtp`: the plaintext prefix, the `tls`
/// marker right after the server's 220 to STARTTLS, then the conversation over TLS.
private func starttlsSession(id: Int = 1) -> Session {
    S.make([
        (10, S.s2c("220 mx ESMTP\r\n")),
        (20, S.c2s("EHLO client.example\r\n")),
        (25, S.s2c("250-mx\r\n250 STARTTLS\r\n")),
        (30, S.c2s("STARTTLS\r\n")),
        (35, S.s2c("220 2.0.0 Ready to start TLS\r\n")),
        (50, .tls(TLSMarker(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"))),
        (60, S.c2s("EHLO client.example\r\n")),
        (65, S.s2c("250 mx\r\n")),
        (70, S.c2s("MAIL FROM:<a@example.org>\r\n")),
        (75, S.s2c("250 2.1.0 Ok\r\n")),
        (80, S.c2s("QUIT\r\n")),
        (85, S.s2c("221 2.0.0 Bye\r\n")),
        (86, .close(.serverToClient, .fin)),
    ], id: id, proto: .smtp)
}

/// An HTTPS session: TLS from the first byte.
private func implicitSession() -> Session {
    S.make([
        (5, .tls(TLSMarker(version: "TLSv1.3", sni: "localhost"))),
        (10, S.c2s("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")),
        (20, S.s2c("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")),
    ], proto: .http)
}

private func replayer(_ sessions: [Session]) -> ConnectionReplayer {
    ConnectionReplayer(set: ConversationSet(cassettes: [("t.cassette", sessions)]), mode: .similar, policy: .error,
                       options: ReplayOptions(noDelay: true), connection: 1, writesMayBlock: false)
}

private func sent(_ actions: [ReplayAction]) -> [String] {
    actions.compactMap { if case .send(let bytes) = $0 { return String(decoding: bytes, as: UTF8.self) } else { return nil } }
}

private func notes(_ actions: [ReplayAction]) -> [String] {
    actions.compactMap { if case .note(let note) = $0 { return note.message } else { return nil } }
}

@Suite("Replay over TLS")
struct ReplayTLSTests {
    @Test func theTLSMarkerStartsTLSRightAfterTheRecordedSTARTTLSReply() {
        let conversation = RecordedConversation(session: starttlsSession(), file: "t.cassette")
        let starttls = conversation.exchanges.first { $0.request.map { String(decoding: $0.bytes, as: UTF8.self) } == "STARTTLS\r\n" }
        #expect(starttls?.pieces.map(\.action) == [.send(utf8("220 2.0.0 Ready to start TLS\r\n")), .startTLS])
        let opening = RecordedConversation(session: implicitSession(), file: "t.cassette").exchanges[0]
        #expect(opening.pieces.map(\.action) == [.startTLS])
        #expect(starttlsSession().startsTLS)
        #expect(!S.lines([("HELO x\r\n", "250 ok\r\n")]).startsTLS)
        // A handshake that failed on the recording is no place to start TLS.
        #expect(!TLSMarker(failure: "unknown CA", leg: .client).startsTLS)
    }

    @Test func aSTARTTLSSessionReplaysTheReplyInPlaintextThenTLSThenTheRest() {
        var replay = replayer([starttlsSession()])
        #expect(sent(replay.connected(at: 0)) == ["220 mx ESMTP\r\n"])
        #expect(sent(replay.clientData(utf8("ehlo other.name\r\n"), count: 17, at: ms(1))) == ["250-mx\r\n250 STARTTLS\r\n"])
        let upgrade = replay.clientData(utf8("STARTTLS\r\n"), count: 10, at: ms(2))
        // The reply, then TLS at once: nothing between them, so the client's handshake meets TLS.
        #expect(upgrade.filter { if case .scheduleWakeup = $0 { return false } else { return true } }
                == [.send(utf8("220 2.0.0 Ready to start TLS\r\n")), .startTLS])
        // Over TLS the client says EHLO again (RFC 3207) and the conversation goes on.
        #expect(sent(replay.clientData(utf8("EHLO other.name\r\n"), count: 17, at: ms(3))) == ["250 mx\r\n"])
        #expect(sent(replay.clientData(utf8("MAIL FROM:<b@example.org>\r\n"), count: 27, at: ms(4))) == ["250 2.1.0 Ok\r\n"])
        #expect(replay.report.mismatches == 0)
    }

    @Test func plaintextPipelinedAfterSTARTTLSIsDroppedNeverAnswered() {
        var replay = replayer([starttlsSession()])
        _ = replay.connected(at: 0)
        _ = replay.clientData(utf8("EHLO x\r\n"), count: 8, at: ms(1))
        // CVE-2011-0411: the injected MAIL rides in the same packet as STARTTLS.
        let injected = utf8("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<x@y>\r\n")
        let actions = replay.clientData(injected, count: injected.count, at: ms(2))
        #expect(sent(actions) == ["220 2.0.0 Ready to start TLS\r\n"])
        #expect(actions.contains(.startTLS))
        #expect(notes(actions).contains { $0.contains("dropped 45 plaintext bytes") && $0.contains("CVE-2011-0411") })
        // After the handshake the conversation starts afresh: EHLO gets the EHLO reply, not MAIL's.
        #expect(sent(replay.clientData(utf8("EHLO x\r\n"), count: 8, at: ms(3))) == ["250 mx\r\n"])
        #expect(replay.report.steps.map(\.kind).contains("MAIL") == false)
    }

    @Test func plaintextArrivingWhileTheSTARTTLSReplyWaitsIsDroppedToo() {
        var session = starttlsSession()
        session = Session(id: session.id, open: session.open, events: session.events)
        var replay = ConnectionReplayer(set: ConversationSet(cassettes: [("t.cassette", [session])]), mode: .similar, policy: .error,
                                        options: ReplayOptions(), connection: 1, writesMayBlock: false)
        _ = replay.connected(at: 0)
        _ = replay.timerFired(at: ms(10))
        _ = replay.clientData(utf8("EHLO x\r\n"), count: 8, at: ms(20))
        _ = replay.timerFired(at: ms(25))
        // The recorded 220 comes 5 ms after STARTTLS: bytes in between are not answered.
        #expect(replay.clientData(utf8("STARTTLS\r\n"), count: 10, at: ms(30)) == [.scheduleWakeup(at: ms(35))])
        let early = replay.clientData(utf8("MAIL FROM:<e@x>\r\n"), count: 17, at: ms(31))
        #expect(notes(early).contains { $0.contains("dropped 17 plaintext bytes") })
        #expect(sent(early).isEmpty)
        #expect(replay.timerFired(at: ms(35)) == [.send(utf8("220 2.0.0 Ready to start TLS\r\n")), .startTLS])
    }

    @Test func implicitTLSStartsBeforeAnythingIsSent() {
        var replay = replayer([implicitSession()])
        #expect(replay.connected(at: 0).first == .startTLS)
        let reply = replay.clientData(utf8("GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: curl\r\n\r\n"), count: 51, at: ms(1))
        #expect(sent(reply) == ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"])
    }

    @Test func theByteCountPlanStartsTLSAtTheMarkerToo() {
        let plan = ReplayPlan(session: starttlsSession())
        let actions = plan.steps.map(\.action)
        guard let index = actions.firstIndex(of: .startTLS) else {
            Issue.record("no startTLS step in \(actions)")
            return
        }
        #expect(actions[index - 1] == .send(utf8("220 2.0.0 Ready to start TLS\r\n")))
        var machine = ReplayMachine(plan: plan, options: ReplayOptions(noDelay: true), writesMayBlock: false)
        _ = machine.connected(at: 0)
        _ = machine.clientSent(byteCount: 21, at: 1)
        let upgrade = machine.clientSent(byteCount: 10, at: 2)
        #expect(upgrade.suffix(2) == [.send(utf8("220 2.0.0 Ready to start TLS\r\n")), .startTLS])
    }

    @Test func sessionsThatDifferOnlyInTLSAreDifferentReplies() {
        let plain = S.make([
            (10, S.s2c("220 mx ESMTP\r\n")),
            (20, S.c2s("EHLO client.example\r\n")),
            (25, S.s2c("250-mx\r\n250 STARTTLS\r\n")),
            (30, S.c2s("STARTTLS\r\n")),
            (35, S.s2c("220 2.0.0 Ready to start TLS\r\n")),
        ], id: 2, proto: .smtp)
        let conversations = [RecordedConversation(session: starttlsSession(), file: "t"), RecordedConversation(session: plain, file: "t")]
        let signatures = conversations.map { ConversationIndex.signature($0.exchanges[2]) }
        #expect(signatures[0] != signatures[1])
    }
}

@Suite("Verify over TLS")
struct VerifyTLSTests {
    @Test func verifyStartsTLSAfterTheServersYesToSTARTTLS() throws {
        let script = try VerifyScript(session: starttlsSession(), file: "t.cassette")
        #expect(!script.implicitTLS)
        #expect(script.steps.map(\.startsTLS) == [false, false, true, false, false, false])
        var machine = VerifyMachine(script: script, options: VerifyOptions(noDelay: true))
        #expect(machine.start(at: 0).isEmpty == false)
        _ = machine.received(utf8("220 mx ESMTP\r\n"), at: 1)
        let afterEHLO = machine.received(utf8("250-mx\r\n250 STARTTLS\r\n"), at: 2)
        #expect(afterEHLO.first == .send(utf8("STARTTLS\r\n")))
        let upgrade = machine.received(utf8("220 2.0.0 Ready to start TLS\r\n"), at: 3)
        #expect(upgrade.first == .startTLS)
        #expect(upgrade.dropFirst().first == .send(utf8("EHLO client.example\r\n")))
    }

    @Test func implicitTLSComesFirstAndAFailedHandshakeIsADifference() throws {
        let script = try VerifyScript(session: implicitSession(), file: "t.cassette")
        #expect(script.implicitTLS)
        var machine = VerifyMachine(script: script, options: VerifyOptions(noDelay: true))
        let start = machine.start(at: 0)
        #expect(start.first == .startTLS)
        let failed = machine.tlsFailed("the certificate is not trusted (unknown CA, expired or invalid)", at: 1)
        guard case .finish(let verdict) = failed.last else {
            Issue.record("no verdict: \(failed)")
            return
        }
        #expect(!verdict.matched)
        #expect(verdict.difference?.detail.contains("TLS with the server failed: the certificate is not trusted") == true)
    }

    @Test func dashDashTLSForcesTLSFromTheFirstByte() throws {
        let script = try VerifyScript(session: S.lines([("HELO x\r\n", "250 ok\r\n")]), file: "t")
        var machine = VerifyMachine(script: script, options: VerifyOptions(noDelay: true, implicitTLS: true))
        #expect(machine.start(at: 0).first == .startTLS)
    }

    @Test func handshakeFailuresAreSaidInWords() {
        // Only TLS errors count as TLS failures: a reset or a close without close_notify does not.
        #expect(TLSFailureReason.describeIfTLS(CancellationError()) == nil)
        #expect(TLSFailureReason.describeIfTLS(NIOSSLError.uncleanShutdown) == nil)
        #expect(TLSFailureReason.describeIfTLS(NIOSSLExtraError.failedToValidateHostname)?.contains("name mismatch") == true)
    }
}
