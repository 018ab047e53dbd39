/// Frames the PostgreSQL v3 protocol. The client starts with untyped messages (Int32 length,
/// then a code: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest); the server answers
/// an SSLRequest or GSSENCRequest with a single byte, after which the client sends a new
/// untyped StartupMessage. From the StartupMessage on, both sides send typed messages (a type
/// byte, then an Int32 length counting itself). If encryption is accepted (`S`, `G`) or a
/// length is impossible, the rest of the connection is opaque: each call's bytes one message.
public struct PostgresFramer: MessageFramer {
    private var client: [UInt8] = []
    private var server: [UInt8] = []
    private var clientUntyped = true
    /// The server's next answer is the single byte that accepts or refuses encryption.
    private var serverAnswersEncryption = false
    /// ReadyForQuery came: the startup phase is over.
    private var ready = false
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
            if clientUntyped {
                guard let length = WireBytes.int32(client, at: 0) else { break }
                guard length >= 8, length <= PostgresMessage.maxStartupLength else { clientOpaque = true; continue }
                guard client.count >= length else { break }
                let code = WireBytes.int32(client, at: 4) ?? 0
                let message = Self.take(&client, length)
                switch code {
                case PostgresMessage.sslRequestCode, PostgresMessage.gssEncRequestCode:
                    serverAnswersEncryption = true
                    messages.append(FramedMessage(bytes: message))
                case PostgresMessage.cancelRequestCode:
                    messages.append(FramedMessage(bytes: message, expectsReply: false))
                default:
                    clientUntyped = false
                    messages.append(FramedMessage(bytes: message))
                }
                continue
            }
            guard let end = Self.typedEnd(client) else { break }
            guard end > 0 else { clientOpaque = true; continue }
            let type = client[0]
            messages.append(FramedMessage(bytes: Self.take(&client, end), expectsReply: !PostgresMessage.silentClientTypes.contains(type)))
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
            if serverAnswersEncryption {
                serverAnswersEncryption = false
                let answer = Self.take(&server, 1)
                if answer != [UInt8(ascii: "N")] {
                    // Encryption accepted: what follows is TLS or GSSAPI, not PostgreSQL.
                    serverOpaque = true
                    clientOpaque = true
                }
                messages.append(FramedMessage(bytes: answer, completesReply: true))
                continue
            }
            guard let end = Self.typedEnd(server) else { break }
            guard end > 0 else { serverOpaque = true; continue }
            let message = Self.take(&server, end)
            messages.append(FramedMessage(bytes: message, completesReply: completes(message)))
        }
        return messages
    }

    /// Whether a backend message ends what the client waits for: ReadyForQuery; an
    /// authentication request that asks the client for something; CopyInResponse and
    /// CopyBothResponse (the client sends data next); an ErrorResponse before ReadyForQuery
    /// (the startup failed and the server closes).
    private mutating func completes(_ message: [UInt8]) -> Bool {
        switch message[0] {
        case UInt8(ascii: "Z"):
            ready = true
            return true
        case UInt8(ascii: "R"):
            let code = WireBytes.int32(message, at: 5) ?? 0
            return [3, 5, 7, 8, 9, 10, 11].contains(code)
        case UInt8(ascii: "G"), UInt8(ascii: "W"):
            return true
        case UInt8(ascii: "E"):
            return !ready
        default:
            return false
        }
    }

    public mutating func clientFinished() -> [FramedMessage] {
        client.isEmpty ? [] : [FramedMessage(bytes: Self.take(&client, client.count), expectsReply: false)]
    }

    public mutating func serverFinished() -> [FramedMessage] {
        server.isEmpty ? [] : [FramedMessage(bytes: Self.take(&server, server.count), completesReply: false)]
    }

    /// Where the typed message at the front of `buffer` ends: `nil` while incomplete, 0 if
    /// its length is impossible (less than 4, or beyond PostgreSQL's limit).
    static func typedEnd(_ buffer: [UInt8]) -> Int? {
        guard let length = WireBytes.int32(buffer, at: 1) else { return nil }
        guard length >= 4, length <= PostgresMessage.maxMessageLength else { return 0 }
        return buffer.count >= 1 + length ? 1 + length : nil
    }

    private static func take(_ buffer: inout [UInt8], _ count: Int) -> [UInt8] {
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }
}
