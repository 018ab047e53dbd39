import Foundation
import Testing
@testable import ReplayCore

/// Verify's text and JSON reports, and the --secret option, without any server.
@Suite("Verify reports and secrets")
struct VerifyReportTests {
    static let ref = SessionRef(file: "policy.cassette", session: 2)

    static func differing(recorded: String, live: String) -> SessionVerdict {
        SessionVerdict(session: ref, label: "unknown user", proto: .smtp, steps: [],
                       difference: .init(step: 3, kind: "RCPT", sent: utf8("RCPT TO:<x@example.net>\r\n"),
                                         recorded: utf8(recorded), live: utf8(live), detail: "differs after masks from byte 1"),
                       recordedEnding: nil, liveEnding: nil)
    }

    @Test("short replies side by side, long ones as - recorded / + live lines")
    func layout() {
        let short = VerifyReportText().lines(for: Self.differing(recorded: "550 no\r\n", live: "250 ok\r\n"))
        #expect(short == [
            "session 2 (unknown user): DIFFERENT at step 3 (RCPT): differs after masks from byte 1",
            "  client sent: RCPT TO:<x@example.net>\\r\\n",
            "  recorded                               | live",
            "  550 no\\r\\n                             | 250 ok\\r\\n",
        ])
        let long = VerifyReportText(namesFiles: true).lines(for: Self.differing(
            recorded: "550-5.1.1 first line of a long rejection text\r\n550 5.1.1 second line\r\n", live: "250 2.1.5 Ok\r\n"))
        #expect(long.first == "session policy.cassette:2 (unknown user): DIFFERENT at step 3 (RCPT): differs after masks from byte 1")
        #expect(Array(long.dropFirst(2)) == [
            "  - recorded: 550-5.1.1 first line of a long rejection text\\r\\n",
            "  - recorded: 550 5.1.1 second line\\r\\n",
            "  + live:     250 2.1.5 Ok\\r\\n",
        ])
    }

    @Test("--json: one document with the verdict, counts, steps and the difference")
    func json() throws {
        let ok = SessionVerdict(session: SessionRef(file: "policy.cassette", session: 1), label: nil, proto: .smtp,
                                steps: [.init(step: 0, kind: "(open)", sent: [], result: .matched, recorded: utf8("220 mx\r\n"),
                                              live: utf8("220 mx\r\n"), detail: nil)],
                                difference: nil, recordedEnding: .fin, liveEnding: .fin)
        let data = try VerifyReportJSON.document([ok, Self.differing(recorded: "550 no\r\n", live: "250 ok\r\n")], target: "127.0.0.1:25")
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["verdict"] as? String == "different" && document["ok"] as? Int == 1 && document["different"] as? Int == 1)
        #expect(document["target"] as? String == "127.0.0.1:25")
        let sessions = try #require(document["sessions"] as? [[String: Any]])
        #expect(sessions[0]["recordedEnding"] as? String == "fin" && sessions[0]["verdict"] as? String == "ok")
        #expect((sessions[0]["steps"] as? [[String: Any]])?.first?["recorded"] as? String == "220 mx\\r\\n")
        let difference = try #require(sessions[1]["difference"] as? [String: Any])
        #expect(difference["step"] as? Int == 3 && difference["kind"] as? String == "RCPT" && difference["live"] as? String == "250 ok\\r\\n")
        #expect(sessions[1]["label"] as? String == "unknown user")
    }

    @Test("--secret NAME=VALUE, the environment as REPLAYD_SECRET_NAME, the option first; a value without = is refused")
    func secretOptions() throws {
        #expect(VerifySecrets.environmentName(rule: "smtp-auth-plain") == "REPLAYD_SECRET_SMTP_AUTH_PLAIN")
        let secrets = try VerifySecrets(options: ["redis-auth=a=b"], environment: ["REPLAYD_SECRET_REDIS_AUTH": "env", "REPLAYD_SECRET_POP3_PASS": "p"])
        #expect(secrets.value(rule: "redis-auth") == utf8("a=b"))
        #expect(secrets.value(rule: "pop3-pass") == utf8("p"))
        #expect(secrets.value(rule: "ftp-pass") == nil)
        #expect(throws: VerifySecretError(option: "smtp-auth-plain")) { try VerifySecrets(options: ["smtp-auth-plain"], environment: [:]) }
        #expect(throws: VerifySecretError(option: "=x")) { try VerifySecrets(options: ["=x"], environment: [:]) }
    }
}
