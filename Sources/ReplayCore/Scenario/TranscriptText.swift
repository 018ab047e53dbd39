/// The text of one `S:` or `C:` line (after the side and the delay), read into bytes and
/// pattern pieces, as docs/transcript-format.md defines it.
///
/// - Escapes: `\r` `\n` `\t` `\0` `\e` `\\` `\xHH` (one byte), `\*` `\/` `\+` `\<` (the
///   character itself), and `\c` at the very end: no line ending.
/// - `*` is a wildcard.
/// - `/.../` is a regular expression when it ends the line and its opening `/` starts the text
///   or follows a space or a `:` (`C: RCPT TO:/<.*@example\.org>/`); any other `/` is text, so
///   `GET /index.html HTTP/1.1` needs no escapes.
public enum TranscriptText {
    /// How the line ends.
    public enum Ending: Sendable, Equatable {
        /// Nothing said: the session's line ending is added.
        case automatic
        /// The text ends in an escaped `\n` (or `\r\n`): nothing is added.
        case explicit
        /// `\c`: nothing is added.
        case suppressed
    }

    public struct Parsed: Sendable, Equatable {
        public var segments: [MessagePattern.Segment]
        public var ending: Ending

        /// Whether the text has a wildcard or a regular expression.
        public var isPattern: Bool {
            segments.contains { if case .literal = $0 { return false } else { return true } }
        }

        /// The literal bytes (the whole message when the text is no pattern).
        public var literal: [UInt8] {
            segments.reduce(into: []) { bytes, segment in
                if case .literal(let literal) = segment { bytes += literal }
            }
        }
    }

    private enum Item {
        case bytes([UInt8])
        case star
        case noEnding
    }

    /// Where a line-ending regular expression opens: the line ends in an unescaped `/`, and an
    /// earlier unescaped `/` starts the text or follows a space or a `:`.
    static func regexOpening(_ scalars: Substring.UnicodeScalarView) -> Substring.UnicodeScalarView.Index? {
        var candidates: [Substring.UnicodeScalarView.Index] = []
        var lastUnescapedSlash: Substring.UnicodeScalarView.Index?
        var previous: Unicode.Scalar?
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\\" {
                index = scalars.index(after: index)
                if index < scalars.endIndex { index = scalars.index(after: index) }
                previous = "x"
                lastUnescapedSlash = nil
                continue
            }
            if scalar == "/" {
                if previous == nil || previous == " " || previous == ":" { candidates.append(index) }
                lastUnescapedSlash = index
            } else {
                lastUnescapedSlash = nil
            }
            previous = scalar
            index = scalars.index(after: index)
        }
        guard let closing = lastUnescapedSlash, scalars.index(after: closing) == scalars.endIndex else { return nil }
        return candidates.first { $0 < closing }
    }

    /// Reads `text`. Errors give the column (from 1, counted in characters of `text`).
    public static func parse(_ text: Substring, allowPatterns: Bool = true) throws(TranscriptTextError) -> Parsed {
        // Unicode scalars, not Characters: a combining mark after a `\\` must not hide the escape.
        let scalars = text.unicodeScalars
        // A regular expression first: its text keeps its backslashes (`\.` is the regex's).
        var regex: String?
        var textEnd = scalars.endIndex
        if allowPatterns, let opening = regexOpening(scalars) {
            regex = String(String.UnicodeScalarView(scalars[scalars.index(after: opening)..<scalars.index(before: scalars.endIndex)]))
            textEnd = opening
        }
        var items: [Item] = []
        let text = scalars[..<textEnd]
        var index = text.startIndex
        var column = 1
        var lastWasEscapedNewline = false
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            defer { column += 1 }
            if character == "\\" {
                guard index < text.endIndex else {
                    throw TranscriptTextError(column: column, detail: "a \\ ends the line; write \\\\ for a backslash")
                }
                let escaped = text[index]
                index = text.index(after: index)
                lastWasEscapedNewline = false
                switch escaped {
                case "r": items.append(.bytes([0x0D]))
                case "n": items.append(.bytes([0x0A])); lastWasEscapedNewline = true
                case "t": items.append(.bytes([0x09]))
                case "0": items.append(.bytes([0x00]))
                case "e": items.append(.bytes([0x1B]))
                case "\\", "*", "/", "+", "<", "#":
                    items.append(.bytes(Array(String(Character(escaped)).utf8)))
                case "x":
                    let digits = text[index...].prefix(2)
                    guard digits.count == 2, let byte = UInt8(String(String.UnicodeScalarView(digits)), radix: 16) else {
                        throw TranscriptTextError(column: column, detail: "\\x needs two hex digits, e.g. \\x00 or \\x1b")
                    }
                    index = text.index(index, offsetBy: 2)
                    column += 2
                    items.append(.bytes([byte]))
                case "c":
                    guard index == text.endIndex else {
                        throw TranscriptTextError(column: column, detail: "\\c (no line ending) must end the line")
                    }
                    items.append(.noEnding)
                default:
                    throw TranscriptTextError(column: column, detail: "unknown escape \\\(escaped); known: \\r \\n \\t \\0 \\e \\\\ \\xHH \\* \\/ \\+ \\< \\# and \\c at the end")
                }
                column += 1
                continue
            }
            lastWasEscapedNewline = false
            switch character {
            case "*": items.append(allowPatterns ? .star : .bytes([UInt8(ascii: "*")]))
            case "/": items.append(.bytes([UInt8(ascii: "/")]))
            default: items.append(.bytes(Array(String(Character(character)).utf8)))
            }
        }

        var segments: [MessagePattern.Segment] = []
        var literal: [UInt8] = []
        var ending = Ending.automatic
        func flush() {
            if !literal.isEmpty { segments.append(.literal(literal)) }
            literal = []
        }
        for item in items {
            switch item {
            case .bytes(let bytes): literal += bytes
            case .star:
                flush()
                if segments.last != .wildcard { segments.append(.wildcard) }
            case .noEnding: ending = .suppressed
            }
        }
        flush()
        if let regex { segments.append(.regex(regex)) }
        if ending == .automatic, lastWasEscapedNewline, regex == nil { ending = .explicit }
        return Parsed(segments: segments, ending: ending)
    }
}

/// A line's text that cannot be read; `column` counts characters from 1.
public struct TranscriptTextError: Error, Equatable {
    public var column: Int
    public var detail: String
}
