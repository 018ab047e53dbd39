import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ports on 127.0.0.1 for servers that cannot be told "port 0" (Postfix, Redis, dnsmasq).
enum LoopbackPort {
    /// A TCP port that was free a moment ago: the kernel picks it for a socket bound to port 0,
    /// which is then closed. Another program could take it in between; on a test machine with
    /// nothing else listening that does not happen, and a server that cannot bind fails loudly.
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure("socket") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXFailure("bind 127.0.0.1:0") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw POSIXFailure("getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`, at most `timeout`
    /// seconds, failing early when `process` (the server being waited for) has exited.
    static func waitForListener(port: Int, process: ChildProcess? = nil, timeout: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if accepts(port: port) { return }
            if let process, !process.process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let name = process?.name ?? "server"
        throw ChildProcessError.missingOutput(name: name, expected: "a listener on 127.0.0.1:\(port)",
                                              stderr: (process?.stdout ?? "") + (process?.stderr ?? ""))
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds (closed again at once).
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
