import Testing
@testable import ReplayCore

@Suite struct FramingHTTPTests {
    typealias H = FramingHarness
    let dialect = HTTPDialect()

    func b(_ text: String) -> [UInt8] { H.bytes(text) }

    @Test func requestAndResponseWithContentLengthAreOneMessageEachUnderAnyChunking() {
        let request = b("POST /submit?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        let response = b("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let events: [(H.Side, [UInt8])] = [(.client, request), (.server, response)]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == [request, response])
        #expect(messages[0].message.expectsReply)
        #expect(messages[1].message.completesReply)
    }

    @Test func twoPipelinedRequestsInOneWriteAreTwoMessages() {
        let first = b("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        let second = b("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let replies = b("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        let events: [(H.Side, [UInt8])] = [(.client, first + second), (.server, replies)]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == [first, second,
                                         b("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"),
                                         b("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")])
    }

    @Test func chunkedBodiesWithTrailersBelongToTheirMessage() {
        let request = b("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n")
        let next = b("GET /after HTTP/1.1\r\n\r\n")
        let response = b("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer: t\r\n\r\n")
        let events: [(H.Side, [UInt8])] = [(.client, request + next), (.server, response)]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == [request, next, response])
        // The content key holds the decoded payload, not the chunk framing.
        #expect(dialect.key(ofClient: messages[0].message, masks: .none).content == "PUT /up\nWikipedia")
    }

    @Test func aReplyToHeadHasNoBodyEvenWithContentLength() {
        let events: [(H.Side, [UInt8])] = [
            (.client, b("HEAD /big HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n")),
            (.server, b("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")),
        ]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.filter { $0.side == .server }.map(\.bytes) == [
            b("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            b("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        ])
    }

    @Test func expectContinueSplitsHeaderSectionAndBody() {
        let head = b("PUT /f HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let body = b("data")
        let interim = b("HTTP/1.1 100 Continue\r\n\r\n")
        let final = b("HTTP/1.1 204 No Content\r\n\r\n")
        let events: [(H.Side, [UInt8])] = [(.client, head), (.server, interim), (.client, body), (.server, final)]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == [head, interim, body, final])
        #expect(messages.map(\.message.expectsReply) == [true, true, true, true])
        #expect(messages[1].message.completesReply)
        #expect(messages[3].message.completesReply)
        #expect(dialect.key(ofClient: messages[2].message, masks: .none).kind == "(body)")
        #expect(dialect.key(ofClient: messages[0].message, masks: .none).kind == "PUT /f")
    }

    @Test func otherInterimResponsesDoNotCompleteTheReply() {
        let events: [(H.Side, [UInt8])] = [
            (.client, b("GET / HTTP/1.1\r\n\r\n")),
            (.server, b("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
        ]
        let messages = H.run(dialect, events).filter { $0.side == .server }
        #expect(messages.map(\.message.completesReply) == [false, false, true])
    }

    @Test func aResponseWithoutLengthRunsUntilTheServerFinishes() {
        let response = b("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\nis body")
        let events: [(H.Side, [UInt8])] = [(.client, b("GET /x HTTP/1.0\r\n\r\n")), (.server, response)]
        var framer = dialect.makeFramer()
        _ = framer.clientBytes(events[0].1)
        #expect(framer.serverBytes(response).isEmpty)
        let last = framer.serverFinished()
        #expect(last.map(\.bytes) == [response])
        #expect(last.first?.completesReply == true)
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(H.lossless(messages, events))
    }

    @Test func noContentAndNotModifiedHaveNoBody() {
        let events: [(H.Side, [UInt8])] = [
            (.client, b("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")),
            (.server, b("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n")),
        ]
        let messages = H.run(dialect, events, finish: false).filter { $0.side == .server }
        #expect(messages.count == 2)
    }

    @Test func afterSwitchingProtocolsBothDirectionsAreOpaque() {
        let upgrade = b("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let switching = b("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        let frame: [UInt8] = [0x81, 0x05] + b("hello")
        let events: [(H.Side, [UInt8])] = [(.client, upgrade), (.server, switching + [0x81, 0x01, 0x41]), (.client, frame)]
        let messages = H.run(dialect, events)
        #expect(messages.map(\.bytes) == [upgrade, switching, [0x81, 0x01, 0x41], frame])
        #expect(messages[1].message.completesReply)
    }

    @Test func keysIgnoreHostUserAgentAndDateButNotPathOrQuery() {
        let one = FramedMessage(bytes: b("GET /index.html?q=1 HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.1\r\nDate: Mon\r\n\r\n"))
        let two = FramedMessage(bytes: b("get /index.html?q=1 HTTP/1.1\r\nHost: b.example:8080\r\nUser-Agent: curl/8.7\r\nDate: Tue\r\n\r\n"))
        let other = FramedMessage(bytes: b("GET /other HTTP/1.1\r\nHost: a.example\r\n\r\n"))
        let query = FramedMessage(bytes: b("GET /index.html?q=2 HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.1\r\nDate: Mon\r\n\r\n"))
        let k1 = dialect.key(ofClient: one, masks: .none)
        let k2 = dialect.key(ofClient: two, masks: .none)
        #expect(k1.kind == "GET /index.html")
        #expect(k1.kind == k2.kind)
        #expect(k1.content == "GET /index.html?q=1")
        #expect(k1.content == k2.content)
        #expect(k1.exact == b("GET /index.html?q=1 HTTP/1.1\r\nHost: *\r\nUser-Agent: *\r\nDate: *\r\n\r\n"))
        #expect(dialect.key(ofClient: other, masks: .none).kind != k1.kind)
        let kq = dialect.key(ofClient: query, masks: .none)
        #expect(kq.kind == k1.kind)
        #expect(kq.content != k1.content)
        #expect(kq.exact != k1.exact)
    }

    @Test func userMasksApplyToContentAndExact() throws {
        let masks = try MaskSet(patterns: ["token=[0-9]+"])
        let one = dialect.key(ofClient: FramedMessage(bytes: b("GET /p?token=123 HTTP/1.1\r\n\r\n")), masks: masks)
        let two = dialect.key(ofClient: FramedMessage(bytes: b("GET /p?token=987 HTTP/1.1\r\n\r\n")), masks: masks)
        #expect(one.content == two.content)
        #expect(one.exact == two.exact)
    }

    @Test func maskedReplyHidesDatesAndRequestIds() {
        let one = FramedMessage(bytes: b("HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Request-Id: abc\r\nAge: 5\r\nContent-Length: 2\r\n\r\nok"))
        let two = FramedMessage(bytes: b("HTTP/1.1 200 OK\r\nDate: Tue, 02 Jan 2024 10:00:00 GMT\r\nX-Request-Id: def\r\nAge: 7\r\nContent-Length: 2\r\n\r\nok"))
        let three = FramedMessage(bytes: b("HTTP/1.1 200 OK\r\nDate: Tue, 02 Jan 2024 10:00:00 GMT\r\nContent-Length: 2\r\n\r\nno"))
        #expect(dialect.maskedReply(one, masks: .none) == b("HTTP/1.1 200 OK\r\nDate: *\r\nX-Request-Id: *\r\nAge: *\r\nContent-Length: 2\r\n\r\nok"))
        #expect(dialect.maskedReply(one, masks: .none) == dialect.maskedReply(two, masks: .none))
        #expect(dialect.maskedReply(three, masks: .none) != dialect.maskedReply(one, masks: .none))
    }

    @Test func errorReplyIsAValidCompleteResponse() throws {
        let reply = try #require(dialect.errorReply(to: FramedMessage(bytes: b("GET / HTTP/1.1\r\n\r\n")), reason: "no recorded\r\nmatch"))
        let body = b("replayd: no recorded  match\n")
        #expect(reply == b("HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n") + body)
        var framer = dialect.makeFramer()
        _ = framer.clientBytes(b("GET / HTTP/1.1\r\n\r\n"))
        let parsed = framer.serverBytes(reply)
        #expect(parsed.map(\.bytes) == [reply])
    }

    @Test func garbageNeverTrapsAndLosesNoByte() {
        #expect(H.garbageIsLossless(dialect, alphabet: b("GET / HTTP/1.1\r\n:0123456789abcdef;Content-Length: chunked Transfer-Encoding Expect 100-continue HEAD")))
        // A head that never ends is cut once it exceeds the bound.
        var framer = dialect.makeFramer()
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: HTTPFramer.maxHead + 10)
        let cut = framer.clientBytes(long).map(\.bytes) == [long]
        #expect(cut)
    }
}

extension FramingHTTPTests {
    @Test func aBodySentAfterAFinalRejectionExpectsNoReply() {
        let head = b("PUT /f HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let rejection = b("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        let messages = H.run(dialect, [(.client, head), (.server, rejection), (.client, b("data"))])
        #expect(messages.map(\.bytes) == [head, rejection, b("data")])
        #expect(messages[1].message.completesReply)
        #expect(messages[2].message.expectsReply == false)
    }
}
