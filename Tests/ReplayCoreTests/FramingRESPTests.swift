import Testing
@testable import ReplayCore

@Suite struct FramingRESPTests {
    typealias H = FramingHarness
    let dialect = RedisDialect()

    func b(_ text: String) -> [UInt8] { H.bytes(text) }
    func key(_ text: String) -> MessageKey { dialect.key(ofClient: FramedMessage(bytes: b(text)), masks: .none) }

    @Test func threeCommandsInOneWriteAreThreeMessagesUnderAnyChunking() {
        let commands = ["*2\r\n$3\r\nGET\r\n$7\r\npresent\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nal\r\n", "PING\r\n"].map(b)
        let replies = ["$5\r\nhello\r\n", "+OK\r\n", "+PONG\r\n"].map(b)
        let events: [(H.Side, [UInt8])] = [(.client, commands.joined().map { $0 }), (.server, replies.joined().map { $0 })]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(messages.map(\.bytes) == commands + replies)
        #expect(messages.allSatisfy { $0.side == .client ? $0.message.expectsReply : $0.message.completesReply })
    }

    @Test func nestedArraysAndNullsAreOneValue() {
        let nested = b("*3\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n*1\r\n*0\r\n")
        let next = b("-ERR wrong\r\n")
        let (messages, agree) = H.stable(dialect, [(.client, b("EVAL x 0\r\n")), (.server, nested + next)])
        #expect(agree)
        #expect(messages.filter { $0.side == .server }.map(\.bytes) == [nested, next])
    }

    @Test func resp3TypesFrameWithAttributesAndPushesNotCompleting() {
        let values = [
            "_\r\n", ",3.14\r\n", "#t\r\n", "(3492890328409238509324850943850943825024385\r\n", "=15\r\ntxt:Some string\r\n",
            "!21\r\nSYNTAX invalid syntax\r\n", "%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n", "~2\r\n+a\r\n+b\r\n",
            "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n", "*2\r\n:2039123\r\n:9543892\r\n",
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            // An attribute inside an aggregate does not count as one of its elements.
            "*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n",
        ].map(b)
        let (messages, agree) = H.stable(dialect, [(.client, b("HELLO 3\r\n")), (.server, values.joined().map { $0 })])
        #expect(agree)
        let server = messages.filter { $0.side == .server }
        #expect(server.map(\.bytes) == values)
        #expect(server.map(\.message.completesReply) == [true, true, true, true, true, true, true, true, false, true, false, true])
    }

    @Test func inlineCommandsAndEmptyLines() {
        let (messages, _) = H.stable(dialect, [(.client, b("\r\nget present\r\n"))])
        #expect(messages.map(\.bytes) == [b("\r\n"), b("get present\r\n")])
        #expect(messages.map(\.message.expectsReply) == [false, true])
    }

    @Test func caseOfTheCommandDoesNotChangeKindOrContent() {
        let upper = key("*2\r\n$3\r\nGET\r\n$7\r\npresent\r\n")
        let lower = key("*2\r\n$3\r\nget\r\n$7\r\npresent\r\n")
        let inline = key("get present\r\n")
        #expect(upper.kind == "GET")
        #expect(upper.content == "GET present")
        #expect(lower.kind == upper.kind && lower.content == upper.content)
        #expect(inline.kind == upper.kind && inline.content == upper.content)
        #expect(key("*2\r\n$3\r\nGET\r\n$6\r\nabsent\r\n").content != upper.content)
    }

    @Test func binaryArgumentsAreEscapedInContent() {
        let binary = key("*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$2\r\n\u{01}\u{7F}\r\n")
        #expect(binary.content == "SET \"a\\x20b\" \"\\x01\\x7f\"")
        #expect(key("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n").content == "SET a b")
    }

    @Test func passwordsAreMaskedButUserNamesKept() {
        let one = key("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\nsecret\r\n")
        let two = key("*3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$5\r\nother\r\n")
        #expect(one.content == "AUTH alice *")
        #expect(one.content == two.content)
        #expect(one.exact == b("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$1\r\n*\r\n"))
        #expect(key("AUTH hunter2\r\n").content == "AUTH *")
        #expect(key("AUTH hunter2\r\n").exact == b("AUTH *\r\n"))
        let hello = key("*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n$7\r\nSETNAME\r\n")
        #expect(hello.content == "HELLO 3 AUTH bob * SETNAME")
        let plain = b("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        #expect(dialect.key(ofClient: FramedMessage(bytes: plain), masks: .none).exact == plain)
    }

    @Test func pingIsHousekeeping() {
        let ping = FramedMessage(bytes: b("*1\r\n$4\r\nPING\r\n"))
        #expect(dialect.housekeepingReply(to: ping, key: dialect.key(ofClient: ping, masks: .none)) == b("+PONG\r\n"))
        let echo = FramedMessage(bytes: b("*2\r\n$4\r\nping\r\n$5\r\nhello\r\n"))
        #expect(dialect.housekeepingReply(to: echo, key: dialect.key(ofClient: echo, masks: .none)) == b("$5\r\nhello\r\n"))
        let get = FramedMessage(bytes: b("GET k\r\n"))
        #expect(dialect.housekeepingReply(to: get, key: dialect.key(ofClient: get, masks: .none)) == nil)
    }

    @Test func errorReplyIsOneRESPError() throws {
        let reply = try #require(dialect.errorReply(to: FramedMessage(bytes: b("GET k\r\n")), reason: "nothing\r\nrecorded"))
        #expect(reply == b("-ERR replayd: nothing  recorded\r\n"))
        var framer = dialect.makeFramer()
        #expect(framer.serverBytes(reply).map(\.bytes) == [reply])
    }

    @Test func absurdLengthsTurnTheStreamOpaqueInsteadOfWaiting() {
        var framer = dialect.makeFramer()
        let huge = b("$99999999999\r\nabc")
        #expect(framer.serverBytes(huge).map(\.bytes) == [huge])
        #expect(framer.serverBytes(b("+OK\r\n")).map(\.bytes) == [b("+OK\r\n")])
        var client = dialect.makeFramer()
        let badArray = b("*x\r\n$3\r\nGET\r\n")
        #expect(client.clientBytes(badArray).map(\.bytes) == [badArray])
        // Deep nesting is bounded too, not recursed.
        var deep = dialect.makeFramer()
        let nesting = [UInt8](b("*1\r\n").joined(count: 10_000))
        #expect(deep.serverBytes(nesting).count == 1)
    }

    @Test func garbageNeverTrapsAndLosesNoByte() {
        #expect(H.garbageIsLossless(dialect, alphabet: b("*$+-:_,#(=!%~|>0123456789\r\n-")))
    }
}

fileprivate extension Array where Element == UInt8 {
    func joined(count: Int) -> [UInt8] { (0..<count).flatMap { _ in self } }
}
