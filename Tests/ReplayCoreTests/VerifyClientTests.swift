import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import ReplayCore

/// The NIO client on real sockets, against replayd's own replay server: a session verified
/// against its own replay matches, and each way a server can end (FIN, RST, silence) is seen
/// as what it is.
@Suite("Verify client on sockets", .timeLimit(.minutes(1)))
struct VerifyClientTests {
    typealias S = ScriptedSession
    static let logger = Logger(label: "verify-test") { _ in SwiftLogNoOpLogHandler() }

    static func session(ending: SessionEventKind?) -> Session {
        var events: [(Int64, SessionEventKind)] = [
            (2, S.s2c("220 mx.example.net ESMTP Postfix\r\n")),
            (4, S.c2s("EHLO client.example.org\r\n")),
            (5, S.s2c("250-mx.example.net\r\n250 8BITMIME\r\n")),
            (8, S.c2s("QUIT\r\n")),
            (9, S.s2c("221 2.0.0 Bye\r\n")),
        ]
        if let ending { events.append((10, ending)) }
        return S.make(events, proto: .smtp)
    }

    /// Serves `session` by byte counts (the foundation's replay) on a port the OS picks.
    static func replay(_ session: Session) async throws -> ReplayServer {
        try await ReplayServer.start(host: "127.0.0.1", port: 0, dispenser: SessionDispenser(sessions: [session], loop: true),
                                     options: ReplayOptions(noDelay: true), logger: logger)
    }

    static func verify(_ recorded: Session, against served: Session, silence: Int64 = 300_000_000) async throws -> SessionVerdict {
        let server = try await replay(served)
        defer { server.stopNow() }
        let client = VerifyClient(target: server.localAddress, targetName: server.listeningDescription,
                                  options: VerifyOptions(noDelay: true, replyTimeout: 2_000_000_000, silence: silence))
        return try await client.run(try VerifyScript(session: recorded, file: "t.cassette"), logger: logger)
    }

    @Test("a session verifies against its own replay, ending with FIN, RST or silence as recorded",
          arguments: [("FIN", VerifyEnding.fin), ("RST", .rst), ("silence", .silent)])
    func ownReplay(name: String, ending: VerifyEnding) async throws {
        let kind: SessionEventKind? = switch ending {
        case .fin: .close(.serverToClient, .fin)
        case .rst: .reset(by: .serverToClient)
        case .silent: nil
        }
        let session = Self.session(ending: kind)
        let verdict = try await Self.verify(session, against: session)
        #expect(verdict.matched, "\(name): \(String(describing: verdict.difference))")
        #expect(verdict.recordedEnding == ending && verdict.liveEnding == ending)
        #expect(verdict.matchedSteps == 3)
    }

    @Test("a recorded FIN against a server that resets, or stays silent, is a difference at the end")
    func otherEndings() async throws {
        let fin = Self.session(ending: .close(.serverToClient, .fin))
        let reset = try await Self.verify(fin, against: Self.session(ending: .reset(by: .serverToClient)))
        #expect(reset.liveEnding == .rst && reset.difference?.step == nil)
        let silent = try await Self.verify(fin, against: Self.session(ending: nil))
        #expect(silent.liveEnding == .silent && silent.difference?.detail == "the server ended with silence where the recording had FIN")
    }

    @Test("a port nobody listens on is a VerifyConnectError naming the target")
    func unreachable() async throws {
        let server = try await Self.replay(Self.session(ending: nil))
        let address = server.localAddress
        await server.stop()
        let client = VerifyClient(target: address, targetName: "127.0.0.1:\(address.port ?? 0)", options: VerifyOptions())
        await #expect(throws: VerifyConnectError(target: "127.0.0.1:\(address.port ?? 0)", reason: "connection refused")) {
            _ = try await client.run(try VerifyScript(session: Self.session(ending: nil), file: "t"), logger: Self.logger)
        }
    }
}
