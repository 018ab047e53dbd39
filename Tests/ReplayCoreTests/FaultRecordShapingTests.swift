import Foundation
import Testing
@testable import ReplayCore

extension HeavyTests.ReplayEngineEndToEnd {
    /// `record --fault` with the actions that hold or reshape the server's bytes (delay=, slice=,
    /// slow=, truncate, after=, at=), between real swaks or Python clients and a real Postfix.
    @Suite("Fault rules that shape live traffic on record (Postfix)")
    struct FaultRecordShapingTests {
        static var canRun: Bool { ChildProcess.isInstalled("swaks") && ChildProcess.isInstalled("postfix") && getuid() == 0 }

        func swaks(_ port: Int, timeout: Int = 15) async throws -> (replies: [SMTPReply], output: String, seconds: Double) {
            try await SMTPClients.timedSwaks(port: port, timeout: timeout, ["--to", "postmaster@example.net", "--from", "other@example.com", "--helo", "shaped.example"])
        }

        /// Server-side data events of a session, with their offsets in seconds.
        func serverChunks(_ session: Session) -> [(seconds: Double, bytes: [UInt8])] {
            session.events.compactMap { event in
                if case .data(.serverToClient, let bytes) = event.kind { return (Double(event.offset) / 1e9, bytes) }
                return nil
            }
        }

        func faults(_ session: Session) -> [InjectedFault] {
            session.events.compactMap { if case .fault(let fault) = $0.kind { return fault } else { return nil } }
        }

        @Test("delay=, slice=, slow=, truncate and after= on record: what the client gets and what the cassette holds",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(3)))
        func shapingFaults() async throws {
            let directory = try TestPaths.temporaryDirectory("record-shaping")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/live.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette, [
                "--fault", "conn=1 match=^RCPT delay=1s",
                "--fault", "conn=2 slice=3",
                "--fault", "conn=3 slow=2000",
                "--fault", "conn=4 match=^MAIL truncate",
                "--fault", "conn=5 after=10 reset",
            ])
            defer { recorder.stop() }
            let everything = [220, 250, 250, 250, 354, 250, 221]

            // 1: the RCPT reply a second late, the rest as Postfix sent it.
            let (delayed, delayedOutput, delayedSeconds) = try await swaks(port)
            #expect(delayed.map(\.code) == everything, "\(delayedOutput)")
            #expect(delayedSeconds >= 0.95, "\(delayedSeconds)")
            // 2 and 3: every byte arrives, in small writes, and at 2000 B/s.
            let (sliced, slicedOutput, _) = try await swaks(port)
            #expect(sliced.map(\.code) == everything, "\(slicedOutput)")
            let (slowed, slowedOutput, slowedSeconds) = try await swaks(port)
            #expect(slowed.map(\.code) == everything, "\(slowedOutput)")
            // 4: half of the MAIL reply, then nothing: the client times out.
            let (truncated, truncatedOutput, _) = try await swaks(port, timeout: 2)
            #expect(truncated.compactMap(\.code) == [220, 250], "\(truncatedOutput)")
            // 5: ten bytes of the banner, then RST.
            let (cut, cutOutput, _) = try await swaks(port, timeout: 3)
            #expect(cut.isEmpty, "\(cutOutput)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
            for line in ["fault: connection 1: delay=1s after \"RCPT TO:<postmaster@example.net>\" (reproduce: --fault \"conn=1 match=^RCPT delay=1s\")",
                         "fault: connection 2: slice=3 before the first server message", "fault: connection 3: slow=2000 before the first server message",
                         "fault: connection 4: truncate after \"MAIL FROM:<other@example.com>\"", "fault: connection 5: reset after 10 server bytes (reproduce: --fault \"conn=5 after=10 reset\")"] {
                #expect(recorder.stderr.contains(line), "\(line)\n\(recorder.stderr)")
            }

            let sessions = try Cassette.load(path: cassette).sessions
            try #require(sessions.count == 5)
            // The delayed reply is recorded when the client got it, after the fault's own event.
            let first = sessions[0]
            #expect(faults(first).map(\.action) == ["delay"])
            // (Held from when Postfix's reply arrived, which the fault's event marks.)
            let faultAt = first.events.first { if case .fault = $0.kind { return true } else { return false } }
            let rcptReply = serverChunks(first).first { String(decoding: $0.bytes, as: UTF8.self).hasPrefix("250 2.1.5") }
            let waited = (rcptReply?.seconds ?? 0) - Double(faultAt?.offset ?? 0) / 1e9
            #expect(waited >= 0.99 && waited < 1.5, "\(waited) \(first.events.map { "\($0.offset / 1_000_000) ms \($0.kind)" })")
            // Sliced: the same bytes Postfix sent, in writes of at most three.
            let slicedChunks = serverChunks(sessions[1])
            #expect(slicedChunks.allSatisfy { $0.bytes.count <= 3 } && slicedChunks.count > 50, "\(slicedChunks.map(\.bytes.count))")
            #expect(String(decoding: sessions[1].bytes(.serverToClient), as: UTF8.self).contains("250 2.0.0 Ok: queued as"))
            // Slowed: writes of a twentieth of a second's bytes, and the whole took its time.
            let slowBytes = sessions[2].bytes(.serverToClient).count
            #expect(serverChunks(sessions[2]).allSatisfy { $0.bytes.count <= 100 })
            #expect(slowedSeconds >= Double(slowBytes) / 2000 * 0.9, "\(slowBytes) bytes in \(slowedSeconds) s")
            // Truncated: half the MAIL reply reached the client and the cassette; the rest is in the fault's detail.
            let truncatedText = String(decoding: sessions[3].bytes(.serverToClient), as: UTF8.self)
            #expect(truncatedText.hasSuffix("250 2.1"), "\(truncatedText)")
            #expect(faults(sessions[3]).first?.detail?.contains(".0 Ok") == true, "\(faults(sessions[3]))")
            // Cut: ten banner bytes, then the reset replayd sent, marked as its own.
            #expect(sessions[4].bytes(.serverToClient) == utf8("220 mx.exa"), "\(String(decoding: sessions[4].bytes(.serverToClient), as: UTF8.self))")
            #expect(sessions[4].events.contains { if case .reset(by: .serverToClient) = $0.kind { return true } else { return false } })

            // Replayed, the delayed session gives a client the same late reply.
            let (replayer, replayPort) = try await ReplaydProcess.replay([cassette], ["--session", "1"])
            defer { replayer.stop() }
            let (again, againOutput, againSeconds) = try await swaks(replayPort)
            #expect(again.map(\.code) == everything, "\(againOutput)")
            #expect(againSeconds >= 0.95, "\(againSeconds)")
        }

        @Test("at=500ms close on record: the client holding its connection gets FIN half a second in",
              .enabled(if: canRun, "needs swaks, Postfix and root"), .timeLimit(.minutes(2)))
        func timedClose() async throws {
            let directory = try TestPaths.temporaryDirectory("record-at")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let cassette = directory + "/live.cassette"
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette, ["--fault", "at=500ms close"])
            defer { recorder.stop() }
            // A client that reads the banner, then waits: when does its connection end?
            let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(port)), timeout=5)
            start = time.monotonic()
            banner = s.recv(4096)
            rest = s.recv(4096)
            print(banner[:3].decode(), len(rest), round(time.monotonic() - start, 3))
            """
            let client = try ChildProcess("python3", ["-c", script])
            _ = try await client.wait(timeout: 15)
            let words = client.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(words.count == 3 && words[0] == "220" && words[1] == "0", "\(client.stdout)\(client.stderr)")
            let seconds = Double(words.last ?? "") ?? 0
            #expect(seconds >= 0.4 && seconds < 2, "\(client.stdout)")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
            #expect(recorder.stderr.contains("fault: connection 1: close at 500ms into the connection (reproduce: --fault \"conn=1 at=500ms close\")"), "\(recorder.stderr)")
            let session = try #require(try Cassette.load(path: cassette).sessions.first)
            #expect(faults(session).map(\.action) == ["close"])
        }

        @Test("slow= on record holds a fast server back: what waits stays bounded, every byte arrives in order",
              .timeLimit(.minutes(2)))
        func slowedConnectionHoldsTheServerBack() async throws {
            // A server that sends 16 MiB as fast as it can (a small send buffer, so that what it has
            // sent is what the proxy took), and says when its last byte was taken.
            let server = try ChildProcess("python3", ["-c", """
            import socket, sys, time
            listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)
            print(listener.getsockname()[1], flush=True)
            connection, _ = listener.accept()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            data = bytes(range(256)) * 65536
            start = time.monotonic()
            connection.sendall(data)
            print("sent", round(time.monotonic() - start, 3), flush=True)
            connection.close()
            """])
            defer { server.stop() }
            let serverPort = try #require(Int(try await server.waitForStdout(containing: "\n").trimmingCharacters(in: .whitespacesAndNewlines)))
            let directory = try TestPaths.temporaryDirectory("record-slow-bound")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (recorder, port) = try await ReplaydProcess.record(upstream: serverPort, to: directory + "/bulk.cassette",
                                                                 ["--fault", "slow=8000000", "--no-redact"])
            defer { recorder.stop() }
            let client = try ChildProcess("python3", ["-c", """
            import hashlib, socket, time
            s = socket.create_connection(("127.0.0.1", \(port)), timeout=20)
            start = time.monotonic(); digest = hashlib.sha256(); total = 0
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                digest.update(chunk); total += len(chunk)
            print(total, digest.hexdigest() == hashlib.sha256(bytes(range(256)) * 65536).hexdigest(), round(time.monotonic() - start, 3))
            """])
            _ = try await client.wait(timeout: 60)
            _ = try await server.wait(timeout: 10)
            let got = client.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(got.count == 3 && got[0] == "16777216" && got[1] == "True", "\(client.stdout)\(client.stderr)")
            let clientSeconds = Double(got.last ?? "") ?? 0
            let serverSeconds = Double(server.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            // 16 MiB at 8 MB/s: about 2 s. Unbounded, the proxy would take it all in a fraction
            // of that; bounded, the server finishes only when what is left fits the kernel's buffers.
            #expect(clientSeconds >= 1.8, "\(client.stdout)")
            #expect(serverSeconds >= clientSeconds * 0.4, "server done after \(serverSeconds) s, client after \(clientSeconds) s")
            #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
        }
    }
}
