import Foundation
import Testing
@testable import ReplayCore

extension HeavyTests.ReplayEngineEndToEnd {
    /// The issue's command lines, exactly as written, against a cassette recorded from a real
    /// Postfix (one session with two recipients), with real swaks and smtplib clients.
    @Suite("Fault rules on replay (Postfix, swaks)")
    struct FaultEndToEndTests {
        static var canRun: Bool { ChildProcess.isInstalled("swaks") && ChildProcess.isInstalled("postfix") && getuid() == 0 }

        /// Records swaks delivering to two valid users through a real Postfix.
        func record(in directory: String) async throws -> String {
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/smtp.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette)
            defer { recorder.stop() }
            let (replies, output) = try await SMTPClients.swaks(port: port, ["--to", "postmaster@example.net,alice@example.net", "--from", "ops@example.org"])
            try #require(replies.map(\.code) == [220, 250, 250, 250, 250, 354, 250, 221], "\(output)\n\(postfix.maillog)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
            return cassette
        }

        func swaks(_ port: Int, timeout: Int = 15) async throws -> (replies: [SMTPReply], output: String, seconds: Double) {
            try await SMTPClients.timedSwaks(port: port, timeout: timeout,
                                             ["--to", "postmaster@example.net,alice@example.net", "--from", "other@example.com", "--helo", "faulty.example"])
        }

        @Test("conn=1-2 reset, match=^RCPT nth=2 reply=..., match=^DATA stall, every=3 delay=5s",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(3)))
        func issueCommandLines() async throws {
            let directory = try TestPaths.temporaryDirectory("faults")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cassette = try await record(in: directory)

            // replayd replay smtp.cassette --listen 2525 --loop --fault "conn=1-2 reset"
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--loop", "--fault", "conn=1-2 reset"])
                defer { replayer.stop() }
                for connection in 1...2 {
                    let (replies, output, _) = try await swaks(port)
                    #expect(replies.isEmpty, "connection \(connection) got a banner: \(output)")
                    #expect(output.contains("closed connection") || output.contains("reset"), "\(output)")
                }
                let (replies, output, _) = try await swaks(port)
                #expect(replies.map(\.code) == [220, 250, 250, 250, 250, 354, 250, 221], "\(output)")
                #expect(replayer.stderr.contains("fault: connection 1: reset before the first server message (reproduce: --fault \"conn=1 reset\")"), "\(replayer.stderr)")
                #expect(!replayer.stderr.contains("fault: connection 3"), "\(replayer.stderr)")
            }

            // --fault "match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy"
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--fault", "match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy"])
                defer { replayer.stop() }
                for _ in 1...2 {
                    let (replies, output, _) = try await swaks(port)
                    try #require(replies.count >= 5, "\(output)")
                    #expect(replies[3].code == 250, "\(output)")
                    #expect(replies[4].lines == ["450 4.2.0 Mailbox busy"], "\(output)")
                    #expect(replies.last?.code == 221, "\(output)")
                }
            }

            // --fault "match=^DATA stall": the client times out after DATA.
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--fault", "match=^DATA stall"])
                defer { replayer.stop() }
                let (replies, output, seconds) = try await swaks(port, timeout: 2)
                // swaks prints its own timeout as a "<** " line too: only server replies have codes.
                #expect(replies.compactMap(\.code) == [220, 250, 250, 250, 250], "\(output)")
                #expect(output.contains(" -> DATA"), "\(output)")
                #expect(output.localizedCaseInsensitiveContains("timeout") || output.localizedCaseInsensitiveContains("timed out"), "\(output)")
                #expect(seconds >= 1.9, "\(seconds)")
            }

            // --fault "every=3 delay=5s": every third connection waits five seconds longer for its banner.
            do {
                let (replayer, port) = try await ReplaydProcess.replay([cassette], ["--fault", "every=3 delay=5s"])
                defer { replayer.stop() }
                var banners: [Double] = []
                for _ in 1...3 {
                    let (python, output) = try await SMTPClients.smtplib(port: port, helo: "py.example", from: "p@example.org", to: "postmaster@example.net")
                    banners.append(python.first?.latency ?? -1)
                    #expect(python.first?.code == 220, "\(output)")
                }
                #expect(banners[0] < 2 && banners[1] < 2, "\(banners)")
                #expect(banners[2] >= 4.95 && banners[2] < 7.5, "\(banners)")
                #expect(replayer.stderr.contains("(reproduce: --fault \"conn=3 delay=5s\")"), "\(replayer.stderr)")
            }
        }

        @Test("record --fault \"match=^RCPT reset\" between swaks and Postfix: reset instead of the RCPT reply, marked as replayd's",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(2)))
        func recordWithFault() async throws {
            let directory = try TestPaths.temporaryDirectory("record-fault")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/live.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette, ["--fault", "match=^RCPT reset"])
            defer { recorder.stop() }
            let (replies, output, _) = try await swaks(port)
            #expect(replies.compactMap(\.code) == [220, 250, 250], "\(output)")
            #expect(output.contains(" -> RCPT TO:<postmaster@example.net>"), "\(output)")
            #expect(output.contains("closed connection") || output.localizedCaseInsensitiveContains("reset"), "\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
            #expect(recorder.stderr.contains("fault: connection 1: reset after \"RCPT TO:<postmaster@example.net>\" (reproduce: --fault \"conn=1 match=^RCPT reset\")"),
                    "\(recorder.stderr)")

            let session = try #require(try Cassette.load(path: cassette).sessions.first)
            let kinds = session.events.map(\.kind)
            let faultIndex = try #require(kinds.firstIndex { if case .fault = $0 { return true } else { return false } }, "\(kinds)")
            guard case .fault(let fault) = kinds[faultIndex] else { return }
            #expect(fault.rule == "match=^RCPT reset")
            #expect(fault.action == "reset")
            #expect(fault.detail?.contains("250 2.1.5 Ok") == true, "the server's real reply is kept: \(fault.detail ?? "")")
            #expect(kinds[faultIndex + 1] == .reset(by: .serverToClient))
            // No server byte after the MAIL reply reached the cassette as data: the client never saw it.
            #expect(!String(decoding: session.bytes(.serverToClient), as: UTF8.self).contains("2.1.5"))

            let show = try ChildProcess(TestPaths.replayd, ["show", cassette])
            #expect(try await show.wait(timeout: 20) == 0)
            #expect(show.stdout.contains("!! replayd injected a fault (reset) by rule match=^RCPT reset"), "\(show.stdout)")

            // Replayed, the cassette gives a client what the recorded one saw: the reset at RCPT.
            let (replayer, replayPort) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let (again, againOutput, _) = try await swaks(replayPort)
            #expect(again.compactMap(\.code) == [220, 250, 250], "\(againOutput)")
        }

        @Test("record --fault \"match=^RCPT nth=2 reply=...\": the client gets the text, the cassette holds what it got",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(2)))
        func recordWithReplyFault() async throws {
            let directory = try TestPaths.temporaryDirectory("record-reply-fault")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/live.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette,
                                                                 ["--fault", "match=^RCPT nth=2 reply=452 4.5.3 Too many recipients"])
            defer { recorder.stop() }
            let (replies, output, _) = try await swaks(port)
            #expect(replies.map(\.code) == [220, 250, 250, 250, 452, 354, 250, 221], "\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
            let session = try #require(try Cassette.load(path: cassette).sessions.first)
            let faults = session.events.compactMap { event -> InjectedFault? in if case .fault(let fault) = event.kind { return fault } else { return nil } }
            #expect(faults.map(\.action) == ["reply"])
            #expect(faults.first?.detail?.contains("250 2.1.5 Ok") == true, "\(faults)")
            #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self).contains("452 4.5.3 Too many recipients\r\n"))

            let (replayer, replayPort) = try await ReplaydProcess.replay([cassette])
            defer { replayer.stop() }
            let (again, againOutput, _) = try await swaks(replayPort)
            #expect(again.map(\.code) == [220, 250, 250, 250, 452, 354, 250, 221], "\(againOutput)")
        }

        @Test("record --fault with dir=c2s answers for the server, and refuse resets at accept; both replay as the client saw them",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(2)))
        func recordClientSideFaults() async throws {
            let directory = try TestPaths.temporaryDirectory("record-c2s-fault")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/live.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette,
                                                                 ["--fault", "conn=1 refuse", "--fault", "match=^RCPT dir=c2s reply=550 5.7.1 Not here"])
            defer { recorder.stop() }
            let (refused, refusedOutput, _) = try await swaks(port)
            #expect(refused.isEmpty, "\(refusedOutput)")
            let (replies, output, _) = try await swaks(port)
            #expect(replies.map(\.code) == [220, 250, 250, 550, 550, 221], "\(output)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")

            let sessions = try Cassette.load(path: cassette).sessions
            try #require(sessions.count == 2)
            let first = sessions[0].events.map(\.kind)
            #expect(first.contains { if case .fault(let fault) = $0 { return fault.action == "refuse" } else { return false } }, "\(first)")
            #expect(sessions[1].bytes(.clientToServer).count > 0)
            #expect(String(decoding: sessions[1].bytes(.serverToClient), as: UTF8.self).contains("550 5.7.1 Not here\r\n"))

            let (replayer, replayPort) = try await ReplaydProcess.replay([cassette], ["--session", "2"])
            defer { replayer.stop() }
            let (again, againOutput, _) = try await swaks(replayPort)
            #expect(again.map(\.code) == [220, 250, 250, 550, 550, 221], "\(againOutput)")
        }
    }
}

/// `--chaos` with a seed: two runs of the same eight swaks connections see the same faults.
@Suite("Seeded chaos on replay (swaks)")
struct FaultChaosEndToEndTests {
    func run(seed: String) async throws -> (transcripts: [String], log: String) {
        let (replayer, port) = try await ReplaydProcess.replay([TestPaths.fixture("smtp-rcpt-450.cassette")],
                                                             ["--no-delay", "--chaos", "0.6", "--seed", seed, "--chaos-faults", "reset,close,reply,slice"])
        defer { replayer.stop() }
        var transcripts: [String] = []
        for _ in 1...8 {
            let swaks = try ChildProcess("swaks", ["--server", "127.0.0.1", "--port", String(port), "--timeout", "5", "--to", "a@example.net"])
            _ = try await swaks.wait(timeout: 25)
            // What the server said (swaks' own Date and Message-Id differ between runs).
            transcripts.append(swaks.stdout.split(separator: "\n").filter { $0.hasPrefix("<") || $0.hasPrefix("***") }.joined(separator: "\n"))
        }
        return (transcripts, replayer.stderr)
    }

    @Test("the same seed gives identical client transcripts", .enabled(if: ChildProcess.isInstalled("swaks"), "swaks is not installed"),
          .timeLimit(.minutes(2)))
    func sameSeedSameRun() async throws {
        let first = try await run(seed: "20261203")
        let second = try await run(seed: "20261203")
        #expect(first.transcripts == second.transcripts)
        let faults = first.log.split(separator: "\n").filter { $0.contains("fault: connection") }
        #expect(faults.count >= 2 && faults.count <= 8, "\(first.log)")
        #expect(faults.allSatisfy { $0.contains("(reproduce: --fault \"conn=") }, "\(first.log)")
        // Some connections went through untouched, some did not.
        #expect(Set(first.transcripts).count > 1)
    }
}
