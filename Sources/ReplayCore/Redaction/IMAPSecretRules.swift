/// IMAP: the password of `LOGIN user password` (atom, quoted string or literal; the user name
/// stays), `AUTHENTICATE` initial responses and continuation lines. Literals of other
/// commands and of replies are skipped unread (a message body is not searched).
struct IMAPSecretRules: SecretRules {
    /// Which `LOGIN` argument the next client line starts with, after a literal.
    private var loginArgument: Int?
    private var inAuthenticate = false

    func initialStep(_ direction: Direction) -> ScanStep { .line }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        let line = SecretLine(unit)
        if direction == .serverToClient {
            if inAuthenticate, !line.hasPrefix("+") { inAuthenticate = false }
            return Self.literal(at: line).map { .skip($0, secret: nil) } ?? .line
        }
        if let argument = loginArgument {
            return login(line, from: 0, argument: argument, secrets: &secrets)
        }
        if inAuthenticate {
            if let range = line.wholeContent { secrets.append(FoundSecret(range: range, rule: "imap-authenticate")) }
            return .line
        }
        let words = line.words
        if words.count >= 2, line.word(words[1], is: "LOGIN") {
            return login(line, from: words[1].upperBound, argument: 0, secrets: &secrets)
        }
        if words.count >= 3, line.word(words[1], is: "AUTHENTICATE") {
            inAuthenticate = true
            if let initial = line.rest(fromWord: 3) { secrets.append(FoundSecret(range: initial, rule: "imap-authenticate")) }
            return .line
        }
        return Self.literal(at: line).map { .skip($0, secret: nil) } ?? .line
    }

    /// Reads LOGIN's arguments from `start`; the second one is the password.
    private mutating func login(_ line: SecretLine, from start: Int, argument first: Int, secrets: inout [FoundSecret]) -> ScanStep {
        var index = start
        var argument = first
        loginArgument = nil
        while index < line.contentEnd, argument < 2 {
            while index < line.contentEnd, SecretLine.isBlank(line[index]) { index += 1 }
            guard index < line.contentEnd else { break }
            if line[index] == UInt8(ascii: "{"), let size = Self.literal(at: line), index >= line.contentEnd - Self.literalLength(line) {
                // The argument is a literal: its bytes come next, then the rest of the command.
                loginArgument = argument + 1
                return .skip(size, secret: argument == 1 ? "imap-login" : nil)
            }
            let range: Range<Int>
            if line[index] == UInt8(ascii: "\"") {
                var end = index + 1
                while end < line.contentEnd, line[end] != UInt8(ascii: "\"") {
                    end += line[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                let contentEnd = min(end, line.contentEnd)
                range = (index + 1)..<max(index + 1, contentEnd)
                index = min(end + 1, line.contentEnd)
            } else {
                let wordStart = index
                while index < line.contentEnd, !SecretLine.isBlank(line[index]) { index += 1 }
                range = wordStart..<index
            }
            if argument == 1, !range.isEmpty { secrets.append(FoundSecret(range: range, rule: "imap-login")) }
            argument += 1
        }
        return Self.literal(at: line).map { .skip($0, secret: nil) } ?? .line
    }

    /// The size of a literal announced at the end of the line (`{N}` or `{N+}`), or nil.
    static func literal(at line: SecretLine) -> Int? {
        let length = literalLength(line)
        guard length > 0 else { return nil }
        let start = line.contentEnd - length
        var end = line.contentEnd - 1
        if line[end - 1] == UInt8(ascii: "+") || line[end - 1] == UInt8(ascii: "-") { end -= 1 }
        return line.number((start + 1)..<end)
    }

    /// How many bytes the `{N}` at the end of the content takes (0: none there).
    static func literalLength(_ line: SecretLine) -> Int {
        guard line.contentEnd >= 3, line[line.contentEnd - 1] == UInt8(ascii: "}") else { return 0 }
        var index = line.contentEnd - 2
        var scanned = 0
        while index >= 0, scanned < 24 {
            if line[index] == UInt8(ascii: "{") { return line.contentEnd - index }
            index -= 1
            scanned += 1
        }
        return 0
    }
}
