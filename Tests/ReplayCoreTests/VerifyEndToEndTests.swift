import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd verify` against real servers: sessions recorded through the real `replayd record`
/// with real clients (swaks, redis-cli), then verified by the real binary against the same
/// server, against the server changed, and against no server at all. Every child is started by
/// the test on loopback, bounded in time, and stopped when the test ends.
extension HeavyTests {
    @Suite("Verify end to end", .serialized, .timeLimit(.minutes(3)))
    struct VerifyEndToEndTests {
        static let recipients = ["postmaster@example.net", "nosuchuser@example.net", "someone@elsewhere.org"]

        /// Runs `replayd verify ARGS...` and returns its exit status, stdout and stderr.
        static func verify(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            let verifier = try ChildProcess(TestPaths.replayd, ["verify"] + arguments)
            let status = try await verifier.wait(timeout: 60)
            return (status, verifier.stdout, verifier.stderr)
        }

        @Test("Postfix: valid user, unknown user and relay verify as recorded (0); with local_recipient_maps empty the RCPT TO step differs (1); stopped, it cannot be reached (2)",
              .enabled(if: getuid() == 0 && ChildProcess.isInstalled("postfix") && ChildProcess.isInstalled("swaks")))
        func postfixPolicy() async throws {
            let directory = try TestPaths.temporaryDirectory("verify-postfix")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/policy.cassette"
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }

            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette)
            defer { recorder.stop() }
            for recipient in Self.recipients {
                let (replies, output) = try await SMTPClients.swaks(port: recordPort, [
                    "--helo", "client.example.org", "--from", "alerts@client.example.org", "--to", recipient,
                ])
                try #require(replies.count >= 4, "swaks through the recorder:\n\(output)\nmaillog:\n\(postfix.maillog)")
            }
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            try #require(try Cassette.load(path: cassette).sessions.count == 3)

            let target = "127.0.0.1:\(postfix.port)"
            // 1. The same Postfix answers as recorded: the queue id of the accepted mail differs, and is masked.
            let same = try await Self.verify([cassette, "--target", target])
            #expect(same.status == 0, "stdout:\n\(same.stdout)\nstderr:\n\(same.stderr)")
            #expect(same.stdout.contains("session 1: ok") && same.stdout.contains("session 2: ok") && same.stdout.contains("session 3: ok"))
            #expect(same.stdout.contains("3 sessions verified: 3 ok, 0 different"), "\(same.stdout)")
            let policy = try await Self.verify([cassette, "--target", target, "--until", "rcpt", "--json"])
            #expect(policy.status == 0, "\(policy.stdout)\n\(policy.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(policy.stdout.utf8)) as? [String: Any])
            #expect(document["verdict"] as? String == "ok" && document["ok"] as? Int == 3)
            // The same policy written by hand, with S: patterns: a transcript works as the cassette.
            let handWritten = TestPaths.fixture("scenarios/mta-policy-check.txt")
            let written = try await Self.verify([handWritten, "--target", target])
            #expect(written.status == 0, "stdout:\n\(written.stdout)\nstderr:\n\(written.stderr)")
            #expect(written.stdout.contains("3 sessions verified: 3 ok, 0 different"), "\(written.stdout)")

            // 2. Unknown users are now accepted: the unknown user's session differs at RCPT TO, the others do not.
            let conf = postfix.directory + "/conf"
            #expect(try await ChildProcess("postconf", ["-c", conf, "-e", "local_recipient_maps ="]).wait(timeout: 20) == 0)
            #expect(try await ChildProcess("postfix", ["-c", conf, "reload"]).wait(timeout: 20) == 0)
            // The master applies a reload asynchronously; idle smtpd processes of the old
            // configuration leave at once. Bounded: at most 20 tries, 250 ms apart.
            var changed = try await Self.verify([cassette, "--target", target, "--until", "RCPT", "--session", "2"])
            for _ in 0..<20 where changed.status == 0 {
                try await Task.sleep(for: .milliseconds(250))
                changed = try await Self.verify([cassette, "--target", target, "--until", "RCPT", "--session", "2"])
            }
            #expect(changed.status == 1, "stdout:\n\(changed.stdout)\nstderr:\n\(changed.stderr)")
            let whole = try await Self.verify([cassette, "--target", target])
            #expect(whole.status == 1, "\(whole.stdout)\n\(whole.stderr)")
            #expect(whole.stdout.contains("session 1: ok") && whole.stdout.contains("session 3: ok"), "\(whole.stdout)")
            #expect(whole.stdout.contains("session 2: DIFFERENT at step 3 (RCPT)"), "\(whole.stdout)")
            #expect(whole.stdout.contains("client sent: RCPT TO:<nosuchuser@example.net>\\r\\n"), "\(whole.stdout)")
            #expect(whole.stdout.contains("- recorded: 550 5.1.1 <nosuchuser@example.net>: Recipient address rejected: User unknown in local recipient table\\r\\n"), "\(whole.stdout)")
            #expect(whole.stdout.contains("+ live:     250 2.1.5 Ok\\r\\n"), "\(whole.stdout)")
            #expect(whole.stdout.contains("3 sessions verified: 2 ok, 1 different"), "\(whole.stdout)")
            let writtenNow = try await Self.verify([handWritten, "--target", target])
            #expect(writtenNow.status == 1, "\(writtenNow.stdout)\n\(writtenNow.stderr)")
            #expect(writtenNow.stdout.contains("550*"), "the pattern is shown as recorded: \(writtenNow.stdout)")

            // 3. No Postfix: the target cannot be reached, and the message names it.
            postfix.stop()
            let gone = try await Self.verify([cassette, "--target", target])
            #expect(gone.status == 2)
            #expect(gone.stderr.contains("replayd: error: cannot reach \(target): connection refused"), "\(gone.stderr)")
        }

        @Test("Redis: GET verifies as recorded (0), and differs once the stored value changed (1)",
              .enabled(if: ChildProcess.isInstalled("redis-server") && ChildProcess.isInstalled("redis-cli")))
        func redisValue() async throws {
            let directory = try TestPaths.temporaryDirectory("verify-redis")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/redis.cassette"
            let server = try await RedisServer(directory: directory)
            defer { server.stop() }
            #expect(try await RedisServer.cli(port: server.port, ["SET", "greeting", "hello"]) == "OK\n")
            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            #expect(try await RedisServer.cli(port: recordPort, ["GET", "greeting"]) == "\"hello\"\n")
            #expect(try await RedisServer.cli(port: recordPort, ["SET", "counter", "1"]) == "OK\n")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")

            let target = "127.0.0.1:\(server.port)"
            let same = try await Self.verify([cassette, "--target", target])
            #expect(same.status == 0, "stdout:\n\(same.stdout)\nstderr:\n\(same.stderr)")
            #expect(same.stdout.contains("2 sessions verified: 2 ok, 0 different"), "\(same.stdout)")

            #expect(try await RedisServer.cli(port: server.port, ["SET", "greeting", "changed"]) == "OK\n")
            let changed = try await Self.verify([cassette, "--target", target, "--json"])
            #expect(changed.status == 1, "\(changed.stdout)\n\(changed.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(changed.stdout.utf8)) as? [String: Any])
            let sessions = try #require(document["sessions"] as? [[String: Any]])
            #expect(sessions.map { $0["verdict"] as? String } == ["different", "ok"])
            let difference = try #require(sessions.first?["difference"] as? [String: Any])
            #expect(difference["kind"] as? String == "GET")
            #expect(difference["recorded"] as? String == "$5\\r\\nhello\\r\\n")
            #expect(difference["live"] as? String == "$7\\r\\nchanged\\r\\n")
        }

        @Test("AUTH PLAIN recorded redacted: refused before connecting without the secret (64), verified with --secret or the environment (0), a wrong one differs (1)",
              .enabled(if: ChildProcess.isInstalled("swaks")))
        func redactedSecret() async throws {
            typealias Auth = RedactionEndToEndTests
            let directory = try TestPaths.temporaryDirectory("verify-auth")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/auth.cassette"
            let server = try await Auth.AuthServer()
            defer { server.stop() }
            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: recordPort, [
                "--to", "user@example.net", "--auth", "PLAIN", "--auth-user", Auth.user, "--auth-password", Auth.password,
            ])
            try #require(replies.contains { $0.code == 235 }, "swaks through the recorder:\n\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            let recorded = try Cassette.load(path: cassette).sessions[0]
            let text = MaskSet.latin1(recorded.bytes(.clientToServer))
            try #require(text.contains("AUTH PLAIN") && !text.contains(Auth.b64("\0\(Auth.user)\0\(Auth.password)")), "\(text)")
            try #require(recorded.events.contains { if case .redacted(let redaction) = $0.kind { return redaction.rule == "smtp-auth-plain" } else { return false } })

            let target = "127.0.0.1:\(server.port)"
            let refused = try await Self.verify([cassette, "--target", target])
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("replayd: error: session \(cassette):1, step") && refused.stderr.contains("rule smtp-auth-plain"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--secret smtp-auth-plain=VALUE") && refused.stderr.contains("REPLAYD_SECRET_SMTP_AUTH_PLAIN"), "\(refused.stderr)")
            #expect(refused.stdout.isEmpty)

            // swaks sends the credential as base64 of "\0user\0password".
            let credential = Auth.b64("\0\(Auth.user)\0\(Auth.password)")
            let given = try await Self.verify([cassette, "--target", target, "--secret", "smtp-auth-plain=\(credential)"])
            #expect(given.status == 0, "stdout:\n\(given.stdout)\nstderr:\n\(given.stderr)")
            let environment = try ChildProcess(TestPaths.replayd, ["verify", cassette, "--target", target],
                                               environment: ["REPLAYD_SECRET_SMTP_AUTH_PLAIN": credential])
            #expect(try await environment.wait(timeout: 60) == 0, "\(environment.stdout)\n\(environment.stderr)")
            // This aiosmtpd never answers a failed AUTH: a difference by --timeout.
            let wrong = try await Self.verify([cassette, "--target", target, "--timeout", "0.5",
                                               "--secret", "smtp-auth-plain=\(Auth.b64("\0\(Auth.user)\0wrong"))"])
            #expect(wrong.status == 1, "\(wrong.stdout)\n\(wrong.stderr)")
            #expect(wrong.stdout.contains("DIFFERENT at step 2 (AUTH): no reply within 0.5 s"), "\(wrong.stdout)")
        }

        @Test("verify --help has examples; a step the sessions never sent is a usage error (64)")
        func commandLine() async throws {
            let help = try await Self.verify(["--help"])
            #expect(help.status == 0 && help.stdout.contains("EXAMPLES:") && help.stdout.contains("replayd verify policy.cassette --target mx.example.net:25 --until RCPT"))
            let until = try await Self.verify([TestPaths.fixture("smtp-rcpt-450.cassette"), "--target", "127.0.0.1:9", "--until", "BDAT"])
            #expect(until.status == 64)
            #expect(until.stderr.contains("replayd: error: --until BDAT: session ") && until.stderr.contains("has no BDAT step (its steps: EHLO, MAIL, RCPT, QUIT)"), "\(until.stderr)")
            let unreachable = try await Self.verify([TestPaths.fixture("smtp-rcpt-450.cassette"), "--target", "127.0.0.1:9"])
            #expect(unreachable.status == 2 && unreachable.stderr.contains("cannot reach 127.0.0.1:9: connection refused"), "\(unreachable.stderr)")
        }
    }
}
