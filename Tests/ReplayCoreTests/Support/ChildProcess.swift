import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program started by a test, with its output collected and a hard deadline, so that a
/// stuck peer fails the test instead of hanging CI.
final class ChildProcess: @unchecked Sendable {
    // @unchecked: Process and Pipe are not Sendable; all access happens through the lock below.
    let process = Process()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    let name: String

    /// Starts `executable` with `arguments`. `stdin` is written then closed when given.
    init(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws {
        name = (executable as NSString).lastPathComponent
        let path = executable.hasPrefix("/") ? executable : try ChildProcess.which(executable)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stdoutData.append(data); self.lock.unlock()
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stderrData.append(data); self.lock.unlock()
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stdoutData, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stderrData, as: UTF8.self) }
    var stdoutBytes: [UInt8] { lock.lock(); defer { lock.unlock() }; return [UInt8](stdoutData) }

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
        // Let the readability handlers drain what the pipes still hold.
        try await Task.sleep(for: .milliseconds(50))
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
        throw ChildProcessError.missingOutput(name: name, expected: text, stderr: stderr)
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

    deinit { stop() }

    /// Full path of a program on PATH.
    static func which(_ name: String) throws -> String {
        // map(String.init): without it `[Substring] + [literal]` infers [Any] and nothing is ever found.
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/sbin", "/usr/local/bin"]
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
    case timedOut(name: String, seconds: Double, stderr: String)
    case missingOutput(name: String, expected: String, stderr: String)

    var description: String {
        switch self {
        case .notInstalled(let name): return "\(name) is not installed; run scripts/install-deps.sh"
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

    /// `../shared/captures` beside the repository, when present.
    static var sharedCaptures: String? {
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
