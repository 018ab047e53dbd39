/// Reads the cipher suite a TLS server chose from the start of the server's byte stream: the
/// ServerHello is sent in the clear (in TLS 1.3 too), and swift-nio-ssl does not report the
/// negotiated suite, so the `tls` marker's `cipher` is read off the wire.
///
/// Sans-I/O: feed the server's bytes from the first byte of TLS on; `cipherSuite` is set once
/// the ServerHello's suite has arrived. Anything that is not a TLS handshake record, or no
/// ServerHello within `limit` bytes, ends the reading with no answer.
public struct ServerHelloReader: Sendable {
    /// The suite's IANA number, once read.
    public private(set) var cipherSuite: UInt16?
    /// Whether reading is over (a suite was found, or it cannot be).
    public private(set) var isDone = false
    /// Record bytes not yet parsed, and the handshake bytes gathered from records so far.
    private var records: [UInt8] = []
    private var handshake: [UInt8] = []
    private var seen = 0
    static let limit = 16 * 1024

    public init() {}

    /// Takes the next server bytes.
    public mutating func serverBytes<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        guard !isDone else { return }
        seen += bytes.count
        records.append(contentsOf: bytes)
        // Each complete record: 1 byte type, 2 version, 2 length, then the fragment.
        while records.count >= 5 {
            let length = Int(records[3]) << 8 | Int(records[4])
            guard records[0] == 0x16 else { return finish(nil) }
            guard records.count >= 5 + length else { break }
            handshake.append(contentsOf: records[5..<(5 + length)])
            records.removeFirst(5 + length)
            if let suite = Self.suite(in: handshake) { return finish(suite) }
            if handshake.first.map({ $0 != 0x02 }) == true { return finish(nil) }
        }
        if seen > Self.limit { finish(nil) }
    }

    private mutating func finish(_ suite: UInt16?) {
        cipherSuite = suite
        isDone = true
        records = []
        handshake = []
    }

    /// The suite of a ServerHello at the start of `handshake`: type 2, a 3-byte length, the
    /// legacy version (2), the random (32), the session id (1 + its length), then the suite.
    static func suite(in handshake: [UInt8]) -> UInt16? {
        guard handshake.count >= 39, handshake[0] == 0x02 else { return nil }
        let sessionIDLength = Int(handshake[38])
        let at = 39 + sessionIDLength
        guard handshake.count >= at + 2 else { return nil }
        return UInt16(handshake[at]) << 8 | UInt16(handshake[at + 1])
    }

    /// The IANA name of the suites BoringSSL negotiates, `0xHHHH` for any other.
    public static func name(of suite: UInt16) -> String {
        switch suite {
        case 0x1301: return "TLS_AES_128_GCM_SHA256"
        case 0x1302: return "TLS_AES_256_GCM_SHA384"
        case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256"
        case 0xC02B: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        case 0xC02C: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        case 0xC02F: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        case 0xC030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        case 0xCCA8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCA9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xC009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        case 0xC00A: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        case 0xC013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        case 0xC014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        case 0x009C: return "TLS_RSA_WITH_AES_128_GCM_SHA256"
        case 0x009D: return "TLS_RSA_WITH_AES_256_GCM_SHA384"
        case 0x002F: return "TLS_RSA_WITH_AES_128_CBC_SHA"
        case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA"
        default:
            let hex = String(suite, radix: 16, uppercase: true)
            return "0x" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }

    /// The name of the suite read, nil while none is.
    public var cipherName: String? { cipherSuite.map(Self.name(of:)) }
}
