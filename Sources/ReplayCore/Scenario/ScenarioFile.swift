import Foundation

/// What a file of conversations is written in.
public enum ScenarioFormat: String, Sendable, CaseIterable {
    /// JSON Lines, docs/cassette-format.md.
    case cassette
    /// The text grammar of docs/transcript-format.md (`S:` and `C:` lines).
    case transcript
}

/// A cassette or a transcript, loaded as a cassette: what `replay`, `verify`, `convert`,
/// `check` and `show` read, so a hand-written scenario works wherever a recording does.
public struct ScenarioFile: Sendable {
    public var cassette: Cassette
    public var format: ScenarioFormat
    /// For a transcript: the line of each pattern (`replay` names the line of an `S:` pattern
    /// it refuses).
    public var patternLines: [TranscriptReader.PatternLine]

    /// Loads `path`, as `format` or as its content says: a file whose first non-blank character
    /// is `{` (or a capture, which gets the cassette reader's advice) is a cassette, anything
    /// else a transcript.
    public static func load(path: String, format: ScenarioFormat? = nil) throws -> ScenarioFile {
        switch format ?? sniff(path: path) {
        case .cassette:
            return ScenarioFile(cassette: try Cassette.load(path: path), format: .cassette, patternLines: [])
        case .transcript:
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw CassetteError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            guard let text = String(data: data, encoding: .utf8) else {
                let line = Self.firstInvalidLine(data)
                throw TranscriptError(path: path, line: line, column: 1,
                                      detail: "this line is not UTF-8 text; write bytes that are not text as \\xHH escapes or a <hex ...> line")
            }
            let result = try TranscriptReader(path: path).read(text)
            return ScenarioFile(cassette: result.cassette, format: .transcript, patternLines: result.patterns)
        }
    }

    /// The format the file's content shows (a transcript when it cannot be read: the error then
    /// comes from reading it).
    public static func sniff(path: String) -> ScenarioFormat {
        // A capture goes to the cassette reader, whose error says how to import it.
        if CaptureFileKind.sniff(path: path) != nil { return .cassette }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .cassette }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        guard let first = head.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { return .cassette }
        return first == UInt8(ascii: "{") ? .cassette : .transcript
    }

    /// Session patterns on the server's side (`S: 550*`): what verify compares with, and what
    /// replay cannot send.
    public var serverPatterns: [(session: Int, source: String, line: Int?)] {
        if format == .transcript {
            return patternLines.filter { $0.direction == .serverToClient }.map { ($0.session, $0.source, $0.line) }
        }
        var found: [(session: Int, source: String, line: Int?)] = []
        for session in cassette.sessions {
            for event in session.events {
                if case .pattern(let mark) = event.kind, mark.direction == .serverToClient { found.append((session.id, mark.source, nil)) }
            }
        }
        return found
    }

    private static func firstInvalidLine(_ data: Data) -> Int {
        var line = 1
        for piece in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if String(data: Data(piece), encoding: .utf8) == nil { return line }
            line += 1
        }
        return line
    }
}
