/// Cuts a POP3 connection into messages. Client: one command per line. Server: one line per
/// reply (the greeting, `+OK`/`-ERR`, SASL `+ ` continuations), except the positive reply to
/// `RETR`, `TOP`, `CAPA`, `LIST`/`UIDL` without an argument and `AUTH` without one (the
/// mechanism list), which runs up to and including its `.` line (dot-stuffed `..x` lines
/// are content). Which reply is which comes from the commands still waiting, oldest first.
public struct POP3Framer: MessageFramer {
    private var client = TextStream()
    private var server = TextStream()
    /// For each command still waiting: whether a positive reply to it is multi-line.
    private var waiting = TextPendingQueue<Bool>()
    /// The multi-line reply being collected, if one is.
    private var multiLine: [UInt8]?

    public init() {}

    public var pendingClientBytes: Int { client.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(bytes)
        var messages: [FramedMessage] = []
        while let line = client.nextLine() {
            waiting.push(Self.hasMultiLineReply(TextCommand(line)))
            messages.append(FramedMessage(bytes: line, expectsReply: true))
        }
        return messages
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(bytes)
        var messages: [FramedMessage] = []
        while let line = server.nextLine() {
            if var reply = multiLine {
                reply.append(contentsOf: line)
                if LineSplitter.trimmingLineEnding(line).elementsEqual([UInt8(ascii: ".")]) {
                    messages.append(FramedMessage(bytes: reply, completesReply: true))
                    multiLine = nil
                } else {
                    multiLine = reply
                }
                continue
            }
            // A line while nothing waits is the greeting (or unsolicited): single-line.
            if waiting.pop() == true, line.starts(with: Array("+OK".utf8)) {
                multiLine = line
            } else {
                messages.append(FramedMessage(bytes: line, completesReply: true))
            }
        }
        return messages
    }

    public mutating func clientFinished() -> [FramedMessage] {
        let rest = client.takeAll()
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        let rest = (multiLine ?? []) + server.takeAll()
        multiLine = nil
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest, completesReply: true)]
    }

    static func hasMultiLineReply(_ command: TextCommand) -> Bool {
        switch command.verb {
        case "RETR", "TOP", "CAPA": return true
        case "LIST", "UIDL", "AUTH": return command.arguments.isEmpty
        default: return false
        }
    }
}
