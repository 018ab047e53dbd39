/// The framer of a binary protocol replayd does not know. Nothing in the bytes says where a
/// message ends, so client messages are cut from outside: in a recording where the client
/// paused for a reply (the server spoke), live where the bytes received reach the length of the
/// recorded message the client is expected to send next (`cut(length:)`). Server bytes are one
/// message per call, belonging to the latest client message.
public struct OpaqueFramer: MessageFramer {
    private var client: [UInt8] = []

    public init() {}

    public var pendingClientBytes: Int { client.count }

    /// Buffers client bytes: a message is only complete once `cut(length:)` or the client's FIN says so.
    public mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        client.append(contentsOf: bytes)
        return []
    }

    public mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage] {
        bytes.isEmpty ? [] : [FramedMessage(bytes: bytes, completesReply: false)]
    }

    /// Hands out the first `length` buffered client bytes as a message, once that many have come
    /// (`length` 0 or less takes all that is buffered).
    public mutating func cut(length: Int) -> FramedMessage? {
        guard !client.isEmpty else { return nil }
        let count = length <= 0 ? client.count : length
        guard client.count >= count else { return nil }
        let message = FramedMessage(bytes: Array(client[..<count]))
        client.removeFirst(count)
        return message
    }

    public mutating func clientFinished() -> [FramedMessage] {
        cut(length: 0).map { [$0] } ?? []
    }

    public mutating func serverFinished() -> [FramedMessage] { [] }
}
