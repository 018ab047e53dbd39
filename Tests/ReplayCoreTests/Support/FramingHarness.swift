@testable import ReplayCore

/// Feeds a framer a conversation (client and server chunks in order, then both FINs) under a
/// chosen chunking, and collects what it returns, for the per-protocol framing tests.
enum FramingHarness {
    enum Side: Sendable, Hashable { case client, server }

    /// One returned message and the direction it came from.
    struct Framed: Sendable, Hashable {
        var side: Side
        var message: FramedMessage
        var bytes: [UInt8] { message.bytes }
    }

    /// How each event's bytes are split into calls.
    enum Chunking: Sendable {
        case whole
        case byteByByte
        case random(seed: UInt64)
    }

    static func run(_ dialect: any ProtocolDialect, _ events: [(Side, [UInt8])], chunking: Chunking = .whole,
                    finish: Bool = true) -> [Framed] {
        var framer = dialect.makeFramer()
        var generator = SplitMix64(seed: { if case .random(let seed) = chunking { return seed } else { return 0 } }())
        var out: [Framed] = []
        for (side, bytes) in events {
            for chunk in split(bytes, chunking, &generator) {
                let messages = side == .client ? framer.clientBytes(chunk) : framer.serverBytes(chunk)
                out += messages.map { Framed(side: side, message: $0) }
            }
        }
        if finish {
            out += framer.clientFinished().map { Framed(side: .client, message: $0) }
            out += framer.serverFinished().map { Framed(side: .server, message: $0) }
        }
        return out
    }

    static func split(_ bytes: [UInt8], _ chunking: Chunking, _ generator: inout SplitMix64) -> [[UInt8]] {
        switch chunking {
        case .whole:
            return [bytes]
        case .byteByByte:
            return bytes.map { [$0] }
        case .random:
            var chunks: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let size = Int.random(in: 1...max(1, min(17, bytes.count - start)), using: &generator)
                chunks.append(Array(bytes[start..<(start + size)]))
                start += size
            }
            return chunks.isEmpty ? [[]] : chunks
        }
    }

    /// The same messages under whole, byte-by-byte and three random chunkings; returns the
    /// whole-chunk result and whether all agree.
    static func stable(_ dialect: any ProtocolDialect, _ events: [(Side, [UInt8])]) -> (messages: [Framed], agree: Bool) {
        let whole = run(dialect, events)
        var agree = run(dialect, events, chunking: .byteByByte) == whole
        for seed in [1, 2, 3] as [UInt64] {
            agree = agree && run(dialect, events, chunking: .random(seed: seed)) == whole
        }
        return (whole, agree)
    }

    /// Whether the messages of each side, concatenated, equal what that side sent.
    static func lossless(_ framed: [Framed], _ events: [(Side, [UInt8])]) -> Bool {
        for side in [Side.client, .server] {
            let sent = events.filter { $0.0 == side }.flatMap { $0.1 }
            let got = framed.filter { $0.side == side }.flatMap { $0.bytes }
            if sent != got { return false }
        }
        return true
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Seeded random bytes, for garbage-input tests.
    static func garbage(seed: UInt64, count: Int) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Seeded random bytes biased to the protocol's own alphabet, so the parser gets further.
    static func garbage(seed: UInt64, count: Int, alphabet: [UInt8]) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            Bool.random(using: &generator) ? alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] : UInt8.random(in: 0...255, using: &generator)
        }
    }

    /// Random garbage on both sides (several chunks each way, random chunking) never traps and
    /// loses no byte.
    static func garbageIsLossless(_ dialect: any ProtocolDialect, alphabet: [UInt8], seeds: ClosedRange<UInt64> = 1...40) -> Bool {
        for seed in seeds {
            var events: [(Side, [UInt8])] = []
            for round in 0..<6 {
                let count = Int((seed &* 31 &+ UInt64(round) &* 7) % 300)
                let chunk = round % 2 == 0 ? garbage(seed: seed * 100 + UInt64(round), count: count, alphabet: alphabet)
                    : garbage(seed: seed * 100 + UInt64(round), count: count)
                events.append((round % 3 == 0 ? .server : .client, chunk))
            }
            let framed = run(dialect, events, chunking: .random(seed: seed))
            guard lossless(framed, events) else { return false }
            // Keys and masks of whatever came out must not trap either.
            for item in framed {
                if item.side == .client {
                    let key = dialect.key(ofClient: item.message, masks: .none)
                    _ = dialect.errorReply(to: item.message, reason: "x")
                    _ = dialect.housekeepingReply(to: item.message, key: key)
                    _ = dialect.unreplayableReason(recordedRequest: item.message)
                    _ = dialect.echo(liveRequest: item.message, recordedRequest: item.message, reply: item.bytes)
                } else {
                    _ = dialect.maskedReply(item.message, masks: .none)
                }
            }
        }
        return true
    }
}
