import Testing
@testable import ReplayCore

@Suite struct FramingPostgresTests {
    typealias H = FramingHarness
    let dialect = PostgresDialect()

    static func typed(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        [type.asciiValue ?? 0] + WireBytes.bytes(int32: body.count + 4) + body
    }
    static func cString(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }
    static func startup(_ parameters: [(String, String)]) -> [UInt8] {
        let body = WireBytes.bytes(int32: 196_608) + parameters.flatMap { cString($0.0) + cString($0.1) } + [0]
        return WireBytes.bytes(int32: body.count + 4) + body
    }
    static let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
    static func auth(_ code: Int, _ rest: [UInt8] = []) -> [UInt8] { typed("R", WireBytes.bytes(int32: code) + rest) }
    static let ready = typed("Z", [UInt8(ascii: "I")])
    static func query(_ sql: String) -> [UInt8] { typed("Q", cString(sql)) }

    func kind(_ bytes: [UInt8]) -> String { dialect.key(ofClient: FramedMessage(bytes: bytes), masks: .none).kind }

    @Test func sslRefusedThenStartupWithMD5ThenAQuery() {
        let startup = Self.startup([("user", "alice"), ("database", "shop"), ("application_name", "psql")])
        let password = Self.typed("p", Self.cString("md5" + String(repeating: "a", count: 32)))
        let startupReplies = [Self.auth(0), Self.typed("S", Self.cString("server_version") + Self.cString("16.1")),
                              Self.typed("K", WireBytes.bytes(int32: 4242) + WireBytes.bytes(int32: 99)), Self.ready]
        let rowReplies = [Self.typed("T", [0, 0]), Self.typed("C", Self.cString("SELECT 0")), Self.ready]
        let serverStartup = startupReplies.flatMap { $0 }
        let rows = rowReplies.flatMap { $0 }
        let events: [(H.Side, [UInt8])] = [
            (.client, Self.sslRequest), (.server, [UInt8(ascii: "N")]),
            (.client, startup), (.server, Self.auth(5, [1, 2, 3, 4])),
            (.client, password), (.server, serverStartup),
            (.client, Self.query("SELECT 1")), (.server, rows),
            (.client, Self.typed("X", [])),
        ]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        #expect(H.lossless(messages, events))
        let client = messages.filter { $0.side == .client }
        #expect(client.map { kind($0.bytes) } == ["SSLRequest", "Startup", "Password", "Query", "Terminate"])
        #expect(client.map(\.message.expectsReply) == [true, true, true, true, false])
        let server = messages.filter { $0.side == .server }
        #expect(server.map(\.bytes) == [[UInt8(ascii: "N")], Self.auth(5, [1, 2, 3, 4])] + startupReplies + rowReplies)
        #expect(server.map(\.message.completesReply) == [true, true, false, false, false, true, false, false, true])
    }

    @Test func extendedProtocolCompletesAtSync() {
        let parse = Self.typed("P", Self.cString("s1") + Self.cString("SELECT $1::int") + [0, 0])
        let bind = Self.typed("B", Self.cString("") + Self.cString("s1") + [0, 0, 0, 1, 0, 0, 0, 2] + Array("42".utf8) + [0, 0])
        let describe = Self.typed("D", [UInt8(ascii: "P"), 0])
        let execute = Self.typed("E", Self.cString("") + [0, 0, 0, 0])
        let sync = Self.typed("S", [])
        let flush = Self.typed("H", [])
        let events: [(H.Side, [UInt8])] = [
            (.client, Self.startup([("user", "u")])), (.server, Self.auth(0) + Self.ready),
            (.client, parse + bind + describe + execute + sync + flush),
            (.server, Self.typed("1", []) + Self.typed("2", []) + Self.typed("C", Self.cString("SELECT 1")) + Self.ready),
        ]
        let (messages, agree) = H.stable(dialect, events)
        #expect(agree)
        let client = messages.filter { $0.side == .client }.dropFirst()
        #expect(client.map { kind($0.bytes) } == ["Parse", "Bind", "Describe", "Execute", "Sync", "Flush"])
        #expect(client.map(\.message.expectsReply) == [false, false, false, false, true, true])
        #expect(dialect.key(ofClient: FramedMessage(bytes: parse), masks: .none).content == "Parse SELECT $1::int")
        #expect(dialect.key(ofClient: FramedMessage(bytes: bind), masks: .none).content == "Bind 42")
    }

    @Test func sslAcceptedMakesTheRestOpaque() {
        let events: [(H.Side, [UInt8])] = [
            (.client, Self.sslRequest), (.server, [UInt8(ascii: "S")]),
            (.client, [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), (.server, [0x16, 0x03, 0x03, 0, 1, 9]),
        ]
        let messages = H.run(dialect, events)
        #expect(messages.map(\.bytes) == events.map(\.1))
    }

    @Test func cancelRequestExpectsNoReply() {
        let cancel: [UInt8] = [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0x10, 0x92, 0, 0, 0, 99]
        let messages = H.run(dialect, [(.client, cancel)])
        #expect(messages.map(\.bytes) == [cancel])
        #expect(messages.first?.message.expectsReply == false)
        #expect(kind(cancel) == "CancelRequest")
    }

    @Test func startupContentIsSortedWithoutApplicationName() {
        let one = dialect.key(ofClient: FramedMessage(bytes: Self.startup([("user", "alice"), ("database", "shop"), ("application_name", "psql")])), masks: .none)
        let two = dialect.key(ofClient: FramedMessage(bytes: Self.startup([("database", "shop"), ("application_name", "other"), ("user", "alice")])), masks: .none)
        #expect(one.content == "Startup database=shop user=alice")
        #expect(one.content == two.content)
        #expect(one.kind == "Startup")
        #expect(dialect.key(ofClient: FramedMessage(bytes: Self.query("select 1")), masks: .none).content == "Query select 1")
    }

    @Test func passwordsAndSASLPayloadsAreMasked() {
        let one = dialect.key(ofClient: FramedMessage(bytes: Self.typed("p", Self.cString("secret"))), masks: .none)
        let two = dialect.key(ofClient: FramedMessage(bytes: Self.typed("p", Self.cString("other-secret"))), masks: .none)
        #expect(one == two)
        #expect(one.content == "Password *")
        let first = Array("n,,n=,r=rOprNGfwEbeRWgbNEkqO".utf8)
        let initial = Self.typed("p", Self.cString("SCRAM-SHA-256") + WireBytes.bytes(int32: first.count) + first)
        let initialKey = dialect.key(ofClient: FramedMessage(bytes: initial), masks: .none)
        #expect(initialKey.kind == "SASLInitialResponse")
        #expect(initialKey.content == "SASLInitialResponse SCRAM-SHA-256")
        #expect(!String(decoding: initialKey.exact, as: UTF8.self).contains("rOpr"))
        let final = Self.typed("p", Array("c=biws,r=abc,p=proof".utf8))
        #expect(kind(final) == "SASLResponse")
        #expect(dialect.key(ofClient: FramedMessage(bytes: final), masks: .none).content == "SASLResponse *")
    }

    @Test func scramIsUnreplayableWithAWayOut() throws {
        let first = Array("n,,n=,r=nonce".utf8)
        let initial = Self.typed("p", Self.cString("SCRAM-SHA-256") + WireBytes.bytes(int32: first.count) + first)
        let reason = try #require(dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: initial)))
        #expect(reason.contains("SCRAM-SHA-256") && reason.contains("md5") && reason.contains("pg_hba.conf"))
        #expect(dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Self.typed("p", Self.cString("md5abc")))) == nil)
        #expect(dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Self.query("SELECT 1"))) == nil)
    }

    @Test func startupErrorCompletesButLaterErrorsWaitForReady() {
        let error = Self.typed("E", Self.cString("SFATAL") + [0])
        var framer = dialect.makeFramer()
        _ = framer.clientBytes(Self.startup([("user", "x")]))
        #expect(framer.serverBytes(error).map(\.completesReply) == [true])
        var later = dialect.makeFramer()
        _ = later.clientBytes(Self.startup([("user", "x")]))
        _ = later.serverBytes(Self.auth(0) + Self.ready)
        _ = later.clientBytes(Self.query("bad"))
        #expect(later.serverBytes(error + Self.ready).map(\.completesReply) == [false, true])
    }

    @Test func maskedReplyHidesBackendKeyAndSalt() {
        let one = FramedMessage(bytes: Self.typed("K", WireBytes.bytes(int32: 1) + WireBytes.bytes(int32: 2)))
        let two = FramedMessage(bytes: Self.typed("K", WireBytes.bytes(int32: 3) + WireBytes.bytes(int32: 4)))
        #expect(dialect.maskedReply(one, masks: .none) == dialect.maskedReply(two, masks: .none))
        #expect(dialect.maskedReply(FramedMessage(bytes: Self.auth(5, [1, 2, 3, 4])), masks: .none)
            == dialect.maskedReply(FramedMessage(bytes: Self.auth(5, [9, 9, 9, 9])), masks: .none))
        let status = FramedMessage(bytes: Self.typed("S", Self.cString("TimeZone") + Self.cString("UTC")))
        #expect(dialect.maskedReply(status, masks: .none) == status.bytes)
    }

    @Test func errorRepliesParseAsBackendMessages() throws {
        let reply = try #require(dialect.errorReply(to: FramedMessage(bytes: Self.query("SELECT 2")), reason: "no recording"))
        var framer = dialect.makeFramer()
        _ = framer.clientBytes(Self.startup([("user", "x")]))
        _ = framer.serverBytes(Self.auth(0) + Self.ready)
        let parsed = framer.serverBytes(reply)
        #expect(parsed.map { $0.bytes.first } == [UInt8(ascii: "E"), UInt8(ascii: "Z")])
        #expect(parsed.flatMap(\.bytes) == reply)
        let text = String(decoding: parsed[0].bytes, as: UTF8.self)
        #expect(text.contains("SERROR\0") && text.contains("C0A000\0") && text.contains("Mreplayd: no recording\0"))
        let startupReply = try #require(dialect.errorReply(to: FramedMessage(bytes: Self.startup([("user", "x")])), reason: "r"))
        var fresh = dialect.makeFramer()
        _ = fresh.clientBytes(Self.startup([("user", "x")]))
        #expect(fresh.serverBytes(startupReply).map { $0.bytes.first } == [UInt8(ascii: "E")])
        let ssl = FramedMessage(bytes: Self.sslRequest)
        #expect(dialect.housekeepingReply(to: ssl, key: dialect.key(ofClient: ssl, masks: .none)) == [UInt8(ascii: "N")])
    }

    @Test func garbageNeverTrapsAndLosesNoByte() {
        #expect(H.garbageIsLossless(dialect, alphabet: [0, 0, 0, 8, 4, 0xD2, 0x16, 0x2F, 3, UInt8(ascii: "Q"), UInt8(ascii: "Z"), UInt8(ascii: "R"), 5]))
    }
}
