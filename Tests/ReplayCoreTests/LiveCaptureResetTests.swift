import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// A session a RST closes stays open for the data still in flight (`resetLinger`), then ends:
/// on a live capture the clock ends it even when no other packet comes.
@Suite("Live capture: a reset session ends on an idle interface")
struct LiveCaptureResetTests {
    @Test("--count-sessions 1 stops after a client's RST, with no packet after it", .enabled(if: LiveCaptureTests.isRoot),
          .timeLimit(.minutes(1)))
    func resetEndsOnIdle() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-reset")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (listener, port) = try LoopbackSocket.listen()
        defer { listener.close() }
        let cassettePath = "\(directory)/reset.cassette"
        let capture = try await LiveCaptureTests.startCapture(["-i", "lo", "-o", cassettePath, "--count-sessions", "1", "tcp", "port", "\(port)"])
        defer { capture.stop() }

        let client = try LoopbackSocket.connect(port: port)
        let server = try listener.accept()
        let message = Array("then a reset\n".utf8)
        try client.send(message)
        #expect(try server.receive(message.count) == message)
        // SO_LINGER with a zero timeout makes close() send a RST instead of a FIN.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        #expect(setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)) == 0)
        let reset = Date()
        client.close()
        defer { server.close() }

        // The default linger is 5 s after the last packet; the poll loop looks at the clock every 100 ms.
        #expect(try await capture.wait(timeout: 15) == 0, "\(capture.stderr)")
        let elapsed = Date().timeIntervalSince(reset)
        #expect(elapsed >= 4.5 && elapsed < 10, "ended \(elapsed) s after the RST")
        #expect(capture.stderr.contains("(session count reached)"), "\(capture.stderr)")
        let session = try #require(try Cassette.load(path: cassettePath).sessions.first)
        #expect(session.bytes(.clientToServer) == message)
        #expect(session.closing(.clientToServer) == .rst)
        #expect(session.events.last?.kind == .end)
    }
}
