import Foundation
import Testing
@testable import ReplayCore

/// `replayd import` (the real binary) of the shipped captures writes each session's protocol.
@Suite("Import protocol tagging", .timeLimit(.minutes(2)))
struct ImportProtocolTagTests {
    /// Capture → a protocol at least one of its sessions must be detected as.
    static let expected: [String: WireProtocol] = [
        "smtp-auth-zeek-cut-midpacket.pcap": .smtp,
        "http-snaplen96-zeek.pcap": .http,
        "http-vlan-qinqinq-zeek.pcap": .http,
        "redis-loopback-null-zeek.pcap": .redis,
        "pgsql-rawip-suricata.pcap": .postgres,
        "ftp-bigtransfer-seqwrap-zeek.pcap": .ftp,
    ]

    static func importCapture(_ name: String, extra: [String] = [], directory: String) async throws -> (status: Int32, path: String, stderr: String) {
        let output = directory + "/" + name + ".cassette"
        let run = try ChildProcess(TestPaths.replayd, ["import", TestPaths.fixture("captures/" + name), "-o", output] + extra)
        let status = try await run.wait(timeout: 60)
        return (status, output, run.stderr)
    }

    @Test("every session of every readable shipped capture has a proto; the known ones are right")
    func shippedCaptures() async throws {
        let directory = try TestPaths.temporaryDirectory("import-proto")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture("captures"))
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        var imported = 0
        for name in names {
            let (status, path, stderr) = try await Self.importCapture(name, directory: directory)
            // One shipped capture is unreadable on purpose (its import fails cleanly, elsewhere tested).
            guard status == 0 else {
                #expect(Self.expected[name] == nil, "\(name): \(stderr)")
                continue
            }
            imported += 1
            let cassette = try Cassette.load(path: path)
            #expect(cassette.header.version == 2)
            #expect(!cassette.sessions.isEmpty, "\(name)")
            for session in cassette.sessions {
                #expect(session.open.proto != nil, "\(name) session \(session.id) has no proto")
            }
            let text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
            let opens = text.split(separator: "\n").filter { $0.contains(#""ev":"open""#) }
            #expect(opens.count == cassette.sessions.count && opens.allSatisfy { $0.contains(#""proto":""#) }, "\(name)")
            if let want = Self.expected[name] {
                let found = cassette.sessions.compactMap(\.open.proto)
                #expect(found.contains(want), "\(name): detected \(found)")
            }
        }
        #expect(imported >= Self.expected.count)
    }

    @Test("--proto forces every session's protocol; an unknown one is refused with the list")
    func forced() async throws {
        let directory = try TestPaths.temporaryDirectory("import-proto")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (status, path, stderr) = try await Self.importCapture("redis-loopback-null-zeek.pcap", extra: ["--proto", "opaque"], directory: directory)
        #expect(status == 0, "\(stderr)")
        let cassette = try Cassette.load(path: path)
        #expect(!cassette.sessions.isEmpty && cassette.sessions.allSatisfy { $0.open.proto == .opaque })
        try FileManager.default.removeItem(atPath: path)

        let bad = try await Self.importCapture("redis-loopback-null-zeek.pcap", extra: ["--proto", "telnet"], directory: directory)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--proto \"telnet\" is not a protocol replayd knows; use one of: smtp, pop3"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bad.path))
    }
}
