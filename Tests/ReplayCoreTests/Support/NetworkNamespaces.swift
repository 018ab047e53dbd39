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

    /// Creates one namespace per label, each with loopback up.
    init(_ labels: [String]) throws {
        let serial = UUID().uuidString.prefix(6).lowercased()
        var created: [String] = []
        do {
            for label in labels {
                let name = "rd\(label)\(getpid())x\(serial)"
                try Self.command(["ip", "netns", "add", name])
                created.append(name)
                try Self.command(["ip", "-n", name, "link", "set", "lo", "up"])
            }
        } catch {
            for name in created { Self.remove(name) }
            throw error
        }
        names = created
    }

    /// Joins two namespaces with a veth pair, `a`'s end named `aName` with `aAddresses` (CIDR,
    /// IPv4 or IPv6), `b`'s likewise. IPv6 addresses are added `nodad`, usable at once.
    func link(_ a: String, _ aName: String, _ aAddresses: [String], to b: String, _ bName: String, _ bAddresses: [String]) throws {
        try Self.command(["ip", "link", "add", aName, "netns", a, "type", "veth", "peer", "name", bName, "netns", b])
        for (namespace, interface, addresses) in [(a, aName, aAddresses), (b, bName, bAddresses)] {
            for address in addresses {
                try Self.command(["ip", "-n", namespace, "addr", "add", address, "dev", interface] + (address.contains(":") ? ["nodad"] : []))
            }
            try Self.command(["ip", "-n", namespace, "link", "set", interface, "up"])
        }
    }

    /// Runs a short command inside `namespace` and returns its stdout; fails on a non-zero exit.
    @discardableResult
    func run(_ namespace: String, _ arguments: [String]) throws -> String {
        try Self.command(["ip", "netns", "exec", namespace] + arguments)
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

    /// Runs `arguments` (a program on PATH and its arguments) to its end, at most `timeout`
    /// seconds; returns stdout, throws with stderr on failure.
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
