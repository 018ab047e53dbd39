import Foundation
import Testing
@testable import ReplayCore

/// The import hot path encodes payloads with hand-written base64, JSON escaping and UTF-8
/// checks. These compare each against a plain reference (Foundation, the standard library and
/// the straightforward encoder this one replaced) on many random payloads.
@Suite("Cassette fast encoder")
struct CassetteFastEncoderTests {
    /// What `PayloadText.readableText` did before: a control-byte scan, then the standard library's UTF-8 check.
    static func referenceIsReadable(_ bytes: [UInt8]) -> Bool {
        for byte in bytes where byte < 0x20 || byte == 0x7f {
            if byte != 0x09, byte != 0x0d, byte != 0x0a { return false }
        }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// The escaping the encoder did before, byte by byte.
    static func referenceJSONString(_ bytes: [UInt8]) -> [UInt8] {
        var line: [UInt8] = [0x22]
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case 0x22: line += Array(#"\""#.utf8)
            case 0x5c: line += Array(#"\\"#.utf8)
            case 0x0a: line += Array(#"\n"#.utf8)
            case 0x0d: line += Array(#"\r"#.utf8)
            case 0x09: line += Array(#"\t"#.utf8)
            case 0..<0x20, 0x7f: line += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: line.append(byte)
            }
        }
        return line + [0x22]
    }

    /// The data line the encoder wrote before (Foundation base64, String-based text check).
    static func referenceDataLine(_ bytes: [UInt8], session: Int, offset: Int64) -> [UInt8] {
        func padded(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let whole = offset / 1_000_000_000, fraction = offset % 1_000_000_000
        let seconds = "\(whole)." + (fraction % 1000 == 0 ? padded(fraction / 1000, 6) : padded(fraction, 9))
        var line = Array(#"{"s":\#(session),"t":\#(seconds),"ev":"data","dir":"c2s","#.utf8)
        if referenceIsReadable(bytes) {
            line += Array(#""text":"#.utf8) + referenceJSONString(bytes)
        } else {
            line += Array(#""b64":""#.utf8) + Array(Data(bytes).base64EncodedString().utf8) + [0x22]
        }
        return line + Array("}\n".utf8)
    }

    /// Random payloads of the kinds that stress the fast paths: every byte value, text with
    /// multi-byte UTF-8 placed across 8-byte boundaries, broken and truncated sequences.
    static func payloads(count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        let pieces: [[UInt8]] = [
            Array("é".utf8), Array("✓".utf8), Array("€".utf8), Array("𝄞".utf8), Array("\u{10FFFF}".utf8),
            Array("\u{80}".utf8), Array("\u{FFFF}".utf8), Array("\u{D7FF}".utf8), Array("\u{E000}".utf8),
            [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xe0, 0x9f, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
            [0xf0, 0x80, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80],
            [0xff], [0xfe], [0x80], [0xbf], [0xc3], [0xe2, 0x9c], [0xf0, 0x9d, 0x84],
            [0x00], [0x7f], [0x1b], [0x09], [0x0a], [0x0d], [0x22], [0x5c], [0x2f], [0x20], [0x7e],
        ]
        var result: [[UInt8]] = [[], Array(0...255), Array((0...255).reversed())]
        for index in 0..<count {
            var bytes: [UInt8] = []
            let length = Int.random(in: 0...80, using: &random)
            switch index % 4 {
            case 0: // any bytes
                bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1: // plain text with one piece at a chosen position (often near an 8-byte edge)
                bytes = (0..<length).map { _ in UInt8.random(in: 0x20...0x7e, using: &random) }
                let at = min(bytes.count, [5, 6, 7, 8, 9, 15, 16, 17].randomElement(using: &random)!)
                bytes.insert(contentsOf: pieces.randomElement(using: &random)!, at: at)
            case 2: // text with several pieces, ending anywhere (truncated sequences at the end)
                for _ in 0..<Int.random(in: 1...12, using: &random) {
                    bytes += (0..<Int.random(in: 0...9, using: &random)).map { _ in UInt8.random(in: 0x20...0x7e, using: &random) }
                    bytes += pieces.randomElement(using: &random)!
                }
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            default: // valid multi-byte text only, so that many are readable
                for _ in 0..<Int.random(in: 1...20, using: &random) {
                    bytes += pieces[Int.random(in: 0...8, using: &random)]
                    if Bool.random(using: &random) { bytes += Array("ab \r\n\t\"\\".utf8).shuffled(using: &random) }
                }
            }
            result.append(bytes)
        }
        return result
    }

    @Test("base64 agrees with Foundation for every length up to 300 and for all byte values")
    func base64AgreesWithFoundation() {
        var random = SplitMix64(seed: 7)
        var inputs = (0...300).map { length in (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) } }
        inputs.append(Array(0...255) + Array(0...255))
        inputs.append([UInt8](repeating: 0xff, count: 1448))
        for input in inputs {
            var buffer = LineBuffer(capacity: 8)
            input.withUnsafeBytes { Base64Encoder.append($0, to: &buffer) }
            let encoded = buffer.withBytes { Array($0) }
            #expect(String(decoding: encoded, as: UTF8.self) == Data(input).base64EncodedString(), "length \(input.count)")
            #expect(Data(base64Encoded: Data(encoded)).map { Array($0) } == input, "length \(input.count)")
        }
    }

    @Test("the text check agrees with the standard library's UTF-8 validation")
    func textCheckAgrees() {
        var readable = 0
        for bytes in Self.payloads(count: 20000, seed: 11) {
            let fast = bytes.withUnsafeBytes { PayloadText.isReadable($0) }
            #expect(fast == Self.referenceIsReadable(bytes), "bytes \(bytes)")
            #expect((PayloadText.readableText(bytes) != nil) == fast)
            if fast { readable += 1 }
        }
        // Both outcomes were exercised in numbers.
        #expect(readable > 3000)
        #expect(readable < 17000)
    }

    @Test("data lines equal the reference encoder's, and JSONSerialization gives back the same bytes")
    func dataLinesAgree() throws {
        let encoder = CassetteEncoder()
        var random = SplitMix64(seed: 13)
        for bytes in Self.payloads(count: 4000, seed: 12) {
            let session = Int.random(in: 1...1_000_000, using: &random)
            let offset = Bool.random(using: &random)
                ? Int64.random(in: 0...400_000_000_000, using: &random)
                : Int64.random(in: 0...400_000, using: &random) * 1000
            let line = encoder.encode(SessionEvent(session: session, offset: offset, kind: .data(.clientToServer, bytes)))
            #expect(line == Self.referenceDataLine(bytes, session: session, offset: offset), "bytes \(bytes)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            if let text = object["text"] as? String {
                #expect(Array(text.utf8) == bytes)
            } else {
                let b64 = try #require(object["b64"] as? String)
                #expect(Data(base64Encoded: b64).map { Array($0) } == bytes)
            }
        }
    }

    @Test("strings with every control byte, quotes and backslashes escape and parse back")
    func stringsEscape() throws {
        var strings = ["", "plain", #"quote " and backslash \ "#, "é✓𝄞", String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self)]
        var random = SplitMix64(seed: 14)
        for bytes in Self.payloads(count: 500, seed: 15) where String(validating: bytes, as: UTF8.self) != nil {
            strings.append(String(decoding: bytes, as: UTF8.self))
            _ = random.next()
        }
        for string in strings {
            var line: [UInt8] = []
            appendJSONString(string, to: &line)
            #expect(line == Self.referenceJSONString(Array(string.utf8)))
            let parsed = try JSONSerialization.jsonObject(with: Data(line), options: .fragmentsAllowed) as? String
            #expect(parsed.map { Array($0.utf8) } == Array(string.utf8))
        }
    }

    @Test("numbers and times are written as before")
    func numbers() {
        let encoder = CassetteEncoder()
        let cases: [(Int, Int64, String)] = [
            (1, 0, #"{"s":1,"t":0.000000,"ev":"end"}"#),
            (42, 1_000, #"{"s":42,"t":0.000001,"ev":"end"}"#),
            (7, 1_001, #"{"s":7,"t":0.000001001,"ev":"end"}"#),
            (1_000_000, 123_456_789_000, #"{"s":1000000,"t":123.456789,"ev":"end"}"#),
            (3, -1_500_000_000, #"{"s":3,"t":-1.500000,"ev":"end"}"#),
            (9, 10_000_000_000, #"{"s":9,"t":10.000000,"ev":"end"}"#),
        ]
        for (session, offset, expected) in cases {
            let line = String(decoding: encoder.encode(SessionEvent(session: session, offset: offset, kind: .end)), as: UTF8.self)
            #expect(line == expected + "\n")
        }
        let gap = String(decoding: encoder.encode(SessionEvent(session: 2, offset: 0, kind: .gap(.serverToClient, 1448))), as: UTF8.self)
        #expect(gap == #"{"s":2,"t":0.000000,"ev":"gap","dir":"s2c","bytes":1448}"# + "\n")
        let close = String(decoding: encoder.encode(SessionEvent(session: 2, offset: 0, kind: .close(.clientToServer, .fin))), as: UTF8.self)
        #expect(close == #"{"s":2,"t":0.000000,"ev":"close","dir":"c2s","how":"fin"}"# + "\n")
        let reset = String(decoding: encoder.encode(SessionEvent(session: 2, offset: 0, kind: .reset(by: .clientToServer))), as: UTF8.self)
        #expect(reset == #"{"s":2,"t":0.000000,"ev":"reset","by":"client"}"# + "\n")
    }

    @Test("the writer's buffer keeps every line across flushes of a small buffer")
    func smallBufferWriter() throws {
        let directory = try TestPaths.temporaryDirectory("fast-encoder")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/small.cassette"
        let writer = try CassetteWriter(path: path, header: CassetteHeader(source: .import), bufferLimit: 100)
        var events: [SessionEvent] = [SessionEvent(session: 1, offset: 0, kind: .open(
            SessionOpen(client: "10.0.0.1:1000", server: "10.0.0.2:80", start: WallClock(nanosecondsSinceEpoch: 0))))]
        for (index, bytes) in Self.payloads(count: 300, seed: 16).enumerated() {
            events.append(SessionEvent(session: 1, offset: Int64(index) * 1000, kind: .data(.clientToServer, bytes)))
        }
        events.append(SessionEvent(session: 1, offset: 400_000, kind: .end))
        for event in events { try writer.append(event) }
        try writer.finish()
        let reader = try CassetteReader(path: path)
        var read: [SessionEvent] = []
        while let event = try reader.next() { read.append(event) }
        #expect(read == events)
    }

    @Test("write-behind writes the same file as direct writing; flush makes lines visible; abandon leaves nothing")
    func writeBehindMatchesDirect() throws {
        let directory = try TestPaths.temporaryDirectory("fast-encoder")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let header = CassetteHeader(source: .import, details: ["capture": "x.pcap"])
        var events: [SessionEvent] = []
        for (index, bytes) in Self.payloads(count: 3000, seed: 17).enumerated() {
            let session = index % 50 + 1
            if index < 50 {
                events.append(SessionEvent(session: session, offset: 0, kind: .open(
                    SessionOpen(client: "10.0.0.1:\(1000 + session)", server: "10.0.0.2:80", start: WallClock(nanosecondsSinceEpoch: 0)))))
            }
            // Large chunks too, so batches are cut by bytes as well as by count.
            let payload = index % 97 == 0 ? [UInt8](repeating: UInt8(index & 0xff), count: 200_000) : bytes
            events.append(SessionEvent(session: session, offset: Int64(index) * 1000, kind: .data(.serverToClient, payload)))
        }
        let direct = directory + "/direct.cassette", behind = directory + "/behind.cassette"
        let first = try CassetteWriter(path: direct, header: header, bufferLimit: 4096)
        for event in events { try first.append(event) }
        try first.finish()

        let second = try CassetteWriter(path: behind, header: header, atomic: true, bufferLimit: 4096, writeBehind: true, syncOnFinish: false)
        for event in events.prefix(100) { try second.append(event) }
        try second.flush()
        let partial = try String(contentsOfFile: behind + ".partial", encoding: .utf8)
        #expect(partial.split(separator: "\n").count == 101)
        for event in events.dropFirst(100) { try second.append(event) }
        try second.finish()
        #expect(FileManager.default.contents(atPath: direct) == FileManager.default.contents(atPath: behind))
        #expect(!FileManager.default.fileExists(atPath: behind + ".partial"))

        let abandoned = directory + "/abandoned.cassette"
        let third = try CassetteWriter(path: abandoned, header: header, atomic: true, writeBehind: true)
        for event in events { try third.append(event) }
        third.abandon()
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(!FileManager.default.fileExists(atPath: abandoned + ".partial"))
    }
}
