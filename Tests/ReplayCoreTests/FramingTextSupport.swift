@testable import ReplayCore

/// One write of a scripted connection, for the text-protocol framer tests.
enum TextFeed {
    case client(String)
    case server(String)
    case clientBytes([UInt8])
    case serverBytes([UInt8])

    var isClient: Bool {
        switch self {
        case .client, .clientBytes: return true
        case .server, .serverBytes: return false
        }
    }

    var bytes: [UInt8] {
        switch self {
        case .client(let text), .server(let text): return Array(text.utf8)
        case .clientBytes(let bytes), .serverBytes(let bytes): return bytes
        }
    }
}

/// What a framer cut out of a scripted connection.
struct TextFramerRun: Equatable {
    var client: [FramedMessage] = []
    var server: [FramedMessage] = []

    var clientTexts: [String] { client.map { String(decoding: $0.bytes, as: UTF8.self) } }
    var serverTexts: [String] { server.map { String(decoding: $0.bytes, as: UTF8.self) } }
}

/// Feeds scripted writes to a framer in a chosen chunking: whole writes, byte by byte, or
/// random pieces from a seeded generator (the order of the two directions is kept).
enum TextFramerDriver {
    enum Chunking {
        case whole
        case byteByByte
        case random(seed: UInt64)
    }

    static func run(_ framer: any MessageFramer, _ feeds: [TextFeed], chunking: Chunking = .whole, finish: Bool = true) -> TextFramerRun {
        var framer = framer
        var run = TextFramerRun()
        var random = SplitMix64(seed: 1)
        if case .random(let seed) = chunking { random = SplitMix64(seed: seed) }
        for feed in feeds {
            let bytes = feed.bytes
            var pieces: [[UInt8]] = []
            switch chunking {
            case .whole:
                pieces = [bytes]
            case .byteByByte:
                pieces = bytes.map { [$0] }
            case .random:
                var index = 0
                while index < bytes.count {
                    let length = Int.random(in: 1...17, using: &random)
                    pieces.append(Array(bytes[index..<min(index + length, bytes.count)]))
                    index += length
                }
            }
            for piece in pieces {
                if feed.isClient {
                    run.client += framer.clientBytes(piece)
                } else {
                    run.server += framer.serverBytes(piece)
                }
            }
        }
        if finish {
            run.client += framer.clientFinished()
            run.server += framer.serverFinished()
        }
        return run
    }

    /// Consecutive writes of the same direction merged into one.
    static func joined(_ feeds: [TextFeed]) -> [TextFeed] {
        var result: [TextFeed] = []
        for feed in feeds {
            if let last = result.last, last.isClient == feed.isClient {
                result[result.count - 1] = last.isClient ? .clientBytes(last.bytes + feed.bytes) : .serverBytes(last.bytes + feed.bytes)
            } else {
                result.append(feed)
            }
        }
        return result
    }

    /// Every chunking gives the same messages as whole writes; returns the whole-write run.
    static func runEveryChunking(_ make: () -> any MessageFramer, _ feeds: [TextFeed]) -> (whole: TextFramerRun, others: [TextFramerRun]) {
        let whole = run(make(), feeds)
        var others = [run(make(), feeds, chunking: .byteByByte)]
        for seed: UInt64 in [1, 2, 3, 42, 1234] {
            others.append(run(make(), feeds, chunking: .random(seed: seed)))
        }
        return (whole, others)
    }

    /// Random bytes in random chunks to both directions: returns what came in and what came
    /// out per direction, for "never crashes, loses no byte".
    static func garbage(_ make: () -> any MessageFramer, seed: UInt64, alphabet: [UInt8]) -> (clientIn: [UInt8], clientOut: [UInt8], serverIn: [UInt8], serverOut: [UInt8]) {
        var random = SplitMix64(seed: seed)
        var framer = make()
        var clientIn: [UInt8] = []
        var serverIn: [UInt8] = []
        var clientOut: [UInt8] = []
        var serverOut: [UInt8] = []
        for _ in 0..<300 {
            let length = Int.random(in: 0...40, using: &random)
            let chunk = (0..<length).map { _ in
                Bool.random(using: &random) ? alphabet[Int.random(in: 0..<alphabet.count, using: &random)] : UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) {
                clientIn += chunk
                clientOut += framer.clientBytes(chunk).flatMap(\.bytes)
            } else {
                serverIn += chunk
                serverOut += framer.serverBytes(chunk).flatMap(\.bytes)
            }
        }
        clientOut += framer.clientFinished().flatMap(\.bytes)
        serverOut += framer.serverFinished().flatMap(\.bytes)
        return (clientIn, clientOut, serverIn, serverOut)
    }

    /// The exchanges `.inOrder` pairing makes of whole writes: each server message goes to the
    /// oldest client message still waiting (popping it when it completes the reply), or to the
    /// latest exchange when none waits (a greeting goes to an exchange with no request).
    static func inOrderExchanges(_ framer: any MessageFramer, _ feeds: [TextFeed]) -> [(request: String, replies: [String])] {
        var framer = framer
        var exchanges: [(request: String, replies: [String])] = [("", [])]
        var waiting: [Int] = []
        for feed in feeds {
            if feed.isClient {
                for message in framer.clientBytes(feed.bytes) {
                    exchanges.append((String(decoding: message.bytes, as: UTF8.self), []))
                    if message.expectsReply { waiting.append(exchanges.count - 1) }
                }
            } else {
                for message in framer.serverBytes(feed.bytes) {
                    let text = String(decoding: message.bytes, as: UTF8.self)
                    guard let oldest = waiting.first else {
                        exchanges[exchanges.count - 1].replies.append(text)
                        continue
                    }
                    exchanges[oldest].replies.append(text)
                    if message.completesReply { waiting.removeFirst() }
                }
            }
        }
        return exchanges
    }

    /// A random script of writes drawn mostly from `alphabet` (protocol-looking bytes), for
    /// "chunking never changes the messages" on inputs nobody wrote by hand.
    static func randomScript(seed: UInt64, alphabet: [String]) -> [TextFeed] {
        var random = SplitMix64(seed: seed)
        return (0..<60).map { _ in
            let text = (0..<Int.random(in: 1...6, using: &random)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }.joined()
            return Bool.random(using: &random) ? .client(text) : .server(text)
        }
    }

    static func message(_ text: String, expectsReply: Bool = true, completesReply: Bool = true) -> FramedMessage {
        FramedMessage(bytes: Array(text.utf8), expectsReply: expectsReply, completesReply: completesReply)
    }
}
