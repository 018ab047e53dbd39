import Foundation
import Testing
@testable import ReplayCore

/// Replay and verify of sessions recorded over TLS, with real TLS clients (swaks, curl,
/// Python's ssl module) and certificates made by openssl.
@Suite("Replay and verify over TLS, end to end", .serialized)
struct ReplayTLSEndToEndTests {
    static let starttlsScenario = TestPaths.fixture("scenarios/smtp-starttls-450.txt")

    /// An HTTPS exchange as `record --tls-cert` writes it: TLS from the first byte.
    static let httpsScenario = """
        S: <TLS version=TLSv1.3 sni=localhost>
        C: GET /status*
        S: HTTP/1.1 200 OK
        S| Content-Type: text/plain
        S| Content-Length: 21
        S|
        S| recorded over TLS ok\\n\\c
        """

    @Test("swaks --tls gets the plaintext banner, the recorded STARTTLS reply, then the rest over TLS (certificate checked)")
    func swaksOverSTARTTLS() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-replay-swaks")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try await OpenSSLCertificates(in: directory)
        let (replayer, port) = try await ReplaydProcess.replay([Self.starttlsScenario],
                                                               ["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        defer { replayer.stop() }
        let (replies, output) = try await SMTPClients.swaks(port: port, [
            "--tls", "--tls-verify", "--tls-ca-path", certificates.caPath,
            "--helo", "client.other.example", "--from", "a@other.example", "--to", "user@example.net",
        ])
        #expect(replies.map(\.code) == [220, 250, 220, 250, 250, 450, 221], "swaks:\n\(output)\nreplay:\n\(replayer.stderr)")
        #expect(output.contains("TLS started"), "swaks:\n\(output)")
        // What came after the handshake came over TLS: swaks marks those lines with ~.
        #expect(output.contains("<~* 450 4.2.0 <user@example.net>: Recipient address rejected: Greylisted"), "swaks:\n\(output)")
        #expect(ReplaydProcess.mismatchLines(replayer).isEmpty, "replay:\n\(replayer.stderr)")
    }

    @Test("plaintext a client pipelines after STARTTLS is dropped, never answered (CVE-2011-0411)")
    func injectionAfterSTARTTLS() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-replay-inject")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try await OpenSSLCertificates(in: directory)
        let (replayer, port) = try await ReplaydProcess.replay([Self.starttlsScenario],
                                                               ["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        defer { replayer.stop() }
        let client = try ChildProcess("python3", ["-c", Self.injectingClient, String(port), certificates.caPath])
        let status = try await client.wait(timeout: 30)
        #expect(status == 0, "client:\n\(client.stdout)\(client.stderr)\nreplay:\n\(replayer.stderr)")
        let lines = client.stdout.split(separator: "\n").map(String.init)
        // Over TLS, the first reply is the one to this EHLO, not to the injected MAIL.
        #expect(lines == [
            "banner 220 mx.example.net ESMTP",
            "starttls 220 2.0.0 Ready to start TLS",
            "tls-ehlo 250 PIPELINING",
            "mail 250 2.1.0 Ok",
        ], "client:\n\(client.stdout)\(client.stderr)\nreplay:\n\(replayer.stderr)")
        #expect(replayer.stderr.contains("CVE-2011-0411"), "replay:\n\(replayer.stderr)")
    }

    @Test("curl https gets the response of an implicit-TLS session, and a client that does not trust the certificate fails the handshake without stopping the listener")
    func implicitTLSWithCurl() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-replay-https")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try await OpenSSLCertificates(in: directory)
        let scenario = directory + "/https.txt"
        try Self.httpsScenario.write(toFile: scenario, atomically: true, encoding: .utf8)
        let (replayer, port) = try await ReplaydProcess.replay([scenario],
                                                               ["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        defer { replayer.stop() }

        let untrusting = try ChildProcess("curl", ["-sS", "--max-time", "10", "https://localhost:\(port)/status"])
        #expect(try await untrusting.wait(timeout: 20) != 0, "curl without the CA must refuse the certificate")
        let curl = try ChildProcess("curl", ["-sS", "--max-time", "10", "--cacert", certificates.caPath,
                                             "-H", "X-Other: header", "https://localhost:\(port)/status?fresh=1"])
        #expect(try await curl.wait(timeout: 20) == 0, "curl:\n\(curl.stderr)\nreplay:\n\(replayer.stderr)")
        #expect(curl.stdout == "recorded over TLS ok\n", "replay:\n\(replayer.stderr)")
        #expect(replayer.stderr.contains("TLS with the client failed"), "replay:\n\(replayer.stderr)")
    }

    @Test("a cassette with TLS sessions and no --tls-cert stops at start and says what to give")
    func refusesWithoutCertificate() async throws {
        let replayer = try ChildProcess(TestPaths.replayd, ["replay", Self.starttlsScenario, "--listen", "127.0.0.1:0"])
        let status = try await replayer.wait(timeout: 20)
        #expect(status == 64)
        #expect(replayer.stderr.contains("was recorded over TLS; give --tls-cert CERT --tls-key KEY"), "\(replayer.stderr)")
        #expect(replayer.stderr.contains("replayd cert --out DIR"), "\(replayer.stderr)")
    }

    @Test("verify upgrades where the recording did and checks the server's certificate; an untrusted one is a difference")
    func verifyOverSTARTTLS() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-verify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try await OpenSSLCertificates(in: directory + "/")
        // The server under test: replay of the same scenario, a real TLS endpoint.
        let (server, port) = try await ReplaydProcess.replay([Self.starttlsScenario],
                                                             ["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        defer { server.stop() }
        // The client side written out literally (verify sends bytes, not patterns).
        let client = directory + "/client.txt"
        try String(contentsOfFile: Self.starttlsScenario, encoding: .utf8)
            .replacingOccurrences(of: "C: EHLO *", with: "C: EHLO verify.example")
            .replacingOccurrences(of: "C: MAIL FROM:*", with: "C: MAIL FROM:<a@example.org>")
            .replacingOccurrences(of: "C: RCPT TO:*", with: "C: RCPT TO:<user@example.net>")
            .replacingOccurrences(of: "C: QUIT*", with: "C: QUIT")
            .write(toFile: client, atomically: true, encoding: .utf8)
        let ok = try ChildProcess(TestPaths.replayd, ["verify", client, "--target", "127.0.0.1:\(port)",
                                                      "--tls-ca", certificates.caPath, "--no-delay"])
        #expect(try await ok.wait(timeout: 30) == 0, "verify:\n\(ok.stdout)\(ok.stderr)\nserver:\n\(server.stderr)")
        #expect(ok.stdout.contains("ok"), "\(ok.stdout)")

        let other = try await OpenSSLCertificates(in: try TestPaths.temporaryDirectory("tls-verify-other"))
        defer { try? FileManager.default.removeItem(atPath: other.directory) }
        let untrusted = try ChildProcess(TestPaths.replayd, ["verify", client, "--target", "127.0.0.1:\(port)",
                                                             "--tls-ca", other.caPath, "--no-delay"])
        #expect(try await untrusted.wait(timeout: 30) == 1, "verify:\n\(untrusted.stdout)\(untrusted.stderr)")
        #expect(untrusted.stdout.contains("TLS with the server failed: the certificate is not trusted"), "\(untrusted.stdout)")
    }

    /// Says EHLO, then STARTTLS with a MAIL FROM in the same write (the injection), then
    /// starts TLS and says EHLO and MAIL over it. Prints the last line of each reply.
    static let injectingClient = #"""
        import socket, ssl, sys
        port, ca = int(sys.argv[1]), sys.argv[2]
        def reply(sock):
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return "<closed>"
                data += chunk
                lines = data.split(b"\r\n")
                for line in lines[:-1]:
                    if len(line) >= 4 and line[3:4] == b" ":
                        return line.decode()
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        print("banner", reply(raw))
        raw.sendall(b"EHLO injector.example\r\n")
        reply(raw)
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
        print("starttls", reply(raw))
        tls = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"EHLO injector.example\r\n")
        print("tls-ehlo", reply(tls))
        tls.sendall(b"MAIL FROM:<good@example.org>\r\n")
        print("mail", reply(tls))
        """#
}
