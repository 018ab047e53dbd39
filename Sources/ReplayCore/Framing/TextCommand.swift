/// The first line of a text-protocol client message (SMTP, POP3, FTP) taken apart for keys:
/// its verb and its arguments, plus the byte-level masks the dialects share.
struct TextCommand: Sendable {
    /// The first word, upper-cased (ASCII), so `mail` and `MAIL` are the same kind.
    let verb: String
    /// What follows the verb on the first line, without the line ending, surrounding
    /// whitespace trimmed, read as Latin-1 (one character per byte, so nothing can fail).
    let arguments: String

    init(_ message: [UInt8]) {
        let line = Self.firstLineContent(message)
        verb = LineSplitter.verb(line)
        var index = line.startIndex
        while index < line.endIndex, Self.isBlank(line[index]) { index += 1 }
        while index < line.endIndex, !Self.isBlank(line[index]) { index += 1 }
        // Trimmed as bytes, then read once: this runs for every live message.
        while index < line.endIndex, Self.isBlank(line[index]) { index += 1 }
        var end = line.endIndex
        while end > index, Self.isBlank(line[end - 1]) { end -= 1 }
        arguments = MaskSet.latin1(line[index..<end])
    }

    /// The arguments split on runs of spaces and tabs.
    var words: [String] {
        arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// `VERB arguments`, or just `VERB` when there are none.
    var verbAndArguments: String { arguments.isEmpty ? verb : verb + " " + arguments }

    /// The first line of `message` without its `\r\n` or `\n`.
    static func firstLineContent(_ message: [UInt8]) -> ArraySlice<UInt8> {
        let end = message.firstIndex(of: UInt8(ascii: "\n")) ?? message.count
        var contentEnd = end
        if contentEnd > 0, message[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
        return message[..<contentEnd]
    }

    /// `message` with everything after the first `keep` words of its first line replaced by a
    /// single `*` (the line ending and any later bytes kept), e.g. `PASS *\r\n`,
    /// `AUTH PLAIN *\r\n`; unchanged when the line has nothing after those words.
    static func maskingWords(after keep: Int, in message: [UInt8]) -> [UInt8] {
        let contentEnd = firstLineContent(message).endIndex
        var index = 0
        for _ in 0..<keep {
            while index < contentEnd, isBlank(message[index]) { index += 1 }
            while index < contentEnd, !isBlank(message[index]) { index += 1 }
        }
        while index < contentEnd, isBlank(message[index]) { index += 1 }
        guard index < contentEnd else { return message }
        return Array(message[..<index]) + [UInt8(ascii: "*")] + Array(message[contentEnd...])
    }

    /// Whether the first line is one SASL response token: base64 (possibly empty) or the `*`
    /// that cancels an exchange. Such lines are credentials, never commands.
    /// The kind of a SASL response line (a client line answering a `+`/`334` challenge).
    static let saslResponseKind = "(auth response)"

    /// The key of `AUTH MECHANISM [initial-response]`: the mechanism kept, the response masked.
    static func authKey(_ command: TextCommand, _ message: [UInt8]) -> (content: String, exact: [UInt8]) {
        (command.words.first.map { "AUTH " + $0.uppercased() } ?? "AUTH", maskingWords(after: 2, in: message))
    }

    /// The key of a SASL response line: nothing of it is kept.
    static func saslResponseKey(_ message: [UInt8], masks: MaskSet) -> MessageKey {
        MessageKey(kind: saslResponseKind, content: saslResponseKind, exact: masks.apply(maskingLine(message)))
    }

    static func isSASLResponse(_ message: [UInt8]) -> Bool {
        let line = firstLineContent(message)
        if line.count == 1, line.first == UInt8(ascii: "*") { return true }
        return line.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
        }
    }

    /// `message` with its first line's content replaced by `*` (a SASL response).
    static func maskingLine(_ message: [UInt8]) -> [UInt8] {
        let contentEnd = firstLineContent(message).endIndex
        guard contentEnd > 0 else { return message }
        return [UInt8(ascii: "*")] + Array(message[contentEnd...])
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    static func trimmed(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// ASCII-only lower-casing: addresses and header names, without locale surprises.
    static func asciiLowercased(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value >= 65, scalar.value <= 90, let lower = Unicode.Scalar(scalar.value + 32) {
                scalars.append(lower)
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
