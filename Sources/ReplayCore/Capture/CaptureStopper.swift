#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks a running live capture to stop, from any thread (a signal source's handler, a test).
///
/// It is a pipe the capture loop polls next to the packet descriptor, so a stop request wakes
/// the loop at once instead of waiting for its next timeout.
public final class CaptureStopper: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    public init() throws(LiveCaptureError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw .system(call: "pipe", reason: String(cString: strerror(errno)))
        }
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Requests the stop. Safe to call more than once, and from any thread.
    public func stop() {
        var byte: UInt8 = 1
        // A full pipe already holds a request: nothing is lost when this write fails.
        _ = write(writeEnd, &byte, 1)
    }

    /// Whether a stop was requested (does not wait).
    public var isStopRequested: Bool {
        var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }

    /// The descriptor that turns readable once `stop()` was called.
    var descriptor: Int32 { readEnd }
}
