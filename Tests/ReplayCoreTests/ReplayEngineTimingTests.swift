import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// Replay keeps a server's think time, counted from the live client's own command: a
    /// server slow before its banner (0.7 s) and before its RCPT reply (1.0 s), recorded, is
    /// replayed to smtplib speaking with other names, and smtplib measures both delays itself.
    @Suite("Timing from the client's own command")
    struct TimingTests {
        static let bannerDelay = 0.7, rcptDelay = 1.0
        /// What a loaded two-core machine holds: never early by more than 20 ms, late by at most 250 ms.
        static let early = 0.020, late = 0.250

        @Test("banner after 0.7 s and RCPT reply 1.0 s after RCPT, replayed to smtplib with other names")
        func delaysAreKept() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-timing")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = directory + "/slow.cassette"

            let server = try await AiosmtpdServer(bannerDelay: Self.bannerDelay, rcptDelay: Self.rcptDelay)
            defer { server.stop() }
            let (recorder, recordPort) = try await ReplaydProcess.record(upstream: server.port, to: cassette)
            defer { recorder.stop() }
            let (live, liveOutput) = try await SMTPClients.smtplib(port: recordPort, helo: "recorded.example.org", from: "first@example.org", to: "postmaster@example.net")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            server.stop()
            try #require(live.count == 7, "smtplib through the recorder:\n\(liveOutput)")

            let (replayer, port) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let (replayed, output) = try await SMTPClients.smtplib(port: port, helo: "another-name.example.com", from: "second@other.example", to: "alice@example.net", bodyLines: 20)
            try #require(replayed.count == live.count, "smtplib against the replay:\n\(output)\nreplay stderr:\n\(replayer.stderr)")

            let banner = try #require(replayed.first { $0.after == "connect" })
            let rcpt = try #require(replayed.first { $0.after == "rcpt" })
            let liveBanner = live.first { $0.after == "connect" }?.latency ?? -1
            let liveRcpt = live.first { $0.after == "rcpt" }?.latency ?? -1
            print("timing: live banner \(liveBanner)s, RCPT \(liveRcpt)s; replayed banner \(banner.latency)s, RCPT \(rcpt.latency)s")
            #expect(banner.latency >= Self.bannerDelay - Self.early && banner.latency <= Self.bannerDelay + Self.late,
                    "banner came \(banner.latency)s after connect, expected \(Self.bannerDelay)s (-\(Self.early)/+\(Self.late))")
            #expect(rcpt.latency >= Self.rcptDelay - Self.early && rcpt.latency <= Self.rcptDelay + Self.late,
                    "RCPT reply came \(rcpt.latency)s after RCPT, expected \(Self.rcptDelay)s (-\(Self.early)/+\(Self.late))")
            // The other steps answer at once, as the server did.
            for reply in replayed where reply.after != "connect" && reply.after != "rcpt" {
                #expect(reply.latency < Self.late, "\(reply)")
            }
            for (replayedReply, liveReply) in zip(replayed, live) {
                #expect(replayedReply.code == liveReply.code && replayedReply.text == liveReply.text, "replayed \(replayedReply), live \(liveReply)")
            }
        }
    }
}
