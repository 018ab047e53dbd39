/// FTP control channel: commands answered in order; `1xx` preliminary replies belong to the
/// command their final reply answers.
///
/// Keys: the kind is the verb; `USER name` keeps the user; the password and the `PORT`/`EPRT`
/// address (different on every run) are masked, in the exact key too.
public struct FTPDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .ftp }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { FTPFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let bytes = message.bytes
        let command = TextCommand(bytes)
        let content: String
        let exact: [UInt8]
        switch command.verb {
        case "PASS", "ACCT", "PORT", "EPRT", "LPRT":
            content = command.verb
            exact = TextCommand.maskingWords(after: 1, in: bytes)
        default:
            content = command.verbAndArguments
            exact = bytes
        }
        return MessageKey(kind: command.verb, content: masks.apply(content), exact: masks.apply(exact))
    }

    /// `AUTH TLS` / `AUTH SSL`: the control channel turns into TLS.
    public func unreplayableReason(recordedRequest: FramedMessage) -> String? {
        let command = TextCommand(recordedRequest.bytes)
        guard command.verb == "AUTH", let mechanism = command.words.first?.uppercased(), mechanism == "TLS" || mechanism == "SSL" || mechanism == "TLS-C" else {
            return nil
        }
        return TextUnreplayable.startTLS("AUTH \(mechanism)")
    }

    /// The address and port of a passive-mode reply (`227 Entering Passive Mode
    /// (127,0,0,1,195,80)`, `229 Entering Extended Passive Mode (|||50000|)`) become `*`.
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        var bytes = message.bytes
        if let code = SMTPReplyCode(bytes), (227...229).contains(code.value) {
            bytes = Self.passiveAddress.apply(bytes)
        }
        return masks.apply(bytes)
    }

    static let passiveAddress: MaskSet = (try? MaskSet(patterns: [
        "(?<=\\()[^()\\r\\n]*(?=\\))",
        "(?<![0-9(,])[0-9]{1,3}(?:,[0-9]{1,3}){5}(?![0-9,)])",
    ])) ?? .none

    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        key.kind == "NOOP" ? Array("200 NOOP ok\r\n".utf8) : nil
    }

    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        Array("502 replayd: \(ReplyReasonText.oneLine(reason))\r\n".utf8)
    }
}
