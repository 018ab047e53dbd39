/// Unknown binary: every client message is of one kind, compared by its bytes.
public struct OpaqueDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .opaque }
    public var pairing: ReplyPairing { .latest }
    public func makeFramer() -> any MessageFramer { OpaqueFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let exact = masks.apply(message.bytes)
        return MessageKey(kind: "", content: "\(exact.count) bytes", exact: exact)
    }
}
