import Logging
import NIOCore
import NIOPosix

/// A TCP server that answers each accepted connection with the next recorded session.
public final class ReplayServer: Sendable {
    /// The address actually bound (with the real port when port 0 was asked for).
    public let localAddress: SocketAddress
    private let channel: any Channel

    private init(channel: any Channel, localAddress: SocketAddress) {
        self.channel = channel
        self.localAddress = localAddress
    }

    /// Binds `host:port` and starts serving `dispenser`'s sessions.
    public static func start(
        host: String,
        port: Int,
        dispenser: SessionDispenser,
        options: ReplayOptions,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ReplayServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            // The client's FIN must reach the machine as an event, not close the channel.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // One recorded chunk = one segment on the wire; Nagle would merge them.
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connectionLogger = logger
                    switch dispenser.next() {
                    case .session(let connection, let plan):
                        connectionLogger[metadataKey: "connection"] = "\(connection)"
                        connectionLogger[metadataKey: "session"] = "\(plan.sessionID)"
                        try channel.pipeline.syncOperations.addHandler(
                            ReplayHandler(plan: plan, options: options, logger: connectionLogger))
                    case .exhausted(let connection, let sessions):
                        connectionLogger[metadataKey: "connection"] = "\(connection)"
                        if let remote = channel.remoteAddress {
                            connectionLogger[metadataKey: "client"] = "\(remote.cassetteName)"
                        }
                        connectionLogger.warning(
                            "no session left for this connection: all \(sessions) recorded session\(sessions == 1 ? " was" : "s were") served; closing it (use --loop to start again from session 1)")
                        try channel.pipeline.syncOperations.addHandler(CloseOnActiveHandler())
                    }
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw ReplayServerError.noLocalAddress(host: host, port: port)
        }
        return ReplayServer(channel: channel, localAddress: address)
    }

    /// `HOST:PORT` of the bound address (`[v6]:PORT` for IPv6).
    public var listeningDescription: String { localAddress.cassetteName }

    /// Completes when the server has stopped.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Stops accepting connections. Connections already open are left to finish.
    public func stop() async {
        try? await channel.close()
    }

    /// Stops accepting connections, from any thread, without waiting.
    public func stopNow() {
        channel.close(promise: nil)
    }
}

/// Why the replay server could not start.
public enum ReplayServerError: Error, CustomStringConvertible {
    case noLocalAddress(host: String, port: Int)

    public var description: String {
        switch self {
        case .noLocalAddress(let host, let port): return "bound \(host):\(port) but the system did not report the local address"
        }
    }
}

/// Closes a connection as soon as it is up: used once every session has been served.
private final class CloseOnActiveHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}
