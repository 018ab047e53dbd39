import Testing
@testable import ReplayCore

/// The tagger between producers and the cassette writer: `open` held until the first chunk,
/// then released with `proto` set, everything else in order and unchanged.
@Suite("Cassette protocol tagger")
struct CassetteProtocolTaggerTests {
    static let start = WallClock(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)

    static func open(_ session: Int, server: String, proto: WireProtocol? = nil) -> SessionEvent {
        SessionEvent(session: session, offset: 0, kind: .open(SessionOpen(client: "10.0.0.1:40000", server: server, start: start, proto: proto)))
    }

    static func data(_ session: Int, _ direction: Direction, _ text: String, at offset: Int64) -> SessionEvent {
        SessionEvent(session: session, offset: offset, kind: .data(direction, Array(text.utf8)))
    }

    /// The events with the protocol taken out of every `open`, to compare the rest.
    static func withoutProto(_ events: [SessionEvent]) -> [SessionEvent] {
        events.map { event in
            guard case .open(var open) = event.kind else { return event }
            open.proto = nil
            return SessionEvent(session: event.session, offset: event.offset, kind: .open(open))
        }
    }

    static func proto(of events: [SessionEvent], session: Int) -> WireProtocol? {
        for event in events where event.session == session {
            if case .open(let open) = event.kind { return open.proto }
        }
        return nil
    }

    @Test("a server-first SMTP greeting on an unusual port tags smtp")
    func smtpGreeting() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        tagger.take(Self.open(1, server: "10.0.0.2:10025"), into: &output)
        #expect(output.isEmpty, "the open waits for the first chunk")
        #expect(tagger.heldSessions == 1)
        tagger.take(Self.data(1, .serverToClient, "220 mx.example.net ESMTP Postfix\r\n", at: 5), into: &output)
        #expect(output.count == 2)
        #expect(Self.proto(of: output, session: 1) == .smtp)
        #expect(output.last == Self.data(1, .serverToClient, "220 mx.example.net ESMTP Postfix\r\n", at: 5))
        #expect(tagger.heldSessions == 0)
        // Later events pass straight through.
        tagger.take(Self.data(1, .clientToServer, "EHLO a\r\n", at: 6), into: &output)
        #expect(output.count == 3 && output[2] == Self.data(1, .clientToServer, "EHLO a\r\n", at: 6))
    }

    @Test("a client-first HTTP request tags http, whatever the port")
    func httpRequest() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        tagger.take([Self.open(1, server: "10.0.0.2:5000"), Self.data(1, .clientToServer, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", at: 1)], into: &output)
        #expect(Self.proto(of: output, session: 1) == .http)
    }

    @Test("held events keep their order and offsets; other sessions pass meanwhile")
    func orderKept() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        let input: [SessionEvent] = [
            Self.open(1, server: "10.0.0.2:6379"),
            Self.open(2, server: "10.0.0.3:25"),
            SessionEvent(session: 1, offset: 3, kind: .tls(TLSMarker(version: "TLSv1.3"))),
            SessionEvent(session: 1, offset: 4, kind: .data(.clientToServer, [])),
            Self.data(2, .serverToClient, "220 hi\r\n", at: 7),
            SessionEvent(session: 1, offset: 9, kind: .redacted(Redaction(direction: .clientToServer, offset: 0, length: 2, rule: "r"))),
            Self.data(1, .clientToServer, "*1\r\n$4\r\nPING\r\n", at: 11),
            Self.data(1, .serverToClient, "+PONG\r\n", at: 12),
            SessionEvent(session: 1, offset: 13, kind: .end),
            SessionEvent(session: 2, offset: 14, kind: .end),
        ]
        tagger.take(input, into: &output)
        #expect(tagger.heldSessions == 0)
        #expect(Self.proto(of: output, session: 1) == .redis)
        #expect(Self.proto(of: output, session: 2) == .smtp)
        // Per session, the same events in the same order with the same offsets.
        for session in [1, 2] {
            #expect(Self.withoutProto(output).filter { $0.session == session } == input.filter { $0.session == session })
        }
        // Session 2's greeting released it before session 1's first bytes came.
        #expect(output.map(\.session) == [2, 2, 1, 1, 1, 1, 1, 1, 1, 2])
    }

    @Test("a session that ends without data is tagged from its port, or opaque")
    func noData() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        tagger.take([Self.open(1, server: "10.0.0.2:5432"), SessionEvent(session: 1, offset: 5, kind: .end)], into: &output)
        #expect(Self.proto(of: output, session: 1) == .postgres)
        #expect(output.last == SessionEvent(session: 1, offset: 5, kind: .end))
        output.removeAll()
        tagger.take([Self.open(2, server: "10.0.0.2:40001"), SessionEvent(session: 2, offset: 5, kind: .reset(by: .serverToClient))], into: &output)
        #expect(Self.proto(of: output, session: 2) == .opaque)
        #expect(output.count == 2)
        output.removeAll()
        let failure = ConnectFailure(reason: .refused, elapsed: 1_000, message: "refused")
        tagger.take([Self.open(3, server: "[::1]:25"), SessionEvent(session: 3, offset: 5, kind: .connectFailed(failure))], into: &output)
        #expect(Self.proto(of: output, session: 3) == .smtp)
        output.removeAll()
        // Closes and gaps release too.
        tagger.take([Self.open(4, server: "h:80"), SessionEvent(session: 4, offset: 1, kind: .close(.clientToServer, .fin))], into: &output)
        tagger.take([Self.open(5, server: "h:80"), SessionEvent(session: 5, offset: 1, kind: .gap(.clientToServer, 10))], into: &output)
        #expect(output.count == 4 && tagger.heldSessions == 0)
        // A session the producer never finished is released by `finish`, from its port.
        output.removeAll()
        tagger.take(Self.open(6, server: "h:110"), into: &output)
        tagger.take(Self.open(7, server: "no port"), into: &output)
        tagger.finish(into: &output)
        #expect(output.map(\.session) == [6, 7])
        #expect(Self.proto(of: output, session: 6) == .pop3 && Self.proto(of: output, session: 7) == .opaque)
    }

    @Test("markers without data are held only up to a small limit")
    func holdLimit() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        tagger.take(Self.open(1, server: "h:21"), into: &output)
        for index in 0..<100 {
            tagger.take(SessionEvent(session: 1, offset: Int64(index), kind: .fault(InjectedFault(rule: "r", action: "delay"))), into: &output)
        }
        #expect(tagger.heldSessions == 0)
        #expect(output.count == 101)
        #expect(Self.proto(of: output, session: 1) == .ftp)
        #expect(output.dropFirst().map(\.offset) == (0..<100).map(Int64.init))
    }

    @Test("a forced protocol holds nothing and overrides; an open that has one passes")
    func forced() {
        var tagger = ProtocolTagger(forced: .line)
        var output: [SessionEvent] = []
        tagger.take(Self.open(1, server: "h:25"), into: &output)
        #expect(output.count == 1 && Self.proto(of: output, session: 1) == .line)
        tagger.take(Self.open(2, server: "h:25", proto: .http), into: &output)
        #expect(Self.proto(of: output, session: 2) == .line)
        var detecting = ProtocolTagger()
        output.removeAll()
        detecting.take(Self.open(3, server: "h:25", proto: .redis), into: &output)
        #expect(output.count == 1 && Self.proto(of: output, session: 3) == .redis)
    }

    @Test("a second open of a held session releases the first unchanged")
    func secondOpen() {
        var tagger = ProtocolTagger()
        var output: [SessionEvent] = []
        tagger.take([Self.open(1, server: "h:25"), Self.open(1, server: "h:80")], into: &output)
        #expect(output == [Self.open(1, server: "h:25")])
        #expect(tagger.heldSessions == 1)
    }

    @Test("server ports parse from host:port and [v6]:port only")
    func serverPort() {
        func port(_ server: String) -> Int? { SessionOpen(client: "c", server: server, start: nil).serverPort }
        #expect(port("10.0.0.2:25") == 25)
        #expect(port("[2001:db8::1]:443") == 443)
        #expect(port("mx.example:65535") == 65535)
        #expect(port("mx.example:65536") == nil)
        #expect(port("mx.example:") == nil)
        #expect(port("mx.example") == nil)
        #expect(port("h:99999999999999999999999") == nil)
        #expect(port("h:-1") == nil)
        #expect(port("h:２５") == nil)
    }
}
