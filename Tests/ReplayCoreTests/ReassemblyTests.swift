import Testing
@testable import ReplayCore

/// Table-driven tests of the sans-I/O TCP reassembler: segments in, session events out; no
/// files, sockets or clocks.
@Suite("Reassembly")
struct ReassemblyTests {
    static let client = Endpoint(address: IPAddress(ipv4: 10, 0, 0, 1), port: 40000)
    static let server = Endpoint(address: IPAddress(ipv4: 10, 0, 0, 2), port: 80)

    /// One segment of a test case: who sends it, sequence number, flags, payload, capture time (ms).
    struct Seg {
        var fromClient: Bool
        var seq: UInt32
        var flags: TCPFlags
        var payload: String = ""
        var ack: UInt32 = 0
        var ms: Int64 = 0
        var wire: Int? = nil
        var ports: (UInt16, UInt16)? = nil

        var segment: TCPSegment {
            var source = fromClient ? ReassemblyTests.client : ReassemblyTests.server
            var destination = fromClient ? ReassemblyTests.server : ReassemblyTests.client
            if let (s, d) = ports { source.port = s; destination.port = d }
            return TCPSegment(
                timestamp: WallClock(nanosecondsSinceEpoch: 1_000_000_000_000 + ms * 1_000_000),
                source: source, destination: destination, sequence: seq, acknowledgment: ack,
                flags: flags, payload: Array(payload.utf8), wireLength: wire)
        }
    }

    static func c(_ seq: UInt32, _ flags: TCPFlags = [.ack], _ payload: String = "", ack: UInt32 = 0, ms: Int64 = 0, wire: Int? = nil) -> Seg {
        Seg(fromClient: true, seq: seq, flags: flags, payload: payload, ack: ack, ms: ms, wire: wire)
    }
    static func s(_ seq: UInt32, _ flags: TCPFlags = [.ack], _ payload: String = "", ack: UInt32 = 0, ms: Int64 = 0) -> Seg {
        Seg(fromClient: false, seq: seq, flags: flags, payload: payload, ack: ack, ms: ms)
    }
    /// A handshake: client ISN 100, server ISN 500.
    static let handshake = [c(100, [.syn]), s(500, [.syn, .ack], ack: 101), c(101, [.ack], ack: 501)]

    /// Events rendered compactly: `s1 c2s AB`, `s1 s2c gap 7`, `s1 c2s fin`, `s1 end`, `s1 open 10.0.0.1:40000>10.0.0.2:80`.
    static func render(_ events: [SessionEvent], times: Bool = false) -> [String] {
        events.map { event in
            let prefix = "s\(event.session)" + (times ? "@\(event.offset / 1_000_000)" : "")
            switch event.kind {
            case .open(let open): return "\(prefix) open \(open.client)>\(open.server)"
            case .data(let direction, let bytes): return "\(prefix) \(direction.rawValue) \(String(decoding: bytes, as: UTF8.self))"
            case .gap(let direction, let size): return "\(prefix) \(direction.rawValue) gap \(size)"
            case .close(let direction, let how): return "\(prefix) \(direction.rawValue) \(how.rawValue)"
            case .reset(let by): return "\(prefix) \(by.rawValue) rst"
            case .redacted, .tls, .fault, .pattern: return "\(prefix) marker"
            case .connectFailed: return "\(prefix) connect-failed"
            case .end: return "\(prefix) end"
            }
        }
    }

    static func run(_ segments: [Seg], configuration: TCPReassembler.Configuration = .init(), times: Bool = false)
        -> (events: [String], statistics: ReassemblyStatistics, notices: [ReassemblyNotice]) {
        var reassembler = TCPReassembler(configuration: configuration)
        var events: [SessionEvent] = []
        for segment in segments { reassembler.segment(segment.segment, into: &events) }
        events += reassembler.finish()
        return (render(events, times: times), reassembler.statistics, reassembler.takeNotices())
    }

    static let open = "s1 open 10.0.0.1:40000>10.0.0.2:80"

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var segments: [Seg]
        var expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "in order", segments: handshake + [c(101, [.ack, .psh], "AB"), s(501, [.ack], "hi", ack: 103)],
             expected: [open, "s1 c2s AB", "s1 s2c hi", "s1 end"]),
        Case(name: "reorder: later segments held until the hole fills",
             segments: handshake + [c(101, [.ack], "AB"), c(105, [.ack], "EF"), c(107, [.ack], "GH"), c(103, [.ack], "CD")],
             expected: [open, "s1 c2s AB", "s1 c2s CD", "s1 c2s EF", "s1 c2s GH", "s1 end"]),
        Case(name: "retransmission dropped",
             segments: handshake + [c(101, [.ack], "AB"), c(101, [.ack], "AB"), c(103, [.ack], "CD")],
             expected: [open, "s1 c2s AB", "s1 c2s CD", "s1 end"]),
        Case(name: "overlap with the same bytes trimmed",
             segments: handshake + [c(101, [.ack], "ABCD"), c(103, [.ack], "CDEF")],
             expected: [open, "s1 c2s ABCD", "s1 c2s EF", "s1 end"]),
        Case(name: "overlap with different bytes: first bytes kept",
             segments: handshake + [c(101, [.ack], "ABCD"), c(103, [.ack], "XXEF")],
             expected: [open, "s1 c2s ABCD", "s1 c2s EF", "s1 end"]),
        Case(name: "sequence numbers wrap past 2^32",
             segments: [c(0xffff_fff0, [.syn]), s(7, [.syn, .ack], ack: 0xffff_fff1),
                        c(0xffff_fff1, [.ack], "0123456789abcdef"), c(0x0000_0001, [.ack], "wrap")],
             expected: [open, "s1 c2s 0123456789abcdef", "s1 c2s wrap", "s1 end"]),
        Case(name: "out of order across the wrap",
             segments: [c(0xffff_fff0, [.syn]), c(0x0000_0001, [.ack], "late"), c(0xffff_fff1, [.ack], "0123456789abcdef")],
             expected: [open, "s1 c2s 0123456789abcdef", "s1 c2s late", "s1 end"]),
        Case(name: "a hole that never fills is a gap at the end",
             segments: handshake + [c(101, [.ack], "AB"), c(110, [.ack], "XY")],
             expected: [open, "s1 c2s AB", "s1 c2s gap 7", "s1 c2s XY", "s1 end"]),
        Case(name: "the receiver acknowledging past a hole declares the gap at once",
             segments: handshake + [c(101, [.ack], "AB"), c(110, [.ack], "XY"), s(501, [.ack], ack: 112), c(112, [.ack], "Z")],
             expected: [open, "s1 c2s AB", "s1 c2s gap 7", "s1 c2s XY", "s1 c2s Z", "s1 end"]),
        Case(name: "snap length cut: captured bytes, then a gap for the rest",
             segments: handshake + [c(101, [.ack], "AB", wire: 10), c(111, [.ack], "CD")],
             expected: [open, "s1 c2s AB", "s1 c2s gap 8", "s1 c2s CD", "s1 end"]),
        Case(name: "FIN each way ends the session",
             segments: handshake + [c(101, [.ack], "Q"), s(501, [.ack], "A", ack: 102), c(102, [.fin, .ack]), s(502, [.fin, .ack], ack: 103), c(103, [.ack], ack: 503)],
             expected: [open, "s1 c2s Q", "s1 s2c A", "s1 c2s fin", "s1 s2c fin", "s1 end"]),
        Case(name: "FIN before missing data closes only after the data",
             segments: handshake + [c(103, [.fin, .ack], "CD"), c(101, [.ack], "AB"), s(501, [.fin, .ack])],
             expected: [open, "s1 c2s AB", "s1 c2s CD", "s1 c2s fin", "s1 s2c fin", "s1 end"]),
        Case(name: "RST ends both directions",
             segments: handshake + [c(101, [.ack], "AB"), s(501, [.rst, .ack])],
             expected: [open, "s1 c2s AB", "s1 s2c rst", "s1 end"]),
        Case(name: "refused connection: SYN answered by RST is still a session",
             segments: [c(100, [.syn]), s(0, [.rst, .ack], ack: 101)],
             expected: [open, "s1 s2c rst", "s1 end"]),
        Case(name: "RST far outside the sender's sequence space is ignored",
             segments: handshake + [c(0x9000_0000, [.rst]), c(101, [.ack], "AB")],
             expected: [open, "s1 c2s AB", "s1 end"]),
        Case(name: "a new SYN on a finished 4-tuple starts a new session",
             segments: handshake + [c(101, [.ack], "one"), c(104, [.fin, .ack]), s(501, [.fin, .ack]), c(105, [.ack]),
                                    c(9000, [.syn]), s(7000, [.syn, .ack], ack: 9001), c(9001, [.ack], "two")],
             expected: [open, "s1 c2s one", "s1 c2s fin", "s1 s2c fin", "s1 end",
                        "s2 open 10.0.0.1:40000>10.0.0.2:80", "s2 c2s two", "s2 end"]),
        Case(name: "late packets of a finished connection do not start a session",
             segments: handshake + [c(101, [.fin, .ack]), s(501, [.fin, .ack]), c(102, [.ack]), s(501, [.fin, .ack])],
             expected: [open, "s1 c2s fin", "s1 s2c fin", "s1 end"]),
        Case(name: "mid-stream start: the well-known port is the server even when it speaks first",
             segments: [s(7000, [.ack, .psh], "220 hi"), c(3000, [.ack], "EHLO")],
             expected: [open, "s1 s2c 220 hi", "s1 c2s EHLO", "s1 end"]),
        Case(name: "SYN-ACK first: its receiver is the client",
             segments: [s(500, [.syn, .ack], ack: 101), c(101, [.ack], "GET")],
             expected: [open, "s1 c2s GET", "s1 end"]),
        // TCP Fast Open (RFC 7413): the SYN carries data, the first bytes of the stream, as
        // Wireshark's Follow TCP Stream shows them.
        Case(name: "Fast Open: data on the SYN, accepted (the SYN-ACK acknowledges it)",
             segments: [c(100, [.syn], "GET /"), s(500, [.syn, .ack], ack: 106), c(106, [.ack], " HTTP/1.1", ack: 501),
                        s(501, [.ack, .psh], "200", ack: 115)],
             expected: [open, "s1 c2s GET /", "s1 c2s  HTTP/1.1", "s1 s2c 200", "s1 end"]),
        Case(name: "Fast Open refused: the SYN's data sent again after the handshake is not doubled",
             segments: [c(100, [.syn], "GET /"), s(500, [.syn, .ack], ack: 101), c(101, [.ack, .psh], "GET / HTTP/1.1", ack: 501)],
             expected: [open, "s1 c2s GET /", "s1 c2s  HTTP/1.1", "s1 end"]),
        Case(name: "Fast Open: data on the SYN-ACK too",
             segments: [c(100, [.syn], "Q"), s(500, [.syn, .ack], "A", ack: 102), c(102, [.ack], "R", ack: 502)],
             expected: [open, "s1 c2s Q", "s1 s2c A", "s1 c2s R", "s1 end"]),
        Case(name: "Fast Open: the SYN retransmitted with its data is taken once",
             segments: [c(100, [.syn], "GET /"), c(100, [.syn], "GET /", ms: 1000), s(500, [.syn, .ack], ack: 106, ms: 1001), c(106, [.ack], "!", ack: 501, ms: 1002)],
             expected: [open, "s1 c2s GET /", "s1 c2s !", "s1 end"]),
    ]

    @Test("reassembly", arguments: cases)
    func table(_ testCase: Case) {
        #expect(Self.run(testCase.segments).events == testCase.expected)
    }

    @Test("mid-stream between unprivileged ports: the lower port is the server")
    func lowerPortServer() {
        var first = Self.s(1000, [.ack], "+PONG\r\n")
        first.ports = (6379, 51000)
        var reassembler = TCPReassembler()
        let events = Self.render(reassembler.segment(first.segment))
        #expect(events == ["s1 open 10.0.0.1:51000>10.0.0.2:6379", "s1 s2c +PONG\r\n"])
    }

    @Test("counts retransmissions, out-of-order segments, gaps and differing overlaps")
    func counts() {
        let result = Self.run(Self.handshake + [
            Self.c(101, [.ack], "ABCD"), Self.c(103, [.ack], "XXEF"), Self.c(101, [.ack], "ABCD"),
            Self.c(120, [.ack], "late"), Self.c(107, [.ack], "GH"),
        ])
        #expect(result.statistics.retransmissions == 2)
        #expect(result.statistics.overlapsDiffering == 1)
        #expect(result.statistics.outOfOrder == 1)
        #expect(result.statistics.gaps == 1)
        #expect(result.statistics.gapBytes == 11)
        #expect(result.statistics.bytesClientToServer == 12)
        #expect(result.notices.count == 1)
        #expect(result.notices.first?.streamOffset == 2)
    }

    @Test("bounded out-of-order buffer: when full, the hole becomes a gap and data flows on")
    func overrun() {
        let result = Self.run(Self.handshake + [
            Self.c(101, [.ack], "AB"), Self.c(110, [.ack], "0123"), Self.c(114, [.ack], "4567"), Self.c(118, [.ack], "89"),
        ], configuration: .init(bufferLimit: 8))
        #expect(result.events == [Self.open, "s1 c2s AB", "s1 c2s gap 7", "s1 c2s 0123", "s1 c2s 4567", "s1 c2s 89", "s1 end"])
        #expect(result.statistics.bufferOverflows == 1)
    }

    @Test("a hole of hundreds of megabytes is a number, not an allocation")
    func hugeGap() {
        let result = Self.run([Self.c(100, [.syn]), Self.c(101, [.ack], "AB"), Self.c(101 &+ 380_355_712, [.ack], "CD"),
                               Self.c(101 &+ 380_355_712 &+ 0x7000_0000, [.ack], "EF")])
        #expect(result.events == [Self.open, "s1 c2s AB", "s1 c2s gap 380355710", "s1 c2s CD", "s1 c2s gap \(0x7000_0000 - 2)", "s1 c2s EF", "s1 end"])
    }

    @Test("data carries the time of the segment that completed it")
    func timing() {
        let result = Self.run([
            Self.c(100, [.syn], ms: 0), Self.c(103, [.ack], "CD", ms: 10), Self.c(101, [.ack], "AB", ms: 25),
            Self.c(105, [.ack], "E", ms: 20), // capture clock stepped back: offsets never do
        ], times: true)
        #expect(result.events == ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@25 c2s AB", "s1@25 c2s CD", "s1@25 c2s E", "s1@25 end"])
    }

    @Test("sessions are numbered by first packet, across interleaved connections")
    func numbering() {
        var other = Self.c(7, [.syn])
        other.ports = (40001, 80)
        let result = Self.run([Self.c(100, [.syn]), other, Self.c(101, [.ack], "one")])
        #expect(result.events == [Self.open, "s2 open 10.0.0.1:40001>10.0.0.2:80", "s1 c2s one", "s1 end", "s2 end"])
    }

    @Test("sequence unwrapper", arguments: [
        ([UInt32(10), 20, 5], [Int64(10), 20, 5]),
        ([0xffff_fff0, 0x10, 0xffff_fff8], [0xffff_fff0, 0x1_0000_0010, 0xffff_fff8]),
        ([0x7fff_ffff, 0xffff_fff0, 0x8000_0000, 0x1], [0x7fff_ffff, 0xffff_fff0, 0x8000_0000, 0x1_0000_0001]),
    ])
    func unwrapper(_ input: [UInt32], _ expected: [Int64]) {
        guard let first = input.first else { return }
        var unwrapper = SequenceUnwrapper(first: first)
        #expect(input.map { unwrapper.unwrap($0) } == expected)
    }
}
