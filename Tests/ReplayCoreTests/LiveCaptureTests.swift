import Foundation
import Testing
@testable import ReplayCore

/// `replayd capture` on the loopback interface with real traffic: started as a child process,
/// stopped with signals, its cassette compared byte for byte with what the peers sent and with
/// tshark's reassembly of a tcpdump capture taken at the same time.
@Suite("Live capture on lo", .serialized)
struct LiveCaptureTests {
    static var isRoot: Bool { getuid() == 0 }
    static var canCompareWithTshark: Bool {
        isRoot && ChildProcess.isInstalled("tcpdump") && ChildProcess.isInstalled("tshark")
            && ChildProcess.isInstalled("curl") && ChildProcess.isInstalled("python3")
    }

    /// Starts `replayd capture` and waits until it says it is capturing.
    static func startCapture(_ arguments: [String]) async throws -> ChildProcess {
        let child = try ChildProcess(TestPaths.replayd, ["capture"] + arguments)
        _ = try await child.waitForStderr(containing: "capturing on lo", timeout: 10)
        return child
    }

    /// Reloads the cassette until `condition` holds (the recorder writes as it goes), within 5 s.
    static func waitForCassette(_ path: String, until condition: (Cassette) -> Bool) async throws -> Cassette {
        let deadline = Date().addingTimeInterval(5)
        var last: Cassette?
        while Date() < deadline {
            if let loaded = try? Cassette.load(path: path) {
                if condition(loaded) { return loaded }
                last = loaded
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the cassette never reached the expected state; last: \(String(describing: last?.sessions.map(\.id)))")
        return try Cassette.load(path: path)
    }

    @Test("curl against http.server: every session agrees with tshark on a parallel tcpdump", .enabled(if: canCompareWithTshark), .timeLimit(.minutes(1)))
    func httpAgreesWithTcpdump() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-http")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let site = "\(directory)/site"
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let blob = pseudoRandomBytes(400_000, seed: 7)
        try Data(blob).write(to: URL(fileURLWithPath: "\(site)/blob.bin"))
        try Data("hello from the live capture test\n".utf8).write(to: URL(fileURLWithPath: "\(site)/hello.txt"))

        let server = try ChildProcess("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", site])
        defer { server.stop() }
        let banner = try await ImportLoopbackCaptureTests.waitForStdout(server, containing: ") ...")
        let port = try #require(ImportLoopbackCaptureTests.port(fromHTTPServerBanner: banner), "no port in: \(banner)")

        let reference = "\(directory)/reference.pcap", cassettePath = "\(directory)/live.cassette"
        let tcpdump = try ChildProcess("tcpdump", ["-i", "lo", "-w", reference, "--immediate-mode", "-B", "16384", "-U", "tcp port \(port)"])
        defer { tcpdump.stop() }
        _ = try await tcpdump.waitForStderr(containing: "listening on lo")
        let capture = try await Self.startCapture(["-i", "lo", "-o", cassettePath, "tcp", "port", "\(port)"])
        defer { capture.stop() }

        let base = "http://127.0.0.1:\(port)"
        let fetch = try ChildProcess("curl", ["-sS", "-o", "\(directory)/got.bin", "\(base)/blob.bin"])
        #expect(try await fetch.wait(timeout: 20) == 0, "\(fetch.stderr)")
        let two = try ChildProcess("curl", ["-sS", "\(base)/hello.txt", "\(base)/missing"])
        #expect(try await two.wait(timeout: 20) == 0, "\(two.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/got.bin")) == Data(blob))

        // Finished sessions reach the file before the capture stops.
        let progressive = try await Self.waitForCassette(cassettePath) { $0.sessions.count == 3 }
        #expect(progressive.sessions.allSatisfy { $0.events.last?.kind == .end })

        try await Task.sleep(for: .milliseconds(200))
        capture.signal(SIGINT)
        #expect(try await capture.wait(timeout: 5) == 0, "\(capture.stderr)")
        tcpdump.signal(SIGINT)
        #expect(try await tcpdump.wait(timeout: 10) == 0, "\(tcpdump.stderr)")

        #expect(capture.stderr.contains("captured "), "\(capture.stderr)")
        #expect(capture.stderr.contains("3 sessions written (0 still open at the stop)"), "\(capture.stderr)")
        #expect(capture.stderr.contains("dropped: 0 by the kernel"), "\(capture.stderr)")
        var info = stat()
        #expect(stat(cassettePath, &info) == 0 && info.st_mode & 0o777 == 0o600)

        let cassette = try Cassette.load(path: cassettePath)
        #expect(cassette.warnings.isEmpty)
        #expect(cassette.header.source == .capture)
        #expect(cassette.header.details["interface"] == "lo")
        #expect(cassette.header.details["filter"] == "tcp port \(port)")
        #expect(cassette.sessions.map(\.id).sorted() == [1, 2, 3])

        for session in cassette.sessions.sorted(by: { $0.id < $1.id }) {
            let follow = try ChildProcess("tshark", ["-r", reference, "-q", "-z", "follow,tcp,raw,\(session.id - 1)"])
            #expect(try await follow.wait(timeout: 30) == 0, "\(follow.stderr)")
            let theirs = try FollowReference(text: follow.stdout)
            #expect(theirs.node0 == session.open.client)
            expectSameBytes(session.bytes(.clientToServer), theirs.bytes[0], "live session \(session.id) c2s")
            expectSameBytes(session.bytes(.serverToClient), theirs.bytes[1], "live session \(session.id) s2c")
            #expect(session.closing(.clientToServer) == .fin)
            #expect(session.closing(.serverToClient) == .fin)
            #expect(!session.events.contains { if case .gap = $0.kind { return true } else { return false } })
        }
        let first = try #require(cassette.sessions.first { $0.id == 1 })
        expectSameBytes(Array(first.bytes(.serverToClient).suffix(blob.count)), blob, "the body curl fetched")
        #expect(String(decoding: first.bytes(.clientToServer), as: UTF8.self).hasPrefix("GET /blob.bin HTTP/1.1\r\n"))
    }

    @Test("known bytes both ways; a connection open at SIGINT is written with its bytes and an end", .enabled(if: isRoot), .timeLimit(.minutes(1)))
    func openConnectionIsFlushedOnSIGINT() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-open")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassettePath = "\(directory)/live.cassette"
        let (listener, port) = try LoopbackSocket.listen()
        defer { listener.close() }
        let capture = try await Self.startCapture(["-i", "lo", "-o", cassettePath, "tcp", "port", "\(port)"])
        defer { capture.stop() }

        // Session 1 completes: request, response, both FINs.
        let request1 = pseudoRandomBytes(50_000, seed: 1), response1 = pseudoRandomBytes(30_001, seed: 2)
        let client1 = try LoopbackSocket.connect(port: port)
        let server1 = try listener.accept()
        try client1.send(request1)
        #expect(try server1.receive(request1.count) == request1)
        try server1.send(response1)
        #expect(try client1.receive(response1.count) == response1)
        client1.shutdownWrite()
        try server1.expectEndOfStream()
        server1.shutdownWrite()
        try client1.expectEndOfStream()
        client1.close()
        server1.close()

        // It is in the file while the capture still runs.
        let during = try await Self.waitForCassette(cassettePath) { $0.sessions.first?.events.last?.kind == .end }
        #expect(during.sessions.count == 1)

        // Session 2 stays open across the stop.
        let request2 = pseudoRandomBytes(20_000, seed: 3), response2 = pseudoRandomBytes(12_345, seed: 4)
        let client2 = try LoopbackSocket.connect(port: port)
        let server2 = try listener.accept()
        defer { client2.close(); server2.close() }
        try client2.send(request2)
        #expect(try server2.receive(request2.count) == request2)
        try server2.send(response2)
        #expect(try client2.receive(response2.count) == response2)
        try await Task.sleep(for: .milliseconds(100))

        capture.signal(SIGINT)
        #expect(try await capture.wait(timeout: 5) == 0, "\(capture.stderr)")
        #expect(capture.stderr.contains("2 sessions written (1 still open at the stop)"), "\(capture.stderr)")

        let cassette = try Cassette.load(path: cassettePath)
        let sessions = Dictionary(uniqueKeysWithValues: cassette.sessions.map { ($0.id, $0) })
        #expect(sessions.count == 2)
        let one = try #require(sessions[1]), two = try #require(sessions[2])
        expectSameBytes(one.bytes(.clientToServer), request1, "session 1 c2s")
        expectSameBytes(one.bytes(.serverToClient), response1, "session 1 s2c")
        #expect(one.closing(.clientToServer) == .fin && one.closing(.serverToClient) == .fin)
        #expect(one.open.server == "127.0.0.1:\(port)")

        expectSameBytes(two.bytes(.clientToServer), request2, "open session c2s")
        expectSameBytes(two.bytes(.serverToClient), response2, "open session s2c")
        #expect(two.closing(.clientToServer) == nil && two.closing(.serverToClient) == nil, "nobody closed: no close events")
        #expect(two.events.last?.kind == .end)
        #expect(two.events.filter { $0.kind == .end }.count == 1)
    }

    @Test("SIGTERM stops an idle capture quickly, with exit 0", .enabled(if: isRoot), .timeLimit(.minutes(1)))
    func sigtermStopsQuickly() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-term")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let capture = try await Self.startCapture(["-i", "lo", "-o", "\(directory)/idle.cassette", "tcp", "port", "9"])
        defer { capture.stop() }
        try await Task.sleep(for: .milliseconds(300))
        let signalled = Date()
        capture.signal(SIGTERM)
        #expect(try await capture.wait(timeout: 5) == 0, "\(capture.stderr)")
        let elapsed = Date().timeIntervalSince(signalled)
        // The loop wakes on the stop pipe at once; 0.5 s leaves room for a loaded machine.
        #expect(elapsed < 0.5, "stopping took \(elapsed) s")
        #expect(capture.stderr.contains("0 sessions written"), "\(capture.stderr)")
        let cassette = try Cassette.load(path: "\(directory)/idle.cassette")
        #expect(cassette.sessions.isEmpty)
        #expect(cassette.header.source == .capture)
    }

    @Test("--duration 1 with no traffic exits on time", .enabled(if: isRoot), .timeLimit(.minutes(1)))
    func durationWithoutTraffic() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-duration")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = Date()
        let capture = try ChildProcess(TestPaths.replayd, ["capture", "-i", "lo", "-o", "\(directory)/quiet.cassette", "--duration", "1", "tcp", "port", "9"])
        defer { capture.stop() }
        let status = try await capture.wait(timeout: 5)
        let elapsed = Date().timeIntervalSince(started)
        #expect(status == 0, "\(capture.stderr)")
        #expect(elapsed >= 1.0 && elapsed < 2.0, "took \(elapsed) s")
        #expect(capture.stderr.contains("(duration elapsed)"), "\(capture.stderr)")
        let cassette = try Cassette.load(path: "\(directory)/quiet.cassette")
        #expect(cassette.sessions.isEmpty)
        #expect(cassette.header.details["filter"] == "tcp port 9")
    }

    @Test("--count-sessions 2 stops after the second session ends", .enabled(if: isRoot), .timeLimit(.minutes(1)))
    func countSessions() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-count")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (listener, port) = try LoopbackSocket.listen()
        defer { listener.close() }
        let cassettePath = "\(directory)/two.cassette"
        let capture = try await Self.startCapture(["-i", "lo", "-o", cassettePath, "--count-sessions", "2", "tcp", "port", "\(port)"])
        defer { capture.stop() }
        for index in 1...2 {
            let client = try LoopbackSocket.connect(port: port)
            let server = try listener.accept()
            let message = Array("message \(index)\n".utf8)
            try client.send(message)
            #expect(try server.receive(message.count) == message)
            client.shutdownWrite()
            try server.expectEndOfStream()
            server.shutdownWrite()
            try client.expectEndOfStream()
            client.close()
            server.close()
        }
        #expect(try await capture.wait(timeout: 5) == 0, "\(capture.stderr)")
        #expect(capture.stderr.contains("(session count reached)"), "\(capture.stderr)")
        let cassette = try Cassette.load(path: cassettePath)
        #expect(cassette.sessions.map { String(decoding: $0.bytes(.clientToServer), as: UTF8.self) }.sorted() == ["message 1\n", "message 2\n"])
    }

    @Test("a bad filter is an error quoting libpcap, and no cassette is left", .enabled(if: isRoot))
    func badFilter() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-filter")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = "\(directory)/never.cassette"
        let capture = try ChildProcess(TestPaths.replayd, ["capture", "-i", "lo", "-o", output, "tcp", "port", "nonsense"])
        #expect(try await capture.wait(timeout: 10) == 64)
        #expect(capture.stderr.contains("replayd: error: bad capture filter \"tcp port nonsense\": unknown port 'nonsense'"), "\(capture.stderr)")
        #expect(!capture.stderr.contains("capturing on"))
        #expect(!FileManager.default.fileExists(atPath: output))

        let syntax = try ChildProcess(TestPaths.replayd, ["capture", "-i", "lo", "-o", output, "tcp", "and", "and"])
        #expect(try await syntax.wait(timeout: 10) == 64)
        #expect(syntax.stderr.contains("syntax error"), "\(syntax.stderr)")
    }

    @Test("an unknown interface is an error listing the real ones", .enabled(if: isRoot))
    func unknownInterface() async throws {
        let capture = try ChildProcess(TestPaths.replayd, ["capture", "-i", "nosuchif0", "-o", "/nonexistent/x.cassette"])
        #expect(try await capture.wait(timeout: 10) == 64)
        #expect(capture.stderr.contains("replayd: error: cannot capture on nosuchif0: no such interface"), "\(capture.stderr)")
        #expect(capture.stderr.contains("lo"), "the list names lo: \(capture.stderr)")
    }

    @Test("without privileges the error says to run as root or grant CAP_NET_RAW",
          .enabled(if: isRoot && ChildProcess.isInstalled("setpriv")))
    func permissionDenied() async throws {
        let directory = try TestPaths.temporaryDirectory("capture-perm")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = chmod(directory, 0o777)
        let capture = try ChildProcess("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                                                   TestPaths.replayd, "capture", "-i", "lo", "-o", "\(directory)/x.cassette"])
        #expect(try await capture.wait(timeout: 10) == 74)
        #expect(capture.stderr.contains("permission denied; run replayd as root or grant it CAP_NET_RAW"), "\(capture.stderr)")
    }
}
