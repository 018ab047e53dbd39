import Foundation
import Testing
@testable import ReplayCore

/// Hand-written transcripts served by the real `replayd replay` to real clients (swaks, Python's
/// smtplib and poplib, dig), and the `show --transcript` / `convert` / `check` command lines.
@Suite("Hand-written scenarios, end to end")
struct ScenarioEndToEndTests {
    static func scenario(_ name: String) -> String { TestPaths.fixture("scenarios/\(name)") }

    @Test("the issue's SMTP file gives swaks and smtplib the 450 one second after RCPT TO",
          .enabled(if: ChildProcess.isInstalled("swaks"), "swaks is not installed"), .timeLimit(.minutes(2)))
    func issueExample() async throws {
        let (replayer, port) = try await ReplaydProcess.replay([Self.scenario("smtp-450-on-rcpt.txt")])
        defer { replayer.stop() }

        let started = Date()
        let (replies, output) = try await SMTPClients.swaks(port: port, ["--helo", "a.b", "--from", "x@y.example", "--to", "someone@example.net"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(replies.map(\.code) == [220, 250, 250, 450, 221], "\(output)")
        #expect(replies.first?.text == "Welcome to the fake SMTP server")
        #expect(elapsed >= 0.95, "the 450 came after \(elapsed) s")

        let (python, pythonOutput) = try await SMTPClients.smtplib(port: port, helo: "lower.case.example", from: "p@example.org", to: "q@example.net")
        let rcpt = python.first { $0.after.lowercased() == "rcpt" }
        #expect(python.first?.code == 220, "\(pythonOutput)")
        #expect(rcpt?.code == 450, "\(pythonOutput)")
        // One second after that client's own RCPT TO; a loaded 2-core machine may add a little.
        #expect((rcpt?.latency ?? 0) >= 0.95 && (rcpt?.latency ?? 9) < 1.8, "\(pythonOutput)")
        #expect(python.last?.code == 221, "\(pythonOutput)")
        #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "\(replayer.stderr)")
    }

    @Test("a recipient policy without an MTA: 250, 550 and 554 chosen by the recipient, in any order",
          .enabled(if: ChildProcess.isInstalled("swaks"), "swaks is not installed"), .timeLimit(.minutes(2)))
    func recipientPolicy() async throws {
        let (replayer, port) = try await ReplaydProcess.replay([Self.scenario("smtp-recipient-policy.txt")])
        defer { replayer.stop() }
        for (recipient, code) in [("nosuchuser@example.net", 550), ("someone@elsewhere.org", 554), ("postmaster@example.net", 250)] {
            let (replies, output) = try await SMTPClients.swaks(port: port, ["--to", recipient])
            #expect(replies.count >= 4 && replies[3].code == code, "\(recipient): \(output)")
            #expect(replies.last?.code == 221, "\(recipient): \(output)")
        }
        let (python, output) = try await SMTPClients.smtplib(port: port, helo: "py.example", from: "p@example.org", to: "bob@example.net")
        #expect(python.first { $0.after.lowercased() == "rcpt" }?.code == 550, "\(output)")
        #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "\(replayer.stderr)")
    }

    @Test("a slow banner comes after its delay", .timeLimit(.minutes(1)))
    func slowBanner() async throws {
        let directory = try TestPaths.temporaryDirectory("slow-banner")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The bundled file waits 5 s; the same scenario at 0.7 s keeps the test short.
        let text = try String(contentsOfFile: Self.scenario("smtp-slow-banner.txt"), encoding: .utf8).replacingOccurrences(of: "S: +5s 220", with: "S: +0.7s 220")
        let path = directory + "/slow.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let (replayer, port) = try await ReplaydProcess.replay([path])
        defer { replayer.stop() }
        let (python, output) = try await SMTPClients.smtplib(port: port, helo: "py.example", from: "p@example.org", to: "q@example.net")
        #expect(python.first?.code == 220, "\(output)")
        #expect((python.first?.latency ?? 0) >= 0.65 && (python.first?.latency ?? 9) < 1.5, "\(output)")
        #expect(python.map(\.code) == [220, 250, 250, 250, 354, 250, 221], "\(output)")
    }

    @Test("POP3 that rejects the password, to poplib", .timeLimit(.minutes(1)))
    func pop3BadPassword() async throws {
        let (replayer, port) = try await ReplaydProcess.replay([Self.scenario("pop3-bad-password.txt")])
        defer { replayer.stop() }
        let script = """
            import poplib, sys
            p = poplib.POP3('127.0.0.1', \(port), timeout=10)
            print(p.getwelcome().decode())
            print(p.user('bob').decode())
            try:
                p.pass_('wrong')
                print('accepted')
            except poplib.error_proto as e:
                print('rejected', e.args[0].decode())
            print(p.quit().decode())
            """
        let client = try ChildProcess("python3", ["-c", script])
        #expect(try await client.wait(timeout: 20) == 0, "\(client.stderr)")
        #expect(client.stdout.split(separator: "\n") == ["+OK POP3 server ready", "+OK", "rejected -ERR [AUTH] Authentication failed.", "+OK Bye"],
                "\(client.stdout)\(client.stderr)")
    }

    @Test("a DNS server that accepts and never answers: dig times out", .enabled(if: ChildProcess.isInstalled("dig"), "dig is not installed"),
          .timeLimit(.minutes(1)))
    func dnsBlackhole() async throws {
        let (replayer, port) = try await ReplaydProcess.replay([Self.scenario("dns-accept-never-answer.txt")])
        defer { replayer.stop() }
        let started = Date()
        let dig = try ChildProcess("dig", ["+tcp", "+time=2", "+tries=1", "-p", String(port), "@127.0.0.1", "example.org", "A"])
        _ = try await dig.wait(timeout: 15)
        let elapsed = Date().timeIntervalSince(started)
        #expect(!dig.stdout.contains("ANSWER SECTION"), "\(dig.stdout)")
        #expect(dig.stdout.contains("timed out") || dig.stdout.contains("no servers could be reached"), "\(dig.stdout)")
        #expect(elapsed >= 1.8, "dig gave up after \(elapsed) s")
        // The query was read and matched, not refused.
        #expect(replayer.stderr.contains("1 matched") || ReplaydProcess.mismatchLines(replayer).isEmpty, "\(replayer.stderr)")
    }

    @Test("replay refuses S: patterns, naming the line", .timeLimit(.minutes(1)))
    func replayRefusesServerPatterns() async throws {
        let directory = try TestPaths.temporaryDirectory("server-pattern")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/policy.txt"
        try "S: 220 mx ESMTP\nC: EHLO me\nS: 250*\n".write(toFile: path, atomically: true, encoding: .utf8)
        let replayer = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0"])
        #expect(try await replayer.wait(timeout: 20) == 65)
        #expect(replayer.stderr.contains("replayd: error: \(path):3: S: 250* is a pattern"), "\(replayer.stderr)")
    }

    @Test("show --transcript, then convert, gives the cassette back; check points at errors", .timeLimit(.minutes(1)))
    func commandLineRoundTrip() async throws {
        let directory = try TestPaths.temporaryDirectory("convert")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = TestPaths.fixture("smtp-rcpt-450.cassette")
        let show = try ChildProcess(TestPaths.replayd, ["show", original, "--transcript"])
        #expect(try await show.wait(timeout: 20) == 0, "\(show.stderr)")
        let text = directory + "/x.txt"
        try show.stdout.write(toFile: text, atomically: true, encoding: .utf8)
        let convert = try ChildProcess(TestPaths.replayd, ["convert", text, "-o", directory + "/y.cassette"])
        #expect(try await convert.wait(timeout: 20) == 0, "\(convert.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/y.cassette")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let back = try Cassette.load(path: directory + "/y.cassette").sessions
        let expected = try Cassette.load(path: original).sessions
        #expect(back.map { Array($0.events.dropFirst()) } == expected.map { Array($0.events.dropFirst()) })
        #expect(back.map(\.open.server) == expected.map(\.open.server))

        // The other way, and check's verdicts.
        let toText = try ChildProcess(TestPaths.replayd, ["convert", directory + "/y.cassette", "-o", directory + "/z.txt"])
        #expect(try await toText.wait(timeout: 20) == 0, "\(toText.stderr)")
        #expect(try String(contentsOfFile: directory + "/z.txt", encoding: .utf8) == show.stdout)
        let broken = directory + "/broken.txt"
        try "S: 220 ok\nC: EHLO *\nS: +2 250 ok\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let check = try ChildProcess(TestPaths.replayd, ["check", Self.scenario("smtp-450-on-rcpt.txt"), broken])
        #expect(try await check.wait(timeout: 20) == 65)
        #expect(check.stdout.contains("smtp-450-on-rcpt.txt: ok, a transcript with 1 session (smtp)"), "\(check.stdout)")
        #expect(check.stderr.contains("replayd: error: \(broken):3:6: a delay needs a unit"), "\(check.stderr)")
    }
}
