/// Frames Redis's RESP2 and RESP3: a client message is one command (an array of bulk strings
/// or an inline line), a server message one complete value. A top-level attribute (`|`) or
/// push (`>`) does not complete a reply: the attribute precedes the reply, a push is
/// unsolicited. Bytes that are not RESP turn that direction opaque (each call one message),
/// so garbage is passed through whole rather than waited on.
public struct RESPFramer: MessageFramer {
    private var client: [UInt8] = []
    private var server: [UInt8] = []
    private var clientOpaque = false
    private var serverOpaque = false

    public init() {}

    public var pendingClientBytes: Int { client.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(contentsOf: bytes)
        var messages: [FramedMessage] = []
        while !client.isEmpty {
            if clientOpaque {
                messages.append(FramedMessage(bytes: Self.take(&client, client.count)))
                break
            }
            if client[0] == UInt8(ascii: "*") {
                switch RESPValueReader.scan(client, from: 0) {
                case .complete(let end):
                    messages.append(FramedMessage(bytes: Self.take(&client, end)))
                    continue
                case .incomplete:
                    return messages
                case .invalid:
                    clientOpaque = true
                    continue
                }
            }
            guard let newline = WireBytes.newline(in: client, from: 0) else {
                if client.count > RESPValueReader.maxLine { clientOpaque = true; continue }
                return messages
            }
            let line = Self.take(&client, newline + 1)
            // Redis ignores an empty inline line: nothing answers it.
            messages.append(FramedMessage(bytes: line, expectsReply: !LineSplitter.trimmingLineEnding(line).isEmpty))
        }
        return messages
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(contentsOf: bytes)
        var messages: [FramedMessage] = []
        while !server.isEmpty {
            if serverOpaque {
                messages.append(FramedMessage(bytes: Self.take(&server, server.count), completesReply: false))
                break
            }
            switch RESPValueReader.scan(server, from: 0) {
            case .complete(let end):
                let type = server[0]
                let completes = type != UInt8(ascii: "|") && type != UInt8(ascii: ">")
                messages.append(FramedMessage(bytes: Self.take(&server, end), completesReply: completes))
            case .incomplete:
                return messages
            case .invalid:
                serverOpaque = true
            }
        }
        return messages
    }

    public mutating func clientFinished() -> [FramedMessage] {
        client.isEmpty ? [] : [FramedMessage(bytes: Self.take(&client, client.count), expectsReply: false)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        server.isEmpty ? [] : [FramedMessage(bytes: Self.take(&server, server.count), completesReply: false)]
    }

    private static func take(_ buffer: inout [UInt8], _ count: Int) -> [UInt8] {
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }
}
