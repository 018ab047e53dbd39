import Foundation
import Testing
@testable import ReplayCore

/// Cassette format version 2: the new events and header fields, forward compatibility
/// (unknown events, `requires`), and version 1 files read as before.
@Suite("Cassette format v2")
struct CassetteFormatV2Tests {
    static let created = WallClock(nanosecondsSinceEpoch: 1_795_000_000_123_456_000)

    /// Writes `lines` (header first) as a file and loads it.
    static func load(_ lines: [String], name: String = "hand.cassette") throws -> (Cassette, String) {
        let directory = try TestPaths.temporaryDirectory("v2")
        let path = directory + "/" + name
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return (try Cassette.load(path: path), path)
    }

    /// The error `Cassette.load` throws for `lines`.
    static func loadError(_ lines: [String]) throws -> CassetteError? {
        let directory = try TestPaths.temporaryDirectory("v2")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.cassette"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Cassette.load(path: path)
            return nil
        } catch {
            return error
        }
    }

    static let v2Header = #"{"format":"replayd-cassette","version":2,"tool":"replayd 0.1.0","created":"2026-11-22T09:14:03.512204Z","source":"edit"}"#
    static let v1Header = #"{"format":"replayd-cassette","version":1,"tool":"replayd 0.1.0","created":"2026-11-22T09:14:03.512204Z","source":"record"}"#
    static let open = #"{"s":1,"t":0.000000,"ev":"open","client":"127.0.0.1:5000","server":"127.0.0.1:25","start":"2026-11-22T09:14:03.612930Z"}"#

    func roundTrip(_ event: SessionEvent, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let line = CassetteEncoder().encode(event)
        #expect(line.last == 0x0a, sourceLocation: sourceLocation)
        // Every line is valid JSON Foundation can read, whatever the encoder's fast paths did.
        #expect((try? JSONSerialization.jsonObject(with: Data(line))) is [String: Any], "\(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
        let decoded = try CassetteDecoder().decodeEvent(line.dropLast())
        #expect(decoded == event, "\(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    static let awkwardStrings = ["", "smtp-auth-plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "\u{0}\u{1f}\u{7f}",
                                 "é✓𝄞", "match=^RCPT reset", String(repeating: "x", count: 5000)]

    @Test("the new events round-trip with edge values")
    func newEventsEdges() throws {
        for direction in Direction.allCases {
            try roundTrip(SessionEvent(session: 1, offset: 500_000_000, kind: .reset(by: direction)))
            for (offset, length) in [(0, 0), (0, 1), (123, 16), (Int(Int32.max), 1 << 40), (Int.max, Int.max)] {
                for rule in Self.awkwardStrings {
                    try roundTrip(SessionEvent(session: 3, offset: 7, kind: .redacted(Redaction(direction: direction, offset: offset, length: length, rule: rule))))
                }
            }
        }
        let optionals: [String?] = [nil] + Self.awkwardStrings.map(Optional.some)
        for version in optionals {
            for cipher in [nil, "TLS_AES_128_GCM_SHA256"] {
                for sni in [nil, "mx.example.net", "\""] {
                    try roundTrip(SessionEvent(session: 9, offset: 1, kind: .tls(TLSMarker(version: version, cipher: cipher, sni: sni))))
                }
            }
        }
        for rule in Self.awkwardStrings {
            for detail in optionals {
                try roundTrip(SessionEvent(session: 2, offset: 1_001, kind: .fault(InjectedFault(rule: rule, action: "reset", detail: detail))))
            }
        }
        // A start-less open, with and without a protocol, and every protocol.
        try roundTrip(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "laptop", server: "mx:25", start: nil))))
        for proto in WireProtocol.allCases {
            try roundTrip(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "[::1]:5", server: "[::1]:25", start: Self.created, proto: proto))))
            try roundTrip(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "a", server: "b", start: nil, proto: proto))))
        }
    }

    @Test("the new events round-trip with random values")
    func newEventsRandom() throws {
        var random = SplitMix64(seed: 2026)
        func text() -> String {
            let count = Int(random.next() % 24)
            let scalars = (0..<count).compactMap { _ -> Unicode.Scalar? in
                let pick = random.next() % 4
                let value = pick == 0 ? UInt32(random.next() % 0x20) : pick == 1 ? UInt32(0x20 + random.next() % 0x5f) : UInt32(0xa0 + random.next() % 0x2000)
                return Unicode.Scalar(value)
            }
            return String(String.UnicodeScalarView(scalars))
        }
        for index in 0..<400 {
            let direction: Direction = random.next() % 2 == 0 ? .clientToServer : .serverToClient
            let offset = Int64(random.next() % 1_000_000_000_000)
            let kind: SessionEventKind
            switch index % 4 {
            case 0: kind = .redacted(Redaction(direction: direction, offset: Int(random.next() >> 2), length: Int(random.next() % 100_000), rule: text()))
            case 1: kind = .tls(TLSMarker(version: random.next() % 2 == 0 ? nil : text(), cipher: random.next() % 2 == 0 ? nil : text(), sni: random.next() % 2 == 0 ? nil : text()))
            case 2: kind = .fault(InjectedFault(rule: text(), action: text(), detail: random.next() % 2 == 0 ? nil : text()))
            default: kind = .reset(by: direction)
            }
            try roundTrip(SessionEvent(session: 1 + Int(random.next() % 100_000), offset: offset, kind: kind))
        }
    }

    @Test("the exact lines of the new events")
    func exactLines() {
        let encoder = CassetteEncoder()
        func line(_ kind: SessionEventKind) -> String {
            String(decoding: encoder.encode(SessionEvent(session: 1, offset: 500_000_000, kind: kind)), as: UTF8.self)
        }
        #expect(line(.reset(by: .serverToClient)) == #"{"s":1,"t":0.500000,"ev":"reset","by":"server"}"# + "\n")
        #expect(line(.reset(by: .clientToServer)) == #"{"s":1,"t":0.500000,"ev":"reset","by":"client"}"# + "\n")
        #expect(line(.redacted(Redaction(direction: .clientToServer, offset: 123, length: 16, rule: "smtp-auth-plain")))
            == #"{"s":1,"t":0.500000,"ev":"redacted","dir":"c2s","at":123,"bytes":16,"rule":"smtp-auth-plain"}"# + "\n")
        #expect(line(.tls(TLSMarker(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", sni: "mx.example.net")))
            == #"{"s":1,"t":0.500000,"ev":"tls","version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","sni":"mx.example.net"}"# + "\n")
        #expect(line(.tls(TLSMarker())) == #"{"s":1,"t":0.500000,"ev":"tls"}"# + "\n")
        #expect(line(.fault(InjectedFault(rule: "match=^RCPT reset", action: "reset", detail: "after 3 bytes")))
            == #"{"s":1,"t":0.500000,"ev":"fault","rule":"match=^RCPT reset","action":"reset","detail":"after 3 bytes"}"# + "\n")
        #expect(line(.fault(InjectedFault(rule: "r", action: "close"))) == #"{"s":1,"t":0.500000,"ev":"fault","rule":"r","action":"close"}"# + "\n")
        #expect(line(.open(SessionOpen(client: "a:1", server: "b:25", start: nil, proto: .smtp)))
            == #"{"s":1,"t":0.500000,"ev":"open","client":"a:1","server":"b:25","proto":"smtp"}"# + "\n")
        #expect(line(.open(SessionOpen(client: "a:1", server: "b:25", start: WallClock(nanosecondsSinceEpoch: 0))))
            == #"{"s":1,"t":0.500000,"ev":"open","client":"a:1","server":"b:25","start":"1970-01-01T00:00:00.000000Z"}"# + "\n")
    }

    @Test("header requires and masks round-trip, and are written only when given")
    func headerFields() throws {
        let encoder = CassetteEncoder(), decoder = CassetteDecoder()
        let plain = CassetteHeader(created: Self.created, source: .record, details: ["upstream": "mx:25"])
        let plainLine = String(decoding: encoder.encode(plain), as: UTF8.self)
        #expect(plainLine == #"{"format":"replayd-cassette","version":2,"tool":"replayd 0.1.0","created":"\#(Self.created.iso8601)","source":"record","upstream":"mx:25"}"# + "\n")
        #expect(try decoder.decodeHeader(Array(plainLine.utf8).dropLast()) == plain)

        let cases: [([String], [String])] = [
            (["redacted"], []), ([], [#"id=[0-9]+"#]), (["tls", "redacted", "masks"], [#"\d{4}-\d\d-\d\d"#, #"session "[^"]*""#, "é"]),
        ]
        for (requires, masks) in cases {
            let header = CassetteHeader(created: Self.created, source: .edit, details: ["note": "x"], requires: requires, masks: masks)
            let line = encoder.encode(header)
            #expect(try decoder.decodeHeader(line.dropLast()) == header, "\(String(decoding: line, as: UTF8.self))")
            let text = String(decoding: line, as: UTF8.self)
            #expect(text.contains(#""requires""#) == !requires.isEmpty)
            #expect(text.contains(#""masks""#) == !masks.isEmpty)
        }
        // Through a real file.
        let directory = try TestPaths.temporaryDirectory("v2")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/h.cassette"
        let header = CassetteHeader(created: Self.created, source: .edit, requires: ["redacted"], masks: ["Message-ID: .*"])
        let writer = try CassetteWriter(path: path, header: header)
        try writer.append(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "c", server: "s", start: nil))))
        try writer.append(SessionEvent(session: 1, offset: 1, kind: .redacted(Redaction(direction: .clientToServer, offset: 0, length: 4, rule: "r"))))
        try writer.finish()
        let loaded = try Cassette.load(path: path)
        #expect(loaded.header == header)
        #expect(loaded.sessions.first?.events.count == 2)
    }

    @Test("a header's masks must be valid regular expressions, requires an array of strings")
    func headerFieldErrors() throws {
        let badMask = try Self.loadError([#"{"format":"replayd-cassette","version":2,"tool":"t","created":"2026-11-22T09:14:03Z","source":"edit","masks":["(unclosed"]}"#])
        #expect(badMask?.description.contains("line 1: not a replayd cassette: \"masks\"") == true, "\(String(describing: badMask))")
        #expect(badMask?.description.contains("(unclosed") == true)
        let notArray = try Self.loadError([#"{"format":"replayd-cassette","version":2,"tool":"t","created":"2026-11-22T09:14:03Z","source":"edit","requires":"redacted"}"#])
        #expect(notArray?.description.contains("\"requires\" must be an array of strings") == true, "\(String(describing: notArray))")
    }

    @Test("the version 1 fixture loads and keeps its events")
    func v1Fixture() throws {
        let cassette = try Cassette.load(path: TestPaths.fixture("smtp-rcpt-450.cassette"))
        #expect(cassette.header.version == 1)
        #expect(cassette.header.requires.isEmpty && cassette.header.masks.isEmpty)
        #expect(cassette.warnings.isEmpty)
        let session = try #require(cassette.sessions.first)
        #expect(session.open.start != nil)
        #expect(session.open.proto == nil)
        #expect(String(decoding: session.bytes(.serverToClient), as: UTF8.self).contains("450 4.7.1"))
        #expect(session.closing(.serverToClient) == .fin)
        let plan = ReplayPlan(session: session)
        #expect(plan.ending == .fin)
    }

    @Test("a version 1 close with how rst is a reset by that side; how fin or none is a close")
    func v1CloseRst() throws {
        let (cassette, path) = try Self.load([
            Self.v1Header, Self.open,
            #"{"s":1,"t":0.1,"ev":"data","dir":"s2c","text":"220 hi\r\n"}"#,
            #"{"s":1,"t":0.2,"ev":"close","dir":"c2s","how":"fin"}"#,
            #"{"s":1,"t":0.3,"ev":"close","dir":"s2c","how":"rst"}"#,
            #"{"s":1,"t":0.4,"ev":"end"}"#,
            #"{"s":2,"t":0,"ev":"open","client":"a","server":"b"}"#,
            #"{"s":2,"t":0.1,"ev":"close","dir":"s2c"}"#,
            #"{"s":2,"t":0.2,"ev":"close","dir":"c2s","how":"rst"}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(cassette.header.version == 1)
        let one = cassette.sessions[0], two = cassette.sessions[1]
        #expect(one.events.map(\.kind)[3] == .reset(by: .serverToClient))
        #expect(one.closing(.serverToClient) == .rst && one.closing(.clientToServer) == .fin)
        #expect(one.reset?.by == .serverToClient && one.reset?.offset == 300_000_000)
        #expect(ReplayPlan(session: one).ending == .rst)
        #expect(two.events.map(\.kind)[1] == .close(.serverToClient, .fin))
        #expect(two.events.map(\.kind)[2] == .reset(by: .clientToServer))
        #expect(two.closing(.clientToServer) == .rst)
        #expect(two.open.start == nil)
        let badHow = try Self.loadError([Self.v2Header, Self.open, #"{"s":1,"t":0.1,"ev":"close","dir":"c2s","how":"abort"}"#])
        #expect(badHow?.description.contains("line 3: close event's \"how\" must be \"fin\"") == true, "\(String(describing: badHow))")
        let badBy = try Self.loadError([Self.v2Header, Self.open, #"{"s":1,"t":0.1,"ev":"reset","by":"c2s"}"#])
        #expect(badBy?.description.contains("line 3: reset event needs \"by\": \"client\" or \"server\"") == true, "\(String(describing: badBy))")
    }

    @Test("an unknown event kind is skipped with exactly one warning per kind")
    func unknownEventsSkipped() throws {
        let (cassette, path) = try Self.load([
            Self.v2Header, Self.open,
            #"{"s":1,"t":0.1,"ev":"hologram","dir":"c2s","whatever":[1,2]}"#,
            #"{"s":1,"t":0.2,"ev":"data","dir":"s2c","text":"220 hi\r\n"}"#,
            #"{"s":1,"t":0.3,"ev":"hologram"}"#,
            #"{"s":1,"t":0.4,"ev":"quantum","x":1}"#,
            #"{"s":1,"t":0.5,"ev":"hologram"}"#,
            #"{"s":1,"t":0.6,"ev":"end"}"#,
        ], name: "future.cassette")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(cassette.warnings.count == 2, "\(cassette.warnings)")
        #expect(cassette.warnings.first?.hasPrefix("\(path): line 3: ") == true, "\(cassette.warnings)")
        #expect(cassette.warnings.first?.contains("\"hologram\"") == true)
        #expect(cassette.warnings.last?.hasPrefix("\(path): line 6: ") == true)
        #expect(cassette.warnings.last?.contains("\"quantum\"") == true)
        let session = try #require(cassette.sessions.first)
        #expect(session.events.map(\.kind) == [session.events[0].kind, .data(.serverToClient, Array("220 hi\r\n".utf8)), .end])
        // The unknown event's own `s` and `t` are still checked.
        let noSession = try Self.loadError([Self.v2Header, Self.open, #"{"t":0.1,"ev":"hologram"}"#])
        #expect(noSession?.description.contains("line 3: missing \"s\"") == true)
    }

    @Test("requires: an unknown feature stops loading at line 1, a known one loads")
    func requires() throws {
        let header = #"{"format":"replayd-cassette","version":2,"tool":"replayd 9","created":"2026-11-22T09:14:03Z","source":"edit","requires":["redacted","foo"]}"#
        let error = try Self.loadError([header, Self.open])
        let path = try #require(error.flatMap { if case .unsupportedFeature(let path, _, _) = $0 { path } else { nil } }, "\(String(describing: error))")
        #expect(error == .unsupportedFeature(path: path, line: 1, feature: "foo"))
        #expect(error?.description == "\(path): line 1: this cassette requires \"foo\", which replayd 0.1.0 does not support")
        // An unknown event the header requires is that error at its line, not a warning. (Only a
        // requires entry this build knows reaches the events; this is the reader's second guard.)
        let known = #"{"format":"replayd-cassette","version":2,"tool":"t","created":"2026-11-22T09:14:03Z","source":"edit","requires":["tls","redacted"]}"#
        let (cassette, loadedPath) = try Self.load([known, Self.open, #"{"s":1,"t":0.1,"ev":"tls","version":"TLSv1.3"}"#])
        defer { try? FileManager.default.removeItem(atPath: (loadedPath as NSString).deletingLastPathComponent) }
        #expect(cassette.header.requires == ["tls", "redacted"])
        #expect(cassette.sessions.first?.events.last?.kind == .tls(TLSMarker(version: "TLSv1.3")))
    }

    @Test("an open without start loads; show and export cope")
    func startlessOpen() throws {
        let (cassette, path) = try Self.load([
            Self.v2Header,
            #"{"s":1,"t":0,"ev":"open","client":"10.0.0.1:40000","server":"10.0.0.2:25","proto":"smtp"}"#,
            #"{"s":1,"t":0.1,"ev":"data","dir":"s2c","text":"220 hi\r\n"}"#,
            #"{"s":1,"t":0.2,"ev":"reset","by":"client"}"#,
            #"{"s":1,"t":0.3,"ev":"end"}"#,
        ])
        let directory = (path as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try #require(cassette.sessions.first)
        #expect(session.open.start == nil && session.open.proto == .smtp)
        let lines = TranscriptPrinter().lines(for: session)
        #expect(lines.first == "session 1  10.0.0.1:40000 -> 10.0.0.2:25  smtp  (no start time)")
        #expect(lines.contains("  +0.200000 C: <RST>"))
        #expect(lines.last == "  ended: client RST, server silent; 0 bytes from client, 8 bytes from server")
        let summary = try CassetteExporter.export(cassettePath: path, pcapPath: directory + "/out.pcap", logger: .init(label: "test"))
        #expect(summary.sessions == 1 && summary.packets > 3)
        // The capture's times count from the header's `created`.
        let pcap = try #require(FileManager.default.contents(atPath: directory + "/out.pcap"))
        let bytes = [UInt8](pcap)
        let seconds = UInt32(bytes[24]) | UInt32(bytes[25]) << 8 | UInt32(bytes[26]) << 16 | UInt32(bytes[27]) << 24
        #expect(Int64(seconds) == cassette.header.created.nanosecondsSinceEpoch / 1_000_000_000)
    }

    @Test("a bad proto or start is an error naming the line and the known values")
    func badProto() throws {
        let error = try Self.loadError([Self.v2Header, Self.open, #"{"s":2,"t":0,"ev":"open","client":"a","server":"b","proto":"smtps"}"#])
        let known = WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")
        #expect(error?.description.hasSuffix("line 3: unknown \"proto\" \"smtps\" (known: \(known))") == true, "\(String(describing: error))")
        let notString = try Self.loadError([Self.v2Header, #"{"s":1,"t":0,"ev":"open","client":"a","server":"b","proto":25}"#])
        #expect(notString?.description.contains("line 2: open event's \"proto\" must be a string, one of smtp") == true, "\(String(describing: notString))")
        let badStart = try Self.loadError([Self.v2Header, #"{"s":1,"t":0,"ev":"open","client":"a","server":"b","start":"yesterday"}"#])
        #expect(badStart?.description.contains("line 2: open event with an invalid \"start\"") == true, "\(String(describing: badStart))")
    }

    @Test("bad fields of the new events name what is wrong")
    func badMarkers() throws {
        let cases: [(String, String)] = [
            (#"{"s":1,"t":0.1,"ev":"redacted","dir":"c2s","bytes":16,"rule":"r"}"#, "redacted event needs \"at\""),
            (#"{"s":1,"t":0.1,"ev":"redacted","dir":"c2s","at":-1,"bytes":16,"rule":"r"}"#, "redacted event needs \"at\""),
            (#"{"s":1,"t":0.1,"ev":"redacted","dir":"c2s","at":1,"rule":"r"}"#, "redacted event needs \"bytes\""),
            (#"{"s":1,"t":0.1,"ev":"redacted","dir":"c2s","at":1,"bytes":2}"#, "redacted event needs \"rule\""),
            (#"{"s":1,"t":0.1,"ev":"redacted","at":1,"bytes":2,"rule":"r"}"#, "needs \"dir\""),
            (#"{"s":1,"t":0.1,"ev":"tls","version":1.3}"#, "tls event's \"version\" must be a string"),
            (#"{"s":1,"t":0.1,"ev":"fault","action":"reset"}"#, "fault event needs \"rule\""),
            (#"{"s":1,"t":0.1,"ev":"fault","rule":"r"}"#, "fault event needs \"action\""),
            (#"{"s":1,"t":0.1,"ev":"fault","rule":"r","action":"a","detail":false}"#, "fault event's \"detail\" must be a string"),
        ]
        for (line, expected) in cases {
            let error = try Self.loadError([Self.v2Header, Self.open, line])
            #expect(error?.description.contains("line 3: \(expected)") == true, "\(line) → \(String(describing: error))")
        }
    }

    @Test("show prints the markers where they occur")
    func transcriptMarkers() {
        let open = SessionOpen(client: "c:1", server: "s:25", start: WallClock(nanosecondsSinceEpoch: 0))
        let kinds: [SessionEventKind] = [
            .open(open),
            .tls(TLSMarker(version: "TLSv1.3", sni: "mx.example.net")),
            .data(.clientToServer, Array("AUTH PLAIN ****************\r\n".utf8)),
            .redacted(Redaction(direction: .clientToServer, offset: 11, length: 16, rule: "smtp-auth-plain")),
            .fault(InjectedFault(rule: "match=^RCPT reset", action: "reset", detail: "as asked")),
            .reset(by: .serverToClient),
        ]
        let events = kinds.enumerated().map { SessionEvent(session: 1, offset: Int64($0.offset) * 1_000_000, kind: $0.element) }
        let lines = TranscriptPrinter().lines(for: Session(id: 1, open: open, events: events))
        #expect(lines == [
            "session 1  c:1 -> s:25  started 1970-01-01T00:00:00.000000Z",
            "  +0.001000 -- TLS began (TLSv1.3, sni mx.example.net); decrypted plaintext from here on",
            "  +0.002000 C: AUTH PLAIN ****************\\r\\n",
            "  +0.003000 C: <REDACTED 16 bytes at byte 11 by smtp-auth-plain>",
            "  +0.004000 !! replayd injected a fault (reset) by rule match=^RCPT reset: as asked",
            "  +0.005000 S: <RST>",
            "  ended: client silent, server RST; 29 bytes from client, 0 bytes from server",
        ])
    }

    @Test("replay plans and export skip the markers (a tls marker becomes the plan's start of TLS)")
    func consumersSkipMarkers() {
        let open = SessionOpen(client: "10.0.0.1:4000", server: "10.0.0.2:25", start: WallClock(nanosecondsSinceEpoch: 0))
        let plain: [SessionEventKind] = [.open(open), .data(.serverToClient, Array("220\r\n".utf8)), .data(.clientToServer, Array("QUIT\r\n".utf8)),
                                         .data(.serverToClient, Array("221\r\n".utf8)), .close(.serverToClient, .fin), .end]
        var marked = plain
        marked.insert(.tls(TLSMarker()), at: 1)
        marked.insert(.redacted(Redaction(direction: .clientToServer, offset: 0, length: 4, rule: "r")), at: 4)
        marked.insert(.fault(InjectedFault(rule: "r", action: "delay")), at: 5)
        func session(_ kinds: [SessionEventKind]) -> Session {
            Session(id: 1, open: open, events: kinds.enumerated().map { SessionEvent(session: 1, offset: Int64($0.offset), kind: $0.element) })
        }
        let plainPlan = ReplayPlan(session: session(plain)), markedPlan = ReplayPlan(session: session(marked))
        // Replay starts TLS where the marker stands; every other marker is skipped.
        #expect(markedPlan.steps.first?.action == .startTLS)
        let withoutTLS = markedPlan.steps.filter { $0.action != .startTLS }
        #expect(withoutTLS.map(\.action) == plainPlan.steps.map(\.action))
        #expect(withoutTLS.map(\.clientBytes) == plainPlan.steps.map(\.clientBytes))
        #expect(markedPlan.ending == plainPlan.ending)
        var synthesizer = PacketSynthesizer(session: 1, start: WallClock(nanosecondsSinceEpoch: 0), connectFailure: nil)
        _ = synthesizer.handle(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        #expect(synthesizer.handle(SessionEvent(session: 1, offset: 1, kind: .tls(TLSMarker()))).isEmpty)
        #expect(synthesizer.handle(SessionEvent(session: 1, offset: 1, kind: .fault(InjectedFault(rule: "r", action: "a")))).isEmpty)
        #expect(synthesizer.handle(SessionEvent(session: 1, offset: 1, kind: .redacted(Redaction(direction: .clientToServer, offset: 0, length: 1, rule: "r")))).isEmpty)
    }

    @Test("sessions load in number order even when an open line comes late")
    func lateOpen() throws {
        let (cassette, path) = try Self.load([
            Self.v2Header,
            #"{"s":2,"t":0,"ev":"open","client":"a","server":"b"}"#,
            #"{"s":2,"t":0.1,"ev":"end"}"#,
            #"{"s":1,"t":0,"ev":"open","client":"a","server":"b"}"#,
            #"{"s":1,"t":0.1,"ev":"end"}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(cassette.sessions.map(\.id) == [1, 2])
    }
}
