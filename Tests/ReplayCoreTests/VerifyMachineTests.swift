import Foundation
import Testing
@testable import ReplayCore

/// The verify machine without sockets or clocks: a scripted server answers what it is sent,
/// and time moves only to the deadlines the machine asks for.
@Suite("Verify machine")
struct VerifyMachineTests {
    typealias S = ScriptedSession

    /// A Postfix-like session: banner, EHLO, MAIL, RCPT, DATA, body, QUIT, then the server's FIN
    /// and the client's.
    static func smtpSession(rcptReply: String = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n",
                            withData: Bool = false, ending: SessionEventKind? = .close(.serverToClient, .fin)) -> Session {
        var events: [(Int64, SessionEventKind)] = [
            (5, S.s2c("220 mx.example.net ESMTP Postfix\r\n")),
            (10, S.c2s("EHLO client.example.org\r\n")),
            (11, S.s2c("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n")),
            (40, S.c2s("MAIL FROM:<alerts@example.org>\r\n")),
            (41, S.s2c("250 2.1.0 Ok\r\n")),
            (50, S.c2s("RCPT TO:<nobody@example.net>\r\n")),
            (51, S.s2c(rcptReply)),
        ]
        var time: Int64 = 60
        if withData {
            events += [
                (60, S.c2s("DATA\r\n")), (61, S.s2c("354 End data with <CR><LF>.<CR><LF>\r\n")),
                (70, S.c2s("Subject: hi\r\n\r\nhello\r\n.\r\n")), (71, S.s2c("250 2.0.0 Ok: queued as 4C1D2E3F\r\n")),
            ]
            time = 80
        }
        events += [(time, S.c2s("QUIT\r\n")), (time + 1, S.s2c("221 2.0.0 Bye\r\n"))]
        if let ending { events.append((time + 2, ending)) }
        events.append((time + 3, .close(.clientToServer, .fin)))
        return S.make(events, proto: .smtp)
    }

    /// What the scripted server does in answer to one client message.
    enum Answer {
        case bytes(String)
        case fin
        case rst
    }

    /// Runs `machine` against a server that answers the banner with `greeting` and each client
    /// message (and the client's FIN, as "<FIN>") with `answer`; returns the verdict, what was
    /// sent, and the time it took.
    static func drive(_ script: VerifyScript, options: VerifyOptions = VerifyOptions(noDelay: true), masks: MaskSet = .none,
                      greeting: [Answer] = [], answer: (String) -> [Answer]) -> (verdict: SessionVerdict?, sent: [String], elapsed: Int64) {
        var machine = VerifyMachine(script: script, options: options, masks: masks)
        var now: Int64 = 0
        var sent: [String] = []
        var timer: Int64?
        var queue = machine.start(at: now)
        func feed(_ answers: [Answer]) -> [VerifyAction] {
            answers.flatMap { answer -> [VerifyAction] in
                switch answer {
                case .bytes(let text): return machine.received(Array(text.utf8), at: now)
                case .fin: return machine.serverClosed(.fin, at: now)
                case .rst: return machine.serverClosed(.rst, at: now)
                }
            }
        }
        queue += feed(greeting)
        for _ in 0..<1_000 {
            if queue.isEmpty {
                guard let due = timer else { break }
                timer = nil
                now = max(now, due)
                queue = machine.timerFired(at: now)
                continue
            }
            switch queue.removeFirst() {
            case .send(let bytes):
                let text = String(decoding: bytes, as: UTF8.self)
                sent.append(text)
                queue += feed(answer(text))
            case .halfClose:
                sent.append("<FIN>")
                queue += feed(answer("<FIN>"))
            case .wait(let until):
                timer = until
            case .startTLS:
                sent.append("<TLS>")
            case .finish(let verdict):
                return (verdict, sent, now)
            }
        }
        return (nil, sent, now)
    }

    /// A live Postfix that answers like the recorded one, with its own queue id.
    static func postfix(rcpt: String = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n",
                        close: [Answer] = [.fin]) -> (String) -> [Answer] {
        { message in
            switch message.prefix(4) {
            case "EHLO": return [.bytes("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n")]
            case "MAIL": return [.bytes("250 2.1.0 Ok\r\n")]
            case "RCPT": return [.bytes(rcpt)]
            case "DATA": return [.bytes("354 End data with <CR><LF>.<CR><LF>\r\n")]
            case "Subj": return [.bytes("250 2.0.0 Ok: queued as 9F8E7D6C5B\r\n")]
            case "QUIT": return [.bytes("221 2.0.0 Bye\r\n")] + close
            default: return []
            }
        }
    }

    static let banner: [Answer] = [.bytes("220 mx.example.net ESMTP Postfix\r\n")]

    @Test("a server that answers as recorded (another queue id) matches, its FIN included")
    func matches() throws {
        let script = try VerifyScript(session: Self.smtpSession(withData: true), file: "t.cassette")
        let run = Self.drive(script, greeting: Self.banner, answer: Self.postfix())
        let verdict = try #require(run.verdict)
        #expect(verdict.matched, "\(String(describing: verdict.difference))")
        #expect(verdict.matchedSteps == 7)
        #expect(verdict.recordedEnding == .fin && verdict.liveEnding == .fin)
        // The recorded client's FIN came after the server's: nothing of the client follows the server's end.
        #expect(run.sent == ["EHLO client.example.org\r\n", "MAIL FROM:<alerts@example.org>\r\n", "RCPT TO:<nobody@example.net>\r\n",
                             "DATA\r\n", "Subject: hi\r\n\r\nhello\r\n.\r\n", "QUIT\r\n"])
        #expect(run.elapsed == 0, "no timer should have been needed")
    }

    @Test("a 250 where 550 was recorded is a difference at the RCPT step, and verify leaves with QUIT")
    func changedReply() throws {
        let script = try VerifyScript(session: Self.smtpSession(), file: "t.cassette")
        let run = Self.drive(script, greeting: Self.banner, answer: Self.postfix(rcpt: "250 2.1.5 Ok\r\n"))
        let verdict = try #require(run.verdict)
        let difference = try #require(verdict.difference)
        #expect(difference.step == 3 && difference.kind == "RCPT")
        #expect(difference.sent == utf8("RCPT TO:<nobody@example.net>\r\n"))
        #expect(difference.recorded == utf8("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"))
        #expect(difference.live == utf8("250 2.1.5 Ok\r\n"))
        #expect(run.sent.last == "QUIT\r\n")
        #expect(verdict.liveEnding == nil, "the ending is not compared after a difference")
        let text = VerifyReportText().lines(for: verdict).joined(separator: "\n")
        #expect(text.contains("DIFFERENT at step 3 (RCPT)") && text.contains("client sent: RCPT TO:<nobody@example.net>\\r\\n"))
        #expect(text.contains("- recorded: 550 5.1.1") && text.contains("+ live:     250 2.1.5 Ok\\r\\n"), "\(text)")
    }

    @Test("a reply that never comes is a difference after --timeout, not a hang")
    func missingReply() throws {
        let script = try VerifyScript(session: Self.smtpSession(), file: "t.cassette")
        let options = VerifyOptions(noDelay: true, replyTimeout: 3_000_000_000)
        let run = Self.drive(script, options: options, greeting: Self.banner) { message in
            message.hasPrefix("RCPT") ? [] : Self.postfix()(message)
        }
        let difference = try #require(run.verdict?.difference)
        #expect(difference.step == 3 && difference.detail == "no reply within 3 s")
        #expect(run.elapsed == 3_000_000_000)
    }

    @Test("FIN as recorded matches; RST, or silence for the window, where FIN was recorded differ")
    func endings() throws {
        let script = try VerifyScript(session: Self.smtpSession(), file: "t.cassette")
        let rst = try #require(Self.drive(script, greeting: Self.banner, answer: Self.postfix(close: [.rst])).verdict)
        #expect(rst.difference?.step == nil && rst.recordedEnding == .fin && rst.liveEnding == .rst)
        #expect(rst.difference?.detail == "the server ended with RST where the recording had FIN")

        let silent = Self.drive(script, options: VerifyOptions(noDelay: true, silence: 1_500_000_000), greeting: Self.banner,
                                answer: Self.postfix(close: []))
        #expect(silent.verdict?.liveEnding == .silent && silent.verdict?.matched == false)
        #expect(silent.elapsed == 1_500_000_000)

        // Recorded silence: the default window is the recorded pause (1 ms) plus 2 s.
        let quiet = try VerifyScript(session: Self.smtpSession(ending: nil), file: "t.cassette")
        #expect(quiet.ending == .silent)
        let stillQuiet = Self.drive(quiet, greeting: Self.banner, answer: Self.postfix(close: []))
        #expect(stillQuiet.verdict?.matched == true && stillQuiet.verdict?.liveEnding == .silent)
        #expect(stillQuiet.elapsed == 2_002_000_000)
        let closes = Self.drive(quiet, greeting: Self.banner, answer: Self.postfix(close: [.fin]))
        #expect(closes.verdict?.matched == false && closes.verdict?.liveEnding == .fin)
    }

    @Test("--until RCPT stops after RCPT with QUIT, never sends DATA, and does not compare what follows")
    func until() throws {
        let script = try VerifyScript(session: Self.smtpSession(withData: true), file: "t.cassette", until: "rcpt")
        #expect(script.ending == nil)
        let run = Self.drive(script, greeting: Self.banner) { message in
            message == "QUIT\r\n" ? [.bytes("221 2.0.0 something else\r\n"), .rst] : Self.postfix()(message)
        }
        let verdict = try #require(run.verdict)
        #expect(verdict.matched)
        #expect(run.sent == ["EHLO client.example.org\r\n", "MAIL FROM:<alerts@example.org>\r\n", "RCPT TO:<nobody@example.net>\r\n", "QUIT\r\n"])
        #expect(verdict.steps.last?.result == .notCompared)
        #expect(VerifyReportText().lines(for: verdict) == ["session 1: ok (4 steps)"], "banner, EHLO, MAIL and RCPT; not the QUIT")

        // The policy check still fails when RCPT changed.
        let accepted = Self.drive(script, greeting: Self.banner, answer: Self.postfix(rcpt: "250 2.1.5 Ok\r\n"))
        #expect(accepted.verdict?.difference?.kind == "RCPT")
        #expect(!accepted.sent.contains("DATA\r\n"))

        #expect(throws: VerifyScriptError.self) { try VerifyScript(session: Self.smtpSession(), file: "t.cassette", until: "BDAT") }
    }

    @Test("the recorded think time is waited for, divided by --speed; --no-delay sends at once")
    func thinkTime() throws {
        let script = try VerifyScript(session: Self.smtpSession(), file: "t.cassette", until: "MAIL")
        // EHLO 5 ms after the banner, MAIL 29 ms after the EHLO reply.
        #expect(script.steps[1].think == 5_000_000 && script.steps[2].think == 29_000_000)
        let recorded = Self.drive(script, options: VerifyOptions(), greeting: Self.banner, answer: Self.postfix())
        #expect(recorded.verdict?.matched == true)
        #expect(recorded.elapsed == 34_000_000)
        let faster = Self.drive(script, options: VerifyOptions(speed: 2), greeting: Self.banner, answer: Self.postfix())
        #expect(faster.elapsed == 17_000_000)
    }

    @Test("a redacted AUTH PLAIN needs its secret: refused without it, sent with --secret or the environment")
    func secrets() throws {
        let session = S.make([
            (1, S.s2c("220 mx ESMTP\r\n")),
            (2, S.c2s("AUTH PLAIN ****************\r\n")),
            (2, .redacted(Redaction(direction: .clientToServer, offset: 11, length: 16, rule: "smtp-auth-plain"))),
            (3, S.s2c("235 2.7.0 Authentication successful\r\n")),
        ], proto: .smtp)
        #expect(throws: VerifyScriptError.missingSecret(session: SessionRef(file: "t", session: 1), step: 1, kind: "AUTH", rule: "smtp-auth-plain")) {
            try VerifyScript(session: session, file: "t")
        }
        let message = VerifyScriptError.missingSecret(session: SessionRef(file: "t", session: 1), step: 1, kind: "AUTH", rule: "smtp-auth-plain").description
        #expect(message.contains("--secret smtp-auth-plain=VALUE") && message.contains("REPLAYD_SECRET_SMTP_AUTH_PLAIN"))

        let given = try VerifyScript(session: session, file: "t", secrets: VerifySecrets(options: ["smtp-auth-plain=AGFsaWNlAHNlY3JldA=="], environment: [:]))
        #expect(given.steps[1].send == .bytes(utf8("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")))
        #expect(given.steps[1].shown == utf8("AUTH PLAIN ****************\r\n"), "the report shows the recorded placeholder")
        let fromEnvironment = try VerifyScript(session: session, file: "t",
                                               secrets: VerifySecrets(environment: ["REPLAYD_SECRET_SMTP_AUTH_PLAIN": "c2VjcmV0"]))
        #expect(fromEnvironment.steps[1].send == .bytes(utf8("AUTH PLAIN c2VjcmV0\r\n")))
    }

    @Test("a server-side pattern (S: 550*) is matched as a pattern; a client-side one is refused")
    func patterns() throws {
        let session = S.make([
            (1, S.s2c("220\r\n")),
            (1, .pattern(PatternMark(direction: .serverToClient, offset: 0, length: 5, source: "220*"))),
            (2, S.c2s("RCPT TO:<nobody@example.net>\r\n")),
            (3, S.s2c("550\r\n")),
            (3, .pattern(PatternMark(direction: .serverToClient, offset: 5, length: 5, source: "550*"))),
        ], proto: .smtp)
        let script = try VerifyScript(session: session, file: "policy.txt", until: "RCPT")
        let rejected = Self.drive(script, greeting: Self.banner) { message in
            message.hasPrefix("RCPT") ? [.bytes("550 5.1.1 <nobody@example.net>: User unknown\r\n")] : [.bytes("221 Bye\r\n")]
        }
        #expect(rejected.verdict?.matched == true, "\(String(describing: rejected.verdict?.difference))")
        let accepted = Self.drive(script, greeting: Self.banner) { message in
            message.hasPrefix("RCPT") ? [.bytes("250 2.1.5 Ok\r\n")] : [.bytes("221 Bye\r\n")]
        }
        #expect(accepted.verdict?.difference?.detail == "message 1 does not match the pattern \"550*\"")
        let shown = try VerifyReportText().lines(for: #require(accepted.verdict))
        #expect(shown.contains("  550*  (pattern)                        | 250 2.1.5 Ok\\r\\n"), "\(shown)")

        let clientPattern = S.make([
            (1, S.c2s("RCPT TO:\r\n")),
            (1, .pattern(PatternMark(direction: .clientToServer, offset: 0, length: 10, source: "RCPT TO:*"))),
        ], proto: .smtp)
        #expect(throws: VerifyScriptError.clientPattern(session: SessionRef(file: "t", session: 1), pattern: "RCPT TO:*")) {
            try VerifyScript(session: clientPattern, file: "t")
        }
    }

    @Test("a changed Redis value is a difference; the same value with the server's FIN after the client's matches")
    func redisValue() throws {
        let session = S.make([
            (1, S.c2s("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")),
            (2, S.s2c("$5\r\nhello\r\n")),
            (3, .close(.clientToServer, .fin)),
            (4, .close(.serverToClient, .fin)),
        ], server: "127.0.0.1:6379", proto: .redis)
        let script = try VerifyScript(session: session, file: "r")
        func server(_ value: String) -> (String) -> [Answer] {
            { $0 == "<FIN>" ? [.fin] : [.bytes("$\(value.count)\r\n\(value)\r\n")] }
        }
        let same = Self.drive(script, answer: server("hello"))
        #expect(same.verdict?.matched == true && same.verdict?.matchedSteps == 1 && same.sent == ["*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "<FIN>"])
        let changed = Self.drive(script, answer: server("world"))
        #expect(changed.verdict?.difference?.kind == "GET" && changed.verdict?.difference?.live == utf8("$5\r\nworld\r\n"))
        #expect(changed.sent.last == "*1\r\n$4\r\nQUIT\r\n")
    }

    @Test("FINs that crossed (the recorded client closed first, the live server does) are no difference")
    func crossedFINs() throws {
        var session = Self.smtpSession(ending: nil)
        // The client's FIN at +63 ms, then the server's at +64 ms.
        session.events.append(SessionEvent(session: 1, offset: S.ms(64), kind: .close(.serverToClient, .fin)))
        let script = try VerifyScript(session: session, file: "t.cassette")
        #expect(script.steps.last?.send == .halfClose && script.ending == .fin)
        let run = Self.drive(script, options: VerifyOptions(), greeting: Self.banner, answer: Self.postfix(close: [.fin]))
        #expect(run.verdict?.matched == true, "\(String(describing: run.verdict?.difference))")
        #expect(run.sent.last == "<FIN>")
        // But a server that closes before a client message the recording had still differs.
        let early = Self.drive(script, options: VerifyOptions(), greeting: Self.banner) { message in
            message.hasPrefix("RCPT") ? [.bytes("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"), .fin] : Self.postfix()(message)
        }
        #expect(early.verdict?.difference?.kind == "QUIT")
    }

    @Test("a server that closes before the recording's last step is a difference at that step")
    func closedEarly() throws {
        let script = try VerifyScript(session: Self.smtpSession(), file: "t.cassette")
        let run = Self.drive(script, greeting: Self.banner) { message in
            message.hasPrefix("MAIL") ? [.bytes("421 4.3.2 Service shutting down\r\n"), .fin] : Self.postfix()(message)
        }
        let difference = try #require(run.verdict?.difference)
        #expect(difference.step == 2 && difference.live == utf8("421 4.3.2 Service shutting down\r\n"))
    }
}
