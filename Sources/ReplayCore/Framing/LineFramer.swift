/// The framer of a text protocol replayd does not know: every line of either side is a
/// message; client lines expect a reply, server lines belong to the latest client line.
public struct LineFramer: MessageFramer {
    private var client = LineSplitter()
    private var server = LineSplitter()

    public init() {}

    public var pendingClientBytes: Int { client.buffer.count }

    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(bytes)
        var messages: [FramedMessage] = []
        while let line = client.nextLine() { messages.append(FramedMessage(bytes: line)) }
        return messages
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        server.append(bytes)
        var messages: [FramedMessage] = []
        while let line = server.nextLine() { messages.append(FramedMessage(bytes: line, completesReply: false)) }
        return messages
    }

    public mutating func clientFinished() -> [FramedMessage] {
        let rest = client.takeAll()
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        let rest = server.takeAll()
        return rest.isEmpty ? [] : [FramedMessage(bytes: rest, completesReply: false)]
    }
}
