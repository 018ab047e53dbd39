import Foundation
import Testing
@testable import ReplayCore

/// The README's exit-code table and the one error format, checked on the real binary for every
/// subcommand: `replayd: error: ...` naming what is concerned, and 64 for usage, 65 for bad
/// input data, 74 for I/O, 2 for a peer that cannot be reached.
@Suite("Exit codes and the error format")
struct ExitStatusTests {
    static let cassette = TestPaths.fixture("smtp-rcpt-450.cassette")
    static let pcap = TestPaths.fixture("captures/http-snaplen96-zeek.pcap")
    static let pcapng = TestPaths.fixture("captures/pcapng-126idb-ldap-gap-zeek.pcapng")

    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var status: Int32
        /// Text stderr must contain after `replayd: error: `.
        var says: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        // Usage (64): the parser's errors and ours, in the same format.
        Case(arguments: ["frobnicate"], status: 64, says: "Unexpected argument 'frobnicate'"),
        Case(arguments: ["replay", cassette, "--listen", "2525", "--speed", "-1"], status: 64, says: "--speed must be a number greater than 0, got -1.0"),
        Case(arguments: ["replay", cassette, "--listen", "2525", "--hold", "-1"], status: 64, says: "--hold must be 0 or more seconds, got -1.0"),
        Case(arguments: ["replay", cassette, "--listen", "2525", "--threads", "0"], status: 64, says: "--threads must be from 1 to 256"),
        Case(arguments: ["replay", cassette, "--listen", "127.0.0.1:0", "--session", "9"], status: 64, says: "--session 9: no such session"),
        Case(arguments: ["replay", cassette, "--listen", "banana:x"], status: 64, says: "--listen: "),
        Case(arguments: ["record", "--listen", "0", "--upstream", "127.0.0.1:1", "-o", "/tmp/x.cassette", "--connect-timeout", "-2"], status: 64,
             says: "--connect-timeout must be a positive number of seconds"),
        Case(arguments: ["record", "--listen", "0", "--upstream", "127.0.0.1:1", "-o", cassette], status: 64, says: "exists; use --force to replace it or --append"),
        Case(arguments: ["capture", "-i", "nosuch0", "-o", "/tmp/never.cassette", "--duration", "-3"], status: 64, says: "--duration must be a positive number of seconds"),
        Case(arguments: ["show", cassette, "--session", "7"], status: 64, says: "no session 7"),
        Case(arguments: ["cat", cassette, "--session", "0", "--dir", "c2s"], status: 64, says: "no session 0"),
        Case(arguments: ["import", pcap, "-o", "/tmp/never.cassette", "tcp", "port", "banana"], status: 64, says: "bad capture filter"),
        Case(arguments: ["redact", cassette, "-o", cassette], status: 64, says: "is the input cassette"),
        // Bad input data (65): a capture where a cassette belongs says how to make one.
        Case(arguments: ["replay", pcap, "--listen", "127.0.0.1:0"], status: 65,
             says: "not a replayd cassette: it is a pcap capture; make a cassette of it first: replayd import \(pcap) -o http-snaplen96-zeek.cassette"),
        Case(arguments: ["show", pcapng], status: 65, says: "it is a pcapng capture; make a cassette of it first: replayd import"),
        Case(arguments: ["export", pcap, "-o", "/tmp/never.pcap"], status: 65, says: "it is a pcap capture"),
        Case(arguments: ["import", cassette, "-o", "/tmp/never.cassette"], status: 65, says: "it is a replayd cassette already"),
        // I/O (74): a file that is not there.
        Case(arguments: ["show", "/nonexistent/a.cassette"], status: 74, says: "/nonexistent/a.cassette: cannot open: No such file or directory"),
        Case(arguments: ["import", "/nonexistent/a.pcap", "-o", "/tmp/never.cassette"], status: 74, says: "/nonexistent/a.pcap: cannot read capture"),
    ]

    @Test("each error has its exit code and the one format", arguments: cases)
    func errorFormat(_ example: Case) async throws {
        let child = try ChildProcess(TestPaths.replayd, example.arguments)
        let status = try await child.wait(timeout: 30)
        #expect(status == example.status, "stderr: \(child.stderr)")
        #expect(child.stderr.hasPrefix("replayd: error: "), "stderr: \(child.stderr)")
        #expect(child.stderr.contains(example.says), "stderr: \(child.stderr)")
        #expect(!child.stderr.contains("Error: "), "the parser's own prefix leaked: \(child.stderr)")
    }

    @Test("a busy port names the address and says what to do, with no internal names")
    func busyPort() async throws {
        let (holder, port) = try await ReplaydProcess.replay([Self.cassette], ["--quiet"])
        defer { holder.stop() }
        for command in [["replay", Self.cassette, "--listen", "127.0.0.1:\(port)"],
                        ["record", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:1", "-o", NSTemporaryDirectory() + "busy-\(UUID().uuidString).cassette"]] {
            let child = try ChildProcess(TestPaths.replayd, command)
            let status = try await child.wait(timeout: 30)
            #expect(status == 74, "stderr: \(child.stderr)")
            #expect(child.stderr.hasPrefix("replayd: error: cannot listen on 127.0.0.1:\(port): address already in use (another program listens on that port"), "stderr: \(child.stderr)")
            #expect(!child.stderr.contains("descriptor"), "stderr: \(child.stderr)")
            #expect(!child.stderr.contains("errno"), "stderr: \(child.stderr)")
        }
    }

    @Test("--help and --version still exit 0 and print to stdout")
    func helpAndVersion() async throws {
        for arguments in [["--help"], ["replay", "--help"], ["--version"]] {
            let child = try ChildProcess(TestPaths.replayd, arguments)
            let status = try await child.wait(timeout: 30)
            #expect(status == 0, "\(arguments): \(child.stderr)")
            #expect(!child.stdout.isEmpty)
        }
    }
}
