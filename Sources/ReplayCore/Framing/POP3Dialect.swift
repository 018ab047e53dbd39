/// POP3: commands answered in order by single-line or dot-terminated replies.
///
/// Keys: the kind is the verb; `USER name` and `APOP name` keep the user, never the password
/// or digest (masked in the exact key too); SASL response lines are `(auth response)`, masked.
public struct POP3Dialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .pop3 }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { POP3Framer() }

    static let saslResponseKind = TextCommand.saslResponseKind
    /// Verbs that are commands even though their letters would pass for base64.
    static let verbs: Set<String> = [
        "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA",
        "STLS", "UTF8", "LANG",
    ]

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let bytes = message.bytes
        let command = TextCommand(bytes)
        let content: String
        let exact: [UInt8]
        switch command.verb {
        case "PASS":
            content = "PASS"
            exact = TextCommand.maskingWords(after: 1, in: bytes)
        case "APOP":
            content = command.words.first.map { "APOP " + $0 } ?? "APOP"
            exact = TextCommand.maskingWords(after: 2, in: bytes)
        case "AUTH":
            (content, exact) = TextCommand.authKey(command, bytes)
        case let verb where !Self.verbs.contains(verb) && TextCommand.isSASLResponse(bytes):
            return TextCommand.saslResponseKey(bytes, masks: masks)
        default:
            content = command.verbAndArguments
            exact = bytes
        }
        return MessageKey(kind: command.verb, content: masks.apply(content), exact: masks.apply(exact))
    }

    public func unreplayableReason(recordedRequest: FramedMessage) -> String? {
        let command = TextCommand(recordedRequest.bytes)
        switch command.verb {
        case "STLS": return TextUnreplayable.startTLS("STLS")
        case "AUTH": return command.words.first.flatMap(TextUnreplayable.sasl(mechanism:))
        default: return nil
        }
    }

    /// The APOP timestamp of a greeting (`+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>`),
    /// different on every connection, becomes `<*>`.
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        masks.apply(Self.maskingTimestamp(message.bytes))
    }

    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        key.kind == "NOOP" ? Array("+OK\r\n".utf8) : nil
    }

    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        Array("-ERR replayd: \(ReplyReasonText.oneLine(reason))\r\n".utf8)
    }

    /// In a single-line `+OK` reply, the last `<…@…>` becomes `<*>`; multi-line replies
    /// (a message's Message-ID) are left alone.
    static func maskingTimestamp(_ reply: [UInt8]) -> [UInt8] {
        guard reply.starts(with: Array("+OK".utf8)) else { return reply }
        let content = TextCommand.firstLineContent(reply)
        guard content.endIndex >= reply.count - 2,
              let close = content.lastIndex(of: UInt8(ascii: ">")),
              let open = content[..<close].lastIndex(of: UInt8(ascii: "<")),
              content[open..<close].contains(UInt8(ascii: "@")) else {
            return reply
        }
        return Array(reply[...open]) + [UInt8(ascii: "*")] + Array(reply[close...])
    }
}
