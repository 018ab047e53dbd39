import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain blocking TCP sockets on 127.0.0.1 for the live capture tests: the test itself is
/// client and server, so it knows every byte each side sent. Every read is bounded in time.
struct LoopbackSocket {
    let fd: Int32

    enum Failure: Error, CustomStringConvertible {
        case call(String, Int32)
        case timedOut(wanted: Int, got: Int)
        var description: String {
            switch self {
            case .call(let name, let code): return "\(name) failed: \(String(cString: strerror(code)))"
            case .timedOut(let wanted, let got): return "read \(got) of \(wanted) bytes before the deadline"
            }
        }
    }

    /// A listening socket on 127.0.0.1 and its port.
    static func listen() throws -> (LoopbackSocket, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.call("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else { Glibc.close(fd); throw Failure.call("bind/listen", errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (LoopbackSocket(fd: fd), UInt16(bigEndian: address.sin_port))
    }

    /// Connects to 127.0.0.1:`port`.
    static func connect(port: UInt16) throws -> LoopbackSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.call("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { Glibc.close(fd); throw Failure.call("connect", errno) }
        return LoopbackSocket(fd: fd)
    }

    func accept() throws -> LoopbackSocket {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 5000) == 1 else { throw Failure.call("accept (nothing within 5 s)", ETIMEDOUT) }
        let accepted = Glibc.accept(fd, nil, nil)
        guard accepted >= 0 else { throw Failure.call("accept", errno) }
        return LoopbackSocket(fd: accepted)
    }

    /// Sends `bytes` in writes of at most `chunk` bytes (so the capture sees several segments).
    func send(_ bytes: [UInt8], chunk: Int = 4000) throws {
        var offset = 0
        while offset < bytes.count {
            let count = min(chunk, bytes.count - offset)
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure.call("send", errno)
            }
            offset += written
        }
    }

    /// Reads exactly `count` bytes, or fails after `timeout` seconds.
    func receive(_ count: Int, timeout: Double = 5) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while result.count < count {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&entry, 1, left) == 1 else { throw Failure.timedOut(wanted: count, got: result.count) }
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - result.count), 0) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw Failure.timedOut(wanted: count, got: result.count) }
            result.append(contentsOf: chunk[0..<got])
        }
        return result
    }

    /// Waits for the peer's FIN (a read of 0 bytes).
    func expectEndOfStream(timeout: Double = 5) throws {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var byte: UInt8 = 0
        guard poll(&entry, 1, Int32(timeout * 1000)) == 1, recv(fd, &byte, 1, 0) == 0 else {
            throw Failure.timedOut(wanted: 0, got: 0)
        }
    }

    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }
    func close() { _ = Glibc.close(fd) }
}

/// Reproducible test bytes (SplitMix64).
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}
