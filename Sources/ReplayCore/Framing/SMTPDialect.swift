/// SMTP (and LMTP, ESMTP pipelining, CHUNKING): commands answered in order by (possibly
/// multi-line) replies; a DATA body or BDAT chunk is one message.
///
/// Keys: the kind is the verb (`MAIL`, `RCPT`, `EHLO`…), `(message body)` for a DATA body,
/// `(auth response)` for a SASL response line. The content keeps what decides the server's
/// answer: `MAIL <addr>` / `RCPT <addr>` (address lower-cased, ESMTP parameters dropped),
/// `AUTH PLAIN` (mechanism only), the body with its volatile headers masked; EHLO names,
/// credentials and dates never count.
public struct SMTPDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .smtp }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { SMTPFramer() }

    static let bodyKind = "(message body)"
    static let saslResponseKind = TextCommand.saslResponseKind
    /// Verbs that are commands even though their letters would pass for base64.
    static let verbs: Set<String> = [
        "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "EXPN", "HELP", "NOOP",
        "QUIT", "STARTTLS", "AUTH", "ETRN", "ATRN", "TURN", "XCLIENT", "XFORWARD", "SEND", "SOML", "SAML",
    ]

    /// Commands repeat; bodies (and BDAT chunks, which hold a message's text) do not.
    public func keyMayRepeat(_ message: FramedMessage) -> Bool {
        !Self.isBody(message.bytes) && SMTPVerb(message.bytes.prefix(5)) != .bdat
    }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let bytes = message.bytes
        if let chunk = Self.chunk(bytes) {
            let data = SMTPMessageMask.apply(chunk.data)
            let last = TextCommand(bytes).words.dropFirst().contains { $0.uppercased() == "LAST" }
            let content = "BDAT" + (last ? " LAST" : "") + " " + MaskSet.latin1(data)
            return MessageKey(kind: "BDAT", content: masks.apply(content), exact: masks.apply(chunk.line + data))
        }
        if Self.isBody(bytes) {
            let masked = masks.apply(SMTPMessageMask.apply(bytes))
            return MessageKey(kind: Self.bodyKind, content: MaskSet.latin1(masked), exact: masked)
        }
        let command = TextCommand(bytes)
        let content: String
        let exact: [UInt8]
        switch command.verb {
        case "MAIL", "RCPT":
            content = Self.pathArgument(command).map { command.verb + " " + $0 } ?? command.verbAndArguments
            exact = bytes
        case "EHLO", "HELO", "LHLO":
            content = command.verb
            exact = TextCommand.maskingWords(after: 1, in: bytes)
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
        case "STARTTLS": return TextUnreplayable.startTLS("STARTTLS")
        case "AUTH": return command.words.first.flatMap(TextUnreplayable.sasl(mechanism:))
        default: return nil
        }
    }

    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        masks.apply(SMTPReplyMask.apply(message.bytes))
    }

    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        key.kind == "RSET" || key.kind == "NOOP" ? Array("250 2.0.0 Ok\r\n".utf8) : nil
    }

    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        Array("502 5.5.1 replayd: \(ReplyReasonText.oneLine(reason))\r\n".utf8)
    }

    /// The address of `MAIL FROM:<a>` / `RCPT TO:<a>` (also `mail from: <a>`, `MAIL FROM:a`),
    /// lower-cased and in angle brackets, ESMTP parameters dropped; `nil` if the argument is
    /// not of that form.
    static func pathArgument(_ command: TextCommand) -> String? {
        let arguments = command.arguments
        guard let colon = arguments.firstIndex(of: ":") else { return nil }
        let keyword = TextCommand.trimmed(String(arguments[..<colon])).uppercased()
        guard keyword == (command.verb == "MAIL" ? "FROM" : "TO") else { return nil }
        let rest = TextCommand.trimmed(String(arguments[arguments.index(after: colon)...]))
        let path: Substring
        if rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") {
            path = rest[rest.index(after: rest.startIndex)..<close]
        } else {
            path = rest.prefix { $0 != " " && $0 != "\t" && $0 != ">" }.drop { $0 == "<" }
        }
        return "<" + TextCommand.asciiLowercased(String(path)) + ">"
    }

    /// A DATA body: more than one line (a command is one), or just the terminating `.`.
    static func isBody(_ bytes: [UInt8]) -> Bool {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return false }
        return newline + 1 < bytes.count || TextCommand.firstLineContent(bytes).elementsEqual([UInt8(ascii: ".")])
    }

    /// A `BDAT n` line followed by exactly its `n` bytes.
    static func chunk(_ bytes: [UInt8]) -> (line: [UInt8], data: [UInt8])? {
        guard SMTPVerb(bytes.prefix(5)) == .bdat, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = Array(bytes[...newline])
        guard let size = SMTPFramer.chunkSize(line), line.count + size == bytes.count else { return nil }
        return (line, Array(bytes[(newline + 1)...]))
    }
}
