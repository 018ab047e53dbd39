/// Spots imported sessions that are TLS, free of I/O: a client whose first bytes are a TLS
/// ClientHello (record type 0x16, version 3.0 to 3.4, handshake type 1), or one that switched
/// after a STARTTLS-like request (a later client chunk that starts with a ClientHello). Such a
/// session's data is ciphertext: the import says so instead of passing it off as a conversation.
public struct TLSSessionSpotter: Sendable {
    /// How a TLS session was recognised.
    public enum Kind: String, Sendable, Equatable {
        case implicit = "TLS from the first byte"
        case startTLS = "TLS after a STARTTLS upgrade"
    }

    /// The first client bytes of sessions still being decided (at most `headerLength` each).
    private var firstBytes: [Int: [UInt8]] = [:]
    /// Sessions whose start was plaintext: later chunks are watched for an upgrade.
    private var plaintext: Set<Int> = []
    /// The TLS sessions found, by number.
    public private(set) var found: [Int: Kind] = [:]

    /// A record header (5 bytes) and the handshake type.
    static let headerLength = 6

    public init() {}

    /// Looks at one event on its way to the cassette.
    public mutating func take(_ event: SessionEvent) {
        switch event.kind {
        case .data(.clientToServer, let bytes) where !bytes.isEmpty:
            guard found[event.session] == nil else { return }
            if plaintext.contains(event.session) {
                if Self.isClientHello(bytes) {
                    found[event.session] = .startTLS
                    plaintext.remove(event.session)
                }
                return
            }
            var start = firstBytes[event.session] ?? []
            start.append(contentsOf: bytes.prefix(Self.headerLength - start.count))
            if start.count < Self.headerLength, Self.couldBeClientHello(start) {
                firstBytes[event.session] = start
                return
            }
            firstBytes[event.session] = nil
            if Self.isClientHello(start) {
                found[event.session] = .implicit
            } else {
                plaintext.insert(event.session)
            }
        case .end:
            firstBytes[event.session] = nil
            plaintext.remove(event.session)
        default:
            break
        }
    }

    /// Whether `bytes` start with a TLS handshake record holding a ClientHello.
    public static func isClientHello(_ bytes: [UInt8]) -> Bool {
        bytes.count >= headerLength && couldBeClientHello(bytes)
    }

    /// Whether `bytes` (possibly fewer than six) agree with a ClientHello's start so far.
    static func couldBeClientHello(_ bytes: [UInt8]) -> Bool {
        let expected: [(Int, ClosedRange<UInt8>)] = [(0, 0x16...0x16), (1, 0x03...0x03), (2, 0x00...0x04), (5, 0x01...0x01)]
        for (index, range) in expected where index < bytes.count {
            if !range.contains(bytes[index]) { return false }
        }
        return true
    }

    /// The summary's line and a warning per session, for the import's report.
    public func report(limit: Int) -> (line: String?, warnings: [String]) {
        guard !found.isEmpty else { return (nil, []) }
        let sessions = found.keys.sorted()
        var warnings = sessions.prefix(limit).map { session in
            "session \(session) is TLS (\(found[session]?.rawValue ?? "?")): its data is written as captured, ciphertext, and cannot be read or replayed as a conversation; decrypting with an SSLKEYLOGFILE is not supported yet"
        }
        if sessions.count > limit { warnings.append("\(sessions.count - limit) more TLS sessions not listed") }
        return ("TLS sessions: \(sessions.count) (ciphertext, not decrypted): \(sessions.prefix(limit).map(String.init).joined(separator: ", "))\(sessions.count > limit ? ", ..." : "")", warnings)
    }
}
