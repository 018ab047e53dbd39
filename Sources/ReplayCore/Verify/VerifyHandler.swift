import Logging
import NIOCore
import NIOSSL

/// Runs one `VerifyMachine` on one client connection: it feeds it the server's bytes, closes
/// and the loop's clock, and carries out the actions it returns. It decides nothing itself.
///
/// Confined to its channel's event loop, like every channel handler.
final class VerifyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: VerifyMachine
    /// The client side of TLS (nil: the target speaks plaintext only), and the name to ask
    /// for and check in the server's certificate.
    private let tls: NIOSSLContext?
    private let serverName: String?
    private let verdict: EventLoopPromise<SessionVerdict>
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var wakeup: Scheduled<Void>?
    private var started = false
    private var finished = false
    private var sawError = false
    private var inactive = false
    /// Actions still to carry out: a write can report an error from inside `writeAndFlush`,
    /// and the actions the machine answers with wait behind the ones being carried out.
    private var pending: [VerifyAction] = []
    private var performing = false

    init(machine: VerifyMachine, verdict: EventLoopPromise<SessionVerdict>, tls: NIOSSLContext? = nil, serverName: String? = nil, logger: Logger) {
        self.machine = machine
        self.tls = tls
        self.serverName = serverName
        self.verdict = verdict
        self.logger = logger
    }

    private func now() -> Int64 { Int64(truncatingIfNeeded: (context?.eventLoop.now ?? .now()).uptimeNanoseconds) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelWakeup()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    private func start() {
        guard !started else { return }
        started = true
        logger.debug("connected")
        perform(machine.start(at: now()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        logger.trace("server sent \(buffer.readableBytes) bytes")
        perform(machine.received(Array(buffer.readableBytesView), at: now()))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            logger.debug("server closed its side (FIN)")
            perform(machine.serverClosed(.fin, at: now()))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let reason = TLSFailureReason.describeIfTLS(error) {
            logger.warning("TLS with the target failed: \(reason)")
            sawError = true
            perform(machine.tlsFailed(reason, at: now()))
            return
        }
        // A reset shows as ECONNRESET (or EPIPE on a write after it): the server aborted.
        logger.debug("connection error, taken as the server's reset: \(error)")
        sawError = true
        perform(machine.serverClosed(.rst, at: now()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelWakeup()
        // Gone without an error: an orderly close. Once the client has half-closed, NIO closes
        // the channel at the server's FIN without an `inputClosed` event.
        inactive = true
        if !finished { perform(machine.serverClosed(sawError ? .rst : .fin, at: now())) }
        // Closing our side from inside `perform` (a half-close after the server's FIN) lands
        // here with the verdict still queued behind it: `perform` checks once it is done.
        if !performing { failIfUndecided() }
        context.fireChannelInactive()
    }

    private func perform(_ actions: [VerifyAction]) {
        pending += actions
        guard !performing else { return }
        performing = true
        defer { performing = false }
        while !pending.isEmpty {
            let action = pending.removeFirst()
            guard let context else { pending.removeAll(); break }
            carryOut(action, context: context)
        }
        if inactive { failIfUndecided() }
    }

    private func failIfUndecided() {
        guard !finished else { return }
        finished = true
        verdict.fail(VerifyClientError.connectionLost)
    }

    private func carryOut(_ action: VerifyAction, context: ChannelHandlerContext) {
        switch action {
        case .send(let bytes):
            logger.trace("sending \(bytes.count) bytes")
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        case .startTLS:
            startTLS(context)
        case .halfClose:
            logger.debug("half-closing the client's side (FIN)")
            context.close(mode: .output, promise: nil)
        case .wait(let until):
            cancelWakeup()
            let deadline = NIODeadline.uptimeNanoseconds(UInt64(max(0, until)))
            wakeup = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                self.wakeup = nil
                self.perform(self.machine.timerFired(at: self.now()))
            }
        case .finish(let result):
            guard !finished else { return }
            finished = true
            cancelWakeup()
            pending.removeAll()
            logger.debug("session \(result.matched ? "matched" : "differs")")
            context.close(promise: nil)
            verdict.succeed(result)
        }
    }

    /// Puts TLS in front of the connection; the machine's next bytes wait in it until the
    /// handshake is done.
    private func startTLS(_ context: ChannelHandlerContext) {
        guard let tls else {
            perform(machine.tlsFailed("no TLS settings were given for this target", at: now()))
            return
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
            logger.debug("TLS started with the target")
        } catch {
            perform(machine.tlsFailed("\(error)", at: now()))
        }
    }

    private func cancelWakeup() {
        wakeup?.cancel()
        wakeup = nil
    }
}

/// A verified connection that ended without a verdict (it should not happen: every event of
/// the machine has one); named so that a report can say so.
public enum VerifyClientError: Error, CustomStringConvertible {
    case connectionLost

    public var description: String { "the connection to the target was lost before the session was decided" }
}
