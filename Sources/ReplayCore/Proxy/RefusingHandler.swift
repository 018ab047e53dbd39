#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Sits alone in the pipeline of an accepted connection that transparent mode refuses: resets
/// it as soon as it is active, so the client sees a refusal at once instead of a connection
/// that never answers.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        guard let options = channel as? SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        // SO_LINGER {1, 0}: close() then sends RST instead of FIN.
        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
