import Foundation
import Testing
@testable import ReplayCore

/// `replayd import` then `replayd export`, checked by tshark: for every session of the imported
/// cassette, `tshark -z follow,tcp,raw` on the exported pcap gives exactly the session's bytes
/// each way; and for sessions without gaps, the same bytes tshark reassembles from the original
/// capture. Three independent readings of the same traffic must agree byte for byte.
extension HeavyTests {
@Suite("Import → export round trip")
struct ImportExportRoundTripTests {
    /// Captures bigger than this are left out to keep the suite fast (only echo-500, 6.8 MB).
    static let sizeLimit = 4 << 20
    /// libpcap cannot read these at all (see the corpus MANIFEST): nothing to round-trip.
    static let unreadable: Set<String> = ["pcapng-126idb-ldap-gap-zeek.pcapng"]

    struct Capture: CustomTestStringConvertible, Sendable {
        var path: String
        var name: String { (path as NSString).lastPathComponent }
        var testDescription: String { name }
    }

    /// The bundled fixtures, plus the shared corpus when present (files of both folders by name, once).
    static var captures: [Capture] {
        var byName: [String: String] = [:]
        var folders = [TestPaths.fixture("captures")]
        if let shared = TestPaths.sharedCaptures { folders.append(shared) }
        for folder in folders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names where (name.hasSuffix(".pcap") || name.hasSuffix(".pcapng")) && !unreadable.contains(name) {
                let path = "\(folder)/\(name)"
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                if size <= sizeLimit { byName[name] = path }
            }
        }
        return byName.keys.sorted().compactMap { byName[$0].map(Capture.init(path:)) }
    }

    static var canRun: Bool { ChildProcess.isInstalled("tshark") }

    @Test("import → export → tshark gives the cassette's bytes", .enabled(if: canRun, "tshark is not installed"),
          .timeLimit(.minutes(2)), arguments: captures)
    func roundTrip(capture: Capture) async throws {
        let directory = try TestPaths.temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassettePath = "\(directory)/imported.cassette", exported = "\(directory)/exported.pcap"

        let importer = try ChildProcess(TestPaths.replayd, ["import", capture.path, "-o", cassettePath, "--no-redact"])
        #expect(try await importer.wait(timeout: 60) == 0, "import failed: \(importer.stderr)")
        let exporter = try ChildProcess(TestPaths.replayd, ["export", cassettePath, "-o", exported])
        #expect(try await exporter.wait(timeout: 60) == 0, "export failed: \(exporter.stderr)")

        let cassette = try Cassette.load(path: cassettePath)
        let sessions = cassette.sessions.sorted { $0.id < $1.id }
        #expect(!sessions.isEmpty, "\(capture.name): no sessions imported")
        #expect(sessions.map(\.id) == Array(1...sessions.count), "sessions are numbered 1...n")
        let streams = Array(0..<sessions.count)
        let fromExport = try await Self.follow(exported, streams: streams)
        // tshark exits 2 on a capture cut short in a packet, after printing what it read.
        let fromOriginal = try await Self.follow(capture.path, streams: streams, acceptedStatus: [0, 2])

        // The export's streams by endpoints, in stream order (a reused 4-tuple has several).
        // Stream numbers differ from session numbers when the original file is not in time order.
        var exportedByEndpoints: [String: [FollowReference]] = [:]
        for stream in streams {
            guard let reference = fromExport[stream] else { continue }
            exportedByEndpoints["\(reference.node0) \(reference.node1)", default: []].append(reference)
        }
        var comparedWithOriginal = 0
        for session in sessions {
            let label = "\(capture.name) session \(session.id)"
            // The export opens every session with the client's SYN, so the client is tshark's node 0.
            // With equal ports on both ends tshark may print the nodes' names the other way round
            // (its unprefixed lines are still the first sender's, the client's).
            let key = "\(session.open.client) \(session.open.server)", reversedKey = "\(session.open.server) \(session.open.client)"
            let exportedStream: FollowReference
            if var candidates = exportedByEndpoints[key], !candidates.isEmpty {
                exportedStream = candidates.removeFirst()
                exportedByEndpoints[key] = candidates
            } else if Self.samePorts(session), var candidates = exportedByEndpoints[reversedKey], !candidates.isEmpty {
                exportedStream = candidates.removeFirst()
                exportedByEndpoints[reversedKey] = candidates
            } else {
                Issue.record("\(label): no stream \(key) in the export")
                continue
            }
            var ours = (session.bytes(.clientToServer), session.bytes(.serverToClient))
            if let cut = Self.tsharkStopsEarly[capture.name]?[session.id] {
                // Documented tshark limitation: compare what tshark prints, which must be ours up to there.
                ours = (Array(ours.0.prefix(cut.0)), Array(ours.1.prefix(cut.1)))
            }
            expectSameBytes(exportedStream.bytes[0], ours.0, "\(label) c2s (export vs cassette)")
            expectSameBytes(exportedStream.bytes[1], ours.1, "\(label) s2c (export vs cassette)")
            // Every gap with data after it is a hole tshark marks in the export, of the same size
            // (tshark marks a hole only when data follows it).
            for (node, direction) in [(0, Direction.clientToServer), (1, .serverToClient)] where Self.tsharkStopsEarly[capture.name]?[session.id] == nil {
                #expect(exportedStream.missing[node].reduce(0, +) == Self.gapBytesBeforeData(session, direction),
                        "\(label) \(direction.rawValue): tshark marks \(exportedStream.missing[node]) missing; cassette gaps \(Self.gapSizes(session, direction))")
            }

            // Against the original capture, where nothing was lost.
            guard Self.gapBytes(session, .clientToServer) == 0, Self.gapBytes(session, .serverToClient) == 0,
                  let original = fromOriginal[session.id - 1], original.missing.allSatisfy(\.isEmpty) else { continue }
            let clientIsNode0 = original.node0 == session.open.client
            #expect(clientIsNode0 || original.node0 == session.open.server, "\(label): original nodes \(original.node0) / \(original.node1)")
            let theirs = (original.bytes[clientIsNode0 ? 0 : 1], original.bytes[clientIsNode0 ? 1 : 0])
            expectSameBytes(exportedStream.bytes[0], theirs.0, "\(label) c2s (export vs original)")
            expectSameBytes(exportedStream.bytes[1], theirs.1, "\(label) s2c (export vs original)")
            comparedWithOriginal += 1
        }
        // A round trip that compared nothing against the original proves less: say so in the log.
        if comparedWithOriginal == 0 { print("\(capture.name): every session has gaps; compared with the cassette only") }
    }

    /// Sessions tshark does not follow to the end, with the bytes (c2s, s2c) it does print.
    /// tcpseq-wrap's session 1 is a junk pair of packets 0 → 0 whose second segment lies 251 MB
    /// past the first: tshark never prints it (the same in the original, see
    /// ImportWiresharkAgreementTests).
    static let tsharkStopsEarly: [String: [Int: (Int, Int)]] = [
        "tcpseq-wrap-synthetic-arkime.pcap": [1: (8, 0)],
    ]

    static func samePorts(_ session: Session) -> Bool {
        session.open.client.split(separator: ":").last == session.open.server.split(separator: ":").last
    }

    static func gapSizes(_ session: Session, _ direction: Direction) -> [Int] {
        session.events.compactMap { event in
            if case .gap(let gapDirection, let size) = event.kind, gapDirection == direction { return size }
            return nil
        }
    }

    /// Bytes of the gaps of `direction` that some later data of the same direction follows.
    static func gapBytesBeforeData(_ session: Session, _ direction: Direction) -> Int {
        var total = 0, pending = 0
        for event in session.events {
            switch event.kind {
            case .gap(let gapDirection, let size) where gapDirection == direction: pending += size
            case .data(let dataDirection, let bytes) where dataDirection == direction && !bytes.isEmpty:
                total += pending
                pending = 0
            default: break
            }
        }
        return total
    }

    static func gapBytes(_ session: Session, _ direction: Direction) -> Int {
        session.events.reduce(0) { total, event in
            if case .gap(let gapDirection, let size) = event.kind, gapDirection == direction { return total + size }
            return total
        }
    }

    /// Runs one tshark over `pcap` with a follow tap per stream; returns each stream's reassembly.
    static func follow(_ pcap: String, streams: [Int], acceptedStatus: Set<Int32> = [0]) async throws -> [Int: FollowReference] {
        var result: [Int: FollowReference] = [:]
        // Bounded batches: one tshark pass per 100 streams keeps the command line and memory sane.
        for batch in stride(from: 0, to: streams.count, by: 100) {
            let slice = streams[batch..<min(batch + 100, streams.count)]
            let arguments = ["-r", pcap, "-q"] + slice.flatMap { ["-z", "follow,tcp,raw,\($0)"] }
            let tshark = try ChildProcess("tshark", arguments)
            let status = try await tshark.wait(timeout: 60)
            #expect(acceptedStatus.contains(status), "tshark on \(pcap) failed: \(tshark.stderr)")
            for (stream, text) in splitFollowBlocks(tshark.stdout) {
                result[stream] = try FollowReference(text: text)
            }
        }
        return result
    }

    /// tshark prints one block per follow tap (in no useful order), each naming its stream in
    /// a `Filter: tcp.stream eq N` line.
    static func splitFollowBlocks(_ output: String) -> [(Int, String)] {
        var blocks: [(Int, String)] = []
        var stream: Int?
        var lines: [Substring] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("=====") {
                if let stream, !lines.isEmpty { blocks.append((stream, lines.joined(separator: "\n"))) }
                stream = nil
                lines = []
            } else if line.hasPrefix("Filter: tcp.stream eq ") {
                stream = Int(line.dropFirst("Filter: tcp.stream eq ".count))
                lines.append(line)
            } else if !line.isEmpty {
                lines.append(line)
            }
        }
        return blocks
    }
}
}
