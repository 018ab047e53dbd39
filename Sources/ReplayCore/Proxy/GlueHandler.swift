import NIOCore
import NIOTLS

/// One end of a proxied connection. Two of these, one in each channel, are glued through a
/// `ProxySession` on one event loop: bytes read on one side are written to the other.
///
/// Backpressure: every `read()` goes through the session's `ReadGate`, which holds it back while
/// the other side's channel is not writable (a slow reader slows the reading on the other side
/// and memory stays bounded whatever the transfer size) or, in lossless mode, while the cassette
/// recorder is backlogged; the session does the held read once neither applies.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: ProxySide
    /// Cleared when the session is over, which breaks the reference cycle.
    var session: ProxySession?
    private var context: ChannelHandlerContext?

    init(side: ProxySide, session: ProxySession) {
        self.side = side
        self.session = session
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    var channel: Channel? { context?.channel }

    // MARK: Events from the channel, handed to the session

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if side == .server { session?.upstreamActive() } else { session?.clientActive() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session?.read(unwrapInboundIn(data), from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session?.readComplete(from: side)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            session?.inputClosed(side)
        } else if let event = event as? TLSUserEvent {
            // From a TLS handler in front of this one (record with TLS).
            session?.tlsEvent(event, on: side)
            context.fireUserInboundEventTriggered(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Not passed on: the session records it, and the channel closes itself after a read error.
        session?.failed(side, error: error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        session?.inactive(side)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { session?.becameWritable(side) }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let session {
            session.readRequested(side)
        } else {
            context.read()
        }
    }

    // MARK: Actions, called by the session

    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// Reads from the channel (a read the session's gate let through, now or after holding it).
    func read() {
        context?.read()
    }

    /// Sends what is queued, then FIN. (A close of the output escalates to a full close in
    /// SwiftNIO when the input is already closed, and a full close drops queued writes, so the
    /// queue is drained first: an empty write completes after every write before it.)
    func shutdownOutput() {
        guard let context else { return }
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
    }

    /// Aborts the connection: the peer sees RST.
    func reset() {
        context?.channel.closeWithReset()
    }

    /// Sends what is queued, then closes.
    func drainAndClose() {
        guard let context else { return }
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func close() {
        context?.close(promise: nil)
    }

    func startReading() {
        guard let context else { return }
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    }
}
