import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// A client that half-closes before the answer and then reads it slowly gets all of it:
    /// its FIN ends nothing, and a megabyte waits for a slow reader without loss.
    @Suite("A large reply to a half-closed slow reader")
    struct LargeReplyTests {
        static let replySize = 1 << 20, chunkSize = 64 << 10

        /// A v1 cassette written by hand: the client sends `GIVE\n` then FIN, the server answers
        /// `reply` in chunks of `chunkSize` (base64 data events), then FIN.
        static func cassette(reply: [UInt8]) -> String {
            var lines = [
                #"{"format":"replayd-cassette","version":1,"tool":"replayd tests","created":"2026-01-01T00:00:00.000000Z","source":"edit"}"#,
                #"{"s":1,"t":0.000000,"ev":"open","client":"127.0.0.1:40000","server":"127.0.0.1:7000","start":"2026-01-01T00:00:00.000000Z"}"#,
                #"{"s":1,"t":0.001000,"ev":"data","dir":"c2s","text":"GIVE\n"}"#,
                #"{"s":1,"t":0.001100,"ev":"close","dir":"c2s","how":"fin"}"#,
            ]
            var t = 0.002
            for start in stride(from: 0, to: reply.count, by: chunkSize) {
                let chunk = Data(reply[start..<min(start + chunkSize, reply.count)])
                lines.append(#"{"s":1,"t":\#(String(format: "%.6f", t)),"ev":"data","dir":"s2c","b64":"\#(chunk.base64EncodedString())"}"#)
                t += 0.0001
            }
            lines.append(#"{"s":1,"t":\#(String(format: "%.6f", t)),"ev":"close","dir":"s2c","how":"fin"}"#)
            lines.append(#"{"s":1,"t":\#(String(format: "%.6f", t + 0.0001)),"ev":"end"}"#)
            return lines.joined(separator: "\n") + "\n"
        }

        @Test("1 MiB after the client's FIN, read 4 KiB at a time with pauses, arrives whole")
        func megabyteToSlowReader() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-large")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var random = SplitMix64(seed: 0x4749_5645)
            let reply = (0..<Self.replySize).map { _ in UInt8.random(in: 0...255, using: &random) }
            let path = directory + "/give.cassette", received = directory + "/received.bin"
            try Self.cassette(reply: reply).write(toFile: path, atomically: true, encoding: .utf8)
            // The file itself is right: what a reader loads is what the test sends.
            let loaded = try Cassette.load(path: path).sessions[0].events.reduce(into: [UInt8]()) {
                if case .data(.serverToClient, let bytes) = $1.kind { $0 += bytes }
            }
            let loadedWhole = loaded == reply
            try #require(loadedWhole, "the hand-written cassette loads \(loaded.count) bytes, not the \(reply.count) written")

            let (replayer, port) = try await ReplaydProcess.replay([path], ["--proto", "line"])
            defer { replayer.stop() }
            let reader = try ChildProcess("python3", [
                TestPaths.fixture("peers/slow-reader.py"), "--port", String(port), "--send", "GIVE\\n",
                "--out", received, "--chunk", "4096", "--pause", "0.008", "--deadline", "20",
            ])
            let status = try await reader.wait(timeout: 30)
            let got = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: received))) ?? Data())
            print("slow reader: \(reader.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(status == 0, "the reader saw no end of file (2: deadline, 3: reset): \(reader.stdout)\(reader.stderr)\nreplay stderr:\n\(replayer.stderr)")
            // Compared outside #expect: Swift Testing would diff a megabyte on failure.
            let same = got == reply
            #expect(same, "received \(got.count) of \(reply.count) bytes, first difference at \(firstDifference(got, reply)); replay stderr:\n\(replayer.stderr)")
        }
    }
}
