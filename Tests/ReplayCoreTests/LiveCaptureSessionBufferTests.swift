import Testing
@testable import ReplayCore

/// The per-session buffer of `replayd capture`: sessions go out whole when they end, and the
/// memory limit writes the largest one out early without losing or reordering its events.
@Suite struct LiveCaptureSessionBufferTests {
    static let start = WallClock(nanosecondsSinceEpoch: 1_795_000_000_000_000_000)

    static func open(_ session: Int) -> SessionEvent {
        SessionEvent(session: session, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:\(40000 + session)", server: "127.0.0.1:25", start: start)))
    }

    static func data(_ session: Int, _ direction: Direction, _ count: Int, at offset: Int64) -> SessionEvent {
        SessionEvent(session: session, offset: offset, kind: .data(direction, [UInt8](repeating: UInt8(truncatingIfNeeded: session), count: count)))
    }

    static func end(_ session: Int, at offset: Int64) -> SessionEvent {
        SessionEvent(session: session, offset: offset, kind: .end)
    }

    @Test func sessionsAreWrittenWholeWhenTheyEnd() {
        var buffer = CaptureSessionBuffer(limit: 1 << 20)
        var output: [SessionEvent] = []
        let interleaved = [
            Self.open(1), Self.open(2), Self.data(1, .clientToServer, 10, at: 1), Self.data(2, .serverToClient, 20, at: 2),
            Self.data(1, .serverToClient, 30, at: 3), Self.close(2, at: 4),
        ]
        buffer.take(interleaved, into: &output)
        #expect(output.isEmpty, "nothing goes out before a session ends")
        #expect(buffer.openSessions == 2)

        buffer.take(Self.end(2, at: 5), into: &output)
        #expect(output == [Self.open(2), Self.data(2, .serverToClient, 20, at: 2), Self.close(2, at: 4), Self.end(2, at: 5)])
        #expect(buffer.openSessions == 1)
        #expect(buffer.endedSessions == 1)

        output.removeAll()
        buffer.take(Self.end(1, at: 6), into: &output)
        #expect(output == [Self.open(1), Self.data(1, .clientToServer, 10, at: 1), Self.data(1, .serverToClient, 30, at: 3), Self.end(1, at: 6)])
        #expect(buffer.openSessions == 0)
        #expect(buffer.totalHeldBytes == 0)
    }

    static func close(_ session: Int, at offset: Int64) -> SessionEvent {
        SessionEvent(session: session, offset: offset, kind: .close(.clientToServer, .fin))
    }

    @Test func theLargestSessionIsWrittenEarlyAtTheLimit() {
        var buffer = CaptureSessionBuffer(limit: 10_000)
        var output: [SessionEvent] = []
        buffer.take([Self.open(1), Self.open(2), Self.data(2, .clientToServer, 100, at: 1)], into: &output)
        for step in 0..<9 { buffer.take(Self.data(1, .serverToClient, 1000, at: Int64(2 + step)), into: &output) }
        #expect(output.isEmpty)
        // The tenth kilobyte passes the limit: session 1 (the largest) goes out, session 2 stays.
        buffer.take(Self.data(1, .serverToClient, 1000, at: 11), into: &output)
        #expect(output.count == 11)
        #expect(output.allSatisfy { $0.session == 1 })
        #expect(output.first == Self.open(1))
        #expect(buffer.spills == 1)
        #expect(buffer.totalHeldBytes <= 10_000)
        #expect(buffer.openSessions == 2, "a session written early is still open")

        // Its later events are held again and follow with its end; the other session is intact.
        output.removeAll()
        buffer.take([Self.data(1, .clientToServer, 5, at: 12), Self.end(1, at: 13)], into: &output)
        #expect(output == [Self.data(1, .clientToServer, 5, at: 12), Self.end(1, at: 13)])
        output.removeAll()
        buffer.take(Self.end(2, at: 14), into: &output)
        #expect(output == [Self.open(2), Self.data(2, .clientToServer, 100, at: 1), Self.end(2, at: 14)])
        #expect(buffer.endedSessions == 2)
        #expect(buffer.totalHeldBytes == 0)
    }

    @Test func memoryStaysBoundedForALongTransfer() {
        var buffer = CaptureSessionBuffer(limit: 64 * 1024)
        var output: [SessionEvent] = []
        var written = 0
        buffer.take(Self.open(1), into: &output)
        for step in 0..<2000 {
            buffer.take(Self.data(1, .serverToClient, 1448, at: Int64(step)), into: &output)
            #expect(buffer.totalHeldBytes <= 64 * 1024)
            written += output.reduce(0) { total, event in
                if case .data(_, let bytes) = event.kind { return total + bytes.count }
                return total
            }
            output.removeAll()
        }
        buffer.take(Self.end(1, at: 3000), into: &output)
        written += output.reduce(0) { total, event in
            if case .data(_, let bytes) = event.kind { return total + bytes.count }
            return total
        }
        #expect(written == 2000 * 1448, "every byte goes out exactly once")
        #expect(output.last == Self.end(1, at: 3000))
    }
}
