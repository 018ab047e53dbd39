import Foundation
import Logging
import Testing
@testable import ReplayCore

/// Makes its own capture: tcpdump on `lo` while curl talks to Python's http.server, then the
/// import must agree with `tshark -z follow,tcp,raw` on every stream.
@Suite("Import of a fresh loopback capture", .serialized)
struct ImportLoopbackCaptureTests {
    static var canCapture: Bool {
        getuid() == 0 && ChildProcess.isInstalled("tcpdump") && ChildProcess.isInstalled("tshark")
            && ChildProcess.isInstalled("curl") && ChildProcess.isInstalled("python3")
    }

    @Test("curl against http.server, captured with tcpdump, agrees with tshark", .enabled(if: canCapture), .timeLimit(.minutes(1)))
    func httpOverLoopback() async throws {
        let directory = try TestPaths.temporaryDirectory("import-lo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let site = "\(directory)/site"
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 42)
        let blob = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try Data(blob).write(to: URL(fileURLWithPath: "\(site)/blob.bin"))
        try Data("hello from the loopback test\n".utf8).write(to: URL(fileURLWithPath: "\(site)/hello.txt"))

        let server = try ChildProcess("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", site])
        defer { server.stop() }
        let banner = try await Self.waitForStdout(server, containing: ") ...")
        let port = try #require(Self.port(fromHTTPServerBanner: banner), "no port in: \(banner)")

        let capture = "\(directory)/lo.pcap"
        let tcpdump = try ChildProcess("tcpdump", ["-i", "lo", "-w", capture, "--immediate-mode", "-B", "131072", "-U", "tcp port \(port)"])
        defer { tcpdump.stop() }
        _ = try await tcpdump.waitForStderr(containing: "listening on lo")

        let base = "http://127.0.0.1:\(port)"
        let fetch = try ChildProcess("curl", ["-sS", "-o", "\(directory)/got.bin", "\(base)/blob.bin"])
        #expect(try await fetch.wait(timeout: 20) == 0, "\(fetch.stderr)")
        let two = try ChildProcess("curl", ["-sS", "\(base)/hello.txt", "\(base)/missing"])
        #expect(try await two.wait(timeout: 20) == 0, "\(two.stderr)")
        #expect(two.stdout.contains("hello from the loopback test"))
        try await Task.sleep(for: .milliseconds(300))
        tcpdump.signal(SIGINT)
        #expect(try await tcpdump.wait(timeout: 10) == 0, "\(tcpdump.stderr)")

        let output = "\(directory)/lo.cassette"
        let summary = try CaptureImporter(capturePath: capture, outputPath: output).run(logger: Logger(label: "test"))
        let cassette = try Cassette.load(path: output)
        // Three connections: the blob, hello.txt and the 404 (http.server speaks HTTP/1.0).
        #expect(cassette.sessions.count == 3)
        #expect(summary.reassembly.sessions == 3)
        #expect(summary.reassembly.gaps == 0)

        for session in cassette.sessions {
            let follow = try ChildProcess("tshark", ["-r", capture, "-q", "-z", "follow,tcp,raw,\(session.id - 1)"])
            #expect(try await follow.wait(timeout: 30) == 0, "\(follow.stderr)")
            let reference = try FollowReference(text: follow.stdout)
            #expect(reference.node0 == session.open.client, "tshark node 0 \(reference.node0), session client \(session.open.client)")
            expectSameBytes(session.bytes(.clientToServer), reference.bytes[0], "loopback session \(session.id) c2s")
            expectSameBytes(session.bytes(.serverToClient), reference.bytes[1], "loopback session \(session.id) s2c")
            #expect(session.closing(.clientToServer) == .fin)
            #expect(session.closing(.serverToClient) == .fin)
            #expect(session.events.last?.kind == .end)
        }
        // The real content made it through: the response body of session 1 ends with the blob.
        let first = try #require(cassette.sessions.first)
        #expect(first.bytes(.serverToClient).suffix(blob.count).elementsEqual(blob))
        #expect(String(decoding: first.bytes(.clientToServer), as: UTF8.self).hasPrefix("GET /blob.bin HTTP/1.1\r\n"))
    }

    static func waitForStdout(_ process: ChildProcess, containing text: String, timeout: Double = 10) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if process.stdout.contains(text) { return process.stdout }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ChildProcessError.missingOutput(name: process.name, expected: text, stderr: process.stderr + process.stdout)
    }

    /// "Serving HTTP on 127.0.0.1 port 43125 (http://127.0.0.1:43125/) ..."
    static func port(fromHTTPServerBanner banner: String) -> Int? {
        guard let range = banner.range(of: " port ") else { return nil }
        return Int(banner[range.upperBound...].prefix { $0.isNumber })
    }
}
