import Foundation
import Testing
@testable import ReplayCore

/// `replayd export` checked by tshark, not by our own importer: the bytes of each direction,
/// the absence of TCP analysis warnings, checksums and timestamps.
extension HeavyTests {
@Suite struct ExportRoundTripTests {
    static let start = WallClock(nanosecondsSinceEpoch: 1_795_000_000_123_456_789)

    /// Three sessions: SMTP-like text ending in FINs, binary ending in a client RST with a
    /// 1.5 MB chunk (split into segments, acknowledged mid-way), both interleaved in time,
    /// and an IPv6 session with binary both ways.
    static func events() -> [SessionEvent] {
        var random = SplitMix64(seed: 42)
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
        let ms: Int64 = 1_000_000
        var events: [SessionEvent] = [
            SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:40001", server: "127.0.0.1:2525", start: start))),
            SessionEvent(session: 1, offset: 3 * ms + 7, kind: .data(.serverToClient, Array("220 mx ESMTP ready\r\n".utf8))),
            SessionEvent(session: 2, offset: 0, kind: .open(SessionOpen(client: "127.0.0.2:40002", server: "127.0.0.1:8080",
                                                                       start: WallClock(nanosecondsSinceEpoch: start.nanosecondsSinceEpoch + 2 * ms)))),
            SessionEvent(session: 1, offset: 5 * ms, kind: .data(.clientToServer, Array("EHLO client.example\r\n".utf8))),
            SessionEvent(session: 2, offset: 4 * ms, kind: .data(.clientToServer, bytes(300))),
            SessionEvent(session: 1, offset: 7 * ms, kind: .data(.serverToClient, Array("250-mx\r\n250 8BITMIME\r\n".utf8))),
            SessionEvent(session: 2, offset: 6 * ms, kind: .data(.serverToClient, bytes(1_500_000))),
            SessionEvent(session: 1, offset: 9 * ms, kind: .data(.clientToServer, Array("QUIT\r\n".utf8))),
            SessionEvent(session: 2, offset: 8 * ms, kind: .data(.serverToClient, bytes(70_000))),
            SessionEvent(session: 1, offset: 11 * ms, kind: .data(.serverToClient, Array("221 bye\r\n".utf8))),
            SessionEvent(session: 1, offset: 12 * ms, kind: .close(.serverToClient, .fin)),
            SessionEvent(session: 2, offset: 10 * ms + 500, kind: .data(.clientToServer, bytes(1))),
            SessionEvent(session: 1, offset: 13 * ms, kind: .close(.clientToServer, .fin)),
            SessionEvent(session: 1, offset: 13 * ms, kind: .end),
            SessionEvent(session: 2, offset: 12 * ms, kind: .reset(by: .clientToServer)),
            SessionEvent(session: 2, offset: 12 * ms, kind: .end),
        ]
        let v6Start = WallClock(nanosecondsSinceEpoch: start.nanosecondsSinceEpoch + 20 * ms)
        events.append(SessionEvent(session: 3, offset: 0, kind: .open(SessionOpen(client: "[::1]:40003", server: "[::1]:4433", start: v6Start))))
        for step in 1...6 {
            let direction: Direction = step % 2 == 1 ? .clientToServer : .serverToClient
            events.append(SessionEvent(session: 3, offset: Int64(step) * ms, kind: .data(direction, bytes(step * 997))))
        }
        events.append(SessionEvent(session: 3, offset: 7 * ms, kind: .close(.clientToServer, .fin)))
        events.append(SessionEvent(session: 3, offset: 8 * ms, kind: .close(.serverToClient, .fin)))
        events.append(SessionEvent(session: 3, offset: 8 * ms, kind: .end))
        return events
    }

    func tshark(_ arguments: [String]) async throws -> String {
        let child = try ChildProcess("tshark", arguments)
        let status = try await child.wait(timeout: 60)
        #expect(status == 0, "tshark \(arguments) failed: \(child.stderr)")
        return child.stdout
    }

    /// Exports `events` with the real CLI; returns the pcap path and replayd's stderr.
    func export(_ events: [SessionEvent], in directory: String) async throws -> (pcap: String, cassette: Cassette, stderr: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let cassettePath = "\(directory)/in.cassette", pcap = "\(directory)/out.pcap"
        let writer = try CassetteWriter(path: cassettePath, header: CassetteHeader(source: .record))
        for event in events { try writer.append(event) }
        try writer.finish()
        let child = try ChildProcess(TestPaths.replayd, ["export", cassettePath, "-o", pcap])
        let status = try await child.wait(timeout: 60)
        #expect(status == 0, "replayd export failed: \(child.stderr)")
        return (pcap, try Cassette.load(path: cassettePath), child.stderr)
    }

    /// Parses `tshark -z follow,tcp,raw,N` blocks: node 0 address -> (bytes from node 0, bytes from node 1).
    static func parseFollow(_ output: String) -> [String: (c2s: [UInt8], s2c: [UInt8])] {
        var streams: [String: (c2s: [UInt8], s2c: [UInt8])] = [:]
        var node0: String?
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("Node 0: ") {
                node0 = String(line.dropFirst(8))
                streams[node0!] = ([], [])
            } else if line.hasPrefix("=====") {
                node0 = nil
            } else if let key = node0, !line.hasPrefix("Node 1: "), !line.isEmpty {
                let fromServer = line.hasPrefix("\t")
                let hex = Array(line.drop { $0 == "\t" }.utf8)
                var decoded: [UInt8] = []
                decoded.reserveCapacity(hex.count / 2)
                var index = 0
                while index + 1 < hex.count, let byte = UInt8(String(decoding: hex[index...index + 1], as: UTF8.self), radix: 16) {
                    decoded.append(byte)
                    index += 2
                }
                if fromServer { streams[key]!.s2c += decoded } else { streams[key]!.c2s += decoded }
            }
        }
        return streams
    }

    @Test(.enabled(if: ChildProcess.isInstalled("tshark"), "tshark is not installed"))
    func tsharkReassemblesTheRecordedBytes() async throws {
        let directory = try TestPaths.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (pcap, cassette, _) = try await export(Self.events(), in: directory)
        #expect(cassette.sessions.count == 3)

        let follow = try await tshark(["-r", pcap, "-q", "-z", "follow,tcp,raw,0", "-z", "follow,tcp,raw,1", "-z", "follow,tcp,raw,2"])
        let streams = Self.parseFollow(follow)
        #expect(streams.count == 3)
        for session in cassette.sessions {
            let stream = try #require(streams[session.open.client], "no tcp stream from \(session.open.client) in:\n\(follow.prefix(2000))")
            #expect(stream.c2s == session.bytes(.clientToServer), "session \(session.id) client bytes differ")
            #expect(stream.s2c == session.bytes(.serverToClient), "session \(session.id) server bytes differ")
            #expect(!session.bytes(.serverToClient).isEmpty)
        }

        let warnings = try await tshark(["-r", pcap, "-Y", "tcp.analysis.flags && !tcp.analysis.window_update"])
        #expect(warnings.isEmpty, "tshark flags packets:\n\(warnings)")
        let badChecksums = try await tshark(["-r", pcap, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                                             "-Y", "tcp.checksum.status != 1 || (ip && ip.checksum.status != 1)"])
        #expect(badChecksums.isEmpty, "bad checksums:\n\(badChecksums)")
    }

    @Test(.enabled(if: ChildProcess.isInstalled("tshark"), "tshark is not installed"))
    func timestampsAreTheRecordedTimes() async throws {
        let directory = try TestPaths.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (pcap, cassette, _) = try await export(Self.events(), in: directory)
        let fields = try await tshark(["-r", pcap, "-T", "fields", "-E", "separator=/t",
                                       "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.flags.syn"])
        // Observed: per client port, the first packet's time and (time, length) of each data segment.
        var first: [String: Int64] = [:]
        var data: [String: [Int64: Int]] = [:]
        var previous: Int64 = .min
        for line in fields.split(separator: "\n") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 5, let time = Self.nanoseconds(columns[0]), let length = Int(columns[3]) else {
                Issue.record("unexpected tshark line: \(line)")
                continue
            }
            #expect(time >= previous, "packets are not in time order at \(line)")
            previous = time
            for port in [columns[1], columns[2]] where port.hasPrefix("4000") {
                if first[port] == nil { first[port] = time }
                if length > 0 { data[port, default: [:]][time, default: 0] += length }
            }
        }
        for session in cassette.sessions {
            let port = String(session.open.client.split(separator: ":").last!)
            let start = try #require(session.open.start).nanosecondsSinceEpoch
            #expect(first[port] == start, "session \(session.id) SYN time")
            var expected: [Int64: Int] = [:]
            for event in session.events {
                if case .data(_, let bytes) = event.kind {
                    expected[start + event.offset, default: 0] += bytes.count
                }
            }
            #expect(data[port] == expected, "session \(session.id): data times and lengths differ")
        }
    }

    @Test(.enabled(if: ChildProcess.isInstalled("tshark"), "tshark is not installed"))
    func unusableAddressesAndFailedConnectsAreShown() async throws {
        let directory = try TestPaths.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = [
            SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "laptop", server: "mx.example:25", start: Self.start))),
            SessionEvent(session: 1, offset: 1000, kind: .data(.serverToClient, Array("220 hi\r\n".utf8))),
            SessionEvent(session: 1, offset: 2000, kind: .end),
            SessionEvent(session: 2, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:40010", server: "127.0.0.1:9", start: Self.start))),
            SessionEvent(session: 2, offset: 500_000, kind: .connectFailed(ConnectFailure(reason: .refused, elapsed: 500_000, message: "Connection refused"))),
            SessionEvent(session: 2, offset: 600_000, kind: .end),
        ]
        let (pcap, _, stderr) = try await export(events, in: directory)
        #expect(stderr.contains("replayd: warning: 1 session(s) without a numeric client/server address (1)"), "stderr: \(stderr)")
        let packets = try await tshark(["-r", pcap, "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.str"])
        let lines = packets.split(separator: "\n").map { $0.replacingOccurrences(of: "\t", with: " ") }
        #expect(lines.contains { $0.hasPrefix("10.0.0.1 10001 25") && $0.hasSuffix("S·") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("10.0.0.2 25 10001") && $0.contains("P") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("127.0.0.1 40010 9") && $0.hasSuffix("S·") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("127.0.0.1 9 40010") && $0.contains("R") }, "\(lines)")
    }

    /// A cassette written session by session (as an importer might) interleaves in time all the
    /// same: the capture must be the very same file as for the time-ordered cassette.
    @Test func fileOrderDoesNotChangeTheCapture() async throws {
        let directory = try TestPaths.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let timeOrdered = try await export(Self.events(), in: directory + "/a")
        let bySession = Self.events().enumerated().sorted { ($0.element.session, $0.offset) < ($1.element.session, $1.offset) }.map(\.element)
        #expect(bySession != Self.events())
        let grouped = try await export(bySession, in: directory + "/b")
        let first = try #require(FileManager.default.contents(atPath: timeOrdered.pcap))
        let second = try #require(FileManager.default.contents(atPath: grouped.pcap))
        #expect(first.count > 1_500_000)
        #expect(first == second)
    }

    @Test func exportOfAMissingCassetteFailsWithItsPath() async throws {
        let child = try ChildProcess(TestPaths.replayd, ["export", "/nonexistent/x.cassette", "-o", "/tmp/never.pcap"])
        #expect(try await child.wait(timeout: 30) == 74)
        #expect(child.stderr.contains("replayd: error: /nonexistent/x.cassette: cannot open"), "stderr: \(child.stderr)")
    }

    /// `1795000000.123456789` as nanoseconds since the epoch.
    static func nanoseconds(_ text: String) -> Int64? {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let seconds = Int64(parts[0]), parts[1].count <= 9 else { return nil }
        guard let fraction = Int64(parts[1] + String(repeating: "0", count: 9 - parts[1].count)) else { return nil }
        return seconds * 1_000_000_000 + fraction
    }
}
}
