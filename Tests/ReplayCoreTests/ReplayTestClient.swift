#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOConcurrencyHelpers

/// A plain blocking POSIX TCP client for replay tests: it sees exactly what the kernel reports
/// (separate reads, EOF, ECONNRESET), and every read has a timeout so no test can hang.
final class ReplayTestClient {
    enum Read: Equatable {
        case data([UInt8])
        case eof
        case reset
        case timeout
        case failed(Int32)
    }

    private var fd: Int32
    /// Monotonic time the connection was made, in seconds.
    let connectedAt: Double

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    init(port: Int) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ReplayTestError.socket(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let descriptor = fd
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            _ = Glibc.close(fd)
            throw ReplayTestError.connect(error)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        connectedAt = Self.now()
    }

    deinit { close() }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if result <= 0 { return }
            sent += result
        }
    }

    /// One `recv`, waiting at most `timeout` seconds.
    func read(timeout: Double) -> Read {
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return .data(Array(buffer[0..<count])) }
            if count == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .timeout
            case ECONNRESET: return .reset
            case let other: return .failed(other)
            }
        }
    }

    /// Reads until EOF, reset, error or `timeout` seconds in all; returns the bytes and how it stopped.
    func readToEnd(timeout: Double) -> (bytes: [UInt8], end: Read) {
        let deadline = Self.now() + timeout
        var bytes: [UInt8] = []
        while true {
            let left = deadline - Self.now()
            if left <= 0 { return (bytes, .timeout) }
            switch read(timeout: left) {
            case .data(let chunk): bytes += chunk
            case let end: return (bytes, end)
            }
        }
    }

    /// Reads until `count` bytes have come (or the end, or the timeout).
    func read(count: Int, timeout: Double) -> [UInt8] {
        let deadline = Self.now() + timeout
        var bytes: [UInt8] = []
        while bytes.count < count {
            let left = deadline - Self.now()
            if left <= 0 { break }
            guard case .data(let chunk) = read(timeout: left) else { break }
            bytes += chunk
        }
        return bytes
    }

    /// Reads straight into `buffer` (no copies, for bulk transfers) until EOF, reset, error, the
    /// timeout, or a full buffer; then one more read says how the stream goes on (EOF, or extra
    /// bytes as `.data`). Returns how many bytes filled the buffer and how the reading stopped.
    func readToEnd(into buffer: UnsafeMutableRawBufferPointer, timeout: Double) -> (count: Int, end: Read) {
        let deadline = Self.now() + timeout
        var count = 0
        while count < buffer.count {
            let left = deadline - Self.now()
            if left <= 0 { return (count, .timeout) }
            var wait = timeval(tv_sec: Int(left), tv_usec: Int((left - Double(Int(left))) * 1e6))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            let result = recv(fd, buffer.baseAddress! + count, buffer.count - count, 0)
            if result > 0 { count += result; continue }
            if result == 0 { return (count, .eof) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return (count, .timeout)
            case ECONNRESET: return (count, .reset)
            case let other: return (count, .failed(other))
            }
        }
        return (count, read(timeout: max(0.01, deadline - Self.now())))
    }

    /// Half-closes: sends FIN, keeps reading.
    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }
}

enum ReplayTestError: Error {
    case socket(Int32)
    case connect(Int32)
}

/// Keeps log lines so tests can check what the server said.
struct ReplayCapturingLogHandler: LogHandler {
    let lines: NIOLockedValueBox<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let tags = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLockedValue { $0.append("\(event.level) \(tags) \(event.message)") }
    }
}
