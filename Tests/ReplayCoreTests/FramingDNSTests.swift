import Testing
@testable import ReplayCore

@Suite struct FramingDNSTests {
    typealias H = FramingHarness
    let dialect = DNSDialect()

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    static func opt(doBit: Bool, cookie: [UInt8]?) -> [UInt8] {
        let options = cookie.map { [0, 10] + WireBytes.bytes(uint16: $0.count) + $0 } ?? []
        return [0, 0, 41, 0x04, 0xD0, 0, 0, doBit ? 0x80 : 0, 0] + WireBytes.bytes(uint16: options.count) + options
    }

    /// A query as `dig` sends it over TCP: RD and AD set, an OPT record with a client cookie.
    static func query(id: Int, name: String, type: Int = 1, rd: Bool = true, doBit: Bool = false, cookie: [UInt8]? = nil) -> [UInt8] {
        let flags = (rd ? 0x0100 : 0) | 0x0020
        let hasOPT = cookie != nil || doBit
        var body = WireBytes.bytes(uint16: id) + WireBytes.bytes(uint16: flags) + [0, 1, 0, 0, 0, 0, 0, hasOPT ? 1 : 0]
        body += Self.name(name) + WireBytes.bytes(uint16: type) + [0, 1]
        if hasOPT { body += opt(doBit: doBit, cookie: cookie) }
        return WireBytes.bytes(uint16: body.count) + body
    }

    /// A response with one A record whose name is a compression pointer to the question.
    static func response(id: Int, name: String, cookie: [UInt8]? = nil) -> [UInt8] {
        var body = WireBytes.bytes(uint16: id) + [0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, cookie == nil ? 0 : 1]
        body += Self.name(name) + [0, 1, 0, 1]
        body += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 93, 184, 216, 34]
        if let cookie { body += opt(doBit: false, cookie: cookie) }
        return WireBytes.bytes(uint16: body.count) + body
    }

    let clientCookie: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
    let serverCookie: [UInt8] = Array(repeating: 0xAB, count: 16)

    @Test func twoQueriesInOneWriteAndTheirRepliesFrameUnderAnyChunking() {
        let one = Self.query(id: 0x1234, name: "example.org", cookie: clientCookie)
        let two = Self.query(id: 0x1235, name: "example.net", type: 28)
        let replies = Self.response(id: 0x1234, name: "example.org") + Self.response(id: 0x1235, name: "example.net")
        let events: [(H.Side, [UInt8])] = [(.client, one + two), (.server, replies)]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == [one, two, Self.response(id: 0x1234, name: "example.org"), Self.response(id: 0x1235, name: "example.net")])
        #expect(messages.allSatisfy { $0.side == .client ? $0.message.expectsReply : $0.message.completesReply })
    }

    @Test func kindIsTheQuestionWithTheNameLowerCased() {
        let key = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "ExAmple.ORG")), masks: .none)
        #expect(key.kind == "A IN example.org.")
        #expect(key.content == "A IN example.org. QUERY rd=1 do=0")
        #expect(dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "example.org", type: 28)), masks: .none).kind == "AAAA IN example.org.")
        #expect(dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "example.org", type: 15)), masks: .none).kind == "MX IN example.org.")
        #expect(dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "example.org", type: 16)), masks: .none).kind == "TXT IN example.org.")
        #expect(dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "example.org", type: 65)), masks: .none).kind == "TYPE65 IN example.org.")
        let root = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "", type: 2)), masks: .none)
        #expect(root.kind == "NS IN .")
        let flagged = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 7, name: "example.org", rd: false, doBit: true)), masks: .none)
        #expect(flagged.content == "A IN example.org. QUERY rd=0 do=1")
    }

    @Test func idAndCookieDoNotChangeKeys() {
        let one = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 0x1111, name: "example.org", cookie: clientCookie)), masks: .none)
        let two = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 0x9999, name: "example.org", cookie: [9, 9, 9, 9, 9, 9, 9, 9])), masks: .none)
        #expect(one == two)
        let other = dialect.key(ofClient: FramedMessage(bytes: Self.query(id: 0x1111, name: "example.com", cookie: clientCookie)), masks: .none)
        #expect(other.exact != one.exact)
        #expect(Array(one.exact[2..<4]) == [UInt8(ascii: "*"), UInt8(ascii: "*")])
    }

    @Test func compressionPointersAreFollowedAndLoopsAreMalformed() {
        // "www" then a pointer to "example.org" at offset 12.
        var body: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + Self.name("example.org")
        let pointerAt = body.count
        body += [3] + Array("www".utf8) + [0xC0, 12]
        let reader = DNSMessageReader(body)
        let name = reader.name(at: pointerAt)
        #expect(name.map { DNSMessageReader.text(ofName: $0.labels) } == "www.example.org.")
        #expect(name?.end == body.count)

        // A question whose name points at itself, and two pointers pointing at each other.
        let loop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        let pair: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0xC0, 12, 0, 1, 0, 1]
        for message in [loop, pair] {
            let framed = FramedMessage(bytes: WireBytes.bytes(uint16: message.count) + message)
            #expect(dialect.key(ofClient: framed, masks: .none).kind == "(malformed)")
        }
        #expect(dialect.key(ofClient: FramedMessage(bytes: [0, 3, 1, 2, 3]), masks: .none).kind == "(malformed)")
        // A label running past the end.
        let truncated: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 40, 65]
        #expect(dialect.key(ofClient: FramedMessage(bytes: WireBytes.bytes(uint16: truncated.count) + truncated), masks: .none).kind == "(malformed)")
    }

    @Test func echoGivesTheReplyTheLiveIdCookieAndNameSpelling() throws {
        let recordedQuery = Self.query(id: 0x1111, name: "example.org", cookie: clientCookie)
        let liveCookie: [UInt8] = [8, 7, 6, 5, 4, 3, 2, 1]
        let liveQuery = Self.query(id: 0xBEEF, name: "eXample.Org", cookie: liveCookie)
        let reply = Self.response(id: 0x1111, name: "example.org", cookie: clientCookie + serverCookie)
        let echoed = try #require(dialect.echo(liveRequest: FramedMessage(bytes: liveQuery), recordedRequest: FramedMessage(bytes: recordedQuery), reply: reply + reply))
        let expected = Self.response(id: 0xBEEF, name: "eXample.Org", cookie: liveCookie + serverCookie)
        #expect(echoed == expected + expected)
        // Nothing to change: nil.
        #expect(dialect.echo(liveRequest: FramedMessage(bytes: recordedQuery), recordedRequest: FramedMessage(bytes: recordedQuery), reply: reply) == nil)
        // A live query without a cookie leaves the recorded cookie alone.
        let plain = try #require(dialect.echo(liveRequest: FramedMessage(bytes: Self.query(id: 5, name: "example.org")), recordedRequest: FramedMessage(bytes: recordedQuery), reply: reply))
        #expect(plain == Self.response(id: 5, name: "example.org", cookie: clientCookie + serverCookie))
    }

    @Test func maskedReplyHidesIdAndCookie() {
        let one = Self.response(id: 1, name: "example.org", cookie: clientCookie + serverCookie)
        let two = Self.response(id: 2, name: "example.org", cookie: [9, 9, 9, 9, 9, 9, 9, 9] + serverCookie.reversed())
        let three = Self.response(id: 1, name: "example.net", cookie: clientCookie + serverCookie)
        #expect(dialect.maskedReply(FramedMessage(bytes: one), masks: .none) == dialect.maskedReply(FramedMessage(bytes: two), masks: .none))
        #expect(dialect.maskedReply(FramedMessage(bytes: one), masks: .none) != dialect.maskedReply(FramedMessage(bytes: three), masks: .none))
    }

    @Test func errorReplyIsAServfailWithTheQuestion() throws {
        let query = Self.query(id: 0x4242, name: "Example.org", type: 28, cookie: clientCookie)
        let reply = try #require(dialect.errorReply(to: FramedMessage(bytes: query), reason: "no recording"))
        var framer = dialect.makeFramer()
        #expect(framer.serverBytes(reply).map(\.bytes) == [reply])
        let reader = DNSMessageReader(reply.dropFirst(2))
        #expect(reader.id == 0x4242)
        let flags = try #require(reader.flags)
        #expect(flags & 0x8000 != 0)
        #expect(flags & 0x000F == 2)
        #expect(flags & 0x0100 != 0)
        #expect(reader.question.map { DNSMessageReader.text(ofName: $0.labels) } == "example.org.")
        #expect(reader.question?.type == 28)
    }

    @Test func garbageNeverTrapsAndLosesNoByte() {
        #expect(H.garbageIsLossless(dialect, alphabet: [0, 1, 12, 20, 41, 10, 0xC0, 0x0C, 0x81, 0x80]))
        // A prefix announcing more than comes is left for the finish call.
        var framer = dialect.makeFramer()
        #expect(framer.clientBytes([0xFF, 0xFF, 1, 2]).isEmpty)
        #expect(framer.clientFinished().map(\.bytes) == [[0xFF, 0xFF, 1, 2]])
    }
}
