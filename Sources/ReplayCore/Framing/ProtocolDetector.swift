/// Guesses a session's protocol from the server's port and the first bytes each side sent,
/// at record, import and capture time. Content wins over the port when it is unambiguous
/// (an SMTP server on port 2525, HTTP on 8080); the port decides for protocols whose first
/// bytes say little (DNS's length prefix, a Redis inline command).
public enum ProtocolDetector {
    /// Well-known ports, the fallback when the content says nothing.
    static let ports: [Int: WireProtocol] = [
        25: .smtp, 465: .smtp, 587: .smtp, 2525: .smtp,
        110: .pop3, 995: .pop3,
        143: .imap, 993: .imap,
        21: .ftp,
        80: .http, 8000: .http, 8080: .http, 8443: .http, 443: .http,
        6379: .redis,
        53: .dns, 5353: .dns,
        5432: .postgres,
    ]

    /// - Parameters:
    ///   - serverPort: the port the client connected to, if known.
    ///   - client: the first bytes the client sent (a few hundred are plenty).
    ///   - server: the first bytes the server sent.
    public static func detect(serverPort: Int?, client: [UInt8], server: [UInt8]) -> WireProtocol {
        if let fromContent = byContent(client: client, server: server) { return fromContent }
        if let port = serverPort, let known = ports[port] { return known }
        if client.isEmpty && server.isEmpty { return .opaque }
        return looksLikeText(client) && looksLikeText(server) ? .line : .opaque
    }

    static func byContent(client: [UInt8], server: [UInt8]) -> WireProtocol? {
        let clientVerb = LineSplitter.verb(client.prefix(16))
        if server.starts(with: Array("+OK".utf8)) { return .pop3 }
        if server.starts(with: Array("* OK".utf8)) || server.starts(with: Array("* PREAUTH".utf8)) { return .imap }
        if server.count >= 4, server.starts(with: Array("220".utf8)) {
            // Both SMTP and FTP greet with 220; the client's first command tells them apart.
            if ["EHLO", "HELO", "LHLO"].contains(clientVerb) { return .smtp }
            if ["USER", "AUTH", "FEAT", "SYST", "OPTS"].contains(clientVerb) { return .ftp }
            let greeting = String(decoding: server.prefix(200), as: UTF8.self).uppercased()
            if greeting.contains("SMTP") || greeting.contains("MAIL") { return .smtp }
            if greeting.contains("FTP") { return .ftp }
        }
        if ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"].contains(clientVerb),
           let line = firstLine(client), line.contains(" HTTP/1.") {
            return .http
        }
        if server.starts(with: Array("HTTP/1.".utf8)) { return .http }
        if client.first == UInt8(ascii: "*"), client.count > 3, client.dropFirst().prefix(while: { $0 >= 48 && $0 <= 57 }).count > 0,
           client.contains(UInt8(ascii: "$")) {
            return .redis
        }
        if isPostgresStartup(client) { return .postgres }
        if isDNSQuery(client) { return .dns }
        return nil
    }

    static func firstLine(_ bytes: [UInt8]) -> String? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return String(decoding: bytes[..<newline], as: UTF8.self)
    }

    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(512).allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 32 && $0 != 127) }
    }

    /// A StartupMessage (length, protocol 3.0), an SSLRequest or a GSSENCRequest.
    static func isPostgresStartup(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 8 else { return false }
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        let code = Array(bytes[4..<8])
        if length == 8, code == [0x04, 0xD2, 0x16, 0x2F] || code == [0x04, 0xD2, 0x16, 0x30] { return true }
        return length >= 8 && length <= 10_000 && code == [0x00, 0x03, 0x00, 0x00]
    }

    /// A 2-byte length, then a DNS header with one question, QR clear and standard opcode.
    static func isDNSQuery(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 14 else { return false }
        let length = Int(bytes[0]) << 8 | Int(bytes[1])
        let flags = bytes[4]
        let questions = Int(bytes[6]) << 8 | Int(bytes[7])
        return length >= 12 && length <= 65_535 && flags & 0x80 == 0 && (flags >> 3) & 0x0F == 0 && questions == 1
    }
}
