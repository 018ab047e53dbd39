import Testing
@testable import ReplayCore

/// What the reassembler does around a RST: the `close … rst` at the RST's time, the data still
/// in flight after it (as Wireshark's follow keeps it), and how such a session ends.
@Suite("Reassembly after a RST")
struct ReassemblyResetTests {
    typealias T = ReassemblyTests
    static let open = T.open
    static let handshake = T.handshake
    static func c(_ seq: UInt32, _ flags: TCPFlags = [.ack], _ payload: String = "", ack: UInt32 = 0, ms: Int64 = 0) -> T.Seg {
        T.c(seq, flags, payload, ack: ack, ms: ms)
    }
    static func s(_ seq: UInt32, _ flags: TCPFlags = [.ack], _ payload: String = "", ack: UInt32 = 0, ms: Int64 = 0) -> T.Seg {
        T.s(seq, flags, payload, ack: ack, ms: ms)
    }

    static let cases: [T.Case] = [
        T.Case(name: "client RST: the server's data in flight after it is kept, after the close",
               segments: handshake + [c(101, [.ack, .psh], "GET", ack: 501, ms: 1), s(501, [.ack], "0123", ack: 104, ms: 2),
                                      c(104, [.rst, .ack], ack: 505, ms: 3), s(505, [.ack], "4567", ack: 104, ms: 4),
                                      s(509, [.ack, .psh], "89", ack: 104, ms: 5)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s GET", "s1@2 s2c 0123", "s1@3 c2s rst",
                          "s1@4 s2c 4567", "s1@5 s2c 89", "s1@5 end"]),
        T.Case(name: "server RST: the client's data in flight after it is kept",
               segments: handshake + [c(101, [.ack], "AB", ms: 1), s(501, [.rst, .ack], ack: 103, ms: 2), c(103, [.ack], "CD", ms: 3)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s AB", "s1@2 s2c rst", "s1@3 c2s CD", "s1@3 end"]),
        T.Case(name: "in-flight data out of order after a RST is still put in order",
               segments: handshake + [c(104, [.rst, .ack], ack: 501, ms: 1), s(503, [.ack], "CD", ms: 2), s(501, [.ack], "AB", ms: 3)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s rst", "s1@3 s2c AB", "s1@3 s2c CD", "s1@3 end"]),
        T.Case(name: "the resetting side's data captured after its RST is kept too (Wireshark follows it)",
               segments: handshake + [c(101, [.ack], "AB", ms: 1), c(105, [.rst, .ack], ms: 2), c(103, [.ack], "CD", ms: 3),
                                      s(501, [.ack], "xy", ms: 4), c(105, [.ack], "EF", ms: 5)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s AB", "s1@2 c2s rst", "s1@3 c2s CD",
                          "s1@4 s2c xy", "s1@5 c2s EF", "s1@5 end"]),
        T.Case(name: "a RST then a new SYN on the 4-tuple: the reset session ends, a new one starts",
               segments: handshake + [c(101, [.ack], "one", ms: 1), c(104, [.rst], ms: 2), s(501, [.ack], "late", ms: 3),
                                      c(9000, [.syn], ms: 4), s(7000, [.syn, .ack], ack: 9001, ms: 5), c(9001, [.ack], "two", ms: 6)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s one", "s1@2 c2s rst", "s1@3 s2c late", "s1@3 end",
                          "s2@0 open 10.0.0.1:40000>10.0.0.2:80", "s2@2 c2s two", "s2@2 end"]),
        T.Case(name: "RST far outside the sender's sequence space is still ignored",
               segments: handshake + [c(0x9000_0000, [.rst], ms: 1), c(101, [.ack], "AB", ms: 2)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@2 c2s AB", "s1@2 end"]),
        T.Case(name: "SYN, challenge ACK, RST answering it, SYN again on the same tuple: one session",
               segments: [c(100, [.syn], ms: 0), s(7000, [.ack], ack: 0x5000_0000, ms: 1), c(0x5000_0000, [.rst], ms: 2),
                          c(100, [.syn], ms: 3000), s(500, [.syn, .ack], ack: 101, ms: 3001), c(101, [.ack], ack: 501, ms: 3002),
                          c(101, [.ack, .psh], "GET", ack: 501, ms: 3003), s(501, [.ack], "200", ack: 104, ms: 3004)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@3003 c2s GET", "s1@3004 s2c 200", "s1@3004 end"]),
        T.Case(name: "FIN after a RST ends the session at once",
               segments: handshake + [c(101, [.ack], "AB", ms: 1), c(103, [.rst], ms: 2), s(501, [.fin, .ack], "bye", ms: 3),
                                      c(9000, [.ack], "x", ms: 4)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s AB", "s1@2 c2s rst", "s1@3 s2c bye", "s1@3 s2c fin", "s1@3 end"]),
        T.Case(name: "a RST from each side ends the session at the second",
               segments: handshake + [c(101, [.rst], ms: 1), s(501, [.ack], "late", ms: 2), s(505, [.rst], ms: 3), s(505, [.ack], "after end", ms: 4)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s rst", "s1@2 s2c late", "s1@3 s2c rst", "s1@3 end"]),
        T.Case(name: "refused, then the same SYN again and refused again: one session",
               segments: [c(100, [.syn], ms: 0), s(0, [.rst, .ack], ack: 101, ms: 1), c(100, [.syn], ms: 500), s(0, [.rst, .ack], ack: 101, ms: 501)],
               expected: ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 s2c rst", "s1@501 end"]),
    ]

    @Test("around a RST", arguments: cases)
    func table(_ testCase: T.Case) {
        #expect(T.run(testCase.segments, times: true).events == testCase.expected)
    }

    @Test("a reset connection quiet for resetLinger ends; its later packets start no session")
    func linger() {
        var reassembler = TCPReassembler(configuration: .init(resetLinger: 1_000_000_000))
        var events: [SessionEvent] = []
        for segment in Self.handshake + [Self.c(101, [.ack], "AB", ms: 1), Self.s(501, [.rst, .ack], ms: 10),
                                         Self.c(103, [.ack], "CD", ms: 600), Self.c(105, [.ack], "EF", ms: 1500)] {
            reassembler.segment(segment.segment, into: &events)
        }
        // 1.5 s is 0.9 s after the last packet: still open, so EF is taken.
        #expect(!events.contains { $0.kind == .end })
        reassembler.segment(Self.c(107, [.ack], "GH", ms: 2600).segment, into: &events)
        // 2.6 s is 1.1 s after the last packet: the session ended first (at its last packet's time).
        #expect(T.render(events, times: true) == ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@1 c2s AB", "s1@10 s2c rst",
                                                  "s1@600 c2s CD", "s1@1500 c2s EF", "s1@1500 end"])
        #expect(reassembler.statistics.packetsAfterEnd == 1)
        #expect(reassembler.statistics.bytesAfterReset == 4)
        #expect(reassembler.statistics.sessions == 1)
        #expect(reassembler.finish().isEmpty)
    }

    @Test("advance(to:) ends a quiet reset connection without another packet, once")
    func advance() {
        var reassembler = TCPReassembler(configuration: .init(resetLinger: 1_000_000_000))
        var events: [SessionEvent] = []
        for segment in Self.handshake + [Self.s(501, [.rst, .ack], ms: 10)] {
            reassembler.segment(segment.segment, into: &events)
        }
        let base = Self.c(0, ms: 0).segment.timestamp.nanosecondsSinceEpoch
        reassembler.advance(to: WallClock(nanosecondsSinceEpoch: base + 900_000_000), into: &events)
        #expect(!events.contains { $0.kind == .end })
        reassembler.advance(to: WallClock(nanosecondsSinceEpoch: base + 1_100_000_000), into: &events)
        reassembler.advance(to: WallClock(nanosecondsSinceEpoch: base + 9_000_000_000), into: &events)
        #expect(T.render(events, times: true) == ["s1@0 open 10.0.0.1:40000>10.0.0.2:80", "s1@10 s2c rst", "s1@10 end"])
        #expect(reassembler.finish().isEmpty)
    }
}
