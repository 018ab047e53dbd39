/// DNS: framing and matching rules. (Placeholder behaviour of the generic opaque dialect until
/// the protocol's own framer lands.)
public struct DNSDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .dns }
    public var pairing: ReplyPairing { .latest }
    public func makeFramer() -> any MessageFramer { OpaqueFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        OpaqueDialect().key(ofClient: message, masks: masks)
    }
}
