import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Python's `http.server` serving the files of one folder on a loopback port the OS picked.
final class HTTPFileServer {
    let process: ChildProcess
    let port: Int

    init(serving directory: String) async throws {
        // -u: the "Serving HTTP on ... port N" line must reach the file unbuffered.
        process = try ChildProcess("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory])
        let marker = " port "
        let output = try await process.waitForStdout(containing: "(http://")
        guard let range = output.range(of: marker),
              let port = Int(output[range.upperBound...].prefix { $0.isNumber }) else {
            process.stop()
            throw ChildProcessError.missingOutput(name: "http.server", expected: "Serving HTTP on 127.0.0.1 port N", stderr: output)
        }
        self.port = port
        try await LoopbackPort.waitForListener(port: port, process: process)
    }

    /// Fetches `path` with curl into `output`, with `extra` arguments (headers, agent); returns curl's exit status.
    static func curl(port: Int, path: String, output: String, extra: [String] = []) async throws -> (status: Int32, stderr: String) {
        let curl = try ChildProcess("curl", ["-sS", "--max-time", "15", "-o", output] + extra + ["http://127.0.0.1:\(port)\(path)"])
        let status = try await curl.wait(timeout: 20)
        return (status, curl.stderr)
    }

    func stop() { process.stop() }

    deinit { stop() }
}
