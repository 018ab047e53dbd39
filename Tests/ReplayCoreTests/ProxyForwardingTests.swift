import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// Real sockets on 127.0.0.1 through an in-process `RecordingProxy`.
@Suite("ProxyForwarding", .timeLimit(.minutes(1)))
struct ProxyForwardingTests {
    /// Accepts one connection and echoes every chunk until EOF, then closes in order.
    static func echoOnce(_ listener: TestSocket) async throws {
        _ = try await blocking {
            let connection = try listener.accept()
            while true {
                let chunk = try connection.receiveSome()
                if chunk.isEmpty { break }
                try connection.send(chunk)
            }
            connection.shutdownWrite()
            connection.close()
        }
    }

    @Test("bytes pass through unchanged both ways and the cassette holds them chunk by chunk")
    func echoByteExact() async throws {
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        async let server: Void = Self.echoOnce(listener)
        // Each under 1 KiB: SwiftNIO's first receive buffers are small, so larger messages may be split.
        let messages: [[UInt8]] = [Array("EHLO client\r\n".utf8), Array(0...255), [0, 0xff, 0xc3, 0x28, 0x0a], (0..<1000).map { UInt8($0 % 251) }]
        let port = harness.port
        let received = try await blocking { () -> [[UInt8]] in
            let client = try TestSocket.connect(port: port)
            var echoes: [[UInt8]] = []
            for message in messages {
                try client.send(message)
                // Wait for each echo so every message is its own chunk on both sides.
                echoes.append(try client.receive(exactly: message.count))
            }
            client.shutdownWrite()
            let rest = try client.receiveToEnd()
            #expect(rest.isEmpty)
            return echoes
        }
        try await server
        let echoedExactly = received == messages
        #expect(echoedExactly)

        let (cassette, report) = try await harness.finish()
        #expect(report.isComplete)
        #expect(cassette.sessions.count == 1)
        let session = try #require(cassette.sessions.first)
        #expect(session.id == 1)
        #expect(session.open.server == "127.0.0.1:\(listener.port)")
        #expect(session.open.client.hasPrefix("127.0.0.1:"))
        let chunksExact = session.dataChunks(.clientToServer) == messages
        #expect(chunksExact, "c2s chunk sizes \(session.dataChunks(.clientToServer).map(\.count))")
        let serverBytesExact = session.bytes(.serverToClient) == messages.flatMap { $0 }
        #expect(serverBytesExact)
        #expect(session.shape == ["open", "data c2s", "data s2c", "data c2s", "data s2c", "data c2s", "data s2c", "data c2s", "data s2c", "close c2s fin", "close s2c fin", "end"])
        let offsets = session.events.map(\.offset)
        #expect(offsets == offsets.sorted())
    }

    @Test("a client that shuts its write side still gets the rest of the server's answer")
    func halfClose() async throws {
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        let request = Array("QUIT\r\n".utf8)
        let answer1 = Array("221 part one\r\n".utf8), answer2 = Array("221 part two\r\n".utf8)
        async let serverSaw: [UInt8] = blocking {
            let connection = try listener.accept()
            let got = try connection.receiveToEnd()  // the client's FIN arrives through the proxy
            try connection.send(answer1)
            usleep(50_000)
            try connection.send(answer2)
            connection.shutdownWrite()
            _ = try? connection.receiveSome()
            connection.close()
            return got
        }
        let port = harness.port
        let clientGot = try await blocking {
            let client = try TestSocket.connect(port: port)
            try client.send(request)
            client.shutdownWrite()
            return try client.receiveToEnd()
        }
        #expect(try await serverSaw == request)
        #expect(clientGot == answer1 + answer2)

        let (cassette, _) = try await harness.finish()
        let session = try #require(cassette.sessions.first)
        #expect(session.shape == ["open", "data c2s", "close c2s fin", "data s2c", "close s2c fin", "end"])
        #expect(session.bytes(.serverToClient) == answer1 + answer2)
        #expect(session.closing(.clientToServer) == .fin)
        #expect(session.closing(.serverToClient) == .fin)
    }

    @Test("a client's RST reaches the server as RST and is recorded as rst")
    func clientReset() async throws {
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        let port = harness.port
        let serverResult = Task {
            try await blocking { () -> Int32 in
                let connection = try listener.accept()
                _ = try connection.receive(exactly: 5)
                try connection.send(Array("ok".utf8))
                do {
                    let more = try connection.receiveSome()
                    return more.isEmpty ? 0 : -1  // 0: FIN instead of RST
                } catch let error as SocketError {
                    return error.code
                }
            }
        }
        try await blocking {
            let client = try TestSocket.connect(port: port)
            try client.send(Array("hello".utf8))
            _ = try client.receive(exactly: 2)
            client.reset()
        }
        #expect(try await serverResult.value == ECONNRESET)
        let (cassette, _) = try await harness.finish()
        let session = try #require(cassette.sessions.first)
        #expect(session.closing(.clientToServer) == .rst)
        #expect(session.shape.suffix(2) == ["reset by c2s", "end"])
    }

    @Test("a server's RST reaches the client as RST and is recorded as rst")
    func serverReset() async throws {
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        let port = harness.port
        let server = Task {
            try await blocking {
                let connection = try listener.accept()
                _ = try connection.receive(exactly: 5)
                try connection.send(Array("bye".utf8))
                usleep(50_000)
                connection.reset()
            }
        }
        let clientResult = try await blocking { () -> Int32 in
            let client = try TestSocket.connect(port: port)
            try client.send(Array("hello".utf8))
            _ = try client.receive(exactly: 3)
            do {
                let more = try client.receiveSome()
                return more.isEmpty ? 0 : -1
            } catch let error as SocketError {
                return error.code
            }
        }
        try await server.value
        #expect(clientResult == ECONNRESET)
        let (cassette, _) = try await harness.finish()
        let session = try #require(cassette.sessions.first)
        #expect(session.closing(.serverToClient) == .rst)
        #expect(session.closing(.clientToServer) == nil)
        #expect(session.bytes(.serverToClient) == Array("bye".utf8))
        #expect(session.shape.suffix(2) == ["reset by s2c", "end"])
    }

    @Test("concurrent connections are separate sessions numbered in order of accept")
    func concurrentSessions() async throws {
        let count = 6
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        let server = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    let connection = try await blocking { try listener.accept() }
                    group.addTask {
                        _ = try await blocking {
                            let got = try connection.receiveToEnd()
                            try connection.send(got.reversed())
                            connection.close()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let port = harness.port
        // Connect one after the other (so the accept order is known), then talk all at once.
        var clients: [TestSocket] = []
        for _ in 0..<count {
            clients.append(try await blocking { try TestSocket.connect(port: port) })
            try await Task.sleep(for: .milliseconds(20))
        }
        let payloads = (0..<count).map { index in Array("client \(index) says \(String(repeating: "x", count: index * 100))".utf8) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    let answer = try await blocking {
                        try client.send(payloads[index])
                        client.shutdownWrite()
                        return try client.receiveToEnd()
                    }
                    #expect(answer == Array(payloads[index].reversed()))
                }
            }
            try await group.waitForAll()
        }
        try await server.value
        let (cassette, _) = try await harness.finish()
        #expect(cassette.sessions.map(\.id).sorted() == Array(1...count))
        // Matched by the client's port, not by position: the kernel's accept order can differ
        // from connect order under load (a handshake's last ACK dropped on a busy loopback
        // queues that connection behind the next one), and the proxy numbers by accept.
        let clientByPort = Dictionary(uniqueKeysWithValues: clients.enumerated().map { ("127.0.0.1:\($0.element.port)", $0.offset) })
        for session in cassette.sessions {
            let index = try #require(clientByPort[session.open.client], "session \(session.id) from an unknown client \(session.open.client)")
            #expect(session.bytes(.clientToServer) == payloads[index])
            #expect(session.bytes(.serverToClient) == Array(payloads[index].reversed()))
            #expect(session.events.last?.kind == .end)
        }
        // Numbered in order of accept: session numbers follow the stamped start times.
        let byNumber = cassette.sessions.sorted { $0.id < $1.id }
        let starts = byNumber.compactMap(\.open.start)
        #expect(starts.count == byNumber.count && starts == starts.sorted())
        let clientPorts = Set(cassette.sessions.map(\.open.client))
        #expect(clientPorts.count == count)
    }
}
