/// PostgreSQL: the payload of every client `p` message (PasswordMessage, SASLInitialResponse,
/// SASLResponse: their formats are told apart only by the server's request, and all of them
/// carry the credential). Replies are not searched; after an accepted SSLRequest or
/// GSSENCRequest the encrypted stream passes through.
struct PostgresSecretRules: SecretRules {
    private var startup = true
    private var askedEncryption = false
    private var clientOverride: ScanStep?

    static let sslRequest = 80_877_103
    static let gssRequest = 80_877_104

    func initialStep(_ direction: Direction) -> ScanStep {
        direction == .clientToServer ? .field(8) : .field(1)
    }

    func afterSkip(_ direction: Direction) -> ScanStep { .field(5) }

    mutating func takeOverride(for direction: Direction) -> ScanStep? {
        guard direction == .clientToServer, let step = clientOverride else { return nil }
        clientOverride = nil
        return step
    }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        let bytes = Array(unit)
        if direction == .serverToClient {
            // The answer to an encryption request is one byte: `S` or `G` means encryption follows.
            if askedEncryption, let answer = bytes.first, answer == UInt8(ascii: "S") || answer == UInt8(ascii: "G") {
                clientOverride = .skipToEnd
            }
            askedEncryption = false
            return .skipToEnd
        }
        if startup {
            guard bytes.count == 8 else { return .skipToEnd }
            let length = Self.int32(bytes, 0)
            let code = Self.int32(bytes, 4)
            if length == 8, code == Self.sslRequest || code == Self.gssRequest {
                askedEncryption = true
                return .field(8)
            }
            guard length >= 8 else { return .skipToEnd }
            startup = false
            return length > 8 ? .skip(length - 8, secret: nil) : .field(5)
        }
        guard bytes.count == 5 else { return .skipToEnd }
        let payload = Self.int32(bytes, 1) - 4
        guard payload >= 0 else { return .skipToEnd }
        if payload == 0 { return .field(5) }
        return .skip(payload, secret: bytes[0] == UInt8(ascii: "p") ? "postgres-password" : nil)
    }

    static func int32(_ bytes: [UInt8], _ at: Int) -> Int {
        guard at + 4 <= bytes.count else { return -1 }
        return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
    }
}
