import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `dnsmasq` answering fixed A records on a free loopback port (UDP and TCP), reading
/// no configuration, no hosts file and no upstream servers of the machine.
final class DnsmasqServer {
    /// The shell that started dnsmasq and waits for it (see `init`).
    let process: ChildProcess
    let port: Int
    private let pidFile: String

    /// Starts dnsmasq answering each name in `records` with its IPv4 address; `directory`
    /// holds its pid file.
    ///
    /// dnsmasq closes every file descriptor it inherited, the one Foundation's `Process` uses
    /// to notice a child's exit included; Foundation then waits for dnsmasq in a blocking
    /// `waitpid` on its one monitoring thread, and no other child's exit is seen until dnsmasq
    /// ends (dig and replayd would look hung). So a shell is the child: it keeps that
    /// descriptor, runs dnsmasq and waits for it.
    init(records: [(name: String, address: String)], directory: String) async throws {
        port = try LoopbackPort.free()
        pidFile = directory + "/dnsmasq.pid"
        let arguments = [
            try ChildProcess.which("dnsmasq"),
            "--keep-in-foreground", "--port", String(port), "--listen-address", "127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=\(pidFile)",
            // Root in CI: without these dnsmasq drops to user "nobody", which may not exist in a container.
            "--user=root", "--group=root", "--log-facility=-",
        ] + records.map { "--address=/\($0.name)/\($0.address)" }
        process = try ChildProcess("/bin/sh", ["-c", #"trap 'kill "$child" 2>/dev/null' TERM INT; "$@" & child=$!; wait "$child""#, "sh"] + arguments)
        do {
            try await LoopbackPort.waitForListener(port: port, process: process)
        } catch {
            stop()
            throw error
        }
    }

    /// Runs `dig +tcp` for an A record of `name` at 127.0.0.1:`port` and returns its whole output.
    static func dig(port: Int, _ name: String) async throws -> String {
        let dig = try ChildProcess("dig", ["+tcp", "+time=5", "+tries=1", "-p", String(port), "@127.0.0.1", name, "A"])
        do {
            try await dig.wait(timeout: 12)
        } catch ChildProcessError.timedOut {
            // dig gives up on silence after 5 s; one still running kept reading answers that are
            // not its own. Return what it printed so that the test fails showing it.
            return dig.stdout + dig.stderr + "\n(dig did not exit within 12 s: killed)"
        }
        return dig.stdout + dig.stderr
    }

    /// The records of the ANSWER SECTION of a dig output, as (name, address) of each A line.
    static func answers(inDigOutput output: String) -> [(name: String, address: String)] {
        var inAnswer = false
        var records: [(String, String)] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(";; ANSWER SECTION:") { inAnswer = true; continue }
            if inAnswer {
                if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix(";;") { break }
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.count >= 5, fields[3] == "A" { records.append((String(fields[0]), String(fields[4]))) }
            }
        }
        return records
    }

    /// Stops dnsmasq itself (from its pid file: the shell may be killed before it passes the
    /// signal on), bounded to 2 s, then the shell.
    func stop() {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: pidFile)
        }
        process.stop()
    }

    deinit { stop() }
}
