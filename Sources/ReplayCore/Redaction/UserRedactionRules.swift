import Foundation

/// The user's `--redact REGEX` expressions: every match in a line of either direction is a
/// secret, named `user:N` (N counts the expressions from 1). ICU syntax, matched over the
/// line's bytes read as Latin-1 (one character per byte, so offsets are byte offsets).
public struct UserRedactionRules: Sendable {
    /// The expressions as given.
    public let patterns: [String]
    private let expressions: [NSRegularExpression]

    public static let none = UserRedactionRules()

    public init() {
        patterns = []
        expressions = []
    }

    /// Compiles `patterns`; one that does not compile is an error naming it.
    public init(patterns: [String]) throws(RedactionPatternError) {
        var compiled: [NSRegularExpression] = []
        for pattern in patterns {
            do {
                compiled.append(try NSRegularExpression(pattern: pattern))
            } catch {
                throw RedactionPatternError(pattern: pattern, reason: "\(error.localizedDescription)")
            }
        }
        self.patterns = patterns
        expressions = compiled
    }

    public var isEmpty: Bool { expressions.isEmpty }

    /// The matches in `line` (its line terminator left out), as ranges from the line's start.
    func secrets(in line: ArraySlice<UInt8>, into secrets: inout [FoundSecret]) {
        guard !expressions.isEmpty else { return }
        let content = SecretLine(line)
        let text = MaskSet.latin1(line.prefix(content.contentEnd))
        let whole = NSRange(location: 0, length: (text as NSString).length)
        for (number, expression) in expressions.enumerated() {
            for match in expression.matches(in: text, range: whole) where match.range.length > 0 {
                let start = match.range.location
                let end = min(content.contentEnd, start + match.range.length)
                if start < end { secrets.append(FoundSecret(range: start..<end, rule: "user:\(number + 1)")) }
            }
        }
    }
}

/// A `--redact` expression that does not compile.
public struct RedactionPatternError: Error, Equatable, CustomStringConvertible {
    public var pattern: String
    public var reason: String

    public var description: String { "--redact \(pattern): not a valid regular expression: \(reason)" }
}
