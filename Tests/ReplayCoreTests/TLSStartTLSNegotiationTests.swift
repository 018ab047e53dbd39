import Testing
@testable import ReplayCore

/// `StartTLSNegotiation` per protocol: the request and the answer found in split writes, the
/// upgrade decided after the answer is forwarded, refusals passed through, and plaintext sent
/// behind the request dropped (never carried into TLS).
@Suite("TLSStartTLSNegotiation")
struct TLSStartTLSNegotiationTests {
    typealias N = StartTLSNegotiation

    static func b(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Every byte of the actions' forwards from `side`, joined.
    static func forwarded(_ actions: [N.Action], from side: ProxySide) -> [UInt8] {
        actions.flatMap { action -> [UInt8] in
            if case .forward(let from, let bytes) = action, from == side { return bytes }
            return []
        }
    }

    @Test("SMTP: EHLO, STARTTLS split over three reads, 220 split over two: upgrade after the whole answer")
    func smtpSplit() {
        var n = N(dialect: .smtp)
        #expect(n.serverBytes(Self.b("220 mx ESMTP\r\n")) == [.forward(from: .server, Self.b("220 mx ESMTP\r\n"))])
        #expect(n.clientBytes(Self.b("EHLO c\r\n")) == [.forward(from: .client, Self.b("EHLO c\r\n"))])
        #expect(n.serverBytes(Self.b("250-mx\r\n250 STARTTLS\r\n")).count == 1)
        #expect(n.clientBytes(Self.b("STA")) == [.forward(from: .client, Self.b("STA"))])
        #expect(n.clientBytes(Self.b("rttls")) == [.forward(from: .client, Self.b("rttls"))])
        #expect(!n.isAwaitingAnswer)
        #expect(n.clientBytes(Self.b("\r\n")) == [.forward(from: .client, Self.b("\r\n"))])
        #expect(n.isAwaitingAnswer)
        #expect(n.serverBytes(Self.b("220 2.0.0 Ready")) == [.forward(from: .server, Self.b("220 2.0.0 Ready"))])
        #expect(n.serverBytes(Self.b(" to start TLS\r\n")) == [.forward(from: .server, Self.b(" to start TLS\r\n")), .upgrade])
        #expect(n.isDone)
        #expect(n.clientBytes([0x16, 0x03, 0x01]) == [.forward(from: .client, [0x16, 0x03, 0x01])])
    }

    @Test("SMTP: plaintext pipelined after STARTTLS (CVE-2011-0411) is dropped when the server accepts")
    func smtpInjection() {
        var n = N(dialect: .smtp)
        let actions = n.clientBytes(Self.b("STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x>\r\n"))
        #expect(actions == [.forward(from: .client, Self.b("STARTTLS\r\n"))])
        #expect(n.clientBytes(Self.b("RCPT TO:<v@x>\r\n")) == [])
        #expect(n.serverBytes(Self.b("220 go ahead\r\n")) == [
            .forward(from: .server, Self.b("220 go ahead\r\n")), .discard(from: .client, count: 41), .upgrade,
        ])
    }

    @Test("SMTP: a 454 refusal reaches the client, the held commands then reach the server, plaintext goes on")
    func smtpRefused() {
        var n = N(dialect: .smtp)
        _ = n.clientBytes(Self.b("STARTTLS\r\nQUIT\r\n"))
        let actions = n.serverBytes(Self.b("454 4.7.0 TLS not available\r\n"))
        #expect(actions == [
            .forward(from: .server, Self.b("454 4.7.0 TLS not available\r\n")), .refused("454 4.7.0 TLS not available"),
            .forward(from: .client, Self.b("QUIT\r\n")),
        ])
        #expect(!n.isAwaitingAnswer)
        #expect(n.serverBytes(Self.b("221 bye\r\n")) == [.forward(from: .server, Self.b("221 bye\r\n"))])
        // A second try is understood.
        _ = n.clientBytes(Self.b("STARTTLS\r\n"))
        #expect(n.serverBytes(Self.b("220 ok\r\n")).last == .upgrade)
    }

    @Test("SMTP: commands pipelined before STARTTLS are answered first; a body line STARTTLS is text")
    func smtpPipelinedAndBody() {
        var n = N(dialect: .smtp)
        _ = n.clientBytes(Self.b("DATA\r\nSTARTTLS\r\n.\r\n"))
        #expect(!n.isAwaitingAnswer)
        _ = n.clientBytes(Self.b("RSET\r\nSTARTTLS\r\n"))
        #expect(n.isAwaitingAnswer)
        #expect(n.serverBytes(Self.b("250 2.0.0 Ok\r\n")) == [.forward(from: .server, Self.b("250 2.0.0 Ok\r\n"))])
        #expect(n.serverBytes(Self.b("220 Ready\r\n")).last == .upgrade)
    }

    @Test("SMTP: server bytes after its 220, before TLS, are dropped")
    func smtpServerInjection() {
        var n = N(dialect: .smtp)
        _ = n.clientBytes(Self.b("STARTTLS\r\n"))
        #expect(n.serverBytes(Self.b("220 Ready\r\n250 injected\r\n")) == [
            .forward(from: .server, Self.b("220 Ready\r\n")), .discard(from: .server, count: 14), .upgrade,
        ])
    }

    @Test("IMAP: untagged lines pass, the tagged OK decides; NO and BAD refuse")
    func imap() {
        var n = N(dialect: .imap)
        #expect(n.clientBytes(Self.b("a1 CAPABILITY\r\n")).count == 1)
        #expect(!n.isAwaitingAnswer)
        _ = n.clientBytes(Self.b("a2 starttls\r\n"))
        #expect(n.isAwaitingAnswer)
        #expect(n.serverBytes(Self.b("* OK still\r\n")) == [.forward(from: .server, Self.b("* OK still\r\n"))])
        #expect(n.serverBytes(Self.b("a2 OK Begin TLS negotiation now\r\n")).last == .upgrade)

        var refused = N(dialect: .imap)
        _ = refused.clientBytes(Self.b("x STARTTLS\r\n"))
        #expect(refused.serverBytes(Self.b("x BAD not now\r\n")).contains(.refused("x BAD not now")))
        var no = N(dialect: .imap)
        _ = no.clientBytes(Self.b("x STARTTLS\r\n"))
        #expect(no.serverBytes(Self.b("x NO TLS unavailable\r\n")).contains(.refused("x NO TLS unavailable")))
    }

    @Test("IMAP: a LOGIN sent behind STARTTLS never reaches the server once it accepts")
    func imapInjection() {
        var n = N(dialect: .imap)
        _ = n.clientBytes(Self.b("a STARTTLS\r\nb LOGIN u p\r\n"))
        #expect(n.serverBytes(Self.b("a OK go\r\n")) == [
            .forward(from: .server, Self.b("a OK go\r\n")), .discard(from: .client, count: 13), .upgrade,
        ])
    }

    @Test("POP3: STLS answered +OK upgrades, -ERR refuses")
    func pop3() {
        var n = N(dialect: .pop3)
        #expect(n.serverBytes(Self.b("+OK POP3 ready\r\n")).count == 1)
        _ = n.clientBytes(Self.b("ST"))
        _ = n.clientBytes(Self.b("LS\r\n"))
        #expect(n.isAwaitingAnswer)
        #expect(n.serverBytes(Self.b("+OK Begin TLS\r\n")).last == .upgrade)
        var refused = N(dialect: .pop3)
        _ = refused.clientBytes(Self.b("STLS\r\n"))
        #expect(refused.serverBytes(Self.b("-ERR no\r\n")).contains(.refused("-ERR no")))
    }

    @Test("FTP: AUTH TLS answered 234 upgrades (multi-line answer waited for), 534 refuses")
    func ftp() {
        var n = N(dialect: .ftp)
        _ = n.clientBytes(Self.b("AUTH TLS\r\n"))
        #expect(n.serverBytes(Self.b("234-wait\r\n")) == [.forward(from: .server, Self.b("234-wait\r\n"))])
        #expect(n.serverBytes(Self.b("234 AUTH TLS OK.\r\n")).last == .upgrade)
        var refused = N(dialect: .ftp)
        _ = refused.clientBytes(Self.b("auth ssl\r\n"))
        #expect(refused.serverBytes(Self.b("534 no\r\n")).contains(.refused("534 no")))
    }

    @Test("PostgreSQL: SSLRequest split in two, S upgrades; N refuses and the startup message goes on")
    func postgres() {
        let request = N.postgresSSLRequest
        var n = N(dialect: .postgres)
        #expect(n.clientBytes(Array(request[..<3])) == [.forward(from: .client, Array(request[..<3]))])
        #expect(n.clientBytes(Array(request[3...])) == [.forward(from: .client, Array(request[3...]))])
        #expect(n.isAwaitingAnswer)
        #expect(n.serverBytes([UInt8(ascii: "S")]) == [.forward(from: .server, [UInt8(ascii: "S")]), .upgrade])

        var refused = N(dialect: .postgres)
        let startup: [UInt8] = [0, 0, 0, 9, 0, 3, 0, 0, 0]
        // A client that does not wait: the startup message is held, then sent after the N.
        _ = refused.clientBytes(request + startup)
        #expect(refused.serverBytes([UInt8(ascii: "N")]) == [
            .forward(from: .server, [UInt8(ascii: "N")]), .refused("N"), .forward(from: .client, startup),
        ])
        #expect(refused.isDone)

        var injected = N(dialect: .postgres)
        _ = injected.clientBytes(request + startup)
        #expect(injected.serverBytes([UInt8(ascii: "S")]) == [
            .forward(from: .server, [UInt8(ascii: "S")]), .discard(from: .client, count: 9), .upgrade,
        ])
    }

    @Test("PostgreSQL: a first message that is not SSLRequest means plaintext for good")
    func postgresPlain() {
        var n = N(dialect: .postgres)
        let startup: [UInt8] = [0, 0, 0, 9, 0, 3, 0, 0, 0]
        #expect(n.clientBytes(startup) == [.forward(from: .client, startup)])
        #expect(n.isDone)
        #expect(n.serverBytes([UInt8(ascii: "S")]) == [.forward(from: .server, [UInt8(ascii: "S")])])
    }

    @Test("every byte is forwarded unchanged in the plaintext phase, whatever the split")
    func byteExact() {
        let script = "220 mx\r\nEHLO a\r\n250 ok\r\nMAIL FROM:<a@b>\r\n"
        var n = N(dialect: .smtp)
        var out: [UInt8] = []
        for byte in Self.b(script) { out += Self.forwarded(n.clientBytes([byte]), from: .client) }
        #expect(out == Self.b(script))
    }

    @Test("the hold is bounded: beyond the limit, bytes sent behind the request are dropped at once")
    func holdLimit() {
        var n = N(dialect: .pop3)
        _ = n.clientBytes(Self.b("STLS\r\n"))
        let actions = n.clientBytes([UInt8](repeating: 0x41, count: N.holdLimit + 10))
        #expect(actions == [.discard(from: .client, count: 10)])
    }
}
