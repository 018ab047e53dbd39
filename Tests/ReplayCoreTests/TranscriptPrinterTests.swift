import Testing
@testable import ReplayCore

@Suite("Transcript printer")
struct TranscriptPrinterTests {
    func session(_ events: [SessionEventKind]) -> Session {
        let open = SessionOpen(client: "127.0.0.1:5000", server: "127.0.0.1:25", start: WallClock(nanosecondsSinceEpoch: 0))
        var all = [SessionEvent(session: 1, offset: 0, kind: .open(open))]
        for (index, kind) in events.enumerated() {
            all.append(SessionEvent(session: 1, offset: Int64(index + 1) * 250_000_000, kind: kind))
        }
        return Session(id: 1, open: open, events: all)
    }

    @Test("text chunks print line by line with escapes, binary as hex, endings at the end")
    func transcript() {
        let lines = TranscriptPrinter().lines(for: session([
            .data(.serverToClient, Array("220 hi\r\n".utf8)),
            .data(.clientToServer, Array("EHLO a\r\nMAIL\tX".utf8)),
            .data(.serverToClient, [0x16, 0x03, 0x01, 0x00, 0x41]),
            .reset(by: .serverToClient),
        ]))
        #expect(lines == [
            "session 1  127.0.0.1:5000 -> 127.0.0.1:25  started 1970-01-01T00:00:00.000000Z",
            "  +0.250000 S: 220 hi\\r\\n",
            "  +0.500000 C: EHLO a\\r\\n",
            "            C: MAIL\\tX",
            "  +0.750000 S: 0000  16 03 01 00 41" + String(repeating: " ", count: 35) + " |....A|",
            "  +1.000000 S: <RST>",
            "  ended: client silent, server RST; 14 bytes from client, 13 bytes from server",
        ])
    }

    @Test("hex mode dumps text too, 16 bytes a row")
    func hexMode() {
        let lines = TranscriptPrinter(alwaysHex: true).lines(for: session([.data(.clientToServer, Array("0123456789abcdefXY".utf8))]))
        #expect(lines[1] == "  +0.250000 C: 0000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|")
        #expect(lines[2] == "            C: 0010  58 59" + String(repeating: " ", count: 44) + " |XY|")
        // The ASCII column lines up whatever the row length.
        #expect(lines[1].firstIndex(of: "|").map { lines[1].distance(from: lines[1].startIndex, to: $0) }
            == lines[2].firstIndex(of: "|").map { lines[2].distance(from: lines[2].startIndex, to: $0) })
    }
}
