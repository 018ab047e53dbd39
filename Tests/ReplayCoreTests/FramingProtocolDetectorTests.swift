import Testing
@testable import ReplayCore

@Suite struct FramingProtocolDetectorTests {
    func b(_ text: String) -> [UInt8] { Array(text.utf8) }
    func detect(_ port: Int?, _ client: [UInt8], _ server: [UInt8]) -> WireProtocol {
        ProtocolDetector.detect(serverPort: port, client: client, server: server)
    }

    static let dnsQuery = FramingDNSTests.query(id: 0x1234, name: "example.org", cookie: [1, 2, 3, 4, 5, 6, 7, 8])
    static let pgStartup = FramingPostgresTests.startup([("user", "alice"), ("database", "shop")])

    @Test func eachProtocolByContentOnANonStandardPort() {
        #expect(detect(2600, [], b("220 mail.example.com ESMTP Postfix\r\n")) == .smtp)
        #expect(detect(2600, b("EHLO client\r\n"), b("220 hello\r\n")) == .smtp)
        #expect(detect(2600, b("USER anonymous\r\n"), b("220 hello\r\n")) == .ftp)
        #expect(detect(2600, [], b("220 (vsFTPd 3.0.5)\r\n")) == .ftp)
        #expect(detect(2600, [], b("+OK Dovecot ready.\r\n")) == .pop3)
        #expect(detect(2600, b("CAPA\r\n"), b("+OK POP3 ready\r\n")) == .pop3)
        #expect(detect(2600, [], b("* OK [CAPABILITY IMAP4rev1] ready\r\n")) == .imap)
        #expect(detect(2600, b("a1 CAPABILITY\r\n"), []) == .imap)
        #expect(detect(2600, b("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"), []) == .http)
        #expect(detect(2600, b("POST /api HTT"), []) == .http)
        #expect(detect(2600, b("hello\r\n"), b("HTTP/1.1 400 Bad Request\r\n\r\n")) == .http)
        #expect(detect(2600, b("*1\r\n$4\r\nPING\r\n"), []) == .redis)
        #expect(detect(2600, b("PING\r\n"), b("+PONG\r\n")) == .redis)
        #expect(detect(2600, b("AUTH x\r\n"), b("-WRONGPASS invalid username-password pair\r\n")) == .redis)
        #expect(detect(2600, b("GET k\r\n"), b("$5\r\nhello\r\n")) == .redis)
        #expect(detect(2600, b("SET k v\r\n"), b("+OK\r\n")) == .redis)
        #expect(detect(2600, Self.dnsQuery, []) == .dns)
        #expect(detect(2600, [], FramingDNSTests.response(id: 1, name: "example.org")) == .dns)
        #expect(detect(2600, Self.pgStartup, []) == .postgres)
        #expect(detect(2600, FramingPostgresTests.sslRequest, [UInt8(ascii: "N")]) == .postgres)
    }

    @Test func contentWinsOverThePort() {
        #expect(detect(80, [], b("220 mail.example.com ESMTP\r\n")) == .smtp)
        #expect(detect(6379, b("GET / HTTP/1.1\r\n\r\n"), []) == .http)
        #expect(detect(53, Self.pgStartup, []) == .postgres)
        // TLS is opaque whatever the port says.
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        #expect(detect(443, clientHello, []) == .opaque)
        #expect(detect(465, clientHello, []) == .opaque)
        #expect(detect(22, b("SSH-2.0-OpenSSH_9.6\r\n"), b("SSH-2.0-OpenSSH_9.6\r\n")) == .opaque)
    }

    @Test func thePortDecidesWhenTheContentIsAmbiguous() {
        // A bare 220 greeting says neither SMTP nor FTP.
        #expect(detect(21, [], b("220 Welcome\r\n")) == .ftp)
        #expect(detect(25, [], b("220 Welcome\r\n")) == .smtp)
        // An inline Redis command with no reply yet looks like any text protocol.
        #expect(detect(6379, b("PING\r\n"), []) == .redis)
        #expect(detect(5353, [0, 40, 1, 2], []) == .dns)
        #expect(detect(5432, [0, 0], []) == .postgres)
        #expect(detect(8080, [], []) == .http)
    }

    @Test func textOrBinaryFallback() {
        #expect(detect(9999, b("HELLO there\r\n"), b("WELCOME\r\n")) == .line)
        #expect(detect(nil, [], b("READY\n")) == .line)
        #expect(detect(9999, [0x00, 0x01, 0xFF, 0x10], []) == .opaque)
        #expect(detect(9999, b("hi\r\n"), [0x00, 0x9F]) == .opaque)
        #expect(detect(nil, [], []) == .opaque)
    }

    @Test func nearMissesAreNotMistakenForBinaryProtocols() {
        // Four bytes of random binary are neither a DNS query nor a Postgres startup.
        #expect(!ProtocolDetector.isDNSMessage([0, 12, 1, 2, 3], response: false))
        #expect(!ProtocolDetector.isPostgresStartup([0, 0, 0, 8, 1, 2, 3, 4]))
        #expect(!ProtocolDetector.isRESPCommand(b("*hello\r\n")))
        #expect(!ProtocolDetector.isHTTPRequest(b("GETTING started\r\n")))
        var generator = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let client = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let server = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = detect(Int.random(in: 0...65535, using: &generator), client, server)
        }
    }
}
