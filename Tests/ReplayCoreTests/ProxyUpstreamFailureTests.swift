import Foundation
import NIOCore
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

@Suite("ProxyUpstreamFailure", .timeLimit(.minutes(1)))
struct ProxyUpstreamFailureTests {
    /// Whether a client that sends `HELO` at once through a proxy whose upstream is unreachable is reset (not closed with FIN).
    static func clientIsReset(port: Int) async throws -> Bool {
        try await blocking {
            let client = try TestSocket.connect(port: port, timeout: 5)
            try client.send(Array("HELO\r\n".utf8))
            do {
                _ = try client.receiveSome()
                return false
            } catch let error as SocketError {
                return error.code == ECONNRESET
            }
        }
    }

    @Test("an upstream that refuses: the client's bytes, connect-failed refused and the client's reset are recorded")
    func refused() async throws {
        // A port that was free a moment ago and has no listener now.
        let probe = try TestSocket.listen()
        let deadPort = probe.port
        probe.close()
        let harness = try await ProxyHarness.start(upstreamPort: deadPort)
        #expect(try await Self.clientIsReset(port: harness.port))
        let (cassette, _) = try await harness.finish()
        let session = try #require(cassette.sessions.first)
        #expect(session.shape == ["open", "data c2s", "connect-failed refused", "reset by s2c", "end"])
        #expect(session.bytes(.clientToServer) == Array("HELO\r\n".utf8))
        let failure = try #require(session.connectFailure)
        #expect(failure.reason == .refused)
        #expect(failure.elapsed >= 0 && failure.elapsed < 2_000_000_000)
        #expect(!failure.message.isEmpty)
    }

    @Test("an upstream that drops SYNs: the attempt times out after --connect-timeout and is recorded")
    func timeout() async throws {
        // A listener with backlog 0 that never accepts: once its accept queue holds one
        // connection, Linux drops further SYNs, which looks like a host that does not answer.
        let listener = try TestSocket.listen(backlog: 0)
        let port = listener.port
        let fillers = try await blocking { () -> [TestSocket] in
            var fillers: [TestSocket] = []
            for _ in 0..<8 {
                do {
                    fillers.append(try TestSocket.connect(port: port, timeout: 0.2))
                } catch let error as SocketError where error.code == EINPROGRESS || error.code == EAGAIN {
                    return fillers  // this SYN was dropped: the queue is full
                }
            }
            return fillers
        }
        defer { fillers.forEach { $0.close() }; listener.close() }
        #expect(fillers.count < 8, "the listener kept accepting SYNs; cannot build a SYN-dropping target")

        let harness = try await ProxyHarness.start(upstreamPort: port, connectTimeout: .milliseconds(300))
        let started = Date()
        #expect(try await Self.clientIsReset(port: harness.port))
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.25 && waited < 3, "waited \(waited) s")
        let (cassette, _) = try await harness.finish()
        let session = try #require(cassette.sessions.first)
        #expect(session.shape == ["open", "data c2s", "connect-failed timeout", "reset by s2c", "end"])
        #expect(session.bytes(.clientToServer) == Array("HELO\r\n".utf8))
        // Read while the upstream was still being tried: recorded at its own time, long before the failure.
        let times = session.events.map(\.offset)
        #expect(times == times.sorted())
        #expect(times[1] < 200_000_000 && times[2] >= 250_000_000, "\(times)")
        let failure = try #require(session.connectFailure)
        #expect(failure.elapsed >= 250_000_000 && failure.elapsed < 2_000_000_000)
    }

    @Test("connect errors map to the reasons a cassette records")
    func classification() {
        #expect(UpstreamConnectFailure.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect"), elapsed: 5).reason == .refused)
        #expect(UpstreamConnectFailure.classify(IOError(errnoCode: ENETUNREACH, reason: "connect"), elapsed: 5).reason == .unreachable)
        #expect(UpstreamConnectFailure.classify(IOError(errnoCode: EHOSTUNREACH, reason: "connect"), elapsed: 5).reason == .unreachable)
        #expect(UpstreamConnectFailure.classify(IOError(errnoCode: ETIMEDOUT, reason: "connect"), elapsed: 5).reason == .timeout)
        #expect(UpstreamConnectFailure.classify(ChannelError.connectTimeout(.seconds(2)), elapsed: 5).reason == .timeout)
        #expect(UpstreamConnectFailure.classify(ChannelError.ioOnClosedChannel, elapsed: 5).reason == .other)
        let refused = UpstreamConnectFailure.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect"), elapsed: 7)
        #expect(refused.elapsed == 7)
        #expect(refused.message == "Connection refused")
    }

    @Test("listen and upstream addresses parse, and a bad host is a clear error")
    func endpoints() throws {
        #expect(try HostPort(parsing: "2525", defaultHost: "127.0.0.1") == HostPort(host: "127.0.0.1", port: 2525))
        #expect(try HostPort(parsing: "0.0.0.0:25") == HostPort(host: "0.0.0.0", port: 25))
        #expect(try HostPort(parsing: "[::1]:8080") == HostPort(host: "::1", port: 8080))
        #expect(try HostPort(parsing: "[::1]:8080").description == "[::1]:8080")
        #expect(throws: AddressError.self) { try HostPort(parsing: "2525") }
        #expect(throws: AddressError.self) { try HostPort(parsing: "host:99999") }
        #expect(throws: AddressError.self) { try HostPort(parsing: "host:smtp") }
        #expect(throws: AddressError.self) { try HostPort(parsing: "::1:25") }
        do {
            _ = try HostPort(parsing: "no-such-host.invalid:25").resolve()
            Issue.record("resolving an .invalid host succeeded")
        } catch {
            #expect(error.description.contains("no-such-host.invalid:25"))
        }
    }
}
