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
        /// An unescaped `/` at this index of the text's characters.
        case slash(String.Index)
        case noEnding
    }

    /// Reads `text`. Errors give the column (from 1, counted in characters of `text`).
    public static func parse(_ text: Substring, allowPatterns: Bool = true) throws(TranscriptTextError) -> Parsed {
        var items: [Item] = []
        var index = text.startIndex
        var column = 1
        var lastWasEscapedNewline = false
        while index < text.endIndex {
            let character = text[index]
            let here = index
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
                    items.append(.bytes(Array(String(escaped).utf8)))
                case "x":
                    let digits = text[index...].prefix(2)
                    guard digits.count == 2, let byte = UInt8(String(digits), radix: 16) else {
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
            case "/": items.append(.slash(here))
            default: items.append(.bytes(Array(String(character).utf8)))
            }
        }

        // A regular expression: the first `/` that starts a word, up to the `/` ending the line.
        var regex: (open: Int, source: String)?
        if allowPatterns, case .slash(let closing)? = items.last {
            var previous: Item?
            for (position, item) in items.enumerated().dropLast() {
                defer { previous = item }
                guard case .slash(let opening) = item else { continue }
                let startsWord: Bool
                switch previous {
                case nil: startsWord = true
                case .bytes(let bytes)?: startsWord = bytes == [0x20] || bytes == [UInt8(ascii: ":")]
                default: startsWord = false
                }
                if startsWord {
                    regex = (position, String(text[text.index(after: opening)..<closing]))
                    break
                }
            }
        }

        var segments: [MessagePattern.Segment] = []
        var literal: [UInt8] = []
        var ending = Ending.automatic
        func flush() {
            if !literal.isEmpty { segments.append(.literal(literal)) }
            literal = []
        }
        for (position, item) in items.enumerated() {
            if let regex, position == regex.open {
                flush()
                segments.append(.regex(regex.source))
                break
            }
            switch item {
            case .bytes(let bytes): literal += bytes
            case .slash: literal.append(UInt8(ascii: "/"))
            case .star:
                flush()
                if segments.last != .wildcard { segments.append(.wildcard) }
            case .noEnding: ending = .suppressed
            }
        }
        flush()
        if ending == .automatic, lastWasEscapedNewline { ending = .explicit }
        return Parsed(segments: segments, ending: ending)
    }
}

/// A line's text that cannot be read; `column` counts characters from 1.
public struct TranscriptTextError: Error, Equatable {
    public var column: Int
    public var detail: String
}
