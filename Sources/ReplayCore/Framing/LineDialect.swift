/// A text protocol replayd does not know: a message per line, its kind the first word.
public struct LineDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .line }
    public var pairing: ReplyPairing { .latest }
    public func makeFramer() -> any MessageFramer { LineFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        Self.lineKey(message.bytes, masks: masks)
    }

    /// Kind: the first word, upper-cased; content: the line without its ending, masked;
    /// exact: the masked bytes.
    public static func lineKey(_ bytes: [UInt8], masks: MaskSet) -> MessageKey {
        let exact = masks.apply(bytes)
        let trimmed = Array(LineSplitter.trimmingLineEnding(exact))
        return MessageKey(kind: LineSplitter.verb(trimmed), content: MaskSet.latin1(trimmed), exact: exact)
    }
}
