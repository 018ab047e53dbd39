import Foundation

/// Redis (RESP2 and RESP3): a command per client message, a value per server message, replies
/// in order. A command's kind is its name upper-cased, its content the name and arguments;
/// passwords (`AUTH`, `HELLO ... AUTH`) are masked in both content and exact keys.
public struct RedisDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .redis }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { RESPFramer() }

    /// Kind `GET`; content `GET present` (arguments escaped, see `WireBytes.escaped`); exact
    /// the bytes, re-encoded with `*` for a password when the command carries one.
    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        guard var arguments = RESPValueReader.arguments(message.bytes), let name = arguments.first else {
            let exact = masks.apply(message.bytes)
            return MessageKey(kind: "", content: masks.apply(WireBytes.escaped(message.bytes)), exact: exact)
        }
        let kind = String(decoding: name.map(WireBytes.upper), as: UTF8.self)
        var exact = message.bytes
        let secrets = Self.secretPositions(kind: kind, arguments: arguments)
        if !secrets.isEmpty {
            for index in secrets { arguments[index] = [UInt8(ascii: "*")] }
            exact = message.bytes.first == UInt8(ascii: "*")
                ? Self.encode(arguments)
                : Array(arguments.map { MaskSet.latin1($0) }.joined(separator: " ").utf8) + [0x0D, 0x0A]
        }
        let content = ([kind] + arguments.dropFirst().map(Self.argumentText)).joined(separator: " ")
        return MessageKey(kind: kind, content: masks.apply(content), exact: masks.apply(exact))
    }

    /// Which arguments are passwords: `AUTH pass`, `AUTH user pass`, `HELLO 3 AUTH user pass`.
    static func secretPositions(kind: String, arguments: [[UInt8]]) -> [Int] {
        switch kind {
        case "AUTH":
            return arguments.count >= 2 ? [arguments.count - 1] : []
        case "HELLO":
            let upper = arguments.map { String(decoding: $0.map(WireBytes.upper), as: UTF8.self) }
            guard let auth = upper.firstIndex(of: "AUTH"), auth + 2 < arguments.count else { return [] }
            return [auth + 2]
        default:
            return []
        }
    }

    /// An argument as it reads in a key: as is when plain, quoted with escapes otherwise
    /// (so `a b` as one argument differs from two).
    static func argumentText(_ argument: [UInt8]) -> String {
        let plain = !argument.isEmpty && argument.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if plain { return MaskSet.latin1(argument) }
        return "\"" + WireBytes.escaped(argument).replacingOccurrences(of: " ", with: "\\x20").replacingOccurrences(of: "\"", with: "\\x22") + "\""
    }

    static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var bytes = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            bytes += Array("$\(argument.count)\r\n".utf8) + argument + [0x0D, 0x0A]
        }
        return bytes
    }

    /// `PING` → `+PONG`, `PING message` → the message as a bulk string.
    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        guard key.kind == "PING", let arguments = RESPValueReader.arguments(message.bytes) else { return nil }
        guard arguments.count >= 2 else { return Array("+PONG\r\n".utf8) }
        return Array("$\(arguments[1].count)\r\n".utf8) + arguments[1] + [0x0D, 0x0A]
    }

    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        Array("-ERR replayd: ".utf8) + WireBytes.singleLine(reason) + [0x0D, 0x0A]
    }
}
