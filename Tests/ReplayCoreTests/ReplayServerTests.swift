import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import ReplayCore

private func ms(_ value: Int64) -> Int64 { value * 1_000_000 }
private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A cassette written to disk with the real writer and loaded back, and a server replaying it.
private struct ReplayFixture {
    let directory: String
    let cassette: Cassette
    let server: ReplayServer
    let logLines: NIOLockedValueBox<[String]>
    var port: Int { server.localAddress.port ?? 0 }

    /// `sessions` holds, per session, (milliseconds, event) pairs after the open.
    static func start(_ sessions: [[(Int64, SessionEventKind)]], options: ReplayOptions = ReplayOptions()) async throws -> ReplayFixture {
        let directory = try TestPaths.temporaryDirectory("replay")
        let path = directory + "/test.cassette"
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: .record, details: [:]))
        for (index, events) in sessions.enumerated() {
            let id = index + 1
            let open = SessionOpen(client: "127.0.0.1:40000", server: "127.0.0.1:25", start: WallClock(nanosecondsSinceEpoch: 1_700_000_000_000_000_000))
            try writer.append(SessionEvent(session: id, offset: 0, kind: .open(open)))
            for (offset, kind) in events { try writer.append(SessionEvent(session: id, offset: ms(offset), kind: kind)) }
        }
        try writer.finish()
        let cassette = try Cassette.load(path: path)
        let lines = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "replay-test") { _ in ReplayCapturingLogHandler(lines: lines) }
        let server = try await ReplayServer.start(
            host: "127.0.0.1", port: 0,
            dispenser: SessionDispenser(sessions: cassette.sessions, loop: options.loop),
            options: options, logger: logger)
        return ReplayFixture(directory: directory, cassette: cassette, server: server, logLines: lines)
    }

    func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Waits (bounded) for a log line containing `text`.
    func waitForLog(containing text: String, timeout: Double = 2) async -> String? {
        let deadline = ReplayTestClient.now() + timeout
        while ReplayTestClient.now() < deadline {
            if let line = logLines.withLockedValue({ $0.first { $0.contains(text) } }) { return line }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}

private func s2c(_ text: String) -> SessionEventKind { .data(.serverToClient, bytes(text)) }
private func c2s(_ text: String) -> SessionEventKind { .data(.clientToServer, bytes(text)) }

/// The SMTP exchange the lead's swaks test drives: greeting, EHLO with a reply in two chunks,
/// MAIL, RCPT refused with 450, QUIT, then the server's FIN.
private let smtpSession: [(Int64, SessionEventKind)] = [
    (100, s2c("220 mx.example ESMTP\r\n")),
    (150, c2s("EHLO client.example\r\n")),
    (160, s2c("250-mx.example\r\n250-PIPELINING\r\n")),
    (300, s2c("250 8BITMIME\r\n")),
    (320, c2s("MAIL FROM:<a@example.org>\r\n")),
    (330, s2c("250 2.1.0 Ok\r\n")),
    (340, c2s("RCPT TO:<b@example.net>\r\n")),
    (390, s2c("450 4.2.0 <b@example.net>: Recipient address rejected: Greylisted\r\n")),
    (400, c2s("QUIT\r\n")),
    (405, s2c("221 2.0.0 Bye\r\n")),
    (406, .close(.serverToClient, .fin)),
    (407, .close(.clientToServer, .fin)),
    (407, .end),
]

@Suite("ReplayServer", .serialized)
struct ReplayServerTests {
    @Test func greetingArrivesAfterItsRecordedDelay() async throws {
        let fixture = try await ReplayFixture.start([[(300, s2c("220 mx ESMTP\r\n")), (400, .end)]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        let read = client.read(timeout: 2)
        let elapsed = ReplayTestClient.now() - client.connectedAt
        #expect(read == .data(bytes("220 mx ESMTP\r\n")))
        #expect(abs(elapsed - 0.300) < 0.050, "greeting came after \(elapsed)s, recorded 0.300s")
    }

    @Test func smtpExchangeReplaysExactlyWithDifferentClientChunking() async throws {
        let fixture = try await ReplayFixture.start([smtpSession])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        #expect(client.read(timeout: 2) == .data(bytes("220 mx.example ESMTP\r\n")))
        // The client sends EHLO in two pieces, 150 ms apart: the reply waits for the whole line.
        client.send("EHLO clie")
        #expect(client.read(timeout: 0.15) == .timeout)
        let lineDone = ReplayTestClient.now()
        client.send("nt.example\r\n")
        // The multi-line reply keeps its two chunks and the 140 ms between them.
        #expect(client.read(timeout: 2) == .data(bytes("250-mx.example\r\n250-PIPELINING\r\n")))
        let first = ReplayTestClient.now()
        #expect(client.read(timeout: 2) == .data(bytes("250 8BITMIME\r\n")))
        let second = ReplayTestClient.now()
        #expect(abs((first - lineDone) - 0.010) < 0.030, "first chunk came \(first - lineDone)s after EHLO, recorded 0.010s")
        #expect(abs((second - first) - 0.140) < 0.040, "chunks \(second - first)s apart, recorded 0.140s")
        client.send("MAIL FROM:<a@example.org>\r\n")
        #expect(client.read(timeout: 2) == .data(bytes("250 2.1.0 Ok\r\n")))
        client.send("RCPT TO:<b@example.net>\r\nQUIT\r\n")  // faster than recorded: both at once
        // The 221 follows the 450 by the recorded 5 ms, so the two may arrive in one read.
        let rest = client.readToEnd(timeout: 2)
        #expect(rest.bytes == bytes("450 4.2.0 <b@example.net>: Recipient address rejected: Greylisted\r\n221 2.0.0 Bye\r\n"))
        #expect(rest.end == .eof)
        client.close()
        let line = await fixture.waitForLog(containing: "client bytes (recorded")
        #expect(line?.contains("server FIN as recorded, then client closed") == true, "\(line ?? "no log line")")
        #expect(line?.contains("received 79 client bytes (recorded 79)") == true, "\(line ?? "no log line")")
    }

    @Test func serverResetIsSeenAsConnectionReset() async throws {
        let fixture = try await ReplayFixture.start([[(0, s2c("bye\r\n")), (50, .reset(by: .serverToClient))]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        let result = client.readToEnd(timeout: 2)
        #expect(result.bytes == bytes("bye\r\n"))
        #expect(result.end == .reset)
    }

    @Test func serverFINIsSeenAsEOFWhileTheClientCanStillSend() async throws {
        let fixture = try await ReplayFixture.start([[(0, s2c("done\n")), (20, .close(.serverToClient, .fin)), (30, c2s("late\n"))]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        let result = client.readToEnd(timeout: 2)
        #expect(result.bytes == bytes("done\n"))
        #expect(result.end == .eof)
        client.send("late\n")
        client.shutdownWrite()
        #expect(await fixture.waitForLog(containing: "server FIN as recorded, then client closed") != nil)
    }

    @Test func silentServerHoldsTheConnectionUntilHoldExpires() async throws {
        let fixture = try await ReplayFixture.start([[(0, s2c("hello\n")), (1000, .end)]], options: ReplayOptions(hold: ms(400)))
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        #expect(client.read(timeout: 2) == .data(bytes("hello\n")))
        // Still open (nothing, no EOF) well into the hold...
        #expect(client.read(timeout: 0.25) == .timeout)
        // ...and closed once it expires.
        #expect(client.read(timeout: 2) == .eof)
        let elapsed = ReplayTestClient.now() - client.connectedAt
        #expect(elapsed > 0.35 && elapsed < 0.6, "closed after \(elapsed)s, hold 0.4s")
        #expect(await fixture.waitForLog(containing: "--hold expired") != nil)
    }

    @Test func clientHalfCloseStillGetsTheRestOfTheServerSide() async throws {
        let fixture = try await ReplayFixture.start([[
            (10, c2s("data")), (20, .close(.clientToServer, .fin)), (60, s2c("got 4 bytes\n")),
            (70, .close(.serverToClient, .fin)),
        ]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        client.send("data")
        client.shutdownWrite()
        let result = client.readToEnd(timeout: 2)
        #expect(result.bytes == bytes("got 4 bytes\n"))
        #expect(result.end == .eof)
    }

    @Test func connectFailureClosesTheClientAfterTheRecordedTime() async throws {
        let failure = ConnectFailure(reason: .refused, elapsed: ms(150), message: "Connection refused")
        let fixture = try await ReplayFixture.start([[(150, .connectFailed(failure)), (150, .end)]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        let result = client.readToEnd(timeout: 2)
        let elapsed = ReplayTestClient.now() - client.connectedAt
        #expect(result.bytes.isEmpty)
        #expect(result.end == .eof)
        // Never early; late only by what a loaded machine's scheduler adds (the 50 ms bound on
        // reproduced timing is checked end to end in SMTPEndToEndTests and above).
        #expect(elapsed > 0.140 && elapsed < 0.300, "closed after \(elapsed)s, recorded 0.150s")
    }

    @Test func connectionsGetSessionsInOrderAndOneTooManyIsClosed() async throws {
        let fixture = try await ReplayFixture.start([
            [(0, s2c("one\n")), (0, .close(.serverToClient, .fin))],
            [(0, s2c("two\n")), (0, .close(.serverToClient, .fin))],
        ])
        defer { Task { await fixture.stop() } }
        let first = try ReplayTestClient(port: fixture.port)
        #expect(first.readToEnd(timeout: 2).bytes == bytes("one\n"))
        let second = try ReplayTestClient(port: fixture.port)
        #expect(second.readToEnd(timeout: 2).bytes == bytes("two\n"))
        let third = try ReplayTestClient(port: fixture.port)
        let result = third.readToEnd(timeout: 2)
        #expect(result.bytes.isEmpty)
        #expect(result.end == .eof)
        let line = await fixture.waitForLog(containing: "no session left")
        #expect(line?.contains("connection=3") == true, "\(line ?? "no log line")")
    }

    @Test func loopStartsAgainAfterTheLastSession() async throws {
        let fixture = try await ReplayFixture.start([
            [(0, s2c("one\n")), (0, .close(.serverToClient, .fin))],
            [(0, s2c("two\n")), (0, .close(.serverToClient, .fin))],
        ], options: ReplayOptions(loop: true))
        defer { Task { await fixture.stop() } }
        var received: [[UInt8]] = []
        for _ in 0..<5 {
            let client = try ReplayTestClient(port: fixture.port)
            received.append(client.readToEnd(timeout: 2).bytes)
        }
        #expect(received == ["one\n", "two\n", "one\n", "two\n", "one\n"].map(bytes))
    }

    @Test func severalConnectionsAreServedAtOnce() async throws {
        let greeting: [(Int64, SessionEventKind)] = [(300, s2c("hi\n")), (300, .close(.serverToClient, .fin))]
        let fixture = try await ReplayFixture.start([greeting, greeting, greeting])
        defer { Task { await fixture.stop() } }
        let clients = try (0..<3).map { _ in try ReplayTestClient(port: fixture.port) }
        let start = ReplayTestClient.now()
        for client in clients { #expect(client.readToEnd(timeout: 2).bytes == bytes("hi\n")) }
        let elapsed = ReplayTestClient.now() - start
        #expect(elapsed < 0.45, "three 300 ms greetings took \(elapsed)s: they were not served at once")
    }

    @Test func serverGapIsSkippedWithAWarning() async throws {
        let fixture = try await ReplayFixture.start([[
            (0, s2c("A")), (1, .gap(.serverToClient, 1448)), (2, s2c("B")), (3, .close(.serverToClient, .fin)),
        ]])
        defer { Task { await fixture.stop() } }
        let client = try ReplayTestClient(port: fixture.port)
        #expect(client.readToEnd(timeout: 2).bytes == bytes("AB"))
        #expect(await fixture.waitForLog(containing: "lost 1448 server bytes") != nil)
    }
}
