/// Guesses a session's protocol from the server's port and the first bytes each side sent,
/// at record, import and capture time. Content wins over the port when it is unambiguous
/// (an SMTP server on port 2525, HTTP on 8080, TLS on port 443); the port decides for
/// protocols whose first bytes say little (a Redis inline command, an FTP/SMTP `220` greeting
/// with no name in it). Without either, text on both sides is `line`, anything else `opaque`.
///
/// `client` may be empty (the server speaks first: SMTP, POP3, IMAP, FTP greetings) and so
/// may `server` (the client's first chunk was captured before any answer).
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

    static let httpMethods: Set<String> = [
        "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
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
        // Encrypted or binary-framed from the first byte: nothing replayd can frame, whatever
        // the port says (HTTPS on 443, SMTPS on 465, SSH, HTTP/2 with prior knowledge).
        if isTLSRecord(client) || isTLSRecord(server) { return .opaque }
        if client.starts(with: Array("SSH-".utf8)) || server.starts(with: Array("SSH-".utf8)) { return .opaque }
        if client.starts(with: Array("PRI * HTTP/2.0".utf8)) { return .opaque }

        if isPostgresStartup(client) { return .postgres }
        if isRESPCommand(client) { return .redis }
        if isHTTPRequest(client) { return .http }
        if client.isEmpty || looksLikeText(client), server.starts(with: Array("HTTP/1.".utf8)) { return .http }
        if isDNSMessage(client, response: false) || (client.isEmpty && isDNSMessage(server, response: true)) { return .dns }

        let clientVerb = LineSplitter.verb(client.prefix(32))
        if let greeting = byGreeting(server, clientVerb: clientVerb) { return greeting }
        if isRESPReply(server), looksLikeText(client), !client.isEmpty { return .redis }
        if server.isEmpty {
            // The server said nothing yet: a few client commands are unmistakable.
            if ["EHLO", "HELO", "LHLO"].contains(clientVerb) { return .smtp }
            if isIMAPCommand(client) { return .imap }
        }
        return nil
    }

    /// The greeting of a server that speaks first.
    static func byGreeting(_ server: [UInt8], clientVerb: String) -> WireProtocol? {
        if server.starts(with: Array("+OK".utf8)) {
            // A Redis `+OK` answers a client command; a POP3 greeting has text after it.
            return server.starts(with: Array("+OK\r\n".utf8)) && !pop3Verbs.contains(clientVerb) && !clientVerb.isEmpty ? .redis : .pop3
        }
        if server.starts(with: Array("* OK".utf8)) || server.starts(with: Array("* PREAUTH".utf8))
            || server.starts(with: Array("* BYE".utf8)) {
            return .imap
        }
        guard server.count >= 4, server.starts(with: Array("220".utf8)),
              server[3] == UInt8(ascii: " ") || server[3] == UInt8(ascii: "-") else { return nil }
        // Both SMTP and FTP greet with 220; the client's first command tells them apart, then
        // the greeting's text.
        if ["EHLO", "HELO", "LHLO", "STARTTLS"].contains(clientVerb) { return .smtp }
        if ["USER", "FEAT", "SYST", "OPTS", "PASV", "EPSV"].contains(clientVerb) { return .ftp }
        let greeting = String(decoding: server.prefix(300), as: UTF8.self).uppercased()
        if greeting.contains("FTP") { return .ftp }
        if greeting.contains("SMTP") || greeting.contains("MAIL") || greeting.contains("POSTFIX")
            || greeting.contains("EXIM") || greeting.contains("SENDMAIL") {
            return .smtp
        }
        return nil
    }

    static let pop3Verbs: Set<String> = ["USER", "PASS", "APOP", "CAPA", "STLS", "AUTH", "STAT", "LIST", "QUIT"]

    static func firstLine(_ bytes: [UInt8]) -> [UInt8]? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return Array(LineSplitter.trimmingLineEnding(Array(bytes[...newline])))
    }

    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(512).allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 32 && $0 != 127) }
    }

    /// A TLS record header: handshake/alert/application data, version 3.x.
    static func isTLSRecord(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && [0x14, 0x15, 0x16, 0x17].contains(bytes[0]) && bytes[1] == 0x03 && bytes[2] <= 0x04
    }

    /// `METHOD target HTTP/1.x` (the line may still be incomplete in the first chunk).
    static func isHTTPRequest(_ bytes: [UInt8]) -> Bool {
        let line = firstLine(bytes) ?? Array(bytes.prefix(8192))
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count >= 2, httpMethods.contains(String(decoding: parts[0], as: UTF8.self)) else { return false }
        if parts.count >= 3 { return parts[2].starts(with: Array("HTTP/1.".utf8)) || firstLine(bytes) == nil && Array("HTTP/1.".utf8).starts(with: parts[2]) }
        // Only the method and part of the target so far.
        return firstLine(bytes) == nil && (parts[1].first == UInt8(ascii: "/") || parts[1].first == UInt8(ascii: "*"))
    }

    /// A RESP array of bulk strings: `*<n>\r\n$<len>\r\n`.
    static func isRESPCommand(_ bytes: [UInt8]) -> Bool {
        guard bytes.first == UInt8(ascii: "*"), let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline >= 3,
              bytes[newline - 1] == 0x0D, let count = WireBytes.decimal(bytes[1..<(newline - 1)]), count > 0 else { return false }
        return newline + 1 >= bytes.count || bytes[newline + 1] == UInt8(ascii: "$")
    }

    /// A typical first Redis reply: `+PONG`, `-ERR`/`-NOAUTH`/`-WRONGPASS`, an integer, a bulk
    /// string or an array header, each ending in CRLF.
    static func isRESPReply(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let line = firstLine(bytes), bytes.contains(0x0D) else { return false }
        switch first {
        case UInt8(ascii: "+"): return line.starts(with: Array("+PONG".utf8)) || line == Array("+OK".utf8)
        case UInt8(ascii: "-"):
            return ["-ERR", "-NOAUTH", "-WRONGPASS", "-WRONGTYPE", "-NOPERM"].contains { line.starts(with: Array($0.utf8)) }
        case UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"), UInt8(ascii: "%"):
            return WireBytes.decimal(line.dropFirst()) != nil
        default: return false
        }
    }

    /// An IMAP command line: a tag, then CAPABILITY, LOGIN, STARTTLS, AUTHENTICATE or ID.
    static func isIMAPCommand(_ bytes: [UInt8]) -> Bool {
        guard let line = firstLine(bytes) else { return false }
        let words = line.split(separator: UInt8(ascii: " "))
        guard words.count >= 2, words[0].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        return ["CAPABILITY", "LOGIN", "STARTTLS", "AUTHENTICATE", "ID"].contains(LineSplitter.verb(words[1]))
    }

    /// A StartupMessage (protocol 3.x), an SSLRequest, a GSSENCRequest or a CancelRequest.
    static func isPostgresStartup(_ bytes: [UInt8]) -> Bool {
        guard let length = WireBytes.int32(bytes, at: 0), let code = WireBytes.int32(bytes, at: 4) else { return false }
        switch code {
        case PostgresMessage.sslRequestCode, PostgresMessage.gssEncRequestCode: return length == 8
        case PostgresMessage.cancelRequestCode: return length == 16
        default:
            // Protocol 3.0 or a later 3.x minor version, parameters as NUL-terminated strings.
            return code >> 16 == 3 && code & 0xFFFF < 100 && length > 8 && length <= PostgresMessage.maxStartupLength
                && (bytes.count < length || bytes[length - 1] == 0)
        }
    }

    /// A 2-byte length, then a DNS header: one question (a query) or a response's header, a
    /// standard opcode, sane counts, and a question name that parses.
    static func isDNSMessage(_ bytes: [UInt8], response: Bool) -> Bool {
        guard let length = WireBytes.uint16(bytes, at: 0), length >= 17, bytes.count >= 14 else { return false }
        let reader = DNSMessageReader(bytes.dropFirst(2).prefix(length))
        guard let flags = reader.flags else { return false }
        let isResponse = flags & 0x8000 != 0
        let opcode = (flags >> 11) & 0x0F
        guard isResponse == response, opcode == 0 || opcode == 4 || opcode == 5, reader.questionCount == 1 else { return false }
        let counts = reader.recordCounts
        if !response, counts[0] != 0 || counts[1] != 0 || counts[2] > 2 { return false }
        // Enough of the message to check the question: it must parse as a name with type and class.
        guard bytes.count >= 2 + length || bytes.count >= 2 + 12 + 6 else { return false }
        return reader.question != nil || bytes.count < 2 + length
    }
}
