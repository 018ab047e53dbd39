/// PostgreSQL (v3 protocol): one frontend or backend message per framed message; replies pair
/// in order, a query's reply completing at ReadyForQuery. Kinds are message names (`Query`,
/// `Parse`, `Startup`, ...); passwords and SASL payloads are masked; SCRAM exchanges are
/// refused for replay, since they cannot succeed with another client nonce.
public struct PostgresDialect: ProtocolDialect {
    public init() {}

    public var wireProtocol: WireProtocol { .postgres }
    public var pairing: ReplyPairing { .inOrder }
    public func makeFramer() -> any MessageFramer { PostgresFramer() }

    public func key(ofClient message: FramedMessage, masks: MaskSet) -> MessageKey {
        let bytes = message.bytes
        let kind = PostgresMessage.name(ofClient: bytes)
        let body = Array(bytes.dropFirst(5))
        var content = kind
        var exact = bytes
        switch kind {
        case "Startup":
            let parameters = PostgresMessage.startupParameters(bytes)
                .filter { $0.0 != "application_name" }
                .sorted { $0.0 < $1.0 }
                .map { "\($0.0)=\($0.1)" }
            content = ([kind] + parameters).joined(separator: " ")
        case "Query":
            content = "Query " + MaskSet.latin1(PostgresMessage.cStrings(bytes, from: 5).first ?? [])
        case "Parse":
            let strings = Self.twoStrings(body)
            content = "Parse " + MaskSet.latin1(strings.1)
        case "Bind":
            content = (["Bind"] + (PostgresMessage.bindParameters(bytes) ?? ["(malformed)"])).joined(separator: " ")
        case "Describe", "Close":
            content = kind + " " + WireBytes.escaped(body.prefix(1))
        case "CopyData", "CopyFail", "FunctionCall":
            content = kind + " " + WireBytes.escaped(body)
        case "Password", "SASLResponse":
            content = kind + " *"
            exact = Self.typed(UInt8(ascii: "p"), Array("*".utf8) + [0])
        case "SASLInitialResponse":
            let mechanism = PostgresMessage.saslMechanism(body) ?? ""
            content = kind + " " + mechanism
            exact = Self.typed(UInt8(ascii: "p"), Array(mechanism.utf8) + [0] + WireBytes.bytes(int32: 1) + Array("*".utf8))
        default:
            break
        }
        return MessageKey(kind: kind, content: masks.apply(content), exact: masks.apply(exact))
    }

    /// BackendKeyData's process id and secret, an MD5 salt and SCRAM server data are random per
    /// connection; they are masked so equal recorded sessions merge.
    public func maskedReply(_ message: FramedMessage, masks: MaskSet) -> [UInt8] {
        var bytes = message.bytes
        let from: Int?
        switch bytes.first {
        case UInt8(ascii: "K"):
            from = 5
        case UInt8(ascii: "R"):
            let code = WireBytes.int32(bytes, at: 5) ?? 0
            from = [5, 11, 12].contains(code) ? 9 : nil
        default:
            from = nil
        }
        if let from, from < bytes.count {
            for index in from..<bytes.count { bytes[index] = UInt8(ascii: "*") }
        }
        return masks.apply(bytes)
    }

    /// Refuses encryption (`N`) when the recording has no answer: the client then starts over
    /// in plain text, which the recording may well have.
    public func housekeepingReply(to message: FramedMessage, key: MessageKey) -> [UInt8]? {
        key.kind == "SSLRequest" || key.kind == "GSSENCRequest" ? [UInt8(ascii: "N")] : nil
    }

    /// An ErrorResponse (SQLSTATE 0A000, feature not supported) naming replayd and `reason`,
    /// then ReadyForQuery (idle) so the session goes on; during startup only the ErrorResponse,
    /// which ends the attempt.
    public func errorReply(to message: FramedMessage, reason: String) -> [UInt8]? {
        var fields: [UInt8] = []
        for (code, value) in [("S", Array("ERROR".utf8)), ("V", Array("ERROR".utf8)), ("C", Array("0A000".utf8)),
                              ("M", Array("replayd: ".utf8) + WireBytes.singleLine(reason).filter { $0 != 0 })] {
            fields += Array(code.utf8) + value + [0]
        }
        fields.append(0)
        let error = Self.typed(UInt8(ascii: "E"), fields)
        let startup = PostgresMessage.isUntyped(message.bytes) || message.bytes.first == UInt8(ascii: "p")
        return startup ? error : error + Self.typed(UInt8(ascii: "Z"), [UInt8(ascii: "I")])
    }

    public func unreplayableReason(recordedRequest: FramedMessage) -> String? {
        guard PostgresMessage.name(ofClient: recordedRequest.bytes) == "SASLInitialResponse",
              let mechanism = PostgresMessage.saslMechanism(Array(recordedRequest.bytes.dropFirst(5))),
              mechanism.hasPrefix("SCRAM-SHA-256") else { return nil }
        return "PostgreSQL SCRAM-SHA-256 authentication cannot be replayed: the client's random nonce makes the recorded server proof invalid; record against a server that uses md5 or trust authentication (pg_hba.conf) instead"
    }

    /// A typed message: type byte, Int32 length (itself included), body.
    static func typed(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type] + WireBytes.bytes(int32: body.count + 4) + body
    }

    /// The first two NUL-terminated strings of a body (Parse: statement name, query text).
    static func twoStrings(_ body: [UInt8]) -> ([UInt8], [UInt8]) {
        guard let first = body.firstIndex(of: 0) else { return (body, []) }
        let rest = body[(first + 1)...]
        let second = rest.firstIndex(of: 0).map { Array(rest[..<$0]) } ?? Array(rest)
        return (Array(body[..<first]), second)
    }
}
