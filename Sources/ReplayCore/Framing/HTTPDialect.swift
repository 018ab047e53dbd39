/// HTTP: framing and matching rules. (Placeholder behaviour of the generic line dialect until
/// the protocol's own framer lands.)
public struct HTTPDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .http }
    public var pairing: ReplyPairing { .latest }
    public func makeFramer() -> any MessageFramer { LineFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        LineDialect.lineKey(message.bytes, masks: masks)
    }
}
