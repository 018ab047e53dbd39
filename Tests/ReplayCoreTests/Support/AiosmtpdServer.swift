import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The aiosmtpd server of `fixtures/peers/smtp-server.py` on a port the OS picked: accepts
/// mail for @example.net, 550 for nobody@example.net, 554 for other domains; optionally slow
/// before its banner and before each RCPT reply.
final class AiosmtpdServer {
    let process: ChildProcess
    let port: Int

    init(bannerDelay: Double = 0, rcptDelay: Double = 0) async throws {
        process = try ChildProcess("python3", [
            TestPaths.fixture("peers/smtp-server.py"),
            "--banner-delay", String(bannerDelay), "--rcpt-delay", String(rcptDelay), "--lifetime", "170",
        ])
        let output = try await process.waitForStdout(containing: "ready ")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }),
              let port = Int(line.dropFirst(6)) else {
            process.stop()
            throw ChildProcessError.missingOutput(name: "smtp-server.py", expected: "ready PORT",
                                                  stderr: output + process.stderr + "\n(aiosmtpd missing? run scripts/install-deps.sh)")
        }
        self.port = port
    }

    /// Stops the server and waits (bounded) until it has gone, so that nothing but a cassette answers.
    func stop() {
        process.signal(SIGTERM)
        for _ in 0..<50 where process.process.isRunning { usleep(20_000) }
        process.stop()
    }

    deinit { stop() }
}
