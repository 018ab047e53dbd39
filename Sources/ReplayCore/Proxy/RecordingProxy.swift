#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The recording TCP proxy: accepts clients, connects each to the upstream on the same event
/// loop, forwards bytes unchanged both ways (half-close and RST carried) and records every
/// connection as a session of one cassette.
public final class RecordingProxy: Sendable {
    private struct State {
        var serverChannel: Channel?
        var stopping = false
        /// Session numbers given at accept time, waiting for the child channel's initializer.
        var acceptedNumbers: [ObjectIdentifier: AcceptStamp] = [:]
        /// Sessions not yet ended, with a way to stop each on its own event loop.
        var live: [Int: @Sendable () -> Void] = [:]
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    struct AcceptStamp: Sendable {
        var session: Int
        var wallClock: WallClock
        var uptime: Int64
    }

    public let options: ProxyOptions
    private let recorder: CassetteRecorder
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = NIOLockedValueBox(State())
    /// Transparent mode: the upstream sockets open now, for loop detection.
    private let upstreamSockets: UpstreamSockets?

    public init(options: ProxyOptions, recorder: CassetteRecorder, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        self.upstreamSockets = options.transparent.map { _ in UpstreamSockets(mark: options.upstreamMark) }
        self.recorder = recorder
        self.logger = logger
        self.group = group
    }

    /// Binds the listening socket; returns the address actually bound (the real port for port 0).
    public func start() async throws(ProxyError) -> SocketAddress {
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptOrderHandler(first: self.options.firstSession) { child, stamp in
                            self.state.withLockedValue { $0.acceptedNumbers[child] = stamp }
                        })
                    }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.autoRead, value: false)
                .childChannelInitializer { channel in
                    self.initializeChild(channel)
                }
                .bind(host: options.listen.host, port: options.listen.port)
                .get()
        } catch {
            throw .cannotListen(options.listen.description, reason: SocketErrorText.describe(error))
        }
        state.withLockedValue { $0.serverChannel = channel }
        guard let address = channel.localAddress else {
            throw .cannotListen(options.listen.description, reason: "the socket has no local address")
        }
        return address
    }

    /// Stops accepting, closes every open connection (each session records its `end`) and waits
    /// for all sessions to end, at most `timeout`.
    public func stop(timeout: TimeAmount = .seconds(5)) async {
        let (serverChannel, stoppers) = state.withLockedValue { state in
            state.stopping = true
            return (state.serverChannel, Array(state.live.values))
        }
        try? await serverChannel?.close()
        for stop in stoppers { stop() }
        let timer = group.next().scheduleTask(in: timeout) {
            self.wakeIdleWaiters(force: true)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLockedValue { state -> Bool in
                if state.live.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
        timer.cancel()
        let left = state.withLockedValue { $0.live.count }
        if left > 0 {
            logger.error("\(left) session(s) did not end within \(timeout.nanoseconds / 1_000_000) ms of stopping; their cassette sessions have no end event")
        }
    }

    /// Number of sessions accepted and not yet ended.
    public var openSessions: Int {
        state.withLockedValue { $0.live.count }
    }

    private func initializeChild(_ channel: Channel) -> EventLoopFuture<Void> {
        guard let routing = options.transparent else {
            return channel.eventLoop.makeCompletedFuture { try self.startSession(on: channel, upstream: self.options.upstream) }
        }
        let own = upstreamSockets?.settledLocalAddresses(on: channel.eventLoop) ?? channel.eventLoop.makeSucceededFuture([])
        return OriginalDestination.read(from: channel).map { Result<SocketAddress, any Error>.success($0) }.flatMapError { error in
            channel.eventLoop.makeSucceededFuture(.failure(error))
        }.and(own).flatMapThrowing { lookup, ownUpstreams in
            var failure: String?
            if case .failure(let error) = lookup {
                // ENOENT: conntrack has no NAT for it (a direct connection, or no rule matched).
                failure = (error as? IOError)?.errnoCode == ENOENT ? "no NAT entry for it" : SocketErrorText.describe(error)
            }
            let decision = routing.decide(
                original: try? lookup.get(), lookupFailure: failure,
                client: channel.remoteAddress, local: channel.localAddress, listener: self.state.withLockedValue { $0.serverChannel?.localAddress },
                ownUpstreams: ownUpstreams
            )
            switch decision {
            case .connect(let destination):
                try self.startSession(on: channel, upstream: destination)
            case .refuse(let refusal):
                // Not a session of the cassette (its number is skipped): nothing was forwarded.
                self.state.withLockedValue { _ = $0.acceptedNumbers.removeValue(forKey: ObjectIdentifier(channel)) }
                var logger = self.logger
                logger[metadataKey: "client"] = "\(channel.remoteAddress?.cassetteName ?? "?")"
                logger.warning("\(refusal)")
                try channel.pipeline.syncOperations.addHandler(RefusingHandler())
            }
        }
    }

    private func startSession(on channel: Channel, upstream: SocketAddress) throws {
        let (stamp, stopping) = state.withLockedValue { state in
            (state.acceptedNumbers.removeValue(forKey: ObjectIdentifier(channel)), state.stopping)
        }
        guard let stamp else {
            // Cannot happen: the accept handler stamps every child before this runs.
            throw ChannelError.inappropriateOperationForState
        }
        let clientName = channel.remoteAddress?.cassetteName ?? "?"
        var logger = self.logger
        logger[metadataKey: "session"] = "\(stamp.session)"
        logger[metadataKey: "client"] = "\(clientName)"
        if options.transparent != nil { logger[metadataKey: "server"] = "\(upstream.cassetteName)" }
        let tap = SessionTap(
            session: stamp.session, client: clientName, server: upstream.cassetteName,
            start: stamp.wallClock, startUptime: stamp.uptime
        )
        let number = stamp.session
        let session = ProxySession(
            tap: tap, upstream: upstream, connectTimeout: options.connectTimeout, eventLoop: channel.eventLoop, recorder: recorder,
            tagger: ProtocolTagger(forced: options.proto),
            redactor: options.redact ? Redactor(user: options.redactRules) : nil, logger: logger,
            faults: options.faults.map { LiveFaultPlan(rules: $0.rules, connection: number, seed: $0.seed, serverPort: upstream.port, chaos: $0.chaos) },
            upstreamSockets: upstreamSockets, tls: options.tls) { _ in
            self.sessionEnded(number)
        }
        let boundSession = NIOLoopBound(session, eventLoop: channel.eventLoop)
        let eventLoop = channel.eventLoop
        state.withLockedValue { state in
            state.live[number] = {
                eventLoop.execute { boundSession.value.stop() }
            }
        }
        try session.start(clientChannel: channel)
        if stopping { session.stop() }
    }

    private func sessionEnded(_ number: Int) {
        state.withLockedValue { _ = $0.live.removeValue(forKey: number) }
        wakeIdleWaiters(force: false)
    }

    private func wakeIdleWaiters(force: Bool) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard force || state.live.isEmpty else { return [] }
            let waiters = state.idleWaiters
            state.idleWaiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Sits in the listening channel and numbers accepted connections in the order of accept,
/// before they are spread over event loops.
private final class AcceptOrderHandler: ChannelInboundHandler {
    typealias InboundIn = Channel
    private var next: Int
    private let stamp: (ObjectIdentifier, RecordingProxy.AcceptStamp) -> Void

    init(first: Int, stamp: @escaping (ObjectIdentifier, RecordingProxy.AcceptStamp) -> Void) {
        self.next = first
        self.stamp = stamp
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        stamp(ObjectIdentifier(child), RecordingProxy.AcceptStamp(session: next, wallClock: .now(), uptime: Int64(NIODeadline.now().uptimeNanoseconds)))
        next += 1
        context.fireChannelRead(data)
    }
}
