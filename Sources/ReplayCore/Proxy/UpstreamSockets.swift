#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// replayd's own upstream sockets in transparent mode: the mark they carry (`--mark`, so that
/// a REDIRECT rule can leave them alone) and the local addresses of those open now, so that one
/// redirected back to the listener anyway is recognised by its source address and refused.
public final class UpstreamSockets: Sendable {
    /// `SO_MARK` (asm-generic/socket.h), not in the headers Swift imports.
    static let soMark: SocketOptionName = 36

    /// The `SO_MARK` of every upstream socket, or nil for none.
    public let mark: UInt32?
    private struct State {
        /// Local address → number of open upstream sockets with it (one, unless a port is reused).
        var open: [TransparentRouting.Endpoint: Int] = [:]
        /// Upstream sockets inside connect(2), their local address not known yet.
        var connecting = 0
    }

    private let state = NIOLockedValueBox(State())
    /// How long a routing decision waits for connect(2) calls under way to name their local
    /// address: microseconds in practice; the bound only matters if one never returns.
    static let settleLimit: TimeAmount = .milliseconds(100)

    public init(mark: UInt32?) {
        self.mark = mark
    }

    /// The local addresses of the upstream sockets open now, once no connect(2) is under way.
    /// A redirected connection of ours can be accepted, on another event loop, before the
    /// connect(2) that made it has returned and its address is noted (the handshake with our own
    /// listener needs no network): waiting for it is what makes the loop check certain.
    func settledLocalAddresses(on eventLoop: EventLoop) -> EventLoopFuture<Set<TransparentRouting.Endpoint>> {
        let promise = eventLoop.makePromise(of: Set<TransparentRouting.Endpoint>.self)
        settle(promise, on: eventLoop, deadline: .now() + Self.settleLimit)
        return promise.futureResult
    }

    private func settle(_ promise: EventLoopPromise<Set<TransparentRouting.Endpoint>>, on eventLoop: EventLoop, deadline: NIODeadline) {
        let (busy, addresses) = state.withLockedValue { ($0.connecting > 0, Set($0.open.keys)) }
        guard busy, NIODeadline.now() < deadline else {
            promise.succeed(addresses)
            return
        }
        eventLoop.scheduleTask(in: .microseconds(200)) { self.settle(promise, on: eventLoop, deadline: deadline) }
    }

    /// Sets `SO_MARK` on a throwaway socket, so that a missing permission (it needs
    /// CAP_NET_ADMIN, or CAP_NET_RAW since Linux 5.17) is reported at start rather than by
    /// every connection.
    public static func checkMark(_ mark: UInt32) throws(UpstreamMarkError) {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .cannotSet(mark, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var value = mark
        guard setsockopt(fd, SOL_SOCKET, soMark, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            let code = errno
            throw .cannotSet(mark, reason: code == EPERM ? "it needs CAP_NET_ADMIN or CAP_NET_RAW (run as root, or setcap cap_net_admin+ep on replayd)" : String(cString: strerror(code)))
        }
        #else
        throw .cannotSet(mark, reason: "SO_MARK exists on Linux only")
        #endif
    }

    /// `bootstrap` with the mark set on its socket.
    func configure(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
        guard let mark else { return bootstrap }
        return bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(SOL_SOCKET), name: Self.soMark),
                                       value: SocketOptionValue(Int32(bitPattern: mark)))
    }

    /// A handler for the upstream channel's pipeline that keeps its local address in the set
    /// while the socket is open.
    func tracker() -> ChannelHandler {
        Tracker(sockets: self)
    }

    fileprivate func connectStarting() {
        state.withLockedValue { $0.connecting += 1 }
    }

    /// connect(2) returned; `endpoint` is the local address it chose (nil if it failed at once).
    fileprivate func connectReturned(_ endpoint: TransparentRouting.Endpoint?) {
        state.withLockedValue { state in
            state.connecting -= 1
            if let endpoint { state.open[endpoint, default: 0] += 1 }
        }
    }

    fileprivate func remove(_ endpoint: TransparentRouting.Endpoint) {
        state.withLockedValue { state in
            guard let count = state.open[endpoint] else { return }
            state.open[endpoint] = count > 1 ? count - 1 : nil
        }
    }
}

/// Counts the upstream socket as connecting while connect(2) runs, registers the local address
/// it chose right after, and forgets it when the handler leaves the pipeline (the channel
/// closed, whatever became of the attempt).
private final class Tracker: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private let sockets: UpstreamSockets
    private var registered: TransparentRouting.Endpoint?

    init(sockets: UpstreamSockets) {
        self.sockets = sockets
    }

    func connect(context: ChannelHandlerContext, to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        guard registered == nil else {
            context.connect(to: address, promise: promise)
            return
        }
        sockets.connectStarting()
        context.connect(to: address, promise: promise)
        // On the event loop, connect(2) has run by now and the channel cached the address it bound.
        registered = TransparentRouting.Endpoint(context.channel.localAddress)
        sockets.connectReturned(registered)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let registered { sockets.remove(registered) }
        registered = nil
    }
}

/// Why `--mark` cannot be used.
public enum UpstreamMarkError: Error, Equatable, CustomStringConvertible {
    case cannotSet(UInt32, reason: String)

    public var description: String {
        switch self {
        case .cannotSet(let mark, let reason):
            return "cannot mark upstream sockets with --mark \(mark) (SO_MARK): \(reason)"
        }
    }
}
