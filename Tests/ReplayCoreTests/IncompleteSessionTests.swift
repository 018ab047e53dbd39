import Foundation
import Testing
@testable import ReplayCore

private typealias S = ScriptedSession

/// A session that lost server bytes is incomplete: `show` says so at its top, and `replay`
/// refuses it unless `--allow-gaps`.
@Suite("IncompleteSession", .timeLimit(.minutes(1)))
struct IncompleteSessionTests {
    static let header = #"{"format":"replayd-cassette","version":2,"tool":"t","created":"2026-11-22T09:14:03.512204Z","source":"record"}"#
    static let lines = [
        header,
        #"{"s":1,"t":0.000000,"ev":"open","client":"127.0.0.1:1","server":"127.0.0.1:25","proto":"smtp"}"#,
        #"{"s":1,"t":0.100000,"ev":"data","dir":"s2c","text":"220 mx ESMTP\r\n"}"#,
        #"{"s":1,"t":0.200000,"ev":"gap","dir":"s2c","bytes":4000}"#,
        #"{"s":1,"t":0.300000,"ev":"end"}"#,
        #"{"s":2,"t":0.000000,"ev":"open","client":"127.0.0.1:2","server":"127.0.0.1:25","proto":"smtp"}"#,
        #"{"s":2,"t":0.100000,"ev":"data","dir":"s2c","text":"220 mx ESMTP\r\n"}"#,
        #"{"s":2,"t":0.200000,"ev":"gap","dir":"c2s","bytes":10}"#,
        #"{"s":2,"t":0.300000,"ev":"end"}"#,
    ]

    static func writeCassette() throws -> (directory: String, path: String) {
        let directory = try TestPaths.temporaryDirectory("incomplete")
        let path = directory + "/gaps.cassette"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return (directory, path)
    }

    @Test("server gaps are found with their time and position; client gaps do not make a session incomplete")
    func serverGaps() throws {
        let session = S.make([(100, S.s2c("220\r\n")), (150, .gap(.clientToServer, 3)), (200, .gap(.serverToClient, 7)), (300, S.s2c("250\r\n"))])
        let gaps = session.serverGaps
        #expect(gaps.count == 1)
        #expect(gaps.first?.offset == S.ms(200) && gaps.first?.atByte == 5 && gaps.first?.bytes == 7)
        #expect(S.make([(150, .gap(.clientToServer, 3))]).serverGaps.isEmpty)
        let lines = TranscriptPrinter().lines(for: session)
        #expect(lines.count > 1 && lines[1].hasPrefix("  INCOMPLETE: 7 bytes of the server's stream are missing (1 gap, the first at +0.200000 after byte 5)"), "\(lines)")
        #expect(!TranscriptPrinter().lines(for: S.make([(150, .gap(.clientToServer, 3))])).contains { $0.contains("INCOMPLETE") })
    }

    @Test("show says so at the session's top")
    func show() async throws {
        let (directory, path) = try Self.writeCassette()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let show = try ChildProcess(TestPaths.replayd, ["show", path])
        #expect(try await show.wait(timeout: 10) == 0)
        let output = show.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let top = try #require(output.firstIndex { $0.hasPrefix("session 1 ") })
        #expect(output[top + 1].hasPrefix("  INCOMPLETE: 4000 bytes"), "\(show.stdout)")
        #expect(output.filter { $0.contains("INCOMPLETE") }.count == 1, "session 2 lost only client bytes")
    }

    @Test("replay refuses a cassette with such a session, naming where its stream is broken")
    func replayRefuses() async throws {
        let (directory, path) = try Self.writeCassette()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replay = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0"])
        defer { replay.stop() }
        #expect(try await replay.wait(timeout: 10) != 0)
        #expect(replay.stderr.contains("replayd: error: 1 session lost server bytes and cannot be replayed whole: \(path) session 1: 4000 bytes missing at +0.200000 after byte 14; use --allow-gaps"), "\(replay.stderr)")
        #expect(!replay.stderr.contains("listening on"))
    }

    @Test("--session can leave the incomplete session out, and --allow-gaps serves it with a warning")
    func replayAllowsWhenTold() async throws {
        let (directory, path) = try Self.writeCassette()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let complete = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0", "--session", "2"])
        defer { complete.stop() }
        _ = try await complete.waitForStderr(containing: "listening on ", timeout: 10)
        let allowed = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0", "--allow-gaps"])
        defer { allowed.stop() }
        let stderr = try await allowed.waitForStderr(containing: "listening on ", timeout: 10)
        #expect(stderr.contains("serving an incomplete session (--allow-gaps): \(path) session 1: 4000 bytes missing at +0.200000 after byte 14"), "\(stderr)")
    }
}
