import NIOCore

/// Sits alone in the pipeline of an accepted connection that transparent mode refuses: resets
/// it as soon as it is active, so the client sees a refusal at once instead of a connection
/// that never answers.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.channel.closeWithReset()
    }
}
