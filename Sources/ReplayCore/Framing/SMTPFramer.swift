/// Cuts an SMTP connection into messages.
///
/// Client: each command line is a message (CRLF, bare LF accepted). After `DATA`, the framer
/// holds the client's bytes until the server's reply to that `DATA` arrives (pipelining
/// included: `MAIL`, `RCPT`, `RCPT`, `DATA` in one write are answered in order); if it is
/// `354`, everything up to and including the terminating `.` line is one message, the body
/// (`.\r\n` as its first line is an empty body); otherwise commands go on. A well-behaved
/// client sends nothing between `DATA` and the `354`; bytes it sent early are cut at its next
/// write (or at its FIN). `BDAT n [LAST]` is one message with its `n` chunk bytes.
///
/// Server: a reply is every line up to its last, the first whose 4th byte is not `-`
/// (`250-a`, `250-b`, `250 c` are one message). A reply while nothing waits, or a first `220`,
/// is the greeting. In an LMTP session (the client said `LHLO`) the server answers a message
/// once per accepted recipient: all but the last of those replies say `completesReply` false,
/// so they all pair with the body.
public struct SMTPFramer: MessageFramer {
    /// A client message waiting for its reply.
    private enum Sent: Sendable, Equatable {
        case command(SMTPVerb)
        /// A DATA body or BDAT chunk; `last` for the body and `BDAT … LAST`.
        case messageData(last: Bool)
    }

    private enum ClientMode: Sendable, Equatable {
        case commands
        /// `DATA` was sent; its reply decides whether a body follows.
        case awaitingDataReply
        case body
        case chunk(remaining: Int)
    }

    private var client = TextStream()
    private var server = TextStream()
    private var mode = ClientMode.commands
    /// The body or BDAT chunk collected so far.
    private var clientMessage: [UInt8] = []
    /// The reply lines collected so far.
    private var reply: [UInt8] = []
    /// Client messages sent and not yet answered, oldest first.
    private var waiting = TextPendingQueue<Sent>()
    private var greeted = false
    private var lmtp = false
    /// Recipients the server accepted in the current transaction (LMTP replies once per each).
    private var acceptedRecipients = 0
    /// LMTP: replies still due for the message data at the head of `waiting`.
    private var dataRepliesDue: Int?

    public init() {}

    public var pendingClientBytes: Int { client.count + clientMessage.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        var messages: [FramedMessage] = []
        clientBytes(bytes, into: &messages)
        return messages
    }

    public mutating func clientBytes(_ bytes: [UInt8], into messages: inout [FramedMessage]) {
        client.append(bytes)
        loop: while true {
            switch mode {
            case .awaitingDataReply:
                break loop
            case .commands:
                guard let line = client.nextLine() else { break loop }
                let verb = SMTPVerb(line)
                if verb == .bdat, let size = Self.chunkSize(line) {
                    clientMessage = line
                    mode = .chunk(remaining: size)
                    continue
                }
                messages.append(sent(line, as: .command(verb)))
                if verb == .data { mode = .awaitingDataReply }
            case .body:
                // The whole body at once when its end is already here (the usual case); the
                // line by line path below gives the same bytes for a body that comes in parts.
                if clientMessage.isEmpty, let body = client.take(throughLine: Self.endsData) {
                    messages.append(sent(body, as: .messageData(last: true)))
                    mode = .commands
                    continue
                }
                guard let line = client.nextLine() else { break loop }
                clientMessage.append(contentsOf: line)
                if LineSplitter.trimmingLineEnding(line).elementsEqual([UInt8(ascii: ".")]) {
                    messages.append(sent(clientMessage, as: .messageData(last: true)))
                    clientMessage = []
                    mode = .commands
                }
            case .chunk(let remaining):
                let part = client.take(upTo: remaining)
                clientMessage.append(contentsOf: part)
                guard part.count == remaining else {
                    mode = .chunk(remaining: remaining - part.count)
                    break loop
                }
                let last = TextCommand(clientMessage).words.dropFirst().contains { $0.uppercased() == "LAST" }
                messages.append(sent(clientMessage, as: .messageData(last: last)))
                clientMessage = []
                mode = .commands
            }
        }
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(bytes)
        var messages: [FramedMessage] = []
        while let line = server.nextLine() {
            reply.append(contentsOf: line)
            guard !Self.continuesReply(line) else { continue }
            let completes = answered(code: SMTPReplyCode(reply)?.value ?? 0)
            messages.append(FramedMessage(bytes: reply, completesReply: completes))
            reply = []
        }
        return messages
    }

    /// The same state as `serverBytes`, without copying lines or building replies when nothing
    /// is buffered and the bytes end with a whole line (each reply replay sends): the lines are
    /// walked in place, and only a reply still open at the end (continuation lines) is kept.
    public mutating func observeServerBytes(_ bytes: [UInt8]) {
        guard server.count == 0, reply.isEmpty, bytes.last == UInt8(ascii: "\n") else {
            _ = serverBytes(bytes)
            return
        }
        var lineStart = 0
        var replyStart = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                let continues = index + 1 - lineStart >= 4 && bytes[lineStart + 3] == UInt8(ascii: "-")
                if !continues {
                    _ = answered(code: Self.replyCode(bytes, from: replyStart, to: index + 1))
                    replyStart = index + 1
                }
                lineStart = index + 1
            }
            index += 1
        }
        if replyStart < bytes.count { reply.append(contentsOf: bytes[replyStart...]) }
    }

    /// `SMTPReplyCode` of the reply `bytes[start..<end]`, 0 when it has none.
    private static func replyCode(_ bytes: [UInt8], from start: Int, to end: Int) -> Int {
        guard end - start >= 3 else { return 0 }
        var value = 0
        for byte in bytes[start..<(start + 3)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return 0 }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    public mutating func clientFinished() -> [FramedMessage] {
        let rest = clientMessage + client.takeAll()
        clientMessage = []
        mode = .commands
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        let rest = reply + server.takeAll()
        reply = []
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest, completesReply: true)]
    }

    private mutating func sent(_ bytes: [UInt8], as kind: Sent) -> FramedMessage {
        waiting.push(kind)
        return FramedMessage(bytes: bytes, expectsReply: true)
    }

    /// A complete reply arrived: the greeting, or the answer to the oldest waiting message.
    /// Returns whether it completes that message's reply.
    private mutating func answered(code: Int) -> Bool {
        // The greeting, or unsolicited: nothing waits. A `220` before any other reply is the
        // greeting even when the client already spoke (an early talker's EHLO waits behind it).
        let greeting = !greeted && code == 220
        greeted = true
        guard !greeting, let oldest = waiting.first else { return true }
        switch oldest {
        case .command(let verb):
            _ = waiting.pop()
            switch verb {
            case .lhlo: lmtp = true
            case .ehlo, .helo: lmtp = false; acceptedRecipients = 0
            case .mail, .rset: acceptedRecipients = 0
            case .rcpt: if (200..<300).contains(code) { acceptedRecipients += 1 }
            case .data: if mode == .awaitingDataReply { mode = code == 354 ? .body : .commands }
            case .bdat, .other: break
            }
            return true
        case .messageData(let last):
            if lmtp, last {
                let due = dataRepliesDue ?? max(acceptedRecipients, 1)
                guard due <= 1 else {
                    dataRepliesDue = due - 1
                    return false
                }
            }
            _ = waiting.pop()
            dataRepliesDue = nil
            if last { acceptedRecipients = 0 }
            return true
        }
    }

    /// The line that ends a DATA body: `.` and its line ending (`.\r\n`, or a bare `.\n`).
    static func endsData(_ line: ArraySlice<UInt8>) -> Bool {
        let start = line.startIndex
        switch line.count {
        case 2: return line[start] == UInt8(ascii: ".") && line[start + 1] == UInt8(ascii: "\n")
        case 3: return line[start] == UInt8(ascii: ".") && line[start + 1] == UInt8(ascii: "\r") && line[start + 2] == UInt8(ascii: "\n")
        default: return false
        }
    }

    /// A reply line continues when its 4th byte is `-` (`250-PIPELINING`); anything else,
    /// garbage included, ends the reply, so a broken server cannot hold a reply open forever.
    static func continuesReply(_ line: [UInt8]) -> Bool {
        line.count >= 4 && line[3] == UInt8(ascii: "-")
    }

    /// The chunk size of a `BDAT n [LAST]` line; `nil` when `n` is not a number (then the line
    /// is an ordinary command the server will reject).
    static func chunkSize(_ line: [UInt8]) -> Int? {
        let words = TextCommand(line).words
        guard let first = words.first, !first.isEmpty, first.count <= 15, first.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(first)
    }
}
