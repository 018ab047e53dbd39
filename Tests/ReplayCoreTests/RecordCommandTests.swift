import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// The real `replayd record` binary.
@Suite("RecordCommand", .timeLimit(.minutes(1)))
struct RecordCommandTests {
    static func listeningPort(_ stderr: String) -> Int? {
        guard let range = stderr.range(of: "listening on 127.0.0.1:") else { return nil }
        let digits = stderr[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    @Test("SIGINT leaves a complete, loadable cassette with mode 0600 and exits 0")
    func sigintCompletesTheCassette() async throws {
        let directory = try TestPaths.temporaryDirectory("record")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassettePath = directory + "/smtp.cassette"
        let listener = try TestSocket.listen()
        let upstreamPort = listener.port
        let server = Task {
            try await blocking {
                // First connection: a greeting, one echo, an orderly end.
                let first = try listener.accept()
                try first.send(Array("220 test ESMTP\r\n".utf8))
                let line = try first.receive(exactly: 6)
                try first.send(Array("250 ok ".utf8) + line)
                _ = try first.receiveToEnd()
                first.close()
                // Second connection: still open when the proxy is stopped.
                let second = try listener.accept()
                try second.send(Array("220 second\r\n".utf8))
                let rest = try? second.receiveToEnd()
                second.close()
                return rest ?? []
            }
        }
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstreamPort)", "-o", cassettePath, "--connect-timeout", "2",
        ])
        let stderr = try await record.waitForStderr(containing: "listening on ")
        let port = try #require(Self.listeningPort(stderr), "no port in: \(stderr)")

        let firstAnswer = try await blocking { () -> [UInt8] in
            let client = try TestSocket.connect(port: port)
            var got = try client.receive(exactly: 16)
            try client.send(Array("NOOP\r\n".utf8))
            got += try client.receive(exactly: 13)
            client.shutdownWrite()
            _ = try client.receiveToEnd()
            return got
        }
        #expect(String(decoding: firstAnswer, as: UTF8.self) == "220 test ESMTP\r\n250 ok NOOP\r\n")
        _ = try await record.waitForStderr(containing: "session 1 from 127.0.0.1:")

        let openClient = try await blocking { () -> TestSocket in
            let client = try TestSocket.connect(port: port)
            _ = try client.receive(exactly: 12)
            return client
        }
        record.signal(SIGINT)
        let status = try await record.wait(timeout: 10)
        #expect(status == 0, "stderr: \(record.stderr)")
        // The open connection was closed by the proxy.
        let tail = try await blocking { try openClient.receiveToEnd() }
        #expect(tail.isEmpty)
        _ = try await server.value

        var info = stat()
        #expect(stat(cassettePath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let cassette = try Cassette.load(path: cassettePath)
        #expect(cassette.warnings.isEmpty)
        #expect(cassette.header.source == .record)
        #expect(cassette.sessions.count == 2)
        let first = try #require(cassette.sessions.first)
        #expect(String(decoding: first.bytes(.serverToClient), as: UTF8.self) == "220 test ESMTP\r\n250 ok NOOP\r\n")
        #expect(String(decoding: first.bytes(.clientToServer), as: UTF8.self) == "NOOP\r\n")
        #expect(first.shape == ["open", "data s2c", "data c2s", "data s2c", "close c2s fin", "close s2c fin", "end"])
        let second = try #require(cassette.sessions.last)
        #expect(second.id == 2)
        #expect(String(decoding: second.bytes(.serverToClient), as: UTF8.self) == "220 second\r\n")
        #expect(second.events.last?.kind == .end)
        #expect(record.stderr.contains("session 2 from 127.0.0.1:"))
    }

    @Test("an upstream host that does not resolve is a clear error and a non-zero exit")
    func badUpstreamHost() async throws {
        let directory = try TestPaths.temporaryDirectory("record")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "no-such-host.invalid:25", "-o", directory + "/x.cassette",
        ])
        let status = try await record.wait(timeout: 20)
        #expect(status != 0)
        #expect(record.stderr.contains("replayd: error: cannot resolve upstream no-such-host.invalid:25"), "\(record.stderr)")
        #expect(!record.stderr.contains("listening on"))
    }

    @Test("--quiet leaves out the per-connection lines")
    func quiet() async throws {
        let directory = try TestPaths.temporaryDirectory("record")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let listener = try TestSocket.listen()
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(listener.port)", "-o", directory + "/q.cassette", "--quiet",
        ])
        let port = try #require(Self.listeningPort(try await record.waitForStderr(containing: "listening on ")))
        async let server: Void = ProxyForwardingTests.echoOnce(listener)
        try await blocking {
            let client = try TestSocket.connect(port: port)
            try client.send(Array("ping".utf8))
            _ = try client.receive(exactly: 4)
            client.shutdownWrite()
            _ = try client.receiveToEnd()
        }
        try await server
        try await Task.sleep(for: .milliseconds(100))
        record.signal(SIGTERM)
        #expect(try await record.wait(timeout: 10) == 0)
        #expect(!record.stderr.contains("session 1"), "\(record.stderr)")
        let cassette = try Cassette.load(path: directory + "/q.cassette")
        #expect(cassette.sessions.first?.bytes(.clientToServer) == Array("ping".utf8))
    }
}
