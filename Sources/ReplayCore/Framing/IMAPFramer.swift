/// Cuts an IMAP4rev1 connection into messages.
///
/// Client: a command line is a message. A synchronizing literal `{n}` at the end of a line
/// ends the message there (the server's `+` continuation is its reply); the next message
/// starts with the `n` literal bytes and runs to the next line end outside a literal (and may
/// itself end in a literal). A non-synchronizing `{n+}` literal stays inside its message. Lines
/// a client sends after a server `+` (AUTHENTICATE responses, `DONE`) are messages as well.
/// If the server answers a synchronizing literal with a tagged `NO`/`BAD` instead of `+`, the
/// client will not send it, so the framer stops waiting for it.
///
/// Server: every response line is a message, with the literals it announces (`FETCH … BODY[]
/// {1234}`) and the rest of its line. Tagged responses and `+` continuations complete a reply;
/// untagged `*` data does not.
public struct IMAPFramer: MessageFramer {
    private var client = TextStream()
    private var server = TextStream()
    private var clientMessage: [UInt8] = []
    private var serverMessage: [UInt8] = []
    /// Literal bytes still due in the client message being collected.
    private var clientLiteral = 0
    /// Literal bytes still due in the server response being collected.
    private var serverLiteral = 0
    /// The tag of the command being sent, while the client is inside it (across literals).
    private var commandTag: [UInt8]?
    /// The tag of a command whose synchronizing literal waits for the server's `+`.
    private var literalWaitsFor: [UInt8]?

    public init() {}

    public var pendingClientBytes: Int { client.count + clientMessage.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(bytes)
        var messages: [FramedMessage] = []
        while true {
            if clientLiteral > 0 {
                let part = client.take(upTo: clientLiteral)
                guard !part.isEmpty else { break }
                literalWaitsFor = nil
                clientMessage.append(contentsOf: part)
                clientLiteral -= part.count
                continue
            }
            guard let line = client.nextLine() else { break }
            if clientMessage.isEmpty, commandTag == nil { commandTag = Self.tag(of: line) }
            clientMessage.append(contentsOf: line)
            if let literal = IMAPLiteral(endOf: line) {
                clientLiteral = literal.size
                guard literal.synchronizing else { continue }
                literalWaitsFor = literal.size > 0 ? commandTag : nil
            } else {
                commandTag = nil
            }
            messages.append(FramedMessage(bytes: clientMessage, expectsReply: true))
            clientMessage = []
        }
        return messages
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(bytes)
        var messages: [FramedMessage] = []
        while true {
            if serverLiteral > 0 {
                let part = server.take(upTo: serverLiteral)
                guard !part.isEmpty else { break }
                serverMessage.append(contentsOf: part)
                serverLiteral -= part.count
                continue
            }
            guard let line = server.nextLine() else { break }
            serverMessage.append(contentsOf: line)
            if let literal = IMAPLiteral(endOf: line) {
                serverLiteral = literal.size
                continue
            }
            messages.append(response(serverMessage))
            serverMessage = []
        }
        return messages
    }

    public mutating func clientFinished() -> [FramedMessage] {
        let rest = clientMessage + client.takeAll()
        clientMessage = []
        clientLiteral = 0
        commandTag = nil
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        let rest = serverMessage + server.takeAll()
        serverMessage = []
        serverLiteral = 0
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest, completesReply: Self.completesReply(rest))]
    }

    private mutating func response(_ bytes: [UInt8]) -> FramedMessage {
        if let waiting = literalWaitsFor {
            if bytes.first == UInt8(ascii: "+") {
                literalWaitsFor = nil
            } else if let tag = Self.tag(of: bytes), tag == waiting {
                // Refused: the literal will not come, the next client line is a new command.
                literalWaitsFor = nil
                clientLiteral = 0
                commandTag = nil
            }
        }
        return FramedMessage(bytes: bytes, completesReply: Self.completesReply(bytes))
    }

    /// Tagged responses and `+` continuations complete a reply; untagged `*` lines do not.
    static func completesReply(_ response: [UInt8]) -> Bool {
        guard let first = response.first else { return false }
        if first == UInt8(ascii: "+") { return true }
        return !(first == UInt8(ascii: "*") && (response.count == 1 || TextCommand.isBlank(response[1]) || response[1] == 13 || response[1] == 10))
    }

    /// The first word of a line when it can be a tag (atom characters, no `+`), else `nil`.
    static func tag(of line: [UInt8]) -> [UInt8]? {
        let word = line.prefix { !TextCommand.isBlank($0) && $0 != 13 && $0 != 10 }
        guard !word.isEmpty, word.count < line.count, TextCommand.isBlank(line[word.count]) else { return nil }
        for byte in word {
            switch byte {
            case 0...0x20, 0x7F..., UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"),
                 UInt8(ascii: "*"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "+"):
                return nil
            default:
                continue
            }
        }
        return Array(word)
    }
}
