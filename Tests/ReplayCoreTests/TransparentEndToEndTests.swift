import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd record --transparent` between a real curl and a real HTTP server (Python's
/// http.server), in network namespaces the tests create, with real iptables, ip6tables and nft
/// REDIRECT rules: curl believes it talks to the server's address; replayd, redirected to,
/// forwards to that address and names it in the cassette.
/// One test at a time: each starts several processes (ip, iptables, python, replayd, curl), and
/// on a two-core machine running them all at once slows every other test down.
@Suite("Transparent record", .serialized, .enabled(if: NetworkNamespaces.available, NetworkNamespaces.skipReason), .timeLimit(.minutes(2)))
struct TransparentEndToEndTests {
    static let listenPort = 15001
    static let mark = "7"

    /// A client namespace (curl and replayd) and a server namespace (http.server) joined by a
    /// veth pair: 10.77.0.1 and fd00:77::1 on the client's side, 10.77.0.2 and fd00:77::2 on the server's.
    final class Lab {
        let namespaces: NetworkNamespaces
        let directory: String
        let body: String
        var servers: [ChildProcess] = []
        var client: String { namespaces.names[0] }
        var server: String { namespaces.names[1] }

        private init(namespaces: NetworkNamespaces, directory: String) {
            self.namespaces = namespaces
            self.directory = directory
            body = "transparent \(UUID().uuidString)\n"
        }

        static func make() async throws -> Lab {
            let lab = Lab(namespaces: try await NetworkNamespaces.create(["c", "s"]), directory: try TestPaths.temporaryDirectory("transparent"))
            try await lab.namespaces.link(lab.client, "eth0", ["10.77.0.1/24", "fd00:77::1/64"], to: lab.server, "eth0", ["10.77.0.2/24", "fd00:77::2/64"])
            try Data(lab.body.utf8).write(to: URL(fileURLWithPath: lab.directory + "/file.txt"))
            return lab
        }

        var cassette: String { directory + "/t.cassette" }

        /// http.server in `namespace` on `address`:`port`, serving `file.txt`.
        func startServer(in namespace: String? = nil, address: String = "10.77.0.2", port: Int = 8000) async throws -> ChildProcess {
            let process = try namespaces.start(namespace ?? server, "python3", ["-u", "-m", "http.server", String(port), "--bind", address, "--directory", directory])
            servers.append(process)
            _ = try await process.waitForStdout(containing: "Serving HTTP")
            return process
        }

        /// `replayd record --transparent` in `namespace`, listening on `listen`.
        func startRecorder(in namespace: String? = nil, listen: String = "127.0.0.1:\(listenPort)", _ options: [String] = []) async throws -> ChildProcess {
            let recorder = try namespaces.start(namespace ?? client, TestPaths.replayd,
                                                ["record", "--transparent", "--listen", listen, "-o", cassette, "--connect-timeout", "3"] + options)
            _ = try await recorder.listeningPort()
            return recorder
        }

        /// curl in `namespace` (the client's by default): exit status, body, stderr.
        func curl(_ url: String, in namespace: String? = nil) async throws -> (status: Int32, body: String, stderr: String) {
            let curl = try namespaces.start(namespace ?? client, "curl", ["-sS", "-g", "--max-time", "8", url])
            let status = try await curl.wait(timeout: 15)
            return (status, curl.stdout, curl.stderr)
        }

        /// Stops the recorder (SIGINT flushes the cassette) and loads what it wrote.
        func finish(_ recorder: ChildProcess) async throws -> Cassette {
            let status = try await ReplaydProcess.finish(recorder)
            #expect(status == 0, "stderr: \(recorder.stderr)")
            return try Cassette.load(path: cassette)
        }

        deinit {
            for server in servers { server.stop() }
            namespaces.remove()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The OUTPUT rule for a local client, leaving replayd's marked sockets alone.
    static func outputRule(_ tool: String = "iptables", destination: String = "10.77.0.2", ports: String = "8000") -> [String] {
        [tool, "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", destination, "-m", "multiport", "--dports", ports,
         "-m", "mark", "!", "--mark", mark, "-j", "REDIRECT", "--to-ports", String(listenPort)]
    }

    @Test("a local client redirected by iptables OUTPUT reaches the real server; the session names the server's address")
    func localClientIPv4() async throws {
        let lab = try await Lab.make()
        let server = try await lab.startServer()
        try await lab.namespaces.run(lab.client, Self.outputRule())
        let recorder = try await lab.startRecorder(["--mark", Self.mark])
        let got = try await lab.curl("http://10.77.0.2:8000/file.txt")
        #expect(got.status == 0, "curl: \(got.stderr)\nreplayd: \(recorder.stderr)")
        #expect(got.body == lab.body)
        // The real server saw the request, from the client namespace's address.
        _ = try await server.waitForStderr(containing: "GET /file.txt", timeout: 5)
        let cassette = try await lab.finish(recorder)
        let session = try #require(cassette.sessions.first)
        #expect(cassette.sessions.count == 1)
        #expect(session.open.server == "10.77.0.2:8000")
        #expect(session.open.client.hasPrefix("10.77.0.1:"))
        #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self).hasSuffix(lab.body))
        #expect(String(decoding: session.bytes(.clientToServer), as: UTF8.self).hasPrefix("GET /file.txt HTTP/1.1\r\nHost: 10.77.0.2:8000\r\n"))
        #expect(cassette.header.details["upstream"] == "transparent")
    }

    @Test("IPv6: ip6tables OUTPUT REDIRECT to [::1], the original destination read with IP6T_SO_ORIGINAL_DST",
          .enabled(if: ChildProcess.isInstalled("ip6tables"), "ip6tables is not installed"))
    func localClientIPv6() async throws {
        let lab = try await Lab.make()
        _ = try await lab.startServer(address: "fd00:77::2")
        try await lab.namespaces.run(lab.client, Self.outputRule("ip6tables", destination: "fd00:77::2"))
        let recorder = try await lab.startRecorder(listen: "[::1]:\(Self.listenPort)", ["--mark", Self.mark])
        let got = try await lab.curl("http://[fd00:77::2]:8000/file.txt")
        #expect(got.status == 0, "curl: \(got.stderr)\nreplayd: \(recorder.stderr)")
        #expect(got.body == lab.body)
        let cassette = try await lab.finish(recorder)
        let session = try #require(cassette.sessions.first)
        #expect(session.open.server == "[fd00:77::2]:8000")
        #expect(session.open.client.hasPrefix("[fd00:77::1]:"))
        #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self).hasSuffix(lab.body))
    }

    @Test("one listener on [::] takes both: IPv4 redirects (read with SO_ORIGINAL_DST on a dual-stack socket) and IPv6 ones",
          .enabled(if: ChildProcess.isInstalled("ip6tables"), "ip6tables is not installed"))
    func dualStackListener() async throws {
        let lab = try await Lab.make()
        _ = try await lab.startServer(address: "::")
        try await lab.namespaces.run(lab.client, Self.outputRule())
        try await lab.namespaces.run(lab.client, Self.outputRule("ip6tables", destination: "fd00:77::2"))
        let recorder = try await lab.startRecorder(listen: "[::]:\(Self.listenPort)", ["--mark", Self.mark])
        for url in ["http://10.77.0.2:8000/file.txt", "http://[fd00:77::2]:8000/file.txt"] {
            let got = try await lab.curl(url)
            #expect(got.status == 0, "\(url): \(got.stderr)\nreplayd: \(recorder.stderr)")
            #expect(got.body == lab.body)
        }
        let cassette = try await lab.finish(recorder)
        #expect(cassette.sessions.map(\.open.server) == ["10.77.0.2:8000", "[fd00:77::2]:8000"])
    }

    @Test("a dedicated user instead of a mark: -m owner ! --uid-owner lets replayd's sockets through",
          .enabled(if: ChildProcess.isInstalled("setpriv"), "setpriv is not installed"))
    func ownerExclusion() async throws {
        let lab = try await Lab.make()
        _ = try await lab.startServer()
        try await lab.namespaces.run(lab.client, ["iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.77.0.2", "--dport", "8000",
                                            "-m", "owner", "!", "--uid-owner", "65534", "-j", "REDIRECT", "--to-ports", String(Self.listenPort)])
        // replayd runs as nobody, who must be able to write the cassette.
        chmod(lab.directory, 0o777)
        let recorder = try lab.namespaces.start(lab.client, "setpriv", [
            "--reuid=65534", "--regid=65534", "--clear-groups", TestPaths.replayd,
            "record", "--transparent", "--listen", "127.0.0.1:\(Self.listenPort)", "-o", lab.cassette,
        ])
        _ = try await recorder.listeningPort()
        let got = try await lab.curl("http://10.77.0.2:8000/file.txt")
        #expect(got.status == 0, "curl: \(got.stderr)\nreplayd: \(recorder.stderr)")
        #expect(got.body == lab.body)
        let cassette = try await lab.finish(recorder)
        #expect(cassette.sessions.map(\.open.server) == ["10.77.0.2:8000"])
    }

    @Test("a gateway: PREROUTING REDIRECT of a forwarded client's connection, three namespaces, no mark needed")
    func gateway() async throws {
        let namespaces = try await NetworkNamespaces.create(["c", "g", "s"])
        defer { namespaces.remove() }
        let (client, gateway, server) = (namespaces.names[0], namespaces.names[1], namespaces.names[2])
        try await namespaces.link(client, "eth0", ["10.1.0.2/24"], to: gateway, "lan", ["10.1.0.1/24"])
        try await namespaces.link(gateway, "wan", ["10.2.0.1/24"], to: server, "eth0", ["10.2.0.2/24"])
        try await namespaces.run(client, ["ip", "route", "add", "default", "via", "10.1.0.1"])
        try await namespaces.run(server, ["ip", "route", "add", "default", "via", "10.2.0.1"])
        try await namespaces.run(gateway, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        let directory = try TestPaths.temporaryDirectory("transparent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let body = "gateway \(UUID().uuidString)\n"
        try Data(body.utf8).write(to: URL(fileURLWithPath: directory + "/file.txt"))
        let http = try namespaces.start(server, "python3", ["-u", "-m", "http.server", "8000", "--bind", "10.2.0.2", "--directory", directory])
        defer { http.stop() }
        _ = try await http.waitForStdout(containing: "Serving HTTP")
        try await namespaces.run(gateway, ["iptables", "-t", "nat", "-A", "PREROUTING", "-i", "lan", "-p", "tcp", "--dport", "8000",
                                     "-j", "REDIRECT", "--to-ports", String(Self.listenPort)])
        let cassettePath = directory + "/g.cassette"
        let recorder = try namespaces.start(gateway, TestPaths.replayd, ["record", "--transparent", "--listen", "10.1.0.1:\(Self.listenPort)", "-o", cassettePath])
        _ = try await recorder.listeningPort()
        let curl = try namespaces.start(client, "curl", ["-sS", "--max-time", "8", "http://10.2.0.2:8000/file.txt"])
        let status = try await curl.wait(timeout: 15)
        #expect(status == 0, "curl: \(curl.stderr)\nreplayd: \(recorder.stderr)")
        #expect(curl.stdout == body)
        #expect(try await ReplaydProcess.finish(recorder) == 0)
        let cassette = try Cassette.load(path: cassettePath)
        let session = try #require(cassette.sessions.first)
        #expect(session.open.server == "10.2.0.2:8000")
        #expect(session.open.client.hasPrefix("10.1.0.2:"))
        #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self).hasSuffix(body))
    }

    @Test("without --mark the OUTPUT rule catches replayd's own upstream connection: refused as a loop, the server never asked")
    func ownUpstreamLoopIsRefused() async throws {
        let lab = try await Lab.make()
        let server = try await lab.startServer()
        // The same rule as with --mark: only the mark would make it let replayd's sockets through.
        try await lab.namespaces.run(lab.client, Self.outputRule())
        let recorder = try await lab.startRecorder()
        let got = try await lab.curl("http://10.77.0.2:8000/file.txt")
        #expect(got.status != 0, "curl got: \(got.body)")
        _ = try await recorder.waitForStderr(containing: "is one of replayd's own upstream connections, redirected back to the listener", timeout: 5)
        #expect(!server.stderr.contains("GET /file.txt"))
        let cassette = try await lab.finish(recorder)
        // One session, curl's, named for the server; the looped-back connection is not a session.
        #expect(cassette.sessions.count == 1)
        #expect(cassette.sessions.first?.open.server == "10.77.0.2:8000")
    }

    @Test("a connection made straight to the listener is refused: its original destination is the listener itself")
    func directConnectionIsRefused() async throws {
        let lab = try await Lab.make()
        // With a REDIRECT rule in place, as in real use, conntrack keeps a NAT entry for every
        // connection, the direct one included (without any, it is refused as not redirected).
        try await lab.namespaces.run(lab.client, Self.outputRule())
        let recorder = try await lab.startRecorder()
        let got = try await lab.curl("http://127.0.0.1:\(Self.listenPort)/file.txt")
        #expect(got.status != 0, "curl got: \(got.body)")
        _ = try await recorder.waitForStderr(containing: "its original destination 127.0.0.1:\(Self.listenPort) is replayd's own listener", timeout: 5)
        let cassette = try await lab.finish(recorder)
        #expect(cassette.sessions.isEmpty)
    }

    @Test("--upstream is an allow-list: a redirected connection to another destination is refused, named in the log")
    func allowList() async throws {
        let lab = try await Lab.make()
        _ = try await lab.startServer(port: 8000)
        let other = try await lab.startServer(port: 8001)
        try await lab.namespaces.run(lab.client, Self.outputRule(ports: "8000,8001"))
        let recorder = try await lab.startRecorder(["--mark", Self.mark, "--upstream", "10.77.0.2:8000"])
        let refused = try await lab.curl("http://10.77.0.2:8001/file.txt")
        #expect(refused.status != 0, "curl got: \(refused.body)")
        _ = try await recorder.waitForStderr(containing: "its original destination 10.77.0.2:8001 is not among --upstream 10.77.0.2:8000", timeout: 5)
        #expect(!other.stderr.contains("GET /file.txt"))
        let allowed = try await lab.curl("http://10.77.0.2:8000/file.txt")
        #expect(allowed.status == 0, "curl: \(allowed.stderr)\nreplayd: \(recorder.stderr)")
        #expect(allowed.body == lab.body)
        let cassette = try await lab.finish(recorder)
        #expect(cassette.sessions.map(\.open.server) == ["10.77.0.2:8000"])
        #expect(cassette.header.details["upstream"] == "transparent: 10.77.0.2:8000")
    }

    @Test("nftables: one inet table redirects IPv4 and IPv6, with a meta mark exclusion",
          .enabled(if: ChildProcess.isInstalled("nft"), "nft is not installed"))
    func nftables() async throws {
        let lab = try await Lab.make()
        _ = try await lab.startServer(address: "::")
        for rule in [
            // One table of family inet for IPv4 and IPv6, as docs/transparent.md shows.
            ["nft", "add", "table", "inet", "replayd"],
            ["nft", "add", "chain", "inet", "replayd", "output", "{ type nat hook output priority -100 ; }"],
            ["nft", "add", "rule", "inet", "replayd", "output", "tcp", "dport", "8000", "meta", "mark", "!=", Self.mark,
             "redirect", "to", ":\(Self.listenPort)"],
        ] {
            try await lab.namespaces.run(lab.client, rule)
        }
        let recorder = try await lab.startRecorder(listen: "[::]:\(Self.listenPort)", ["--mark", Self.mark])
        for url in ["http://10.77.0.2:8000/file.txt", "http://[fd00:77::2]:8000/file.txt"] {
            let got = try await lab.curl(url)
            #expect(got.status == 0, "\(url): \(got.stderr)\nreplayd: \(recorder.stderr)")
            #expect(got.body == lab.body)
        }
        let cassette = try await lab.finish(recorder)
        #expect(cassette.sessions.map(\.open.server) == ["10.77.0.2:8000", "[fd00:77::2]:8000"])
    }
}

/// The command line of `record --transparent`, through the real binary (no namespaces needed).
@Suite("Transparent record options", .timeLimit(.minutes(1)))
struct TransparentOptionTests {
    func run(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        let directory = try TestPaths.temporaryDirectory("transparent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "-o", directory + "/x.cassette"] + arguments)
        let status = try await record.wait(timeout: 20)
        return (status, record.stderr)
    }

    @Test("without --transparent, --upstream is required, once")
    func upstreamRequired() async throws {
        let none = try await run([])
        #expect(none.status == 64)
        #expect(none.stderr.contains("missing --upstream HOST:PORT (or --transparent"), "\(none.stderr)")
        let two = try await run(["--upstream", "127.0.0.1:1", "--upstream", "127.0.0.1:2"])
        #expect(two.status == 64)
        #expect(two.stderr.contains("--upstream is given 2 times"), "\(two.stderr)")
    }

    @Test("--mark without --transparent is a usage error")
    func markNeedsTransparent() async throws {
        let got = try await run(["--upstream", "127.0.0.1:1", "--mark", "7"])
        #expect(got.status == 64)
        #expect(got.stderr.contains("--mark marks the upstream sockets of --transparent"), "\(got.stderr)")
    }

    @Test("a malformed allow-list entry is a usage error naming it")
    func badAllowListEntry() async throws {
        let got = try await run(["--transparent", "--upstream", "10.0.0.1"])
        #expect(got.status == 64)
        #expect(got.stderr.contains("--upstream 10.0.0.1: \"10.0.0.1\" is not an address"), "\(got.stderr)")
    }

    @Test("--mark without CAP_NET_ADMIN fails at start with what to do",
          .enabled(if: getuid() == 0 && ChildProcess.isInstalled("setpriv"), "needs root and setpriv to drop the capability"))
    func markWithoutPermission() async throws {
        let directory = try TestPaths.temporaryDirectory("transparent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Root without CAP_NET_ADMIN and CAP_NET_RAW (either allows SO_MARK): dropped from the
        // bounding set, so replayd never has them.
        let record = try ChildProcess("setpriv", ["--bounding-set", "-net_admin,-net_raw", "--inh-caps", "-net_admin,-net_raw", TestPaths.replayd,
                                                  "record", "--transparent", "--mark", "7", "--listen", "127.0.0.1:0", "-o", directory + "/x.cassette"])
        let status = try await record.wait(timeout: 20)
        #expect(status == 74)
        #expect(record.stderr.contains("cannot mark upstream sockets with --mark 7 (SO_MARK): it needs CAP_NET_ADMIN or CAP_NET_RAW"), "\(record.stderr)")
        #expect(!record.stderr.contains("listening on"))
    }
}
