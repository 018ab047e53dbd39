import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd record -o EXISTING`: refused unless --force or --append, with the real binary.
@Suite("RecordOutput", .timeLimit(.minutes(1)))
struct RecordOutputTests {
    /// Runs `record` with `extra` flags, sends one echo session through it, stops it with SIGTERM; answers its exit status and stderr.
    static func recordOneSession(to path: String, _ extra: [String], payload: String) async throws -> (Int32, String) {
        let listener = try TestSocket.listen()
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(listener.port)", "-o", path, "--quiet",
        ] + extra)
        let port = try #require(RecordCommandTests.listeningPort(try await record.waitForStderr(containing: "listening on ")), "\(record.stderr)")
        async let server: Void = ProxyForwardingTests.echoOnce(listener)
        let echoed = try await blocking { () -> [UInt8] in
            let client = try TestSocket.connect(port: port)
            try client.send(Array(payload.utf8))
            let got = try client.receive(exactly: payload.utf8.count)
            client.shutdownWrite()
            _ = try client.receiveToEnd()
            return got
        }
        try await server
        #expect(echoed == Array(payload.utf8))
        try await Task.sleep(for: .milliseconds(100))
        record.signal(SIGTERM)
        let status = try await record.wait(timeout: 10)
        return (status, record.stderr)
    }

    @Test("an existing file is refused with a clear message, a non-zero exit, and left as it was")
    func refusesExisting() async throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/smtp.cassette"
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: path))
        let record = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "-o", path])
        let status = try await record.wait(timeout: 10)
        #expect(status != 0)
        #expect(record.stderr.contains("replayd: error: \(path) exists; use --force to replace it or --append to add sessions to it"), "\(record.stderr)")
        #expect(!record.stderr.contains("listening on"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("keep me\n".utf8))
    }

    @Test("--force replaces the file")
    func forceReplaces() async throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/smtp.cassette"
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: path))
        let (status, stderr) = try await Self.recordOneSession(to: path, ["--force"], payload: "forced")
        #expect(status == 0, "\(stderr)")
        let cassette = try Cassette.load(path: path)
        #expect(cassette.sessions.map(\.id) == [1])
        #expect(cassette.sessions.first?.bytes(.clientToServer) == Array("forced".utf8))
    }

    @Test("--append keeps the header and numbers new sessions after the highest one")
    func appendNumbersOn() async throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/smtp.cassette"
        let (firstStatus, firstErr) = try await Self.recordOneSession(to: path, [], payload: "first")
        #expect(firstStatus == 0, "\(firstErr)")
        let before = try Cassette.load(path: path)
        let (status, stderr) = try await Self.recordOneSession(to: path, ["--append"], payload: "second")
        #expect(status == 0, "\(stderr)")
        let after = try Cassette.load(path: path)
        #expect(after.warnings.isEmpty)
        #expect(after.header == before.header)
        #expect(after.sessions.map(\.id) == [1, 2])
        #expect(after.sessions.first == before.sessions.first)
        #expect(after.sessions.last?.bytes(.clientToServer) == Array("second".utf8))
        #expect(after.sessions.last?.events.last?.kind == .end)
    }

    @Test("--append refuses a file that is not a cassette, and leaves it alone")
    func appendRefusesNonCassette() async throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/notes.txt"
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: path))
        let record = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "-o", path, "--append"])
        let status = try await record.wait(timeout: 10)
        #expect(status != 0)
        #expect(record.stderr.contains("replayd: error: \(path): line 1: not a replayd cassette"), "\(record.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("keep me\n".utf8))
    }

    @Test("--append refuses a version 1 cassette: version 2 events would not match its header")
    func appendRefusesVersion1() async throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/old.cassette"
        let text = #"{"format":"replayd-cassette","version":1,"tool":"t","created":"2026-11-22T09:14:03.512204Z","source":"record"}"# + "\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let record = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "-o", path, "--append"])
        #expect(try await record.wait(timeout: 10) != 0)
        #expect(record.stderr.contains("replayd: error: \(path): line 1: cassette format version 1; --append adds only to a version 2 cassette"), "\(record.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(text.utf8))
    }

    @Test("--force with --append is a usage error")
    func forceAndAppend() async throws {
        let record = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "-o", "/dev/null", "--append", "--force"])
        #expect(try await record.wait(timeout: 10) != 0)
        #expect(record.stderr.contains("--force and --append exclude each other"), "\(record.stderr)")
    }

    @Test("a device such as /dev/null is written through without refusal")
    func deviceWrittenThrough() async throws {
        let (status, stderr) = try await Self.recordOneSession(to: "/dev/null", [], payload: "x")
        #expect(status == 0, "\(stderr)")
    }

    @Test("appending after a cut-off last line: a whole event gets its newline, a broken one is cut off")
    func appendAfterIncompleteLine() throws {
        let directory = try TestPaths.temporaryDirectory("record-out")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let header = #"{"format":"replayd-cassette","version":2,"tool":"t","created":"2026-11-22T09:14:03.512204Z","source":"record"}"#
        let open1 = #"{"s":1,"t":0.000000,"ev":"open","client":"127.0.0.1:1","server":"127.0.0.1:2"}"#
        let end1 = #"{"s":1,"t":0.100000,"ev":"end"}"#
        for (name, tail, kept) in [("whole", end1, true), ("broken", #"{"s":1,"t":0.1,"ev":"da"#, false)] {
            let path = directory + "/\(name).cassette"
            try Data((header + "\n" + open1 + "\n" + tail).utf8).write(to: URL(fileURLWithPath: path))
            let writer = try CassetteWriter(appendingTo: path)
            try writer.append(SessionEvent(session: 2, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:3", server: "127.0.0.1:2", start: nil))))
            try writer.append(SessionEvent(session: 2, offset: 5_000, kind: .end))
            try writer.finish()
            let cassette = try Cassette.load(path: path)
            #expect(cassette.warnings.isEmpty, "\(cassette.warnings)")
            #expect(cassette.sessions.map(\.id) == [1, 2])
            #expect(cassette.sessions.first?.events.count == (kept ? 2 : 1))
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix(header + "\n" + open1 + "\n" + (kept ? end1 + "\n" : "") + #"{"s":2,"#), "\(text)")
        }
    }
}
