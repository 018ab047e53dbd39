@testable import ReplayCore

/// Runs scripted sessions through a `Redactor`, chunked as the test says, and reads back the
/// streams and markers.
struct RedactionRun {
    var events: [SessionEvent] = []

    var markers: [Redaction] {
        events.compactMap { if case .redacted(let redaction) = $0.kind { return redaction } else { return nil } }
    }

    func stream(_ direction: Direction) -> [UInt8] {
        events.flatMap { event -> [UInt8] in
            if case .data(let dir, let bytes) = event.kind, dir == direction { return bytes }
            return []
        }
    }

    func chunks(_ direction: Direction) -> [[UInt8]] {
        events.compactMap { if case .data(let dir, let bytes) = $0.kind, dir == direction { return bytes } else { return nil } }
    }

    /// `steps`: direction and text, each cut into chunks of `chunk` bytes (0: whole).
    static func run(_ proto: WireProtocol?, _ steps: [(Direction, [UInt8])], chunk: Int = 0,
                    user: UserRedactionRules = .none) -> RedactionRun {
        var redactor = Redactor(user: user)
        var output: [SessionEvent] = []
        var time: Int64 = 0
        redactor.take(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "127.0.0.1:5000", server: "127.0.0.1:25", start: nil, proto: proto))), into: &output)
        for (direction, bytes) in steps {
            let size = chunk > 0 ? chunk : max(1, bytes.count)
            var index = 0
            while index < bytes.count {
                time += 1
                let end = min(bytes.count, index + size)
                redactor.take(SessionEvent(session: 1, offset: time, kind: .data(direction, Array(bytes[index..<end]))), into: &output)
                index = end
            }
        }
        redactor.take(SessionEvent(session: 1, offset: time + 1, kind: .end), into: &output)
        redactor.finish(into: &output)
        return RedactionRun(events: output)
    }

    static func run(_ proto: WireProtocol?, _ steps: [(Direction, String)], chunk: Int = 0, user: UserRedactionRules = .none) -> RedactionRun {
        run(proto, steps.map { ($0.0, Array($0.1.utf8)) }, chunk: chunk, user: user)
    }

    /// The stream `original` with `*` over `ranges`.
    static func expected(_ original: String, secrets: [String]) -> [UInt8] {
        var bytes = Array(original.utf8)
        for secret in secrets {
            let needle = Array(secret.utf8)
            var index = 0
            while index + needle.count <= bytes.count {
                if Array(bytes[index..<(index + needle.count)]) == needle {
                    for position in index..<(index + needle.count) { bytes[position] = UInt8(ascii: "*") }
                    index += needle.count
                } else {
                    index += 1
                }
            }
        }
        return bytes
    }
}

func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
    let bytes = Array(needle.utf8)
    guard !bytes.isEmpty, haystack.count >= bytes.count else { return false }
    for start in 0...(haystack.count - bytes.count) where Array(haystack[start..<(start + bytes.count)]) == bytes { return true }
    return false
}
