import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// Binary and request/response protocols with real servers and clients: each request,
    /// asked in another order than recorded, gets the answer recorded for it.
    @Suite("Binary protocols: Redis, DNS over TCP, HTTP/1.1")
    struct BinaryProtocolTests {
        @Test("redis-cli: GET missing gets (nil) and GET present gets hello, asked in the opposite order")
        func redis() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-redis")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/redis.cassette"
            let server = try await RedisServer(directory: directory)
            defer { server.stop() }
            #expect(try await RedisServer.cli(port: server.port, ["SET", "present", "hello"]) == "OK\n")

            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            #expect(try await RedisServer.cli(port: recordPort, ["GET", "present"]) == "\"hello\"\n")
            #expect(try await RedisServer.cli(port: recordPort, ["GET", "missing"]) == "(nil)\n")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()
            try #require(try Cassette.load(path: cassette).sessions.count == 2)

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let missing = try await RedisServer.cli(port: port, ["GET", "missing"])
            let present = try await RedisServer.cli(port: port, ["GET", "present"])
            #expect(missing == "(nil)\n", "replay stderr:\n\(replayer.stderr)")
            #expect(present == "\"hello\"\n", "replay stderr:\n\(replayer.stderr)")
        }

        @Test("dig +tcp: each name gets its own address, asked in the opposite order, with no ID mismatch")
        func dnsOverTCP() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-dns")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/dns.cassette"
            let records = [(name: "one.example", address: "192.0.2.1"), (name: "two.example", address: "192.0.2.2")]
            let server = try await DnsmasqServer(records: records, directory: directory)
            defer { server.stop() }

            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            for record in records {
                let output = try await DnsmasqServer.dig(port: recordPort, record.name)
                let answers = DnsmasqServer.answers(inDigOutput: output)
                try #require(answers.map(\.address) == [record.address], "dnsmasq through the recorder:\n\(output)")
            }
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()
            try #require(try Cassette.load(path: cassette).sessions.count == 2)

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            for record in records.reversed() {
                let output = try await DnsmasqServer.dig(port: port, record.name)
                let answers = DnsmasqServer.answers(inDigOutput: output)
                #expect(answers.map(\.name) == [record.name + "."] && answers.map(\.address) == [record.address],
                        "\(record.name):\n\(output)\nreplay stderr:\n\(replayer.stderr)")
                // dig exits 0 even when the answer's ID is not the query's: read what it says.
                #expect(!output.contains("ID mismatch") && !output.localizedCaseInsensitiveContains("warning"),
                        "\(record.name):\n\(output)")
                #expect(output.contains("status: NOERROR"), "\(record.name):\n\(output)")
            }
        }

        @Test("curl over HTTP/1.1: each path gets its own body on another port, with other headers")
        func http() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-http")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let served = directory + "/www", cassette = directory + "/http.cassette"
            try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
            var random = SplitMix64(seed: 0x6874_7470)
            let bodies: [(path: String, bytes: [UInt8])] = [
                ("/first.txt", Array("The first file, served by python3 -m http.server.\n".utf8)),
                ("/second.bin", (0..<50_000).map { _ in UInt8.random(in: 0...255, using: &random) }),
            ]
            for body in bodies {
                try Data(body.bytes).write(to: URL(fileURLWithPath: served + body.path))
            }
            let server = try await HTTPFileServer(serving: served)
            defer { server.stop() }

            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            for body in bodies {
                let output = directory + "/recorded-\(body.path.dropFirst())"
                let (status, stderr) = try await HTTPFileServer.curl(port: recordPort, path: body.path, output: output)
                try #require(status == 0, "curl through the recorder: \(stderr)")
                let same = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output))) == body.bytes
                try #require(same, "curl through the recorder got other bytes for \(body.path)")
            }
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            #expect(port != server.port && port != recordPort)
            for body in bodies.reversed() {
                let output = directory + "/replayed-\(body.path.dropFirst())"
                let (status, stderr) = try await HTTPFileServer.curl(port: port, path: body.path, output: output,
                                                                     extra: ["-H", "X-Test: 1", "-A", "other-agent"])
                #expect(status == 0, "curl \(body.path): \(stderr)\nreplay stderr:\n\(replayer.stderr)")
                let got = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data())
                // Not `#expect(got == body.bytes)`: on failure Swift Testing diffs the two arrays, which takes minutes for 50 kB.
                let same = got == body.bytes
                #expect(same, "\(body.path): got \(got.count) bytes, expected \(body.bytes.count), first difference at \(firstDifference(got, body.bytes)); replay stderr:\n\(replayer.stderr)")
            }
        }
    }
}
