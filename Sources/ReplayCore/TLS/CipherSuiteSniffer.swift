import NIOCore

/// Sits next to the socket, below a TLS handler, and reads the server's ServerHello as it
/// passes (`ServerHelloReader`): outbound on the client leg, where replayd is the TLS server,
/// inbound on the upstream leg, where the server is the upstream. Bytes pass unchanged.
///
/// Confined to its channel's event loop, like every channel handler.
final class CipherSuiteSniffer: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which direction carries the server's bytes on this channel.
    enum ServerBytes {
        case outbound
        case inbound
    }

    private let direction: ServerBytes
    private var reader = ServerHelloReader()

    init(serverBytes direction: ServerBytes) {
        self.direction = direction
    }

    /// The suite's name once the ServerHello has passed.
    var cipherName: String? { reader.cipherName }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if direction == .inbound, !reader.isDone { reader.serverBytes(unwrapInboundIn(data).readableBytesView) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if direction == .outbound, !reader.isDone { reader.serverBytes(unwrapOutboundIn(data).readableBytesView) }
        context.write(data, promise: promise)
    }
}
