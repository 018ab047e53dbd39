import Foundation

/// The user's masks (`--mask REGEX`, or `masks` in a cassette header): every match in a
/// message is replaced by `*` before messages are compared, so volatile parts the built-in
/// masks do not know (a session id, a timestamp) do not decide which recording answers.
///
/// Patterns are ICU regular expressions (as in `NSRegularExpression`) matched over the message's bytes read as Latin-1
/// (one character per byte, so binary messages work and `\r\n` are two characters).
public struct MaskSet: Sendable {
    /// The patterns as given, for messages and reports.
    public let patterns: [String]
    private let expressions: [NSRegularExpression]

    /// No user masks.
    public static let none = MaskSet()

    public init() {
        patterns = []
        expressions = []
    }

    /// Compiles `patterns`; a pattern that is not a valid regular expression is an error naming it.
    public init(patterns: [String]) throws(MaskError) {
        var compiled: [NSRegularExpression] = []
        for pattern in patterns {
            do {
                compiled.append(try NSRegularExpression(pattern: pattern))
            } catch {
                throw MaskError(pattern: pattern, reason: "\(error.localizedDescription)")
            }
        }
        self.patterns = patterns
        self.expressions = compiled
    }

    public var isEmpty: Bool { expressions.isEmpty }

    /// `bytes` with every match of every pattern replaced by `*`.
    public func apply(_ bytes: [UInt8]) -> [UInt8] {
        guard !expressions.isEmpty else { return bytes }
        return Self.bytes(latin1: apply(Self.latin1(bytes)))
    }

    /// The same, for a key's text.
    public func apply(_ text: String) -> String {
        guard !expressions.isEmpty else { return text }
        var result = text
        for expression in expressions {
            let range = NSRange(result.startIndex..., in: result)
            result = expression.stringByReplacingMatches(in: result, range: range, withTemplate: "*")
        }
        return result
    }

    static func latin1(_ bytes: some Collection<UInt8>) -> String {
        // ASCII is the same in Latin-1 and UTF-8, and decoding UTF-8 is the fast path.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return String(scalars)
    }

    static func bytes(latin1 text: String) -> [UInt8] {
        text.unicodeScalars.map { $0.value < 256 ? UInt8($0.value) : UInt8(ascii: "?") }
    }
}

/// A `--mask` pattern that does not compile.
public struct MaskError: Error, Equatable, CustomStringConvertible {
    public var pattern: String
    public var reason: String

    public var description: String { "--mask \(pattern): not a valid regular expression: \(reason)" }
}
