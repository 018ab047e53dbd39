import Foundation

/// A hand-written message that stands for many: literal text with `*` wildcards and `/.../`
/// regular expressions, as a transcript's `C: RCPT TO:*` or `S: 550*` writes it.
///
/// A pattern matches a whole message without its line ending (the last `\r\n` or `\n`). Its
/// verb (the first word, and a second one ending in `:`, as in `MAIL FROM:`) compares
/// case-insensitively, so `C: EHLO *` matches `ehlo client.example`. `*` matches any bytes, line
/// endings included (`S: 250*` matches a whole multi-line EHLO reply). A regular expression is an
/// ICU one (as in `NSRegularExpression`, like `--mask`) over the message's bytes read as Latin-1.
public struct MessagePattern: Sendable, Hashable {
    /// One piece of a pattern.
    public enum Segment: Sendable, Hashable {
        case literal([UInt8])
        /// `*`: any bytes, any number of them.
        case wildcard
        /// `/.../`: the expression between the slashes.
        case regex(String)
    }

    /// The pattern as written in a transcript (escapes included, the line ending left out): what
    /// a cassette stores and what messages quote.
    public let source: String
    public let segments: [Segment]
    private let expression: NSRegularExpression

    /// Builds a pattern from its pieces; a regular expression that does not compile is an error
    /// naming it.
    public init(source: String, segments: [Segment]) throws(MessagePatternError) {
        // A pattern matches the message without its line ending: one written out is not part of it.
        var segments = segments
        if case .literal(var last)? = segments.last, last.last == 0x0A {
            last.removeLast()
            if last.last == 0x0D { last.removeLast() }
            segments[segments.count - 1] = .literal(last)
            if last.isEmpty { segments.removeLast() }
        }
        self.source = source
        self.segments = segments
        let text = "^" + Self.expressionText(segments) + "$"
        do {
            expression = try NSRegularExpression(pattern: text, options: [.dotMatchesLineSeparators])
        } catch {
            let bad = segments.compactMap { segment -> String? in
                if case .regex(let re) = segment, (try? NSRegularExpression(pattern: re)) == nil { return re }
                return nil
            }.first ?? text
            throw MessagePatternError(pattern: source, detail: "/\(bad)/ is not a valid regular expression")
        }
    }

    /// Parses a pattern from its transcript source (what `source` holds).
    public init(source: String) throws(MessagePatternError) {
        do {
            let parsed = try TranscriptText.parse(Substring(source), allowPatterns: true)
            try self.init(source: source, segments: parsed.segments)
        } catch let error as TranscriptTextError {
            throw MessagePatternError(pattern: source, detail: error.detail)
        } catch let error as MessagePatternError {
            throw error
        } catch {
            throw MessagePatternError(pattern: source, detail: "\(error)")
        }
    }

    public static func == (lhs: MessagePattern, rhs: MessagePattern) -> Bool {
        lhs.source == rhs.source && lhs.segments == rhs.segments
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    /// Whether the pattern has a wildcard or a regular expression (a pattern of literals only is
    /// just a message).
    public var isPattern: Bool {
        segments.contains { if case .literal = $0 { return false } else { return true } }
    }

    /// The literal bytes, wildcards and expressions left out: the bytes a message framer is
    /// given for the pattern, so the message is cut where the pattern's is.
    public var example: [UInt8] {
        segments.reduce(into: []) { bytes, segment in
            if case .literal(let literal) = segment { bytes += literal }
        }
    }

    /// How many literal bytes the pattern has: among several patterns that match, the most
    /// literal one is the most specific.
    public var literalCount: Int { example.count }

    /// Whether `message` (a whole message, its line ending included or not) matches.
    public func matches(_ message: [UInt8]) -> Bool {
        let text = MaskSet.latin1(Self.withoutLineEnding(message))
        let range = NSRange(text.startIndex..., in: text)
        return expression.firstMatch(in: text, options: [], range: range) != nil
    }

    /// `message` without its last line ending.
    public static func withoutLineEnding(_ message: [UInt8]) -> ArraySlice<UInt8> {
        var end = message.count
        if end > 0, message[end - 1] == 0x0A {
            end -= 1
            if end > 0, message[end - 1] == 0x0D { end -= 1 }
        }
        return message[..<end]
    }

    /// The whole pattern as one expression: literals quoted (the verb case-insensitively),
    /// wildcards as any run of bytes, expressions as groups.
    static func expressionText(_ segments: [Segment]) -> String {
        var text = ""
        var verbLeft = verbLength(segments)
        for segment in segments {
            switch segment {
            case .literal(let bytes):
                let verbPart = bytes.prefix(verbLeft)
                verbLeft -= verbPart.count
                if !verbPart.isEmpty { text += "(?i:" + quoted(verbPart) + ")" }
                text += quoted(bytes.dropFirst(verbPart.count))
            case .wildcard:
                text += "[\\x{0}-\\x{FF}]*"
            case .regex(let expression):
                text += "(?:" + expression + ")"
            }
        }
        return text
    }

    /// How many leading literal bytes are the verb: the first word, and a second word when it
    /// ends in `:` (`MAIL FROM:`, `RCPT TO:`).
    static func verbLength(_ segments: [Segment]) -> Int {
        guard case .literal(let bytes) = segments.first else { return 0 }
        let letters = bytes.prefix { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A }
        var length = letters.count
        if length < bytes.count, bytes[length] == 0x20 {
            let second = bytes[(length + 1)...].prefix { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A }
            if second.last == UInt8(ascii: ":") { length += 1 + second.count }
        }
        return length
    }

    private static func quoted(_ bytes: some Collection<UInt8>) -> String {
        guard !bytes.isEmpty else { return "" }
        var text = ""
        for byte in bytes {
            let isWord = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x20
            text += isWord ? String(UnicodeScalar(byte)) : String(format: "\\x{%X}", byte)
        }
        return text
    }
}

/// A pattern that cannot be used.
public struct MessagePatternError: Error, Equatable, CustomStringConvertible {
    public var pattern: String
    public var detail: String

    public var description: String { "pattern \"\(pattern)\": \(detail)" }
}
