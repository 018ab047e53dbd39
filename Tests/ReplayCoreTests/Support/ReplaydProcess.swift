import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `replayd` binary started by a test: a recorder in front of a real server, or a
/// replayer serving cassettes, each on a port the OS picked (`--listen 127.0.0.1:0`).
enum ReplaydProcess {
    /// Starts `replayd record` in front of 127.0.0.1:`upstream`, writing `cassette`; returns it and its port.
    static func record(upstream: Int, to cassette: String, _ options: [String] = []) async throws -> (ChildProcess, Int) {
        let recorder = try ChildProcess(TestPaths.replayd, ["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream)", "-o", cassette] + options)
        do {
            return (recorder, try await recorder.listeningPort())
        } catch {
            recorder.stop()
            throw error
        }
    }

    /// Stops a recorder with SIGINT (which flushes the cassette) and returns its exit status.
    @discardableResult
    static func finish(_ recorder: ChildProcess) async throws -> Int32 {
        recorder.signal(SIGINT)
        return try await recorder.wait(timeout: 15)
    }

    /// Starts `replayd replay CASSETTES... --listen 127.0.0.1:0 OPTIONS`; returns it and its port.
    static func replay(_ cassettes: [String], _ options: [String] = []) async throws -> (ChildProcess, Int) {
        let replayer = try ChildProcess(TestPaths.replayd, ["replay"] + cassettes + ["--listen", "127.0.0.1:0"] + options)
        do {
            return (replayer, try await replayer.listeningPort())
        } catch {
            replayer.stop()
            throw error
        }
    }

    /// The stderr lines of `replayer` that explain a mismatch (`mismatch: connection N, ...`).
    /// Summary lines that only count mismatches ("1 mismatched", "closed after a mismatch",
    /// "connections with mismatches") are not explanations and are left out.
    static func mismatchLines(_ replayer: ChildProcess) -> [String] {
        replayer.stderr.split(separator: "\n").map(String.init).filter { $0.localizedCaseInsensitiveContains("mismatch:") }
    }
}
