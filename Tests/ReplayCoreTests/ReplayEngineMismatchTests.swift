import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// A command never recorded gets an explained answer: the protocol's own error reply naming
    /// replayd (or a closed connection, when asked), one stderr line saying what differed, and
    /// a JSON report of which session each connection followed.
    @Suite("Explained mismatches")
    struct MismatchTests {
        /// One line of `fixtures/peers/smtp-probe.py`'s output.
        struct ProbeExchange {
            var sent: String?
            var reply: [String]
            var closed: String?
        }

        func probe(port: Int, sending lines: [String]) async throws -> (exchanges: [ProbeExchange], output: String) {
            let probe = try ChildProcess("python3", [TestPaths.fixture("peers/smtp-probe.py"), "--port", String(port), "--timeout", "10"]
                + lines.flatMap { ["--send", $0] })
            let status = try await probe.wait(timeout: 25)
            let output = probe.stdout + probe.stderr
            #expect(status == 0, "the probe ran into its timeout or failed:\n\(output)")
            let exchanges = probe.stdout.split(separator: "\n").compactMap { line -> ProbeExchange? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                return ProbeExchange(sent: object["sent"] as? String, reply: object["reply"] as? [String] ?? [], closed: object["closed"] as? String)
            }
            return (exchanges, output)
        }

        /// Records two swaks sessions through aiosmtpd: 1 to postmaster@ (accepted), 2 to nobody@ (550).
        func recordTwoSessions(into cassette: String) async throws {
            let server = try await AiosmtpdServer()
            defer { server.stop() }
            let (recorder, port) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            for recipient in ["postmaster@example.net", "nobody@example.net"] {
                let (replies, output) = try await SMTPClients.swaks(port: port, ["--helo", "recorded.example.org", "--from", "alerts@example.org", "--to", recipient])
                try #require(replies.count >= 4, "swaks through the recorder:\n\(output)")
            }
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()
            try #require(try Cassette.load(path: cassette).sessions.count == 2)
        }

        @Test("VRFY, never recorded, gets 502 5.5.1 naming replayd, one explained stderr line, and the report says so")
        func unrecordedCommand() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-mismatch")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/mismatch.cassette"
            try await recordTwoSessions(into: cassette)

            // --on-mismatch error (the default): the protocol's own error reply.
            let report = directory + "/error-report.json"
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--report", report])
                defer { replayer.stop() }
                let (exchanges, output) = try await probe(port: port, sending: ["EHLO probe.example", "VRFY x", "QUIT"])
                let vrfy = try #require(exchanges.first { $0.sent == "VRFY x" }, "probe:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
                let first = vrfy.reply.first ?? ""
                #expect(first.hasPrefix("502 5.5.1") && first.contains("replayd"), "VRFY got \(vrfy); replay stderr:\n\(replayer.stderr)")
                #expect(exchanges.first { $0.sent == "EHLO probe.example" }?.reply.first?.hasPrefix("250") == true, "probe:\n\(output)")
                replayer.signal(SIGINT)
                try await replayer.wait(timeout: 15)
                let lines = ReplaydProcess.mismatchLines(replayer)
                try #require(lines.count == 1, "expected one mismatch line; replay stderr:\n\(replayer.stderr)")
                let line = lines[0]
                #expect(line.contains("VRFY x"), "the line names what the client sent: \(line)")
                // The step as "step N" or "client message N" (EHLO is 1, VRFY 2).
                #expect(line.range(of: #"(step|message) #?2\b"#, options: [.regularExpression, .caseInsensitive]) != nil, "the line names the step: \(line)")
                #expect(line.range(of: #"connection #?1\b"#, options: [.regularExpression, .caseInsensitive]) != nil, "the line names connection 1: \(line)")
                // Both sessions had MAIL FROM after EHLO: that is what the nearest recording had.
                #expect(line.contains("MAIL FROM"), "the line names what the recording had: \(line)")

                let parsed = try ReplayReport(path: report)
                try #require(parsed.connections.count == 1, "report: \(parsed.text)")
                #expect(parsed.connections[0].number == 1, "report: \(parsed.text)")
                #expect(parsed.connections[0].mismatches == 1 && parsed.connections[0].mismatchedSteps == 1, "report: \(parsed.text)")
                let session = parsed.connections[0].session ?? ""
                #expect(session.hasSuffix("mismatch.cassette:1") || session.hasSuffix("mismatch.cassette:2"), "report: \(parsed.text)")
            }

            // --on-mismatch close: the connection is closed instead of answered.
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--on-mismatch", "close"])
                defer { replayer.stop() }
                let (exchanges, output) = try await probe(port: port, sending: ["EHLO probe.example", "VRFY x", "QUIT"])
                let vrfy = try #require(exchanges.first { $0.sent == "VRFY x" }, "probe:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
                #expect(vrfy.closed == "eof" && vrfy.reply.isEmpty, "VRFY with --on-mismatch close got \(vrfy); replay stderr:\n\(replayer.stderr)")
                #expect(ReplaydProcess.mismatchLines(replayer).count == 1, "replay stderr:\n\(replayer.stderr)")
            }
        }

        @Test("the report names the session each connection followed and the sessions left unused")
        func reportNamesSessions() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-report")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/mismatch.cassette", report = directory + "/report.json"
            try await recordTwoSessions(into: cassette)

            let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--report", report])
            defer { replayer.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, ["--helo", "other.example.com", "--from", "x@other.example", "--to", "nobody@example.net"])
            #expect(replies.count >= 4 && replies[3].code == 550, "swaks:\n\(output)\nreplay stderr:\n\(replayer.stderr)")
            replayer.signal(SIGINT)
            try await replayer.wait(timeout: 15)
            let parsed = try ReplayReport(path: report)
            try #require(parsed.connections.count == 1, "report: \(parsed.text)")
            #expect(parsed.connections[0].session?.hasSuffix("mismatch.cassette:2") == true, "report: \(parsed.text)")
            #expect(parsed.connections[0].mismatches == 0 && parsed.connections[0].mismatchedSteps == 0, "report: \(parsed.text)")
            #expect(parsed.unused.count == 1 && parsed.unused.first?.hasSuffix("mismatch.cassette:1") == true, "report: \(parsed.text)")
        }
    }
}
