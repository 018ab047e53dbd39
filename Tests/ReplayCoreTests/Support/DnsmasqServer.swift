import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `dnsmasq` answering fixed A records on a free loopback port (UDP and TCP), reading
/// no configuration, no hosts file and no upstream servers of the machine.
final class DnsmasqServer {
    let process: ChildProcess
    let port: Int

    /// Starts dnsmasq answering each name in `records` with its IPv4 address; `directory`
    /// holds its pid file.
    init(records: [(name: String, address: String)], directory: String) async throws {
        port = try LoopbackPort.free()
        process = try ChildProcess("dnsmasq", [
            "--no-daemon", "--port", String(port), "--listen-address", "127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=\(directory)/dnsmasq.pid",
            // Root in CI: without these dnsmasq drops to user "nobody", which may not exist in a container.
            "--user=root", "--group=root", "--log-facility=-",
        ] + records.map { "--address=/\($0.name)/\($0.address)" })
        do {
            try await LoopbackPort.waitForListener(port: port, process: process)
        } catch {
            process.stop()
            throw error
        }
    }

    /// Runs `dig +tcp` for an A record of `name` at 127.0.0.1:`port` and returns its whole output.
    static func dig(port: Int, _ name: String) async throws -> String {
        let dig = try ChildProcess("dig", ["+tcp", "+time=5", "+tries=1", "-p", String(port), "@127.0.0.1", name, "A"])
        try await dig.wait(timeout: 20)
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

    func stop() { process.stop() }

    deinit { stop() }
}
