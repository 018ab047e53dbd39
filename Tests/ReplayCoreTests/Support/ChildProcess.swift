import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program started by a test, with its output collected and a hard deadline, so that a
/// stuck peer fails the test instead of hanging CI.
final class ChildProcess {
    let process = Process()
    /// What the program printed, filled by the pipes' handlers on their own threads.
    /// Files the child's stdout and stderr go to. Files, not pipes: a pipe's end of file never
    /// comes while any other process holds its write end, and programs that parallel tests start
    /// at the same moment inherit each other's pipe ends. A file is complete once the child exits.
    private let stdoutPath: String
    private let stderrPath: String
    let name: String

    /// Starts `executable` with `arguments`. `stdin` is written then closed when given.
    init(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws {
        name = (executable as NSString).lastPathComponent
        let path = executable.hasPrefix("/") ? executable : try ChildProcess.which(executable)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let stem = NSTemporaryDirectory() + "replayd-child-\(UUID().uuidString.prefix(12))"
        stdoutPath = stem + ".out"
        stderrPath = stem + ".err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
              FileManager.default.createFile(atPath: stderrPath, contents: nil),
              let out = FileHandle(forWritingAtPath: stdoutPath),
              let err = FileHandle(forWritingAtPath: stderrPath)
        else { throw ChildProcessError.cannotCapture(name) }
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardOutput = out
        process.standardError = err
        let input = stdin.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        // Test threads (libdispatch workers) block every signal and a spawned child inherits the
        // mask, so `signal(SIGINT)` would never reach it. Spawn with nothing blocked.
        var unblocked = sigset_t(), previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        if let stdin, let input {
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
        }
    }

    /// What the program printed on stdout so far (all of it once it has exited).
    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    /// What the program printed on stderr so far.
    var stderr: String { String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self) }
    var stdoutBytes: [UInt8] { [UInt8](FileManager.default.contents(atPath: stdoutPath) ?? Data()) }

    /// Waits for the program to exit, killing it after `timeout` seconds. Returns its exit status.
    @discardableResult
    func wait(timeout: Double = 30) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                try await Task.sleep(for: .milliseconds(200))
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw ChildProcessError.timedOut(name: name, seconds: timeout, stderr: stderr)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// Waits until stderr contains `text` (or the deadline passes) and returns stderr.
    func waitForStderr(containing text: String, timeout: Double = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = stderr
            if current.contains(text) { return current }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // A busy machine can resume this task after the deadline although the text came in time.
        let last = stderr
        if last.contains(text) { return last }
        throw ChildProcessError.missingOutput(name: name, expected: text, stderr: last)
    }

    /// Waits until stdout contains `text` (or the deadline passes) and returns stdout.
    func waitForStdout(containing text: String, timeout: Double = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = stdout
            if current.contains(text) { return current }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let last = stdout
        if last.contains(text) { return last }
        throw ChildProcessError.missingOutput(name: name, expected: text, stderr: last + stderr)
    }

    /// The port of a replayd server, from the `listening on HOST:PORT` line it prints when ready.
    func listeningPort(timeout: Double = 20) async throws -> Int {
        let text = try await waitForStderr(containing: "listening on ", timeout: timeout)
        guard let range = text.range(of: "listening on "),
              let line = text[range.upperBound...].split(separator: "\n").first,
              let colon = line.lastIndex(of: ":"),
              let port = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        else { throw ChildProcessError.missingOutput(name: name, expected: "listening on HOST:PORT", stderr: text) }
        return port
    }

    /// Sends a signal (SIGINT, SIGTERM) to the program.
    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Stops the program if it still runs.
    func stop() {
        if process.isRunning {
            process.terminate()
            usleep(100_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    /// Full path of a program on PATH.
    static func which(_ name: String) throws -> String {
        // Typed as [String]: without it, `split + [literals]` infers [[Character]] and no path ever matches.
        let directories: [String] = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/bin"]
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ChildProcessError.notInstalled(name)
    }

    /// Whether a program is installed.
    static func isInstalled(_ name: String) -> Bool { (try? which(name)) != nil }
}

enum ChildProcessError: Error, CustomStringConvertible {
    case notInstalled(String)
    case cannotCapture(String)
    case timedOut(name: String, seconds: Double, stderr: String)
    case missingOutput(name: String, expected: String, stderr: String)

    var description: String {
        switch self {
        case .notInstalled(let name): return "\(name) is not installed; run scripts/install-deps.sh"
        case .cannotCapture(let name): return "cannot create the files to capture \(name)'s output in \(NSTemporaryDirectory())"
        case .timedOut(let name, let seconds, let stderr): return "\(name) did not exit within \(seconds)s; stderr:\n\(stderr)"
        case .missingOutput(let name, let expected, let stderr): return "\(name) never printed \"\(expected)\"; stderr:\n\(stderr)"
        }
    }
}

/// Paths tests need.
enum TestPaths {
    /// The package root (the folder holding Package.swift).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The `replayd` executable built next to the test bundle.
    static let replayd: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The XCTest bundle is a folder on Darwin; on Linux the test binary sits beside replayd.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("replayd").path
    }()

    static func fixture(_ name: String) -> String { "\(packageRoot)/fixtures/\(name)" }

    /// `../shared/captures` beside the repository, when present. The environment variable
    /// `REPLAYD_SHARED_CAPTURES` names another place (a worktree whose parent has no `shared`).
    static var sharedCaptures: String? {
        if let override = ProcessInfo.processInfo.environment["REPLAYD_SHARED_CAPTURES"], !override.isEmpty {
            return FileManager.default.fileExists(atPath: override) ? override : nil
        }
        let path = URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/captures").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// A new empty folder, removed by the caller when done.
    static func temporaryDirectory(_ label: String = "test") throws -> String {
        let path = NSTemporaryDirectory() + "replayd-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
