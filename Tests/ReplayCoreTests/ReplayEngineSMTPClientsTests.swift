import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// One swaks session recorded through aiosmtpd answers other clients: swaks with other
    /// names and another body, Python's smtplib (lower-case commands, SIZE=, its own EHLO
    /// name), curl's SMTP client. Each gets the recorded reply at the same step.
    @Suite("Other clients, same recording")
    struct SMTPClientsTests {
        /// Records one default swaks session (swaks' own Date, Message-Id and body) and returns
        /// the cassette and the replies swaks got, one per step.
        func recordDefaultSwaks(in directory: String) async throws -> (cassette: String, replies: [SMTPReply]) {
            let cassette = directory + "/swaks.cassette"
            let server = try await AiosmtpdServer()
            defer { server.stop() }
            let (recorder, port) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, ["--to", "user@example.net"])
            try #require(replies.count == 7, "a default swaks session has 7 replies; swaks printed:\n\(output)")
            #expect(replies[5].code == 250, "\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()
            try #require(try Cassette.load(path: cassette).sessions.count == 1)
            return (cassette, replies)
        }

        @Test("swaks with another HELO, sender, recipient and body length gets the recorded replies")
        func otherSwaks() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-swaks")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (cassette, recorded) = try await recordDefaultSwaks(in: directory)

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let body = String(repeating: "A longer body than swaks' default, to change the DATA byte count.\n", count: 40)
            let (replies, output) = try await SMTPClients.swaks(port: port, [
                "--helo", "other-host.example.com", "--from", "someone@other.example.org",
                "--to", "another.user@example.net", "--body", body,
            ])
            #expect(replies == recorded, "swaks output:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
            #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "replay stderr:\n\(replayer.stderr)")
        }

        @Test("Python's smtplib (lower-case commands, SIZE=, its own EHLO name) gets the recorded replies")
        func smtplibClient() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-smtplib")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (cassette, recorded) = try await recordDefaultSwaks(in: directory)

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let (replies, output) = try await SMTPClients.smtplib(port: port, helo: "py.example.com", from: "py@example.com", to: "smtplib-user@example.net", bodyLines: 12)
            // smtplib reads banner, EHLO, MAIL, RCPT, DATA (354), end of data, QUIT: the same seven steps.
            #expect(replies.count == recorded.count, "smtplib output:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
            for (step, (live, expected)) in zip(replies, recorded).enumerated() {
                #expect(live.code == expected.code && live.text == expected.text,
                        "step \(step): smtplib got \(live), recorded \(expected); replay stderr:\n\(replayer.stderr)")
            }
            #expect(!output.contains("\"error\""), "smtplib output:\n\(output)")
            #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "replay stderr:\n\(replayer.stderr)")
        }

        @Test("curl's SMTP client sends a file and every step matches")
        func curlClient() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-curl-smtp")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (cassette, _) = try await recordDefaultSwaks(in: directory)
            let message = directory + "/message.txt", report = directory + "/report.json"
            try "From: a@b.example\r\nTo: c@example.net\r\nSubject: curl\r\n\r\nSent by curl.\r\n".write(toFile: message, atomically: true, encoding: .utf8)

            let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--report", report])
            defer { replayer.stop() }
            let curl = try ChildProcess("curl", [
                "-sS", "--max-time", "15", "smtp://127.0.0.1:\(port)/curl-client.example.com",
                "--mail-from", "a@b.example", "--mail-rcpt", "c@example.net", "-T", message,
            ])
            let status = try await curl.wait(timeout: 25)
            #expect(status == 0, "curl: \(curl.stderr)\nreplay stderr:\n\(replayer.stderr)")
            replayer.signal(SIGINT)
            try await replayer.wait(timeout: 15)
            #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "replay stderr:\n\(replayer.stderr)")
            let parsed = try ReplayReport(path: report)
            try #require(parsed.connections.count == 1, "report: \(parsed.text)")
            #expect(parsed.connections[0].session?.hasSuffix("swaks.cassette:1") == true, "report: \(parsed.text)")
            #expect(parsed.connections[0].mismatches == 0 && parsed.connections[0].mismatchedSteps == 0, "report: \(parsed.text)")
            // curl's conversation has the recorded seven steps: banner, EHLO, MAIL, RCPT, DATA, the message, QUIT.
            #expect(parsed.connections[0].steps.count >= 6, "report: \(parsed.text)")
        }
    }
}
