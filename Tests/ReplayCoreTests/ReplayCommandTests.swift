import Foundation
import Testing
@testable import ReplayCore

@Suite("ReplayCommand")
struct ReplayCommandTests {
    /// Writes a two-session cassette and returns its path.
    private func writeCassette(in directory: String) throws -> String {
        let path = directory + "/smtp.cassette"
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: .record, details: [:]))
        let open = SessionOpen(client: "127.0.0.1:40000", server: "127.0.0.1:25", start: WallClock(nanosecondsSinceEpoch: 1_700_000_000_000_000_000))
        for (id, greeting) in [(1, "220 first\r\n"), (2, "220 second\r\n")] {
            try writer.append(SessionEvent(session: id, offset: 0, kind: .open(open)))
            try writer.append(SessionEvent(session: id, offset: 100_000_000, kind: .data(.serverToClient, Array(greeting.utf8))))
            try writer.append(SessionEvent(session: id, offset: 200_000_000, kind: .data(.clientToServer, Array("QUIT\r\n".utf8))))
            try writer.append(SessionEvent(session: id, offset: 210_000_000, kind: .data(.serverToClient, Array("221 bye\r\n".utf8))))
            try writer.append(SessionEvent(session: id, offset: 220_000_000, kind: .close(.serverToClient, .fin)))
            try writer.append(SessionEvent(session: id, offset: 230_000_000, kind: .end))
        }
        try writer.finish()
        return path
    }

    @Test func binaryServesSessionsInOrderAndStopsOnSIGTERM() async throws {
        let directory = try TestPaths.temporaryDirectory("replay-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try writeCassette(in: directory)
        let child = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0", "--speed", "2", "--in-order"])
        defer { child.stop() }
        let stderr = try await child.waitForStderr(containing: "listening on ", timeout: 10)
        let match = try #require(stderr.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)\n/))
        let port = try #require(Int(match.1))

        for expected in ["220 first\r\n", "220 second\r\n"] {
            let client = try ReplayTestClient(port: port)
            #expect(client.read(count: expected.utf8.count, timeout: 2) == Array(expected.utf8))
            client.send("QUIT\r\n")
            let rest = client.readToEnd(timeout: 2)
            #expect(rest.bytes == Array("221 bye\r\n".utf8))
            #expect(rest.end == .eof)
        }
        // Past the last session: closed at once, with a log line saying why.
        let extra = try ReplayTestClient(port: port)
        #expect(extra.readToEnd(timeout: 2) == ([], .eof))
        _ = try await child.waitForStderr(containing: "no session left", timeout: 5)

        child.signal(SIGTERM)
        let status = try await child.wait(timeout: 10)
        #expect(status == 0, "stderr:\n\(child.stderr)")
        #expect(child.stderr.contains("session=2"), "stderr:\n\(child.stderr)")
    }

    @Test func missingCassetteIsAnErrorNamingTheFile() async throws {
        let child = try ChildProcess(TestPaths.replayd, ["replay", "/nonexistent/x.cassette", "--listen", "127.0.0.1:0"])
        let status = try await child.wait(timeout: 10)
        #expect(status == 74)
        #expect(child.stderr.hasPrefix("replayd: error: /nonexistent/x.cassette"), "stderr:\n\(child.stderr)")
    }

    @Test func badListenAddressIsRejected() async throws {
        let child = try ChildProcess(TestPaths.replayd, ["replay", "x.cassette", "--listen", "127.0.0.1:99999"])
        let status = try await child.wait(timeout: 10)
        #expect(status != 0)
        #expect(child.stderr.contains("port number from 0 to 65535"), "stderr:\n\(child.stderr)")
    }
}
