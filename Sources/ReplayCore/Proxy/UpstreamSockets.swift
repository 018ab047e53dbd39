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
    /// Local address → number of open upstream sockets with it (one, unless a port is reused).
    private let open = NIOLockedValueBox<[TransparentRouting.Endpoint: Int]>([:])

    public init(mark: UInt32?) {
        self.mark = mark
    }

    /// The local addresses of the upstream sockets open now.
    public var localAddresses: Set<TransparentRouting.Endpoint> {
        open.withLockedValue { Set($0.keys) }
    }

    /// Sets `SO_MARK` on a throwaway socket, so that a missing permission (it needs
    /// CAP_NET_ADMIN) is reported at start rather than by every connection.
    public static func checkMark(_ mark: UInt32) throws(UpstreamMarkError) {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .cannotSet(mark, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var value = mark
        guard setsockopt(fd, SOL_SOCKET, soMark, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            let code = errno
            throw .cannotSet(mark, reason: code == EPERM ? "it needs CAP_NET_ADMIN (run as root, or setcap cap_net_admin+ep on replayd)" : String(cString: strerror(code)))
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

    fileprivate func add(_ endpoint: TransparentRouting.Endpoint) {
        open.withLockedValue { $0[endpoint, default: 0] += 1 }
    }

    fileprivate func remove(_ endpoint: TransparentRouting.Endpoint) {
        open.withLockedValue { open in
            guard let count = open[endpoint] else { return }
            open[endpoint] = count > 1 ? count - 1 : nil
        }
    }
}

/// Registers the upstream socket's local address right after connect(2) has chosen it (before
/// the SYN can come back through a REDIRECT to the listener and be accepted), and forgets it
/// when the handler leaves the pipeline (the channel closed, whatever became of the attempt).
private final class Tracker: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private let sockets: UpstreamSockets
    private var registered: TransparentRouting.Endpoint?

    init(sockets: UpstreamSockets) {
        self.sockets = sockets
    }

    func connect(context: ChannelHandlerContext, to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        context.connect(to: address, promise: promise)
        // On the event loop, connect(2) has run by now and the channel cached the address it bound.
        if registered == nil, let local = TransparentRouting.Endpoint(context.channel.localAddress) {
            registered = local
            sockets.add(local)
        }
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
