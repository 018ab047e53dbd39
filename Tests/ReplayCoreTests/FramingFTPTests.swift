import Testing
@testable import ReplayCore

@Suite struct FramingFTPTests {
    let dialect = FTPDialect()
    func framer() -> any MessageFramer { FTPDialect().makeFramer() }
    func key(_ text: String, masks: MaskSet = .none) -> MessageKey {
        dialect.key(ofClient: FramedMessage(bytes: Array(text.utf8)), masks: masks)
    }
    func masked(_ text: String) -> String {
        String(decoding: dialect.maskedReply(FramedMessage(bytes: Array(text.utf8)), masks: .none), as: UTF8.self)
    }

    static let features = "211-Features:\r\n EPRT\r\n EPSV\r\n226 another code\r\n MDTM\r\n211 End\r\n"
    static let session: [TextFeed] = [
        .server("220-Welcome\r\n220 (vsFTPd 3.0.5)\r\n"),
        .client("USER anonymous\r\n"),
        .server("331 Please specify the password.\r\n"),
        .client("PASS guest@\r\n"),
        .server("230 Login successful.\r\n"),
        .client("FEAT\r\n"),
        .server(features),
        .client("PASV\r\n"),
        .server("227 Entering Passive Mode (127,0,0,1,195,80).\r\n"),
        .client("RETR readme.txt\r\n"),
        .server("150 Opening BINARY mode data connection for readme.txt (12 bytes).\r\n"),
        .server("226 Transfer complete.\r\n"),
        .client("QUIT\r\n"),
        .server("221 Goodbye.\r\n"),
    ]

    @Test func framesASession() {
        let run = TextFramerDriver.run(framer(), Self.session)
        #expect(run.clientTexts == Self.session.filter(\.isClient).map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(run.serverTexts == Self.session.filter { !$0.isClient }.map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(run.server.map(\.completesReply) == [true, true, true, true, true, false, true, true])
        #expect(run.client.allSatisfy { $0.expectsReply })
    }

    @Test func preliminaryReplyPairsWithItsCommand() {
        let exchanges = TextFramerDriver.inOrderExchanges(framer(), Self.session)
        #expect(exchanges.map(\.request) == ["", "USER anonymous\r\n", "PASS guest@\r\n", "FEAT\r\n", "PASV\r\n", "RETR readme.txt\r\n", "QUIT\r\n"])
        #expect(exchanges[5].replies == ["150 Opening BINARY mode data connection for readme.txt (12 bytes).\r\n", "226 Transfer complete.\r\n"])
        #expect(exchanges[6].replies == ["221 Goodbye.\r\n"])
    }

    @Test func chunkingDoesNotChangeMessages() {
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, Self.session)
        for other in others { #expect(other == whole) }
        #expect(TextFramerDriver.run(framer(), TextFramerDriver.joined(Self.session)) == whole)
    }

    @Test func preliminaryAndFinalReplyInOneWrite() {
        let run = TextFramerDriver.run(framer(), [.client("LIST\r\n"), .server("150 Here comes the listing.\r\n226 Directory send OK.\r\n")])
        #expect(run.serverTexts == ["150 Here comes the listing.\r\n", "226 Directory send OK.\r\n"])
        #expect(run.server.map(\.completesReply) == [false, true])
    }

    @Test func bareLineFeedsAndBareCodes() {
        let run = TextFramerDriver.run(framer(), [.server("220-a\n220\n"), .client("SYST\nPWD\n"), .server("215 UNIX Type: L8\n257 \"/\"\n")])
        #expect(run.serverTexts == ["220-a\n220\n", "215 UNIX Type: L8\n", "257 \"/\"\n"])
        #expect(run.clientTexts == ["SYST\n", "PWD\n"])
    }

    @Test func finishReturnsAnUnfinishedReply() {
        var framer = FTPFramer()
        #expect(framer.serverBytes(Array("211-Status\r\n still going\r\n".utf8)).isEmpty)
        #expect(framer.serverFinished().map(\.bytes) == [Array("211-Status\r\n still going\r\n".utf8)])
        #expect(framer.clientBytes(Array("NO".utf8)).isEmpty)
        #expect(framer.pendingClientBytes == 2)
        #expect(framer.clientFinished().map(\.bytes) == [Array("NO".utf8)])
    }

    @Test func keys() {
        #expect(key("user anonymous\r\n").kind == "USER")
        #expect(key("user anonymous\r\n").content == "USER anonymous")
        #expect(key("USER alice\r\n").content != key("USER bob\r\n").content)
        #expect(key("PASS guest@\r\n").content == "PASS")
        #expect(key("PASS guest@\r\n").exact == key("PASS other\r\n").exact)
        #expect(key("PASS guest@\r\n").exact == Array("PASS *\r\n".utf8))
        #expect(key("PORT 127,0,0,1,195,80\r\n").exact == key("PORT 10,0,0,2,4,1\r\n").exact)
        #expect(key("PORT 127,0,0,1,195,80\r\n").content == "PORT")
        #expect(key("EPRT |1|127.0.0.1|50000|\r\n").exact == Array("EPRT *\r\n".utf8))
        #expect(key("RETR readme.txt\r\n").content == "RETR readme.txt")
        #expect(key("RETR a.txt\r\n").content != key("RETR b.txt\r\n").content)
        #expect(key("cwd /pub\r\n").content == "CWD /pub")
    }

    @Test func passiveRepliesAreMasked() {
        #expect(masked("227 Entering Passive Mode (127,0,0,1,195,80).\r\n") == "227 Entering Passive Mode (*).\r\n")
        #expect(masked("227 Entering Passive Mode (127,0,0,1,195,80).\r\n") == masked("227 Entering Passive Mode (10,1,2,3,4,5).\r\n"))
        #expect(masked("227 Entering Passive Mode 127,0,0,1,195,80\r\n") == "227 Entering Passive Mode *\r\n")
        #expect(masked("229 Entering Extended Passive Mode (|||50000|)\r\n") == "229 Entering Extended Passive Mode (*)\r\n")
        #expect(masked("226 Transfer complete (12 bytes).\r\n") == "226 Transfer complete (12 bytes).\r\n")
    }

    @Test func tlsIsUnreplayable() {
        func reason(_ text: String) -> String? { dialect.unreplayableReason(recordedRequest: FramedMessage(bytes: Array(text.utf8))) }
        #expect(reason("AUTH TLS\r\n")?.contains("AUTH TLS") == true)
        #expect(reason("auth ssl\r\n") != nil)
        #expect(reason("USER a\r\n") == nil)
    }

    @Test func housekeepingAndErrors() {
        let noop = FramedMessage(bytes: Array("noop\r\n".utf8))
        #expect(dialect.housekeepingReply(to: noop, key: dialect.key(ofClient: noop, masks: .none)) == Array("200 NOOP ok\r\n".utf8))
        let list = FramedMessage(bytes: Array("LIST\r\n".utf8))
        #expect(dialect.housekeepingReply(to: list, key: dialect.key(ofClient: list, masks: .none)) == nil)
        #expect(dialect.errorReply(to: list, reason: "nothing\nrecorded") == Array("502 replayd: nothing recorded\r\n".utf8))
        #expect(dialect.pairing == .inOrder)
        #expect(dialect.echo(liveRequest: list, recordedRequest: list, reply: Array("226 ok\r\n".utf8)) == nil)
    }

    @Test func userMasks() throws {
        let masks = try MaskSet(patterns: ["[0-9]{8}\\.log"])
        #expect(key("RETR 20261202.log\r\n", masks: masks) == key("RETR 20261203.log\r\n", masks: masks))
    }

    @Test(arguments: [81, 82, 83])
    func chunkingNeverChangesMessagesOfRandomScripts(seed: UInt64) {
        let feeds = TextFramerDriver.randomScript(seed: seed, alphabet: ["150 a\r\n", "226 b\r\n", "211-x\r\n", "211 y\r\n", " 211 z\r\n", "USER u\r\n", "227 (1,2,3,4,5,6)\r\n", "abc", "\n"])
        let (whole, others) = TextFramerDriver.runEveryChunking(framer, feeds)
        for other in others { #expect(other == whole) }
        #expect(whole.client.flatMap(\.bytes) == feeds.filter(\.isClient).flatMap(\.bytes))
        #expect(whole.server.flatMap(\.bytes) == feeds.filter { !$0.isClient }.flatMap(\.bytes))
    }

    @Test(arguments: [UInt64(41), 42, 43, 44, 45])
    func garbageNeverCrashesAndLosesNoByte(seed: UInt64) {
        let result = TextFramerDriver.garbage(framer, seed: seed, alphabet: Array("\r\n211-150 226 227 (1,2)".utf8))
        #expect(result.clientOut == result.clientIn)
        #expect(result.serverOut == result.serverIn)
        _ = dialect.key(ofClient: FramedMessage(bytes: result.clientIn), masks: .none)
        _ = dialect.maskedReply(FramedMessage(bytes: result.serverIn), masks: .none)
    }
}
