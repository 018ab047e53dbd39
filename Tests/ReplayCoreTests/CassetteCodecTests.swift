import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import ReplayCore

@Suite("Cassette codec")
struct CassetteCodecTests {
    let open = SessionOpen(client: "127.0.0.1:40000", server: "[::1]:25", start: WallClock(nanosecondsSinceEpoch: 1_763_800_000_123_456_789))

    func write(_ events: [SessionEvent], to path: String, source: CassetteHeader.Source = .record) throws {
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: source, details: ["upstream": "mx:25"]))
        for event in events { try writer.append(event) }
        try writer.finish()
    }

    @Test("random binary chunks round-trip with the same bytes and boundaries")
    func randomBinaryRoundTrip() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var random = SplitMix64(seed: 42)
        var events = [SessionEvent(session: 1, offset: 0, kind: .open(open))]
        for index in 0..<400 {
            let length = Int.random(in: 0...3000, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Some chunks are text, some text with control bytes, some invalid UTF-8.
            if index % 3 == 0 { bytes = Array("line \(index) \"quoted\" \\ é ✓\r\n".utf8) }
            if index % 7 == 0 { bytes = [0x00, 0x41, 0x0d, 0x0a, 0x7f] }
            if index % 11 == 0 { bytes = [0xc3, 0x28] }
            let direction: Direction = index.isMultiple(of: 2) ? .clientToServer : .serverToClient
            events.append(SessionEvent(session: 1, offset: Int64(index) * 1_234_567 + 1, kind: .data(direction, bytes)))
        }
        events.append(SessionEvent(session: 1, offset: 999_000_000_001, kind: .reset(by: .serverToClient)))
        events.append(SessionEvent(session: 1, offset: 999_000_000_002, kind: .end))
        let path = directory + "/random.cassette"
        try write(events, to: path)

        let loaded = try Cassette.load(path: path)
        #expect(loaded.sessions.count == 1)
        #expect(loaded.sessions[0].events == events)
        #expect(loaded.header.details["upstream"] == "mx:25")
        #expect(loaded.warnings.isEmpty)
    }

    @Test("every event kind survives a round trip")
    func everyKindRoundTrips() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events: [SessionEvent] = [
            SessionEvent(session: 1, offset: 0, kind: .open(open)),
            SessionEvent(session: 2, offset: 0, kind: .open(SessionOpen(client: "10.0.0.1:1", server: "10.0.0.2:2", start: WallClock(nanosecondsSinceEpoch: 5_000)))),
            SessionEvent(session: 1, offset: 1_000, kind: .data(.serverToClient, Array("220 ready\r\n".utf8))),
            SessionEvent(session: 2, offset: 2_000_500, kind: .connectFailed(ConnectFailure(reason: .timeout, elapsed: 10_000_000_000, message: "timed out"))),
            SessionEvent(session: 1, offset: 3_000, kind: .gap(.clientToServer, 1448)),
            SessionEvent(session: 1, offset: 4_000, kind: .close(.clientToServer, .fin)),
            SessionEvent(session: 2, offset: 10_000_000_001, kind: .end),
            SessionEvent(session: 1, offset: 5_000, kind: .end),
        ]
        let path = directory + "/kinds.cassette"
        try write(events, to: path)
        let reader = try CassetteReader(path: path)
        var read: [SessionEvent] = []
        while let event = try reader.next() { read.append(event) }
        #expect(read == events)
        let loaded = try Cassette.load(path: path)
        #expect(loaded.sessions.map(\.id) == [1, 2])
        #expect(loaded.sessions[1].connectFailure?.reason == .timeout)
    }

    @Test("payloads are text when a person can edit them, base64 otherwise")
    func payloadChoice() {
        let encoder = CassetteEncoder()
        func line(_ bytes: [UInt8]) -> String {
            String(decoding: encoder.encode(SessionEvent(session: 1, offset: 0, kind: .data(.clientToServer, bytes))), as: UTF8.self)
        }
        #expect(line(Array("EHLO x\r\n".utf8)).contains(#""text":"EHLO x\r\n""#))
        #expect(line([0x16, 0x03, 0x01]).contains(#""b64":"FgMB""#))
        #expect(line([0xff, 0xfe]).contains(#""b64":"#))
        #expect(line(Array("déjà vu".utf8)).contains(#""text":"déjà vu""#))
    }

    @Test("cassette files are created with mode 0600, even over an existing file")
    func fileMode() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/mode.cassette"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644]))
        try write([SessionEvent(session: 1, offset: 0, kind: .open(open))], to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("an atomic writer leaves no file until it finishes, and none when abandoned")
    func atomicWriter() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/atomic.cassette"
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: .import), atomic: true)
        try writer.append(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        #expect(!FileManager.default.fileExists(atPath: path))
        writer.abandon()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))

        let second = try CassetteWriter(path: path, header: CassetteHeader(source: .import), atomic: true)
        try second.append(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        try second.finish()
        #expect(try Cassette.load(path: path).sessions.count == 1)
    }

    @Test("a published atomic writer grows in place under its final name, and keeps it when abandoned")
    func publishedWriter() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/live.cassette"
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: .record), atomic: true, bufferLimit: 0)
        try writer.publish()
        try writer.append(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        #expect(try Cassette.load(path: path).sessions.count == 1)
        writer.abandon()
        #expect(try Cassette.load(path: path).sessions.count == 1)
    }

    @Test("writing to a device writes through it: no rename over it, no chmod of it")
    func deviceOutput() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A FIFO stands in for /dev/null: a non-regular file anyone may own.
        let fifo = directory + "/out.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let reader = Glibc.open(fifo, O_RDONLY | O_NONBLOCK)
        defer { Glibc.close(reader) }
        let writer = try CassetteWriter(path: fifo, header: CassetteHeader(source: .import), atomic: true)
        try writer.append(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        try writer.finish()
        var info = stat()
        #expect(stat(fifo, &info) == 0)
        #expect((info.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced by a regular file")
        #expect((info.st_mode & 0o777) == 0o644, "the FIFO's mode was changed")
        #expect(!FileManager.default.fileExists(atPath: fifo + ".partial"))
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(reader, &bytes, bytes.count)
        #expect(count > 0 && String(decoding: bytes[0..<max(0, count)], as: UTF8.self).contains("\"ev\":\"open\""))
    }

    @Test("a person can change 250 to 450 in an editor and the cassette says 450")
    func humanEdit() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = try String(contentsOfFile: TestPaths.fixture("smtp-rcpt-450.cassette"), encoding: .utf8)
        let edited = original.replacingOccurrences(of: "\"text\":\"250 2.1.0 Ok", with: "\"text\":\"451 4.3.0 Try later")
        #expect(edited != original)
        let path = directory + "/edited.cassette"
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        let server = String(decoding: try Cassette.load(path: path).sessions[0].bytes(.serverToClient), as: UTF8.self)
        #expect(server.contains("451 4.3.0 Try later\r\n"))
        #expect(!server.contains("250 2.1.0 Ok"))
    }

    @Test("timestamps keep nanoseconds and format as RFC 3339")
    func wallClock() {
        let instant = WallClock(nanosecondsSinceEpoch: 1_763_800_000_123_456_789)
        #expect(instant.iso8601 == "2025-11-22T08:26:40.123456789Z")
        #expect(WallClock(iso8601: instant.iso8601) == instant)
        #expect(WallClock(iso8601: "2025-11-22T08:26:40Z")?.nanosecondsSinceEpoch == 1_763_800_000_000_000_000)
        #expect(WallClock(iso8601: "2025-11-22T08:26:40.5Z")?.nanosecondsSinceEpoch == 1_763_800_000_500_000_000)
        #expect(WallClock(iso8601: "yesterday") == nil)
        #expect(WallClock(nanosecondsSinceEpoch: -1).iso8601 == "1969-12-31T23:59:59.999999999Z")
    }
}

@Suite("Cassette reader errors")
struct CassetteReaderErrorTests {
    static let header = #"{"format":"replayd-cassette","version":1,"tool":"replayd 0.1.0","created":"2026-11-22T09:14:03.512204Z","source":"record"}"#
    static let openLine = #"{"s":1,"t":0.000000,"ev":"open","client":"127.0.0.1:1","server":"127.0.0.1:2","start":"2026-11-22T09:14:03.612930Z"}"#

    func load(_ text: String) throws -> Cassette {
        let directory = try TestPaths.temporaryDirectory("reader")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/c.cassette"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try Cassette.load(path: path)
    }

    func message(_ text: String) -> String {
        do {
            _ = try load(text)
            return "(loaded without error)"
        } catch {
            let description = "\(error)"
            // Drop the temporary path so the expectation reads plainly.
            return String(description.drop(while: { $0 != ":" }).dropFirst(2))
        }
    }

    @Test("each malformed line is an error naming the line and what was wrong", arguments: [
        ("{\"s\":1,\"t\":0.1,\"ev\":\"data\",\"dir\":\"s2c\",\"text\":\"x\"\n", "line 3: not valid JSON"),
        ("[1,2]\n", "line 3: expected a JSON object {...}"),
        ("{\"t\":0.1,\"ev\":\"end\"}\n", "line 3: missing \"s\" (the session number, an integer from 1)"),
        ("{\"s\":1,\"ev\":\"end\"}\n", "line 3: missing \"t\" (seconds since the session started, e.g. 0.250000)"),
        ("{\"s\":1,\"t\":0.1,\"ev\":\"data\",\"dir\":\"up\",\"text\":\"x\"}\n", "line 3: needs \"dir\": \"c2s\" (client to server) or \"s2c\" (server to client)"),
        ("{\"s\":1,\"t\":0.1,\"ev\":\"data\",\"dir\":\"s2c\"}\n", "line 3: data event needs \"text\" (a string) or \"b64\" (base64 bytes)"),
        ("{\"s\":1,\"t\":0.1,\"ev\":\"data\",\"dir\":\"s2c\",\"b64\":\"!!\"}\n", "line 3: \"b64\" is not valid base64"),
        ("{\"s\":1,\"t\":0.1,\"ev\":\"close\",\"dir\":\"s2c\",\"how\":\"slam\"}\n", "line 3: close event's \"how\" must be \"fin\""),
        // (An unknown event kind is skipped with a warning: see CassetteFormatV2Tests.)
        ("{\"s\":1,\"t\":0.1,\"ev\":\"reset\"}\n", "line 3: reset event needs \"by\": \"client\" or \"server\""),
        ("{\"s\":2,\"t\":0.1,\"ev\":\"end\"}\n", "line 3: event for session 2, which has no \"open\" line before it"),
        ("\n\n{\"s\":1,\"t\":0.1,\"ev\":\"gap\",\"dir\":\"s2c\"}\n", "line 5: gap event needs \"bytes\": the number of missing bytes"),
    ])
    func malformedLine(line: String, expected: String) {
        let text = Self.header + "\n" + Self.openLine + "\n" + line
        #expect(message(text).hasPrefix(expected), "got: \(message(text))")
    }

    @Test("an unknown format version names the version found and the versions supported")
    func unknownVersion() {
        let text = Self.header.replacingOccurrences(of: "\"version\":1", with: "\"version\":7") + "\n"
        #expect(message(text) == "line 1: cassette format version 7 is not supported; this replayd reads versions 1 and 2")
    }

    @Test("a file that is not a cassette says so")
    func notACassette() {
        #expect(message("From: someone\n").hasPrefix("line 1: not a replayd cassette: not valid JSON"))
        #expect(message("{\"format\":\"vcr\"}\n") == "line 1: not a replayd cassette: format is \"vcr\", expected \"replayd-cassette\"")
        #expect(message("").hasPrefix("the file is empty"))
    }

    @Test("a truncated last line loads with a warning and keeps everything before it")
    func truncatedLastLine() throws {
        let data = "{\"s\":1,\"t\":0.1,\"ev\":\"data\",\"dir\":\"s2c\",\"text\":\"220 ok\\r\\n\"}\n"
        let text = Self.header + "\n" + Self.openLine + "\n" + data + "{\"s\":1,\"t\":0.2,\"ev\":\"data\",\"dir\":\"c2s\",\"te"
        let cassette = try load(text)
        #expect(cassette.sessions[0].bytes(.serverToClient) == Array("220 ok\r\n".utf8))
        #expect(cassette.warnings.count == 1)
        #expect(cassette.warnings.first?.contains("line 4: last line is incomplete") == true)
    }

    @Test("a missing file is an error naming it")
    func missingFile() {
        #expect(throws: CassetteError.cannotOpen(path: "/nonexistent/x.cassette", reason: "No such file or directory")) {
            try Cassette.load(path: "/nonexistent/x.cassette")
        }
    }
}
