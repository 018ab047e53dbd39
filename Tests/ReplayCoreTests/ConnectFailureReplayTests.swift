import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

private typealias S = ScriptedSession

/// A recorded upstream connect failure is replayed the way the client saw it: reset when the
/// recording says the proxy reset the client, FIN when it closed it.
@Suite("ConnectFailureReplay", .timeLimit(.minutes(1)))
struct ConnectFailureReplayTests {
    static let failure = ConnectFailure(reason: .refused, elapsed: S.ms(2), message: "Connection refused")

    static let resetSession = S.make([
        (1, S.c2s("GET / HTTP/1.1\r\n\r\n")), (2, .connectFailed(failure)), (3, .reset(by: .serverToClient)), (3, .end),
    ], proto: .http)
    static let finSession = S.make([(2, .connectFailed(failure)), (3, .close(.serverToClient, .fin)), (3, .end)], proto: .http)
    /// As written before the client's ending was recorded.
    static let oldSession = S.make([(2, .connectFailed(failure)), (2, .end)], proto: .http)

    @Test("the plan and the conversation end a connect failure with a reset only when one was recorded")
    func planAndConversation() {
        #expect(ReplayPlan(session: Self.resetSession).steps.map(\.action) == [.connectFailed(Self.failure), .reset])
        #expect(ReplayPlan(session: Self.finSession).steps.map(\.action) == [.connectFailed(Self.failure)])
        #expect(ReplayPlan(session: Self.oldSession).steps.map(\.action) == [.connectFailed(Self.failure)])
        let conversation = RecordedConversation(session: Self.resetSession, file: "t")
        #expect(conversation.exchanges.count == 1)
        #expect(conversation.exchanges[0].pieces.map(\.action) == [.connectFailed(Self.failure), .reset])
        #expect(RecordedConversation(session: Self.finSession, file: "t").exchanges[0].pieces.map(\.action) == [.connectFailed(Self.failure)])
    }

    @Test("the machine resets the client after a recorded reset, and closes it otherwise")
    func machine() {
        var reset = ReplayMachine(session: Self.resetSession, options: ReplayOptions(noDelay: true))
        #expect(reset.connected(at: 0) == [.reset])
        #expect(reset.outcome == .connectFailure(Self.failure))
        var fin = ReplayMachine(session: Self.finSession, options: ReplayOptions(noDelay: true))
        #expect(fin.connected(at: 0) == [.close])
        var old = ReplayMachine(session: Self.oldSession, options: ReplayOptions(noDelay: true))
        #expect(old.connected(at: 0) == [.close])
    }

    @Test("replay by messages holds a failure recorded after client bytes until this client sends some")
    func heldUntilTheClientSpeaks() {
        let set = ConversationSet(cassettes: [("t.cassette", [Self.resetSession])])
        #expect(set.conversations[0].clientBytesBeforeFailure == 18)
        var replay = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(noDelay: true), connection: 1, writesMayBlock: false)
        // Connected: nothing but a fallback wakeup, so a client still connecting is not reset.
        #expect(replay.connected(at: 0) == [.scheduleWakeup(at: ConnectionReplayer.heldFailureWait)])
        #expect(replay.timerFired(at: S.ms(500)) == [.scheduleWakeup(at: ConnectionReplayer.heldFailureWait)])
        // Its first bytes (another request than the recorded one): the recorded reset, at once.
        #expect(replay.clientData(Array("GET /other".utf8), count: 10, at: S.ms(600)) == [.reset])
        #expect(replay.machine.outcome == .connectFailure(Self.failure))

        // A client that sends nothing is reset once the wait is over.
        var silent = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(noDelay: true), connection: 2, writesMayBlock: false)
        _ = silent.connected(at: 0)
        #expect(silent.timerFired(at: ConnectionReplayer.heldFailureWait) == [.reset])

        // Recorded with no client bytes before the failure: nothing to wait for.
        let finSet = ConversationSet(cassettes: [("t.cassette", [Self.finSession])])
        var fin = ConnectionReplayer(set: finSet, mode: .similar, policy: .error, options: ReplayOptions(noDelay: true), connection: 3, writesMayBlock: false)
        #expect(fin.connected(at: 0) == [.close])
    }

    // MARK: End to end with curl

    /// curl's exit status for a request to `port` (56: the connection was reset; 52: empty reply).
    static func curl(port: Int) async throws -> Int32 {
        let curl = try ChildProcess("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/"])
        return try await curl.wait(timeout: 10)
    }

    /// Records one curl request through `record` to `upstreamPort`, replays the cassette to curl;
    /// answers both curl exit statuses and the recorded session.
    static func recordAndReplay(upstreamPort: Int, _ extra: [String] = []) async throws -> (recorded: Int32, replayed: Int32, session: Session) {
        let directory = try TestPaths.temporaryDirectory("connect-failure")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/http.cassette"
        let record = try ChildProcess(TestPaths.replayd, [
            "record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstreamPort)", "-o", path, "--quiet",
        ] + extra)
        defer { record.stop() }
        let recordPort = try #require(RecordCommandTests.listeningPort(try await record.waitForStderr(containing: "listening on ")))
        let recorded = try await curl(port: recordPort)
        try await Task.sleep(for: .milliseconds(100))
        record.signal(SIGTERM)
        #expect(try await record.wait(timeout: 10) == 0, "\(record.stderr)")
        let session = try #require(try Cassette.load(path: path).sessions.first)

        let replay = try ChildProcess(TestPaths.replayd, ["replay", path, "--listen", "127.0.0.1:0"])
        defer { replay.stop() }
        let stderr = try await replay.waitForStderr(containing: "listening on ", timeout: 10)
        let match = try #require(stderr.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)\n/))
        let replayed = try await curl(port: try #require(Int(match.1)))
        return (recorded, replayed, session)
    }

    @Test("curl through record to a dead port is reset, and so is curl against the replay", .enabled(if: ChildProcess.isInstalled("curl")))
    func refusedEndToEnd() async throws {
        let probe = try TestSocket.listen()
        let deadPort = probe.port
        probe.close()
        let (recorded, replayed, session) = try await Self.recordAndReplay(upstreamPort: deadPort)
        #expect(recorded == 56)
        #expect(replayed == 56)
        #expect(session.shape == ["open", "data c2s", "connect-failed refused", "reset by s2c", "end"])
        #expect(String(decoding: session.bytes(.clientToServer), as: UTF8.self).hasPrefix("GET / HTTP/1.1\r\nHost: 127.0.0.1:"))
    }

    @Test("the same after --connect-timeout", .enabled(if: ChildProcess.isInstalled("curl")))
    func timeoutEndToEnd() async throws {
        // A listener with backlog 0 that never accepts drops SYNs once its queue is full.
        let listener = try TestSocket.listen(backlog: 0)
        let port = listener.port
        let fillers = try await blocking { () -> [TestSocket] in
            var fillers: [TestSocket] = []
            for _ in 0..<8 {
                do {
                    fillers.append(try TestSocket.connect(port: port, timeout: 0.2))
                } catch let error as SocketError where error.code == EINPROGRESS || error.code == EAGAIN {
                    return fillers
                }
            }
            return fillers
        }
        defer { fillers.forEach { $0.close() }; listener.close() }
        #expect(fillers.count < 8, "the listener kept accepting SYNs; cannot build a SYN-dropping target")
        let (recorded, replayed, session) = try await Self.recordAndReplay(upstreamPort: port, ["--connect-timeout", "0.3"])
        #expect(recorded == 56)
        #expect(replayed == 56)
        #expect(session.shape == ["open", "data c2s", "connect-failed timeout", "reset by s2c", "end"])
        let times = session.events.map(\.offset)
        #expect(times == times.sorted())
        #expect(times[1] < 200_000_000 && times[2] >= 250_000_000, "the request is recorded when it came: \(times)")
    }
}
