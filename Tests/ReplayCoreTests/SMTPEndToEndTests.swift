import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// The whole record → replay loop with real programs: swaks as the client, aiosmtpd as the
/// server, the real `replayd` binary in between. Needs swaks and aiosmtpd (scripts/install-deps.sh).
@Suite("SMTP end to end", .serialized, .timeLimit(.minutes(2)))
struct SMTPEndToEndTests {
    /// One swaks run per policy outcome, each with fixed content so that every run sends the same bytes.
    static let conversations: [(label: String, recipient: String, expectedReply: String)] = [
        ("accepted", "postmaster@example.net", "250 2.0.0 Ok: queued as 4C1D2E3F"),
        ("unknown user", "nobody@example.net", "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"),
        ("relay denied", "someone@elsewhere.org", "554 5.7.1 <someone@elsewhere.org>: Relay access denied"),
    ]

    func startSMTPServer(bannerDelay: Double = 0) async throws -> (ChildProcess, Int) {
        let server = try ChildProcess("python3", [TestPaths.fixture("peers/smtp-server.py"), "--banner-delay", String(bannerDelay)])
        let output = try await server.waitForStdout(containing: "ready ")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }),
              let port = Int(line.dropFirst(6)) else {
            throw ChildProcessError.missingOutput(name: "smtp-server.py", expected: "ready PORT", stderr: output + server.stderr)
        }
        return (server, port)
    }

    /// The server's side of a swaks conversation, as swaks prints it (`<-` replies, `<**` errors).
    func swaksReplies(port: Int, recipient: String) async throws -> [String] {
        let swaks = try ChildProcess("swaks", [
            "--server", "127.0.0.1", "--port", String(port), "--timeout", "15",
            "--helo", "client.example.org", "--from", "alerts@example.org", "--to", recipient,
            "--data", "Subject: replayd end-to-end\\n\\nThe same bytes every run.\\n",
        ])
        try await swaks.wait(timeout: 30)
        return swaks.stdout.split(separator: "\n").filter { $0.hasPrefix("<-") || $0.hasPrefix("<**") }.map(String.init)
    }

    @Test("swaks gets the same replies from the replayed cassette as from the real SMTP server")
    func swaksRepliesSurviveRecordAndReplay() async throws {
        let directory = try TestPaths.temporaryDirectory("smtp-e2e")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassette = directory + "/smtp.cassette"

        let (server, smtpPort) = try await startSMTPServer()
        defer { server.stop() }
        let recorder = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(smtpPort)", "-o", cassette])
        defer { recorder.stop() }
        let recordPort = try await recorder.listeningPort()

        var recorded: [[String]] = []
        for conversation in Self.conversations {
            let replies = try await swaksReplies(port: recordPort, recipient: conversation.recipient)
            #expect(replies.contains { $0.hasSuffix(conversation.expectedReply) }, "\(conversation.label): \(replies)")
            recorded.append(replies)
        }
        recorder.signal(SIGINT)
        #expect(try await recorder.wait(timeout: 15) == 0, "record stderr: \(recorder.stderr)")
        server.signal(SIGTERM)
        try await server.wait(timeout: 10)

        let attributes = try FileManager.default.attributesOfItem(atPath: cassette)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let loaded = try Cassette.load(path: cassette)
        #expect(loaded.sessions.count == Self.conversations.count)

        // The real server is gone: only the cassette can answer now.
        let replayer = try ChildProcess(TestPaths.replayd, ["replay", cassette, "--listen", "127.0.0.1:0"])
        defer { replayer.stop() }
        let replayPort = try await replayer.listeningPort()
        for (conversation, expected) in zip(Self.conversations, recorded) {
            let replies = try await swaksReplies(port: replayPort, recipient: conversation.recipient)
            #expect(replies == expected, "\(conversation.label) replayed differently; replay stderr: \(replayer.stderr)")
        }
        replayer.signal(SIGINT)
        #expect(try await replayer.wait(timeout: 10) == 0)
    }

    @Test("a server that waits 300 ms before its banner is replayed with the same delay, within 50 ms")
    func greetingDelayIsReproduced() async throws {
        let directory = try TestPaths.temporaryDirectory("smtp-delay")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassette = directory + "/slow-banner.cassette"

        let (server, smtpPort) = try await startSMTPServer(bannerDelay: 0.3)
        defer { server.stop() }
        let recorder = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(smtpPort)", "-o", cassette, "--quiet", "--lossless"])
        defer { recorder.stop() }
        let recordPort = try await recorder.listeningPort()
        let live = try await swaksReplies(port: recordPort, recipient: "postmaster@example.net")
        #expect(live.first?.hasPrefix("<-  220 ") == true)
        recorder.signal(SIGTERM)
        #expect(try await recorder.wait(timeout: 15) == 0)
        server.stop()

        let session = try Cassette.load(path: cassette).sessions[0]
        let banner = session.events.first { if case .data(.serverToClient, _) = $0.kind { return true } else { return false } }
        let recordedDelay = Double(banner?.offset ?? 0) / 1e9
        #expect(abs(recordedDelay - 0.3) < 0.05, "recorded banner delay \(recordedDelay)s")

        let replayer = try ChildProcess(TestPaths.replayd, ["replay", cassette, "--listen", "127.0.0.1:0", "--loop", "--quiet"])
        defer { replayer.stop() }
        let replayPort = try await replayer.listeningPort()
        // Measured on a raw socket: swaks prints no timings.
        let delay = try timeToFirstByte(port: replayPort)
        #expect(abs(delay - recordedDelay) < 0.05, "replayed banner after \(delay)s, recorded \(recordedDelay)s")
        // And swaks still gets the whole conversation from the looped session.
        #expect(try await swaksReplies(port: replayPort, recipient: "postmaster@example.net") == live)
    }

    @Test("a tcpdump capture of swaks and a real SMTP server imports, and its replay answers swaks the same way",
          .enabled(if: getuid() == 0 && ChildProcess.isInstalled("tcpdump")))
    func importedCaptureReplaysToSwaks() async throws {
        let directory = try TestPaths.temporaryDirectory("smtp-import")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let capture = directory + "/smtp.pcap", cassette = directory + "/smtp.cassette"

        let (server, smtpPort) = try await startSMTPServer()
        defer { server.stop() }
        let tcpdump = try ChildProcess("tcpdump", ["-i", "lo", "-w", capture, "--immediate-mode", "-B", "131072", "-U", "tcp port \(smtpPort)"])
        defer { tcpdump.stop() }
        _ = try await tcpdump.waitForStderr(containing: "listening on lo")
        var live: [[String]] = []
        for conversation in Self.conversations {
            live.append(try await swaksReplies(port: smtpPort, recipient: conversation.recipient))
        }
        try await Task.sleep(for: .milliseconds(200))
        tcpdump.signal(SIGINT)
        try await tcpdump.wait(timeout: 10)
        server.stop()

        let importer = try ChildProcess(TestPaths.replayd, ["import", capture, "-o", cassette])
        #expect(try await importer.wait(timeout: 30) == 0, "import stderr: \(importer.stderr)")
        #expect(try Cassette.load(path: cassette).sessions.count == Self.conversations.count)

        let replayer = try ChildProcess(TestPaths.replayd, ["replay", cassette, "--listen", "127.0.0.1:0"])
        defer { replayer.stop() }
        let replayPort = try await replayer.listeningPort()
        for (conversation, expected) in zip(Self.conversations, live) {
            let replies = try await swaksReplies(port: replayPort, recipient: conversation.recipient)
            #expect(replies == expected, "\(conversation.label) replayed differently; replay stderr: \(replayer.stderr)")
        }
    }

    /// Connects to 127.0.0.1:`port` and returns the seconds until the first byte arrives.
    func timeToFirstByte(port: Int) throws -> Double {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let start = Date()
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXFailure("connect") }
        var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pollfd, 1, 5000) == 1 else { throw POSIXFailure("no byte within 5 s") }
        return Date().timeIntervalSince(start)
    }
}

struct POSIXFailure: Error, CustomStringConvertible {
    var description: String
    init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
}
