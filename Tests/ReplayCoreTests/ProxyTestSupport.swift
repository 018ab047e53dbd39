import Synchronization
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the blocking test sockets, with the errno so tests can expect ECONNRESET.
struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
}

/// A plain blocking TCP socket on 127.0.0.1 for test peers, with send and receive timeouts so
/// that no test can hang on it. Used from `blocking { }` so it never blocks the test's executor.
final class TestSocket: Sendable {
    let fd: Int32

    init(fd: Int32, timeout: Double = 10) {
        self.fd = fd
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    private let closed = Atomic(false)
    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { _ = Glibc.close(fd) }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Connects to 127.0.0.1:`port`; `timeout` bounds the connect too (SO_SNDTIMEO).
    static func connect(port: Int, timeout: Double = 10) throws -> TestSocket {
        let socket = TestSocket(fd: Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), timeout: timeout)
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw SocketError(operation: "connect", code: errno) }
        return socket
    }

    /// A listening socket on 127.0.0.1 with a free port.
    static func listen(backlog: Int32 = 16, timeout: Double = 10) throws -> TestSocket {
        let socket = TestSocket(fd: Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), timeout: timeout)
        var one: Int32 = 1
        setsockopt(socket.fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SocketError(operation: "bind", code: errno) }
        guard Glibc.listen(socket.fd, backlog) == 0 else { throw SocketError(operation: "listen", code: errno) }
        return socket
    }

    var port: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func accept(timeout: Double = 10) throws -> TestSocket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw SocketError(operation: "accept", code: errno) }
        return TestSocket(fd: client, timeout: timeout)
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw SocketError(operation: "send", code: errno)
            }
            offset += written
        }
    }

    /// One `recv` of up to `limit` bytes; empty means EOF.
    func receiveSome(limit: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, limit, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SocketError(operation: "recv", code: errno)
            }
            return Array(buffer[0..<count])
        }
    }

    /// Exactly `count` bytes (fails on EOF before that).
    func receive(exactly count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            let chunk = try receiveSome(limit: count - result.count)
            if chunk.isEmpty { throw SocketError(operation: "recv (EOF after \(result.count) of \(count) bytes)", code: 0) }
            result += chunk
        }
        return result
    }

    /// Everything until EOF.
    func receiveToEnd() throws -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try receiveSome()
            if chunk.isEmpty { return result }
            result += chunk
        }
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with SO_LINGER {1, 0}: the peer gets RST.
    func reset() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close()
    }
}

/// Runs blocking socket code on a thread of its own, off the Swift concurrency pool (and off
/// Dispatch's pool, which has as many threads as cores and would serialize parallel tests).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}

/// A recording proxy in the test process, recording into a cassette in a temporary folder.
struct ProxyHarness {
    let proxy: RecordingProxy
    let recorder: CassetteRecorder
    let port: Int
    let cassettePath: String
    let directory: String

    static func start(
        upstreamPort: Int, connectTimeout: TimeAmount = .seconds(5),
        makeSink: ((String) throws -> any CassetteEventSink)? = nil, queueLimit: Int = 32 * 1024 * 1024,
        overflow: CassetteRecorder.Overflow = .dropAsGaps, logger: Logger? = nil
    ) async throws -> ProxyHarness {
        let directory = try TestPaths.temporaryDirectory("proxy")
        let path = directory + "/test.cassette"
        let writer: any CassetteEventSink = try makeSink?(path) ?? CassetteWriter(path: path, header: CassetteHeader(source: .record))
        var logger = logger ?? Logger(label: "test.proxy")
        if logger.logLevel > .critical || true, logger.label == "test.proxy" { logger.logLevel = .critical }
        let recorder = CassetteRecorder(sink: writer, path: path, queueLimit: queueLimit, overflow: overflow, logger: logger)
        let options = ProxyOptions(
            listen: HostPort(host: "127.0.0.1", port: 0),
            upstream: try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort),
            upstreamName: "127.0.0.1:\(upstreamPort)", connectTimeout: connectTimeout
        )
        let proxy = RecordingProxy(options: options, recorder: recorder, logger: logger)
        let address = try await proxy.start()
        return ProxyHarness(proxy: proxy, recorder: recorder, port: address.port ?? 0, cassettePath: path, directory: directory)
    }

    /// Waits (bounded) until every session has ended, stops the proxy and loads the cassette.
    func finish(timeout: Double = 10) async throws -> (Cassette, CassetteRecorder.Report) {
        let deadline = Date().addingTimeInterval(timeout)
        while proxy.openSessions > 0, Date() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        await proxy.stop()
        let report = await recorder.finish()
        let cassette = try Cassette.load(path: cassettePath)
        try? FileManager.default.removeItem(atPath: directory)
        return (cassette, report)
    }
}

extension Session {
    /// The kinds of events after `open`, with data merged per direction run, for order checks.
    var shape: [String] {
        var result: [String] = []
        for event in events {
            let item: String
            switch event.kind {
            case .open: item = "open"
            case .data(let direction, _): item = "data \(direction.rawValue)"
            case .close(let direction, let how): item = "close \(direction.rawValue) \(how.rawValue)"
            case .reset(let by): item = "reset by \(by.rawValue)"
            case .redacted, .tls, .fault, .pattern: item = "marker"
            case .connectFailed(let failure): item = "connect-failed \(failure.reason.rawValue)"
            case .gap(let direction, _): item = "gap \(direction.rawValue)"
            case .end: item = "end"
            }
            if item.hasPrefix("data"), result.last == item { continue }
            result.append(item)
        }
        return result
    }

    func dataChunks(_ direction: Direction) -> [[UInt8]] {
        events.compactMap { event in
            if case .data(let eventDirection, let bytes) = event.kind, eventDirection == direction { return bytes }
            return nil
        }
    }
}
