import Foundation
import Logging
import Testing
@testable import ReplayCore

/// The issue's rule, checked whole: for every TCP stream of every capture (not only the three
/// per capture that reference/ holds), the bytes `replayd import` records each way equal what
/// `tshark -z follow,tcp,raw,N` reassembles from the original. Sessions whose data continues
/// after a RST are compared in full (Wireshark follows what was still in flight).
extension HeavyTests {
@Suite("Import agrees with Wireshark on every stream")
struct ImportEveryStreamTests {
    static var canRun: Bool { ChildProcess.isInstalled("tshark") }

    @Test("every stream of every capture", .enabled(if: canRun, "tshark is not installed"),
          .timeLimit(.minutes(2)), arguments: ImportExportRoundTripTests.captures)
    func everyStream(capture: ImportExportRoundTripTests.Capture) async throws {
        let directory = try TestPaths.temporaryDirectory("every-stream")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassettePath = "\(directory)/imported.cassette"
        // Byte for byte against tshark: the captures' passwords and cookies must stay.
        var importer = CaptureImporter(capturePath: capture.path, outputPath: cassettePath)
        importer.redact = false
        _ = try importer.run(logger: Logger(label: "test"))
        let sessions = try Cassette.load(path: cassettePath).sessions.sorted { $0.id < $1.id }
        #expect(sessions.map(\.id) == Array(1...max(1, sessions.count)), "\(capture.name): sessions are numbered 1...n")

        // One stream past our last session: tshark must see none there (it prints node ":0").
        let streams = Array(0...sessions.count)
        // tshark exits 2 on a capture cut short in a packet, after printing what it read.
        let follows = try await ImportExportRoundTripTests.follow(capture.path, streams: streams, acceptedStatus: [0, 2])
        #expect(follows[sessions.count]?.node0 == ":0", "\(capture.name): tshark has more streams than the \(sessions.count) sessions")

        var compared = 0, withGaps = 0, afterReset = 0
        for session in sessions {
            let stream = session.id - 1
            let label = "\(capture.name) session \(session.id) (tcp.stream \(stream))"
            guard let follow = follows[stream] else {
                Issue.record("\(label): tshark printed no follow block")
                continue
            }
            // tshark's node 0 sent the stream's first packet. With equal ports on both ends tshark may
            // name them the other way round; its unprefixed lines are still the first sender's.
            let clientIsNode0: Bool
            if follow.node0 == session.open.client {
                clientIsNode0 = true
            } else {
                #expect(follow.node0 == session.open.server || ImportExportRoundTripTests.samePorts(session),
                        "\(label): tshark's nodes \(follow.node0)/\(follow.node1) are not \(session.open.client)/\(session.open.server)")
                clientIsNode0 = follow.node0 != session.open.server
            }
            let hasGaps = ImportExportRoundTripTests.gapBytes(session, .clientToServer) > 0
                || ImportExportRoundTripTests.gapBytes(session, .serverToClient) > 0 || follow.missing.contains { !$0.isEmpty }
            for direction in Direction.allCases {
                var ours = session.bytes(direction)
                var theirs = follow.bytes[(direction == .clientToServer) == clientIsNode0 ? 0 : 1]
                if let exception = ImportWiresharkAgreementTests.knownDifference(capture: capture.name, stream: stream) {
                    (ours, theirs) = exception(ours, theirs, direction)
                }
                expectSameBytes(ours, theirs, "\(label) \(direction.rawValue)")
            }
            compared += 1
            if hasGaps { withGaps += 1 }
            if Self.hasDataAfterReset(session) { afterReset += 1 }
            #expect(session.events.filter { $0.kind == .end }.count == 1, "\(label): exactly one end")
            #expect(session.events.last?.kind == .end, "\(label): the end is its last event")
        }
        print("\(capture.name): \(compared) streams compared with tshark (\(withGaps) with gaps, \(afterReset) with data after a RST)")
    }

    /// Whether data follows a `reset` in the session.
    static func hasDataAfterReset(_ session: Session) -> Bool {
        var reset = false
        for event in session.events {
            switch event.kind {
            case .reset: reset = true
            case .data where reset: return true
            default: break
            }
        }
        return false
    }
}
}
