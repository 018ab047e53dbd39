import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd record` with TLS, with real programs: curl over implicit TLS to a Python HTTPS
/// server, swaks with STARTTLS through to a real Postfix, and a client that does not trust the
/// certificate. The cassette must hold the plaintext after a `tls` marker.
@Suite("TLSRecordEndToEnd", .timeLimit(.minutes(3)))
struct TLSRecordEndToEndTests {
    static var canRunHTTPS: Bool { ChildProcess.isInstalled("curl") && ChildProcess.isInstalled("python3") }
    static var canRunSMTP: Bool { ChildProcess.isInstalled("swaks") && ChildProcess.isInstalled("postfix") && getuid() == 0 }

    /// A Python HTTPS server on a free port, serving `root` with `files`' certificate.
    static func httpsServer(root: String, files: TestCertificateAuthority.Files) async throws -> (ChildProcess, Int) {
        let port = try LoopbackPort.free()
        let script = """
            import functools, http.server, ssl, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
            server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[3], sys.argv[4])
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
        let server = try ChildProcess("python3", ["-c", script, String(port), root, files.certificate, files.key])
        do {
            try await LoopbackPort.waitForListener(port: port, timeout: 20)
        } catch {
            server.stop()
            throw error
        }
        return (server, port)
    }

    static func curl(_ arguments: [String]) async throws -> (Int32, String) {
        let curl = try ChildProcess("curl", ["-s", "-S", "--max-time", "10"] + arguments)
        let status = try await curl.wait(timeout: 20)
        return (status, curl.stdout + curl.stderr)
    }

    @Test("implicit TLS: curl https through record --tls-cert --upstream-tls --upstream-ca gets the body; the cassette holds the plaintext GET after the marker",
          .enabled(if: canRunHTTPS, "needs curl and python3"))
    func implicitHTTPS() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-https")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost", "127.0.0.1"])
        try FileManager.default.createDirectory(atPath: directory + "/www", withIntermediateDirectories: true)
        try "hello over TLS\n".write(toFile: directory + "/www/index.html", atomically: true, encoding: .utf8)
        let (server, serverPort) = try await Self.httpsServer(root: directory + "/www", files: files)
        defer { server.stop() }
        let cassette = directory + "/https.cassette"
        let (recorder, port) = try await ReplaydProcess.record(upstream: serverPort, to: cassette, [
            "--tls-cert", files.certificate, "--tls-key", files.key, "--upstream-tls", "--upstream-ca", files.caCertificate,
        ])
        defer { recorder.stop() }

        let (status, body) = try await Self.curl(["--cacert", files.caCertificate, "https://localhost:\(port)/index.html"])
        #expect(status == 0, "\(body)\n\(recorder.stderr)")
        #expect(body == "hello over TLS\n")
        // A client that does not trust the CA: its handshake fails, and the listener goes on.
        let (untrusted, output) = try await Self.curl(["https://localhost:\(port)/index.html"])
        #expect(untrusted != 0, "\(output)")
        let (again, second) = try await Self.curl(["--cacert", files.caCertificate, "https://localhost:\(port)/index.html"])
        #expect(again == 0 && second == "hello over TLS\n", "\(second)\n\(recorder.stderr)")
        #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("TLS handshake with the client failed"), "\(recorder.stderr)")
        #expect(!recorder.stderr.contains("BEGIN"), "a key or certificate was logged")

        let loaded = try Cassette.load(path: cassette)
        #expect(loaded.sessions.count == 3)
        let first = try #require(loaded.sessions.first)
        // The marker is the first event after open; then the decrypted request.
        guard case .tls(let marker) = first.events.dropFirst().first?.kind else {
            Issue.record("no tls marker after open: \(first.events.prefix(3))")
            return
        }
        #expect(marker.version?.hasPrefix("TLSv1.") == true)
        #expect(marker.sni == "localhost")
        // The suite, read off the ServerHello replayd sent (swift-nio-ssl does not report it).
        #expect(marker.cipher?.hasPrefix("TLS_") == true, "\(marker)")
        #expect(marker.failure == nil)
        let sent = first.events.compactMap { event -> [UInt8]? in
            if case .data(.clientToServer, let bytes) = event.kind { return bytes }
            return nil
        }.joined()
        #expect(String(decoding: Array(sent), as: UTF8.self).hasPrefix("GET /index.html HTTP/1.1\r\n"))
        let failed = loaded.sessions[1].events.compactMap { event -> TLSMarker? in
            if case .tls(let marker) = event.kind { return marker }
            return nil
        }
        #expect(failed.count == 1)
        #expect(failed.first?.leg == .client)
        #expect(failed.first?.failure?.isEmpty == false)
        let key = try String(contentsOfFile: files.key, encoding: .utf8)
        let written = try String(contentsOfFile: cassette, encoding: .utf8)
        #expect(!written.contains(key.split(separator: "\n")[1]), "the key is in the cassette")

        // Replayed over TLS: each curl gets the recorded body; the session whose client did not
        // trust the certificate is not served (its client never spoke).
        server.stop()
        let (replayer, replayPort) = try await ReplaydProcess.replay([cassette], ["--tls-cert", files.certificate, "--tls-key", files.key])
        defer { replayer.stop() }
        for round in 1...3 {
            let (status, body) = try await Self.curl(["--cacert", files.caCertificate, "-H", "X-Round: \(round)", "https://localhost:\(replayPort)/index.html"])
            #expect(status == 0 && body.hasSuffix("hello over TLS\n"), "round \(round): \(body)\n\(replayer.stderr)")
        }
        #expect(replayer.stderr.contains("not replaying \(cassette):2: the recorded client's TLS handshake failed"), "\(replayer.stderr)")
    }

    @Test("STARTTLS: swaks --tls through record --starttls smtp to a real Postfix delivers; show prints EHLO, MAIL, RCPT, DATA after the marker; swaks --tls against the replay gets the same replies; verify --tls-ca against Postfix matches",
          .enabled(if: canRunSMTP, "needs swaks, Postfix and root"))
    func startTLSPostfix() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-smtp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost", "127.0.0.1"])
        let postfix = try await PostfixServer(directory: directory, tls: (files.certificate, files.key))
        defer { postfix.stop() }
        let cassette = directory + "/smtp.cassette"
        let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette, [
            "--starttls", "smtp", "--tls-cert", files.certificate, "--tls-key", files.key, "--upstream-insecure",
        ])
        defer { recorder.stop() }
        let swaks = try ChildProcess("swaks", [
            "--server", "127.0.0.1", "--port", String(port), "--timeout", "15", "--tls", "--tls-verify", "--tls-ca-path", files.caCertificate,
            "--tls-sni", "localhost", "--to", "alice@example.net", "--from", "ops@example.org", "--helo", "client.example",
        ])
        _ = try await swaks.wait(timeout: 40)
        let output = swaks.stdout + swaks.stderr
        #expect(output.contains("TLS started"), "\(output)")
        #expect(output.contains("<~  250 2.0.0 Ok: queued"), "\(output)\n\(recorder.stderr)\n\(postfix.maillog)")
        #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("--upstream-insecure"), "the insecure upstream is warned about")

        let show = try ChildProcess(TestPaths.replayd, ["show", cassette])
        _ = try await show.wait(timeout: 20)
        let lines = show.stdout.split(separator: "\n").map(String.init)
        let markerIndex = try #require(lines.firstIndex { $0.contains("-- TLS began") }, "\(show.stdout)")
        #expect(lines[..<markerIndex].contains { $0.contains("S: 220 2.0.0 Ready to start TLS") }, "\(show.stdout)")
        let after = lines[markerIndex...].joined(separator: "\n")
        for command in ["C: EHLO client.example", "C: MAIL FROM:<ops@example.org>", "C: RCPT TO:<alice@example.net>", "C: DATA", "S: 250 2.0.0 Ok: queued"] {
            #expect(after.contains(command), "\(command) not after the marker:\n\(show.stdout)")
        }

        // The same cassette replayed over TLS: swaks --tls with other names gets the replies
        // the recorded swaks got, the upgrade included.
        let recordedReplies = SMTPClients.replies(inSwaksOutput: swaks.stdout)
        try #require(recordedReplies.count == 9, "banner, EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA, dot, QUIT:\n\(output)")
        let (replayer, replayPort) = try await ReplaydProcess.replay([cassette], ["--tls-cert", files.certificate, "--tls-key", files.key])
        defer { replayer.stop() }
        let (replayed, replayOutput) = try await SMTPClients.swaks(port: replayPort, [
            "--tls", "--tls-verify", "--tls-ca-path", files.caCertificate, "--tls-sni", "localhost",
            "--to", "bob@example.net", "--from", "someone@other.example", "--helo", "other.client.example",
        ])
        #expect(replayed == recordedReplies, "replayed swaks:\n\(replayOutput)\nreplay:\n\(replayer.stderr)")
        #expect(replayOutput.contains("TLS started"), "\(replayOutput)")
        #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "\(replayer.stderr)")

        // And verify plays the recorded client against Postfix again, upgrading where it did and
        // checking Postfix's certificate against the CA.
        let verify = try ChildProcess(TestPaths.replayd, ["verify", cassette, "--target", "127.0.0.1:\(postfix.port)",
                                                          "--tls-ca", files.caCertificate, "--no-delay"])
        #expect(try await verify.wait(timeout: 40) == 0, "verify:\n\(verify.stdout)\(verify.stderr)\n\(postfix.maillog)")
        #expect(verify.stdout.contains("1 ok"), "\(verify.stdout)")
    }
}
