import Foundation
import Testing
@testable import ReplayCore

/// `record --starttls smtp` against a scripted SMTP peer (Python's ssl for the TLS ends): a
/// refused upgrade reaches the client as sent and the session goes on in plaintext; plaintext a
/// client pipelines behind STARTTLS never reaches the server.
@Suite("TLSStartTLSPeer", .timeLimit(.minutes(2)))
struct TLSStartTLSPeerTests {
    static var canRun: Bool { ChildProcess.isInstalled("python3") }

    /// The scripted server: banner, then answers STARTTLS with `answer`; after a 220 it does
    /// TLS and answers one line with `250 got <the line>`; after a refusal it answers one more
    /// plaintext line the same way. Prints each line it read.
    static let server = """
        import socket, ssl, sys
        port, answer, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port)); listener.listen(1)
        print("ready", flush=True)
        conn, _ = listener.accept(); conn.settimeout(10)
        conn.sendall(b"220 peer ESMTP\\r\\n")
        def line(sock):
            data = b""
            while not data.endswith(b"\\n"):
                chunk = sock.recv(1)
                if not chunk: break
                data += chunk
            return data
        first = line(conn); print("read", first, flush=True)
        conn.sendall(answer.encode() + b"\\r\\n")
        if answer.startswith("220"):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(cert, key)
            conn = context.wrap_socket(conn, server_side=True)
        nxt = line(conn); print("read", nxt, flush=True)
        conn.sendall(b"250 got " + nxt.strip() + b"\\r\\n")
        conn.close()
        """

    /// The scripted client: reads the banner, sends `send` in one write, reads the answer; after
    /// a 220 does TLS trusting `ca`, then sends `EHLO client` (after a refusal `NOOP`, in
    /// plaintext) and prints the reply.
    static let client = """
        import socket, ssl, sys
        port, send, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = sock.makefile("rb")
        print("banner", f.readline(), flush=True)
        sock.sendall(send.encode().decode("unicode_escape").encode())
        answer = f.readline(); print("answer", answer, flush=True)
        if answer.startswith(b"220"):
            context = ssl.create_default_context(cafile=ca)
            sock = context.wrap_socket(sock, server_hostname="localhost")
            f = sock.makefile("rb")
            sock.sendall(b"EHLO client\\r\\n")
        else:
            sock.sendall(b"NOOP\\r\\n")
        print("reply", f.readline(), flush=True)
        """

    static func run(answer: String, send: String) async throws -> (server: String, client: String, recorder: String, cassette: Cassette) {
        let directory = try TestPaths.temporaryDirectory("tls-peer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost", "127.0.0.1"])
        let port = try LoopbackPort.free()
        let server = try ChildProcess("python3", ["-c", Self.server, String(port), answer, files.certificate, files.key])
        defer { server.stop() }
        _ = try await server.waitForStdout(containing: "ready")
        let cassette = directory + "/peer.cassette"
        let (recorder, proxyPort) = try await ReplaydProcess.record(upstream: port, to: cassette, [
            "--starttls", "smtp", "--tls-cert", files.certificate, "--tls-key", files.key, "--upstream-insecure",
        ])
        defer { recorder.stop() }
        let client = try ChildProcess("python3", ["-c", Self.client, String(proxyPort), send, files.caCertificate])
        _ = try await client.wait(timeout: 20)
        _ = try await server.wait(timeout: 20)
        _ = try await ReplaydProcess.finish(recorder)
        return (server.stdout + server.stderr, client.stdout + client.stderr, recorder.stderr, try Cassette.load(path: cassette))
    }

    static func markers(_ cassette: Cassette) -> [TLSMarker] {
        cassette.sessions.flatMap(\.events).compactMap { event in
            if case .tls(let marker) = event.kind { return marker }
            return nil
        }
    }

    @Test("a 454 refusal reaches the client as sent; the session goes on in plaintext, with no tls marker",
          .enabled(if: canRun, "needs python3"))
    func refused() async throws {
        let run = try await Self.run(answer: "454 4.7.0 TLS not available", send: "STARTTLS\\r\\n")
        #expect(run.client.contains("answer b'454 4.7.0 TLS not available\\r\\n'"), "\(run.client)\n\(run.recorder)")
        // Plaintext goes on through the proxy after the refusal.
        #expect(run.client.contains("reply b'250 got NOOP\\r\\n'"), "\(run.client)\n\(run.server)")
        #expect(Self.markers(run.cassette).isEmpty)
        #expect(run.recorder.contains("refused STARTTLS"), "\(run.recorder)")
    }

    @Test("plaintext pipelined behind STARTTLS is discarded: the server's first line inside TLS is the client's EHLO",
          .enabled(if: canRun, "needs python3"))
    func injection() async throws {
        let run = try await Self.run(answer: "220 2.0.0 Ready to start TLS", send: "STARTTLS\\r\\nMAIL FROM:<evil@example.org>\\r\\n")
        #expect(run.server.contains("read b'EHLO client\\r\\n'"), "\(run.server)\n\(run.recorder)")
        #expect(!run.server.contains("evil"), "\(run.server)")
        #expect(run.client.contains("reply b'250 got EHLO client\\r\\n'"), "\(run.client)\n\(run.recorder)")
        #expect(run.recorder.contains("discarded 30 bytes of plaintext"), "\(run.recorder)")
        let markers = Self.markers(run.cassette)
        #expect(markers.count == 1)
        #expect(markers.first?.failure == nil)
        #expect(markers.first?.sni == "localhost")
    }
}

/// `record --starttls pop3` in front of a real Dovecot, with Python's poplib as the client.
@Suite("TLSStartTLSDovecot", .timeLimit(.minutes(2)))
struct TLSStartTLSDovecotTests {
    static var canRun: Bool { ChildProcess.isInstalled("dovecot") && ChildProcess.isInstalled("python3") && getuid() == 0 }

    @Test("poplib STLS through record --starttls pop3 logs in to Dovecot; the cassette holds USER and PASS after the marker",
          .enabled(if: canRun, "needs dovecot, python3 and root"))
    func pop3() async throws {
        let directory = try TestPaths.temporaryDirectory("tls-pop3")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost", "127.0.0.1"])
        let dovecot = try await DovecotServer(directory: directory, certificate: files.certificate, key: files.key)
        defer { dovecot.stop() }
        let cassette = directory + "/pop3.cassette"
        let (recorder, port) = try await ReplaydProcess.record(upstream: dovecot.port, to: cassette, [
            "--starttls", "pop3", "--tls-cert", files.certificate, "--tls-key", files.key, "--upstream-insecure",
        ])
        defer { recorder.stop() }
        let script = """
            import poplib, ssl, sys
            p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
            print("welcome", p.getwelcome())
            p.stls(ssl.create_default_context(cafile=sys.argv[2]))
            print("user", p.user("alice")); print("pass", p.pass_("secret")); print("stat", p.stat()); p.quit()
            """
        let client = try ChildProcess("python3", ["-c", script, String(port), files.caCertificate])
        let status = try await client.wait(timeout: 30)
        #expect(status == 0, "\(client.stdout)\(client.stderr)\n\(recorder.stderr)\n\(dovecot.log)")
        #expect(client.stdout.contains("pass b'+OK Logged in.'"), "\(client.stdout)\(client.stderr)")
        #expect(try await ReplaydProcess.finish(recorder) == 0, "\(recorder.stderr)")

        let session = try #require(try Cassette.load(path: cassette).sessions.first)
        let markerIndex = try #require(session.events.firstIndex { if case .tls = $0.kind { return true } else { return false } })
        func text(_ events: ArraySlice<SessionEvent>, _ direction: Direction) -> String {
            String(decoding: events.flatMap { event -> [UInt8] in
                if case .data(let d, let bytes) = event.kind, d == direction { return bytes }
                return []
            }, as: UTF8.self)
        }
        #expect(text(session.events[..<markerIndex], .clientToServer).hasSuffix("STLS\r\n"))
        #expect(text(session.events[..<markerIndex], .serverToClient).contains("+OK Begin TLS"))
        let after = text(session.events[markerIndex...], .clientToServer)
        #expect(after.hasPrefix("USER alice\r\n"), "\(after)")
        // Redaction is on: the password's bytes are masked, the command stays.
        #expect(after.contains("PASS "), "\(after)")
        #expect(!after.contains("secret"), "\(after)")
    }
}
