import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// A TCP server that answers each accepted connection from recorded sessions: by what the
/// client sends (`ReplaySource`), or the next session in accept order (`SessionDispenser`).
public final class ReplayServer: Sendable {
    /// The address actually bound (with the real port when port 0 was asked for).
    public let localAddress: SocketAddress
    /// Server bytes handed to NIO and not yet taken by the kernel, over all connections; kept
    /// only when asked for at start (`measuresQueuedOutput`), since it costs a promise per write.
    public let queuedOutput: ReplayOutputGauge?
    private let channel: any Channel

    /// Write-buffer water marks of every accepted connection: a connection stops taking chunks
    /// once this much is queued for a client that does not read, and goes on below `low`.
    /// Large enough for a recorded burst to stream at loopback speed, small enough that a
    /// stalled client costs a few hundred kilobytes whatever the session holds.
    public static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1024, high: 256 * 1024)

    private init(channel: any Channel, localAddress: SocketAddress, queuedOutput: ReplayOutputGauge?) {
        self.channel = channel
        self.localAddress = localAddress
        self.queuedOutput = queuedOutput
    }

    /// Binds `host:port` and starts serving `dispenser`'s sessions in accept order, each
    /// answered by client byte counts (the foundation's replay, `--match bytes`).
    public static func start(
        host: String,
        port: Int,
        dispenser: SessionDispenser,
        options: ReplayOptions,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        measuresQueuedOutput: Bool = false,
        tls: NIOSSLContext? = nil
    ) async throws -> ReplayServer {
        try await start(host: host, port: port, logger: logger, group: group, measuresQueuedOutput: measuresQueuedOutput) { channel, queuedOutput in
            switch dispenser.next() {
            case .session(let connection, let plan):
                return ReplayHandler(plan: plan, options: options, connection: connection, queuedOutput: queuedOutput, tls: tls, logger: logger)
            case .exhausted(let connection, let sessions):
                return exhausted(sessions: sessions, connection: connection, client: channel.remoteAddress, logger: logger)
            }
        }
    }

    /// Binds `host:port` and serves what `source` decides for each connection.
    public static func start(
        host: String,
        port: Int,
        source: ReplaySource,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        measuresQueuedOutput: Bool = false,
        tls: NIOSSLContext? = nil
    ) async throws -> ReplayServer {
        try await start(host: host, port: port, logger: logger, group: group, measuresQueuedOutput: measuresQueuedOutput) { channel, queuedOutput in
            switch source.next(writesMayBlock: true) {
            case .replay(let replayer, _):
                return ReplayHandler(replayer: replayer, queuedOutput: queuedOutput, reports: source.reports, tls: tls, logger: logger)
            case .exhausted(let connection, let sessions):
                return exhausted(sessions: sessions, connection: connection, client: channel.remoteAddress, logger: logger)
            }
        }
    }

    private static func exhausted(sessions: Int, connection: Int, client: SocketAddress?, logger: Logger) -> any ChannelHandler {
        logger.warning(
            "no session left for this connection: all \(sessions) recorded session\(sessions == 1 ? " was" : "s were") served; closing it (use --loop to start again from session 1)",
            metadata: ["connection": "\(connection)", "client": "\(client?.cassetteName ?? "?")"])
        return CloseOnActiveHandler()
    }

    private static func start(
        host: String,
        port: Int,
        logger: Logger,
        group: any EventLoopGroup,
        measuresQueuedOutput: Bool,
        makeHandler: @escaping @Sendable (any Channel, ReplayOutputGauge?) -> any ChannelHandler
    ) async throws -> ReplayServer {
        let queuedOutput = measuresQueuedOutput ? ReplayOutputGauge() : nil
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            // One recorded chunk = one segment on the wire; Nagle would merge them. Set on the
            // listening socket, which accepted sockets inherit on Linux: a system call fewer per
            // connection. Elsewhere it is set on each connection.
            .serverChannelOption(.socketOption(.tcp_nodelay), value: 1)
        #if !os(Linux)
        bootstrap = bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        #endif
        bootstrap = bootstrap.childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                // Set here, synchronously: as child channel options of the bootstrap they cost a
                // chain of futures per accepted connection.
                guard let options = channel.syncOptions else { throw ReplayServerError.noSynchronousOptions }
                // The client's FIN must reach the machine as an event, not close the channel.
                try options.setOption(.allowRemoteHalfClosure, value: true)
                // Backpressure: the handler stops taking chunks while a client is not reading.
                try options.setOption(.writeBufferWaterMark, value: writeBufferWaterMark)
                let handler = makeHandler(channel, queuedOutput)
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw ReplayServerError.noLocalAddress(host: host, port: port)
        }
        return ReplayServer(channel: channel, localAddress: address, queuedOutput: queuedOutput)
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
    /// An accepted channel that cannot set its options synchronously (never a socket channel).
    case noSynchronousOptions

    public var description: String {
        switch self {
        case .noLocalAddress(let host, let port): return "bound \(host):\(port) but the system did not report the local address"
        case .noSynchronousOptions: return "an accepted connection could not set its channel options; it was closed"
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
