/// Cuts an FTP control connection into messages. Client: one command per line. Server: one
/// reply per message, a multi-line reply (`211-Features:` … `211 End`) running up to the line
/// that starts with the same code and a space. Preliminary `1xx` replies (`150 Opening data
/// connection`) do not complete the reply: the `226` after them answers the same command.
public struct FTPFramer: MessageFramer {
    private var client = TextStream()
    private var server = TextStream()
    private var reply: [UInt8] = []
    /// The code of the multi-line reply being collected (`211-` was its first line).
    private var multiLineCode: [UInt8]?

    public init() {}

    public var pendingClientBytes: Int { client.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(bytes)
        var messages: [FramedMessage] = []
        while let line = client.nextLine() { messages.append(FramedMessage(bytes: line, expectsReply: true)) }
        return messages
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(bytes)
        var messages: [FramedMessage] = []
        while let line = server.nextLine() {
            reply.append(contentsOf: line)
            if let code = multiLineCode {
                // Inside a multi-line reply only `code SP` (or the bare code) ends it.
                guard line.starts(with: code), line.count == 3 || Self.endsCode(line[3]) else { continue }
                multiLineCode = nil
            } else if SMTPReplyCode(line) != nil, line.count > 3, line[3] == UInt8(ascii: "-") {
                multiLineCode = Array(line[..<3])
                continue
            }
            messages.append(FramedMessage(bytes: reply, completesReply: Self.completesReply(reply)))
            reply = []
        }
        return messages
    }

    public mutating func clientFinished() -> [FramedMessage] {
        let rest = client.takeAll()
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        let rest = reply + server.takeAll()
        reply = []
        multiLineCode = nil
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest, completesReply: Self.completesReply(rest))]
    }

    /// `1xx` is preliminary; everything else (garbage included) completes.
    static func completesReply(_ reply: [UInt8]) -> Bool {
        guard let code = SMTPReplyCode(reply) else { return true }
        return code.value >= 200
    }

    static func endsCode(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }
}
