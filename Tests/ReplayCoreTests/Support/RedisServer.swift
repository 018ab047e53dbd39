import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` on a free loopback port, keeping nothing on disk.
final class RedisServer {
    let process: ChildProcess
    let port: Int

    /// Starts the server with its working directory in `directory` (nothing is written there:
    /// no RDB snapshot, no append-only file) and waits until it accepts connections.
    init(directory: String) async throws {
        port = try LoopbackPort.free()
        process = try ChildProcess("redis-server", [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", directory, "--protected-mode", "yes",
        ])
        do {
            try await LoopbackPort.waitForListener(port: port, process: process)
        } catch {
            process.stop()
            throw error
        }
    }

    /// Runs `redis-cli -p PORT --no-raw ARGS...` against `port` (this server's by default) and
    /// returns what it printed; `--no-raw` makes a missing key print `(nil)` and strings quoted.
    static func cli(port: Int, _ arguments: [String]) async throws -> String {
        let cli = try ChildProcess("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--no-raw"] + arguments)
        let status = try await cli.wait(timeout: 15)
        guard status == 0 else {
            throw ChildProcessError.missingOutput(name: "redis-cli \(arguments.joined(separator: " "))", expected: "exit status 0, got \(status)", stderr: cli.stdout + cli.stderr)
        }
        return cli.stdout
    }

    func stop() { process.stop() }

    deinit { stop() }
}
