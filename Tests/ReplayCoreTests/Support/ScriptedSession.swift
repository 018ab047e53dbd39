@testable import ReplayCore

/// Builds recorded sessions for tests from (milliseconds, event) pairs.
enum ScriptedSession {
    static func ms(_ value: Int64) -> Int64 { value * 1_000_000 }

    static func make(_ events: [(Int64, SessionEventKind)], id: Int = 1, server: String = "127.0.0.1:25",
                     proto: WireProtocol? = nil) -> Session {
        let open = SessionOpen(client: "127.0.0.1:5555", server: server, start: WallClock(nanosecondsSinceEpoch: 0), proto: proto)
        var all = [SessionEvent(session: id, offset: 0, kind: .open(open))]
        all += events.map { SessionEvent(session: id, offset: ms($0.0), kind: $0.1) }
        return Session(id: id, open: open, events: all)
    }

    static func s2c(_ text: String) -> SessionEventKind { .data(.serverToClient, Array(text.utf8)) }
    static func c2s(_ text: String) -> SessionEventKind { .data(.clientToServer, Array(text.utf8)) }

    /// An SMTP-like session in the line protocol: banner at 100 ms, then each command answered
    /// `think` ms after it.
    static func lines(_ steps: [(command: String, reply: String)], banner: String = "220 mx ESMTP\r\n", think: Int64 = 10,
                      id: Int = 1, proto: WireProtocol = .line) -> Session {
        var events: [(Int64, SessionEventKind)] = [(100, s2c(banner))]
        var time: Int64 = 100
        for step in steps {
            time += 50
            events.append((time, c2s(step.command)))
            time += think
            events.append((time, s2c(step.reply)))
        }
        return make(events, id: id, proto: proto)
    }
}

/// The UTF-8 bytes of a string.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
