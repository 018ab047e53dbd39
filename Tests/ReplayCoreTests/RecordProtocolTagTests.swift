import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd record` (the real binary) writes each session's protocol on its `open`.
@Suite("Record protocol tagging", .timeLimit(.minutes(1)))
struct RecordProtocolTagTests {
    /// Records one session through a tiny SMTP-like server on a random port; returns the file.
    func recordOne(extra: [String], directory: String) async throws -> String {
        let cassettePath = directory + "/tag.cassette"
        let listener = try TestSocket.listen()
        let server = Task {
            try await blocking {
                let connection = try listener.accept()
                try connection.send(Array("220 tiny ESMTP ready\r\n".utf8))
                let rest = try connection.receiveToEnd()
                connection.close()
                return rest
            }
        }
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(listener.port)", "-o", cassettePath, "--quiet",
        ] + extra)
        let port = try #require(RecordCommandTests.listeningPort(try await record.waitForStderr(containing: "listening on ")))
        try await blocking {
            let client = try TestSocket.connect(port: port)
            _ = try client.receive(exactly: 22)
            try client.send(Array("QUIT\r\n".utf8))
            client.shutdownWrite()
            _ = try client.receiveToEnd()
        }
        #expect(try await server.value == Array("QUIT\r\n".utf8))
        try await Task.sleep(for: .milliseconds(100))
        record.signal(SIGINT)
        #expect(try await record.wait(timeout: 10) == 0, "\(record.stderr)")
        return cassettePath
    }

    @Test("a greeting on a random port is recorded as smtp, in a version 2 file")
    func detected() async throws {
        let directory = try TestPaths.temporaryDirectory("record-proto")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try await recordOne(extra: [], directory: directory)
        let text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        #expect(text.hasPrefix(#"{"format":"replayd-cassette","version":2,"#))
        #expect(text.contains(#""ev":"open","client":"127.0.0.1:"#) && text.contains(#","proto":"smtp"}"#), "\(text)")
        let cassette = try Cassette.load(path: path)
        let session = try #require(cassette.sessions.first)
        #expect(session.open.proto == .smtp)
        #expect(session.events.first.map { if case .open = $0.kind { true } else { false } } == true)
        #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self) == "220 tiny ESMTP ready\r\n")
        #expect(session.events.last?.kind == .end)
    }

    @Test("--proto forces the protocol; an unknown one is refused with the list")
    func forced() async throws {
        let directory = try TestPaths.temporaryDirectory("record-proto")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try await recordOne(extra: ["--proto", "line"], directory: directory)
        #expect(try Cassette.load(path: path).sessions.first?.open.proto == .line)

        let bad = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "-o", directory + "/x.cassette", "--proto", "smtps",
        ])
        #expect(try await bad.wait(timeout: 10) != 0)
        #expect(bad.stderr.contains("--proto \"smtps\" is not a protocol replayd knows; use one of: smtp, pop3, imap"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.cassette"))
    }
}
