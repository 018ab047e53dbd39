/// IMAP4rev1: tagged commands, untagged data, tagged completions and `+` continuations.
///
/// Keys: the kind is the command name (`FETCH`, `UID FETCH`), `(literal)` for a message
/// that continues a command after a synchronizing literal, the verb of a bare continuation line
/// (`DONE`) or `(continuation)` for a SASL response. The tag never counts: it is left out of
/// the content and masked in the exact key; so are passwords and SASL initial responses.
/// Replies get the live tag through `echo`.
public struct IMAPDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .imap }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { IMAPFramer() }

    static let literalKind = "(literal)"
    static let continuationKind = "(continuation)"
    static let star: [UInt8] = [UInt8(ascii: "*")]

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let bytes = message.bytes
        guard let command = IMAPCommand(bytes) else { return Self.continuationKey(bytes, masks: masks) }
        // The tag differs per client and per connection; `*` stands for it.
        var exact = Self.star + Array(bytes[command.tag.count...])
        let shift = command.tag.count - 1
        var argumentsStart = command.argumentsStart
        var content = command.name
        switch command.name {
        case "LOGIN":
            let user = IMAPCommand.astring(in: bytes, from: argumentsStart)
            content += " " + MaskSet.latin1(user.value)
            var passwordStart = user.end
            while passwordStart < bytes.count, TextCommand.isBlank(bytes[passwordStart]) { passwordStart += 1 }
            exact = Self.maskingRest(of: exact, from: passwordStart - shift)
            argumentsStart = bytes.count
        case "AUTHENTICATE":
            let mechanism = IMAPCommand.astring(in: bytes, from: argumentsStart)
            content += " " + LineSplitter.verb(mechanism.value)
            var responseStart = mechanism.end
            while responseStart < bytes.count, TextCommand.isBlank(bytes[responseStart]) { responseStart += 1 }
            exact = Self.maskingRest(of: exact, from: responseStart - shift)
            argumentsStart = bytes.count
        default:
            break
        }
        if argumentsStart < bytes.count {
            let arguments = MaskSet.latin1(Array(Self.content(of: bytes)[argumentsStart...]))
            if !arguments.isEmpty { content += " " + arguments }
        }
        return MessageKey(kind: command.name, content: masks.apply(content), exact: masks.apply(exact))
    }

    /// A message that is not a command: `DONE`, a SASL response, or the rest of a command
    /// after a literal.
    static func continuationKey(_ bytes: [UInt8], masks: MaskSet) -> MessageKey {
        let singleLine = ((bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? bytes.count) == bytes.count
        if singleLine, TextCommand(bytes).verb == "DONE", TextCommand(bytes).arguments.isEmpty {
            return MessageKey(kind: "DONE", content: "DONE", exact: masks.apply(bytes))
        }
        if singleLine, TextCommand.isSASLResponse(bytes) {
            return MessageKey(kind: continuationKind, content: continuationKind, exact: masks.apply(TextCommand.maskingLine(bytes)))
        }
        // An APPENDed message keys like an SMTP body: its Date and Message-ID do not count.
        let exact = masks.apply(SMTPMessageMask.apply(bytes))
        return MessageKey(kind: literalKind, content: MaskSet.latin1(Array(content(of: exact))), exact: exact)
    }

    /// The rest of a command after a literal, `DONE` after IDLE and AUTHENTICATE responses
    /// carry no tag: the tagged reply that follows them belongs to the command they continue.
    public func continuesCommand(kind: String) -> Bool {
        kind == Self.literalKind || kind == Self.continuationKind || kind == "DONE"
    }

    public func unreplayableReason(recordedRequest: FramedMessage) -> String? {
        let bytes = recordedRequest.bytes
        guard let command = IMAPCommand(bytes) else { return nil }
        switch command.name {
        case "STARTTLS": return TextUnreplayable.startTLS("STARTTLS")
        case "AUTHENTICATE":
            return TextUnreplayable.sasl(mechanism: MaskSet.latin1(IMAPCommand.astring(in: bytes, from: command.argumentsStart).value))
        default: return nil
        }
    }

    /// Tags masked at the start of tagged lines, dates masked (INTERNALDATE, ENVELOPE, a
    /// greeting's clock).
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        var bytes = message.bytes
        if message.bytes.first != UInt8(ascii: "+"), let tag = IMAPFramer.tag(of: bytes) {
            bytes = Self.star + Array(bytes[tag.count...])
        }
        return masks.apply(RFC5322DateMask.apply(bytes))
    }

    /// The recorded tag at the start of each tagged response in `reply` becomes the live tag.
    public var echoesFields: Bool { true }

    public func echo(liveRequest: FramedMessage, recordedRequest: FramedMessage, reply: [UInt8]) -> [UInt8]? {
        guard let live = IMAPCommand(liveRequest.bytes)?.tag, let recorded = IMAPCommand(recordedRequest.bytes)?.tag, live != recorded else {
            return nil
        }
        var framer = IMAPFramer()
        let responses = framer.serverBytes(reply) + framer.serverFinished()
        var changed = false
        var result: [UInt8] = []
        for response in responses.map(\.bytes) {
            if response.count > recorded.count, response.starts(with: recorded), TextCommand.isBlank(response[recorded.count]) {
                result += live + response[recorded.count...]
                changed = true
            } else {
                result += response
            }
        }
        return changed ? result : nil
    }

    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        guard key.kind == "NOOP", let tag = IMAPCommand(message.bytes)?.tag else { return nil }
        return tag + Array(" OK NOOP completed\r\n".utf8)
    }

    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        let tag = IMAPCommand(message.bytes)?.tag ?? Self.star
        return tag + Array(" BAD replayd: \(ReplyReasonText.oneLine(reason))\r\n".utf8)
    }

    /// The message without its final line ending.
    static func content(of bytes: [UInt8]) -> ArraySlice<UInt8> {
        LineSplitter.trimmingLineEnding(bytes)
    }

    /// Everything from `start` to the message's final line ending replaced by `*` (a password
    /// may run across a LITERAL+ literal); unchanged when nothing is there.
    static func maskingRest(of bytes: [UInt8], from start: Int) -> [UInt8] {
        let end = content(of: bytes).endIndex
        guard start >= 0, start < end else { return bytes }
        return Array(bytes[..<start]) + star + Array(bytes[end...])
    }
}
