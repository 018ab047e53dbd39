import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import ReplayCore

private typealias S = ScriptedSession

/// The NIO handler carrying out a `ConnectionReplayer`'s actions, on an `EmbeddedChannel`
/// whose clock only moves with `advanceTime`.
@Suite("ReplayHandler on EmbeddedChannel")
struct ReplayHandlerEmbeddedTests {
    static func channel(_ set: ConversationSet, reports: ReplayReportLog? = nil, options: ReplayOptions = ReplayOptions()) throws -> EmbeddedChannel {
        let replayer = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: options, connection: 1, writesMayBlock: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let handler = ReplayHandler(replayer: replayer, queuedOutput: ReplayOutputGauge(), reports: reports, logger: logger)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).wait()
        return channel
    }

    static func output(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var result: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { result += Array(buffer.readableBytesView) }
        return result
    }

    static let set = ConversationSet(cassettes: [("t.cassette", [S.make([
        (100, S.s2c("220 ready\r\n")),
        (150, S.c2s("HELLO recorded\r\n")),
        (450, S.s2c("250 hello\r\n")),
        (500, S.c2s("BYE\r\n")),
        (520, S.s2c("221 bye\r\n")),
        (521, .close(.serverToClient, .fin)),
    ], proto: .line)])])

    @Test func bannerAndReplyComeAtTheirRecordedTimesOnTheLoopsClock() throws {
        let channel = try Self.channel(Self.set)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(99))
        #expect(try Self.output(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.output(channel) == utf8("220 ready\r\n"))

        try channel.writeInbound(ByteBuffer(string: "HELLO other\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        #expect(try Self.output(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.output(channel) == utf8("250 hello\r\n"))
        _ = try? channel.finish()
    }

    @Test func aClientThatHalfClosesGetsTheRestThenTheClose() throws {
        let reports = ReplayReportLog()
        let channel = try Self.channel(Self.set, reports: reports)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        _ = try Self.output(channel)
        try channel.writeInbound(ByteBuffer(string: "HELLO x\r\nBYE\r\n"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(400))
        #expect(try Self.output(channel) == utf8("250 hello\r\n221 bye\r\n"))
        #expect(!channel.isActive)
        #expect(reports.connections.first?.steps.map(\.kind) == ["HELLO", "BYE"])
        #expect(reports.connections.first?.followed == SessionRef(file: "t.cassette", session: 1))
    }

    /// A reply of several chunks all due at once goes out in the same event, chunk by chunk
    /// (each its own write, as recorded), with no timer between them.
    @Test func chunksDueAtOnceAreWrittenInTheSameEventEachItsOwnWrite() throws {
        let burst = ConversationSet(cassettes: [("t.cassette", [S.make([
            (0, S.s2c("220 a\r\n")),
            (10, S.c2s("EHLO x\r\n")),
            (20, S.s2c("250-one\r\n")), (20, S.s2c("250-two\r\n")), (20, S.s2c("250 three\r\n")),
        ], proto: .smtp)])])
        let channel = try Self.channel(burst, options: ReplayOptions(noDelay: true))
        #expect(try Self.output(channel) == utf8("220 a\r\n"))
        try channel.writeInbound(ByteBuffer(string: "EHLO other\r\n"))
        var writes: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { writes.append(String(buffer: buffer)) }
        #expect(writes == ["250-one\r\n", "250-two\r\n", "250 three\r\n"])
        _ = try? channel.finish()
    }
}
