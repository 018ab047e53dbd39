/// What replayd reads out of PostgreSQL v3 frontend and backend messages: names, the untyped
/// startup-phase codes, which messages wait for an answer, and the fields keys are made of.
/// Every read is bounds-checked; a field that does not parse reads as absent.
enum PostgresMessage {
    static let sslRequestCode = 80_877_103
    static let gssEncRequestCode = 80_877_104
    static let cancelRequestCode = 80_877_102
    /// PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH).
    static let maxStartupLength = 10_000
    /// PostgreSQL's limit on any message (PQ_LARGE_MESSAGE_LIMIT is just under 1 GB).
    static let maxMessageLength = 0x3FFF_FFFF

    static let clientNames: [UInt8: String] = [
        UInt8(ascii: "Q"): "Query", UInt8(ascii: "P"): "Parse", UInt8(ascii: "B"): "Bind",
        UInt8(ascii: "D"): "Describe", UInt8(ascii: "E"): "Execute", UInt8(ascii: "C"): "Close",
        UInt8(ascii: "S"): "Sync", UInt8(ascii: "H"): "Flush", UInt8(ascii: "X"): "Terminate",
        UInt8(ascii: "d"): "CopyData", UInt8(ascii: "c"): "CopyDone", UInt8(ascii: "f"): "CopyFail",
        UInt8(ascii: "F"): "FunctionCall",
    ]

    /// Client message types the server does not answer on their own (the extended protocol
    /// answers at Sync or Flush; CopyData streams until CopyDone).
    static let silentClientTypes: Set<UInt8> = Array("PBDECXd".utf8).reduce(into: []) { $0.insert($1) }

    /// The name of an untyped startup-phase message by its code.
    static func untypedName(code: Int) -> String {
        switch code {
        case sslRequestCode: return "SSLRequest"
        case gssEncRequestCode: return "GSSENCRequest"
        case cancelRequestCode: return "CancelRequest"
        default: return "Startup"
        }
    }

    /// Untyped messages (the startup phase) begin with their length, whose first byte is 0
    /// since they are short; typed messages begin with a letter.
    static func isUntyped(_ bytes: [UInt8]) -> Bool { bytes.first == 0 }

    /// The name of a client message: `Startup`, `Query`, `Password`, `SASLInitialResponse` ...
    static func name(ofClient bytes: [UInt8]) -> String {
        if isUntyped(bytes) { return untypedName(code: WireBytes.int32(bytes, at: 4) ?? 0) }
        guard let type = bytes.first else { return "(empty)" }
        if type == UInt8(ascii: "p") {
            let body = Array(bytes.dropFirst(5))
            if saslMechanism(body) != nil { return "SASLInitialResponse" }
            if body.starts(with: Array("c=".utf8)) && body.contains(UInt8(ascii: ",")) { return "SASLResponse" }
            return "Password"
        }
        return clientNames[type] ?? "Type\(WireBytes.escaped([type]))"
    }

    /// The SASL mechanism of a SASLInitialResponse body (mechanism NUL, Int32 length, data).
    static func saslMechanism(_ body: [UInt8]) -> String? {
        guard let nul = body.firstIndex(of: 0), nul > 0,
              body[..<nul].allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
              let length = WireBytes.int32(body, at: nul + 1),
              length == -1 || length == body.count - nul - 5 else { return nil }
        return String(decoding: body[..<nul], as: UTF8.self)
    }

    /// NUL-terminated strings from `offset` on, at most `limit` of them; stops at an empty one
    /// or the end.
    static func cStrings(_ bytes: [UInt8], from offset: Int, limit: Int = 1_000) -> [[UInt8]] {
        var strings: [[UInt8]] = []
        var position = offset
        while strings.count < limit, position < bytes.count, let nul = bytes[position...].firstIndex(of: 0), nul > position {
            strings.append(Array(bytes[position..<nul]))
            position = nul + 1
        }
        return strings
    }

    /// A StartupMessage's parameters (`user`, `database`, ...) as name-value pairs.
    static func startupParameters(_ bytes: [UInt8]) -> [(String, String)] {
        let strings = cStrings(bytes, from: 8)
        return stride(from: 0, to: strings.count - 1, by: 2).map {
            (MaskSet.latin1(strings[$0]), MaskSet.latin1(strings[$0 + 1]))
        }
    }

    /// The parameter values of a Bind message, as text (`NULL` for null, escaped bytes).
    static func bindParameters(_ bytes: [UInt8]) -> [String]? {
        var position = 5
        for _ in 0..<2 {
            guard let nul = bytes[min(position, bytes.count)...].firstIndex(of: 0) else { return nil }
            position = nul + 1
        }
        guard let formats = WireBytes.uint16(bytes, at: position) else { return nil }
        position += 2 + 2 * formats
        guard let count = WireBytes.uint16(bytes, at: position) else { return nil }
        position += 2
        var values: [String] = []
        for _ in 0..<count {
            guard let length = WireBytes.int32(bytes, at: position) else { return nil }
            position += 4
            if length < 0 {
                values.append("NULL")
                continue
            }
            guard bytes.count - position >= length else { return nil }
            values.append(WireBytes.escaped(bytes[position..<(position + length)]))
            position += length
        }
        return values
    }
}
