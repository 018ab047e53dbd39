#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix

/// Runs one `ReplayMachine` on one accepted connection: it feeds the machine what the client
/// does and the time, and carries out the actions it returns. It decides nothing itself.
///
/// Confined to its channel's event loop, like every channel handler.
final class ReplayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ReplayMachine
    private var logger: Logger
    private var context: ChannelHandlerContext?
    private var wakeup: Scheduled<Void>?
    /// The last write, so that closing never cuts off bytes still queued behind it.
    private var lastWrite: EventLoopFuture<Void>?
    private var started = false
    private var reported = false

    init(plan: ReplayPlan, options: ReplayOptions, logger: Logger) {
        self.machine = ReplayMachine(plan: plan, options: options)
        self.logger = logger
    }

    private static func now() -> Int64 { Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelWakeup()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let remote = context.channel.remoteAddress { logger[metadataKey: "client"] = "\(remote.cassetteName)" }
        logger.debug("replaying session \(machine.plan.sessionID): \(machine.plan.steps.count) server steps")
        perform(machine.connected(at: Self.now()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        perform(machine.clientSent(byteCount: buffer.readableBytes, at: Self.now()))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            logger.debug("client closed its side (FIN)")
            perform(machine.clientClosed(at: Self.now()))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        perform(machine.clientReset(at: Self.now()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelWakeup()
        // Gone without the machine deciding it: the client reset it, or the server is stopping.
        _ = machine.connectionLost(at: Self.now())
        report()
        context.fireChannelInactive()
    }

    private func perform(_ actions: [ReplayAction]) {
        guard let context else { return }
        for action in actions {
            switch action {
            case .send(let bytes):
                let buffer = context.channel.allocator.buffer(bytes: bytes)
                let promise = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
                lastWrite = promise.futureResult
            case .halfClose:
                // NIO shuts the output down only once the queued writes are out.
                context.close(mode: .output, promise: nil)
            case .reset:
                afterWrites { context in
                    // SO_LINGER {1, 0}: close() then sends RST instead of FIN.
                    // On the channel's own loop the option is set before this call returns.
                    guard let provider = context.channel as? any SocketOptionProvider else {
                        self.logger.warning("this channel cannot set SO_LINGER; closing with FIN instead of RST")
                        return context.close(promise: nil)
                    }
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { result in
                        if case .failure(let error) = result {
                            self.logger.warning("could not set SO_LINGER to send RST, closing with FIN instead: \(error)")
                        }
                        context.close(promise: nil)
                    }
                }
            case .close:
                afterWrites { context in context.close(promise: nil) }
            case .scheduleWakeup(let at):
                cancelWakeup()
                let deadline = NIODeadline.uptimeNanoseconds(UInt64(max(0, at)))
                wakeup = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                    self.wakeup = nil
                    self.perform(self.machine.timerFired(at: Self.now()))
                }
            case .cancelWakeup:
                cancelWakeup()
            case .hold(let until):
                if let until {
                    let seconds = Double(max(0, until - Self.now())) / 1e9
                    logger.debug("recording exhausted, server silent: holding the connection for \(seconds)s")
                } else {
                    logger.debug("recording exhausted, server silent: holding the connection until the client closes")
                }
            case .warnGapSkipped(let bytes):
                logger.warning("the recording lost \(bytes) server bytes here (a capture gap); they cannot be replayed and are skipped")
            }
        }
        if machine.isFinished { cancelWakeup() }
    }

    /// Runs `body` once every write so far has completed (or failed).
    private func afterWrites(_ body: @escaping (ChannelHandlerContext) -> Void) {
        guard let context else { return }
        guard let lastWrite else { return body(context) }
        lastWrite.assumeIsolated().whenComplete { _ in
            guard let context = self.context else { return }
            body(context)
        }
    }

    private func cancelWakeup() {
        wakeup?.cancel()
        wakeup = nil
    }

    /// The one summary line per connection.
    private func report() {
        guard !reported else { return }
        reported = true
        let plan = machine.plan
        var line = "session \(plan.sessionID): sent \(machine.bytesSent) of \(plan.recordedServerBytes) server bytes"
        line += ", received \(machine.bytesReceived) client bytes (recorded \(plan.recordedClientBytes))"
        if machine.bytesSkipped > 0 { line += ", skipped \(machine.bytesSkipped) lost bytes" }
        line += "; \(machine.outcome?.description ?? "connection lost")"
        logger.info("\(line)")
    }

}
