import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests {
    /// Real clients through the real `replayd record` binary: the secrets never reach the
    /// cassette, live authentication still works, and the replay accepts another password.
    @Suite("Redaction end to end")
    struct RedactionEndToEndTests {
        static let user = "alice"
        static let password = "Tr0ub4dor&3-secret"

        /// aiosmtpd offering AUTH PLAIN and LOGIN without TLS, accepting `user`/`password`.
        final class AuthServer {
            let process: ChildProcess
            let port: Int

            init() async throws {
                process = try ChildProcess("python3", [TestPaths.fixture("peers/smtp-auth-server.py"),
                                                       "--user", RedactionEndToEndTests.user, "--password", RedactionEndToEndTests.password, "--lifetime", "120"])
                let output = try await process.waitForStdout(containing: "ready ")
                guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }), let port = Int(line.dropFirst(6)) else {
                    process.stop()
                    throw ChildProcessError.missingOutput(name: "smtp-auth-server.py", expected: "ready PORT", stderr: output + process.stderr)
                }
                self.port = port
            }

            func stop() { process.stop() }
            deinit { stop() }
        }

        static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

        /// Every form the SMTP password could take on the wire or in a cassette.
        static var passwordForms: [String] {
            [password, b64(password), b64("\0\(user)\0\(password)"), b64("\(user)\0\(user)\0\(password)")]
        }

        /// The cassette's text and every recorded byte of both directions, as Latin-1.
        static func everything(_ cassette: String) throws -> String {
            let text = try String(contentsOfFile: cassette, encoding: .utf8)
            let loaded = try Cassette.load(path: cassette)
            let bytes = loaded.sessions.flatMap { $0.bytes(.clientToServer) + $0.bytes(.serverToClient) }
            return text + "\n" + MaskSet.latin1(bytes)
        }

        func recordSwaks(mechanism: String, in directory: String) async throws -> String {
            let cassette = directory + "/auth-\(mechanism).cassette"
            let server = try await AuthServer()
            defer { server.stop() }
            let (recorder, port) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, [
                "--to", "user@example.net", "--auth", mechanism, "--auth-user", Self.user, "--auth-password", Self.password,
            ])
            #expect(replies.contains { $0.code == 235 }, "live AUTH \(mechanism) must succeed through record; swaks:\n\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            return cassette
        }

        @Test("swaks AUTH PLAIN and LOGIN: no form of the password in the cassette, replay answers 235 to another password",
              arguments: ["PLAIN", "LOGIN"])
        func swaksAuth(mechanism: String) async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-redact-\(mechanism)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = try await recordSwaks(mechanism: mechanism, in: directory)
            let all = try Self.everything(cassette)
            for form in Self.passwordForms { #expect(!all.contains(form), "\(form) is in the cassette:\n\(all)") }
            #expect(all.contains("AUTH \(mechanism)"), "the mechanism stays visible")
            #expect(all.contains("\"rule\":\"smtp-auth-\(mechanism.lowercased())\""), "\(all)")
            if mechanism == "LOGIN" { #expect(all.contains(Self.b64(Self.user)), "the LOGIN user name stays visible") }

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, [
                "--to", "user@example.net", "--auth", mechanism, "--auth-user", Self.user, "--auth-password", "another-Passw0rd",
            ])
            #expect(replies.contains { $0.code == 235 }, "swaks:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
            #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "replay stderr:\n\(replayer.stderr)")
        }

        @Test("--no-redact keeps the password; replayd redact cleans that cassette and refuses to overwrite its input")
        func noRedactThenRedact() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-redact-cmd")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/raw.cassette", clean = directory + "/clean.cassette"
            let server = try await AuthServer()
            defer { server.stop() }
            let (recorder, port) = try await ReplaydProcess.record(upstream: server.port, to: cassette, ["--no-redact"])
            defer { recorder.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, [
                "--to", "user@example.net", "--auth", "PLAIN", "--auth-user", Self.user, "--auth-password", Self.password,
            ])
            #expect(replies.contains { $0.code == 235 }, "\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            #expect(try Self.everything(cassette).contains(Self.b64("\0\(Self.user)\0\(Self.password)")))

            let redact = try ChildProcess(TestPaths.replayd, ["redact", cassette, "-o", clean])
            #expect(try await redact.wait(timeout: 20) == 0, "redact stderr: \(redact.stderr)")
            #expect(redact.stdout.contains("1 secrets redacted (smtp-auth-plain: 1)"), "\(redact.stdout)")
            let all = try Self.everything(clean)
            for form in Self.passwordForms { #expect(!all.contains(form), "\(form) is in the cleaned cassette") }
            var info = stat()
            #expect(stat(clean, &info) == 0 && info.st_mode & 0o777 == 0o600)
            // Byte counts are unchanged: the same number of bytes each way.
            let before = try Cassette.load(path: cassette).sessions, after = try Cassette.load(path: clean).sessions
            #expect(before.map { $0.bytes(.clientToServer).count } == after.map { $0.bytes(.clientToServer).count })

            let same = try ChildProcess(TestPaths.replayd, ["redact", cassette, "-o", directory + "/./raw.cassette"])
            #expect(try await same.wait(timeout: 20) != 0)
            #expect(same.stderr.contains("is the input cassette"), "\(same.stderr)")
            #expect(try Self.everything(cassette).contains(Self.b64("\0\(Self.user)\0\(Self.password)")), "the input is untouched")
        }

        @Test("curl -u and a cookie through record to http.server: neither the Basic credentials nor the cookie value are kept")
        func curlBasicAndCookie() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-redact-http")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let served = directory + "/www"
            try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
            try "hello\n".write(toFile: served + "/index.txt", atomically: true, encoding: .utf8)
            let server = try await HTTPFileServer(serving: served)
            defer { server.stop() }
            let cassette = directory + "/http.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            let (status, stderr) = try await HTTPFileServer.curl(port: port, path: "/index.txt", output: directory + "/got.txt",
                                                                 extra: ["-u", "webuser:w3b-secret", "-b", "session=abc123xyz"])
            #expect(status == 0, "curl: \(stderr)")
            #expect(try String(contentsOfFile: directory + "/got.txt", encoding: .utf8) == "hello\n")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            let all = try Self.everything(cassette)
            for form in ["w3b-secret", Self.b64("webuser:w3b-secret"), "abc123xyz"] { #expect(!all.contains(form), "\(form) is in the cassette:\n\(all)") }
            #expect(all.contains("Authorization: Basic ") && all.contains("Cookie: session="), "\(all)")
            #expect(all.contains("http-authorization") && all.contains("http-cookie"))
        }
    }
}
