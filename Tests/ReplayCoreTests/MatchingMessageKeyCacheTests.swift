import Testing
@testable import ReplayCore

/// The shared cache of live messages' keys: always the key the dialect gives, cached from a
/// message's second sighting, bounded.
@Suite("MessageKeyCache")
struct MatchingMessageKeyCacheTests {
    static let dialect = WireProtocol.smtp.dialect

    @Test func aCachedKeyIsTheDialectsKey() throws {
        let cache = MessageKeyCache()
        let masks = try MaskSet(patterns: ["[0-9]+"])
        for text in ["EHLO a.b\r\n", "mail from:<A@B.example> SIZE=12\r\n", "RCPT TO:<x@y>\r\n", "QUIT\r\n"] {
            let message = FramedMessage(bytes: Array(text.utf8))
            let direct = Self.dialect.key(ofClient: message, masks: masks)
            for _ in 0..<3 { #expect(cache.key(of: message, dialect: Self.dialect, masks: masks) == direct, "\(text)") }
        }
        #expect(cache.count == 4)
    }

    @Test func aMessageSeenOnceIsNotCached() {
        let cache = MessageKeyCache()
        let once = FramedMessage(bytes: Array("RCPT TO:<once@x>\r\n".utf8))
        _ = cache.key(of: once, dialect: Self.dialect, masks: .none)
        #expect(cache.count == 0)
        _ = cache.key(of: once, dialect: Self.dialect, masks: .none)
        #expect(cache.count == 1)
    }

    @Test func theSameBytesUnderAnotherProtocolHaveTheirOwnKey() {
        let cache = MessageKeyCache()
        let message = FramedMessage(bytes: Array("QUIT\r\n".utf8))
        let line = WireProtocol.line.dialect
        for _ in 0..<2 {
            #expect(cache.key(of: message, dialect: Self.dialect, masks: .none) == Self.dialect.key(ofClient: message, masks: .none))
            #expect(cache.key(of: message, dialect: line, masks: .none) == line.key(ofClient: message, masks: .none))
        }
        #expect(cache.count == 2)
    }

    @Test func longMessagesAndWildcardsAreNeverCached() {
        let cache = MessageKeyCache()
        let long = FramedMessage(bytes: Array(repeating: UInt8(ascii: "a"), count: MessageKeyCache.maxMessageBytes + 1))
        let wild = FramedMessage(bytes: Array("AUTH PLAIN ****\r\n".utf8), wildcards: [11..<15])
        for _ in 0..<3 {
            _ = cache.key(of: long, dialect: Self.dialect, masks: .none)
            _ = cache.key(of: wild, dialect: Self.dialect, masks: .none)
        }
        #expect(cache.count == 0)
    }

    @Test func mailBodiesAndChunksSkipTheCacheButKeepTheirKeys() {
        let cache = MessageKeyCache()
        let body = FramedMessage(bytes: Array("Subject: t\r\nMessage-Id: <1@x>\r\n\r\nhi\r\n.\r\n".utf8))
        let chunk = FramedMessage(bytes: Array("BDAT 4 LAST\r\nhi\r\n".utf8))
        let command = FramedMessage(bytes: Array("DATA\r\n".utf8))
        #expect(!Self.dialect.keyMayRepeat(body))
        #expect(!Self.dialect.keyMayRepeat(chunk))
        #expect(Self.dialect.keyMayRepeat(command))
        for _ in 0..<3 {
            #expect(cache.key(of: body, dialect: Self.dialect, masks: .none) == Self.dialect.key(ofClient: body, masks: .none))
            #expect(cache.key(of: chunk, dialect: Self.dialect, masks: .none) == Self.dialect.key(ofClient: chunk, masks: .none))
            _ = cache.key(of: command, dialect: Self.dialect, masks: .none)
        }
        #expect(cache.count == 1)
    }

    @Test func theCacheStaysBounded() {
        let cache = MessageKeyCache()
        for round in 0..<2 {
            for index in 0..<(MessageKeyCache.capacity + 10) {
                _ = cache.key(of: FramedMessage(bytes: Array("RCPT TO:<u\(index)@x>\r\n".utf8)), dialect: Self.dialect, masks: .none)
            }
            _ = round
        }
        #expect(cache.count <= MessageKeyCache.capacity)
    }
}
