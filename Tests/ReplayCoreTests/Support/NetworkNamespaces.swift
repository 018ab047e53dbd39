import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Network namespaces a test creates (`ip netns add`), joined by veth pairs, with programs
/// started inside them (`ip netns exec`), and removed with everything still running in them.
/// Names carry the test process's pid and a random part, so parallel tests and a crashed earlier
/// run never meet; interfaces live inside the namespaces, so their names need not be unique.
final class NetworkNamespaces {
    /// Whether this machine lets the tests create namespaces (root, iproute2, netns support),
    /// tried once with a throwaway namespace.
    static let available: Bool = {
        guard getuid() == 0, ChildProcess.isInstalled("ip"), ChildProcess.isInstalled("iptables") else { return false }
        let probe = "rdprobe\(getpid())"
        guard (try? command(["ip", "netns", "add", probe])) != nil else { return false }
        _ = try? command(["ip", "netns", "del", probe])
        return true
    }()

    static let skipReason: Comment = "needs root, iproute2 and iptables, and a kernel that lets `ip netns add` create namespaces"

    /// The namespaces, in the order asked for.
    let names: [String]
    private var removed = false

    private init(names: [String]) {
        self.names = names
    }

    /// Creates one namespace per label, each with loopback up.
    static func create(_ labels: [String]) async throws -> NetworkNamespaces {
        let serial = UUID().uuidString.prefix(6).lowercased()
        var created: [String] = []
        do {
            for label in labels {
                let name = "rd\(label)\(getpid())x\(serial)"
                try await run(["ip", "netns", "add", name])
                created.append(name)
                try await run(["ip", "-n", name, "link", "set", "lo", "up"])
            }
        } catch {
            for name in created { remove(name) }
            throw error
        }
        return NetworkNamespaces(names: created)
    }

    /// Joins two namespaces with a veth pair, `a`'s end named `aName` with `aAddresses` (CIDR,
    /// IPv4 or IPv6), `b`'s likewise. IPv6 addresses are added `nodad`, usable at once.
    func link(_ a: String, _ aName: String, _ aAddresses: [String], to b: String, _ bName: String, _ bAddresses: [String]) async throws {
        try await Self.run(["ip", "link", "add", aName, "netns", a, "type", "veth", "peer", "name", bName, "netns", b])
        for (namespace, interface, addresses) in [(a, aName, aAddresses), (b, bName, bAddresses)] {
            for address in addresses {
                try await Self.run(["ip", "-n", namespace, "addr", "add", address, "dev", interface] + (address.contains(":") ? ["nodad"] : []))
            }
            try await Self.run(["ip", "-n", namespace, "link", "set", interface, "up"])
        }
    }

    /// Runs a short command inside `namespace` and returns its stdout; fails on a non-zero exit.
    @discardableResult
    func run(_ namespace: String, _ arguments: [String]) async throws -> String {
        try await Self.run(["ip", "netns", "exec", namespace] + arguments)
    }

    /// Runs a short command (a program on PATH and its arguments) to its end, at most 10 s,
    /// without holding a thread of the test pool; returns stdout, throws with stderr on failure.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> String {
        guard let program = arguments.first else { return "" }
        let child = try ChildProcess(program, Array(arguments.dropFirst()))
        let status = try await child.wait(timeout: 10)
        guard status == 0 else { throw NetworkNamespaceError(command: arguments, status: status, stderr: child.stderr) }
        return child.stdout
    }

    /// Starts a long-running program inside `namespace` (`ip netns exec` replaces itself with it,
    /// so signals reach the program).
    func start(_ namespace: String, _ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let path = executable.hasPrefix("/") ? executable : try ChildProcess.which(executable)
        return try ChildProcess("ip", ["netns", "exec", namespace, path] + arguments)
    }

    /// Kills what still runs in the namespaces and deletes them (their veths go with them).
    func remove() {
        guard !removed else { return }
        removed = true
        for name in names { Self.remove(name) }
    }

    deinit { remove() }

    private static func remove(_ name: String) {
        if let pids = try? command(["ip", "netns", "pids", name]) {
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? command(["ip", "netns", "del", name])
    }

    /// Runs `arguments` to its end, at most `timeout` seconds, blocking: for the probe and the
    /// removal in `deinit`, where nothing can be awaited. Returns stdout, throws with stderr.
    @discardableResult
    static func command(_ arguments: [String], timeout: Double = 10) throws -> String {
        guard let program = arguments.first else { return "" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ChildProcess.which(program))
        process.arguments = Array(arguments.dropFirst())
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw NetworkNamespaceError(command: arguments, status: -1, stderr: "did not finish within \(timeout) s")
        }
        // Short outputs only (a pipe holds 64 KiB): read after the end.
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NetworkNamespaceError(command: arguments, status: process.terminationStatus, stderr: stderr)
        }
        return stdout
    }
}

struct NetworkNamespaceError: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var stderr: String

    var description: String { "\(command.joined(separator: " ")) failed (\(status)): \(stderr)" }
}
