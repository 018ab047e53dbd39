/// Word-level reading of one line for the secret rules: ranges count from the unit's start,
/// every access is bounds-checked (a line may hold anything).
struct SecretLine {
    let bytes: ArraySlice<UInt8>
    /// Where the content ends (before CR LF or LF).
    let contentEnd: Int

    init(_ unit: ArraySlice<UInt8>) {
        bytes = unit
        var end = unit.count
        if end > 0, unit[unit.startIndex + end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end > 0, unit[unit.startIndex + end - 1] == UInt8(ascii: "\r") { end -= 1 }
        contentEnd = end
    }

    subscript(_ index: Int) -> UInt8 { bytes[bytes.startIndex + index] }

    /// Whether the content's first byte is one of `letters` (ASCII, either case): a cheap test
    /// before the words of a line are read.
    func startsWithLetter(in letters: String) -> Bool {
        guard contentEnd > 0 else { return false }
        let first = Self.upper(self[0])
        return letters.utf8.contains(first)
    }

    var isEmpty: Bool { contentEnd == 0 }

    /// The space-separated words of the content (runs of spaces or tabs separate).
    var words: [Range<Int>] {
        var result: [Range<Int>] = []
        var index = 0
        while index < contentEnd, result.count < 64 {
            while index < contentEnd, Self.isBlank(self[index]) { index += 1 }
            let start = index
            while index < contentEnd, !Self.isBlank(self[index]) { index += 1 }
            if index > start { result.append(start..<index) }
        }
        return result
    }

    /// From the start of word `index` to the end of the content (a password may hold spaces).
    func rest(fromWord index: Int) -> Range<Int>? {
        let all = words
        guard index < all.count else { return nil }
        return all[index].lowerBound..<contentEnd
    }

    /// Whether the word in `range` is `word`, ignoring ASCII case.
    func word(_ range: Range<Int>, is word: String) -> Bool {
        let expected = Array(word.utf8)
        guard range.count == expected.count else { return false }
        for (offset, byte) in expected.enumerated() where Self.upper(self[range.lowerBound + offset]) != Self.upper(byte) { return false }
        return true
    }

    /// Whether the content starts with `prefix`, ignoring ASCII case.
    func hasPrefix(_ prefix: String) -> Bool {
        let expected = Array(prefix.utf8)
        guard contentEnd >= expected.count else { return false }
        for (offset, byte) in expected.enumerated() where Self.upper(self[offset]) != Self.upper(byte) { return false }
        return true
    }

    /// The whole content as a secret (a continuation line), unless empty or `*` (a cancel).
    var wholeContent: Range<Int>? {
        guard contentEnd > 0, !(contentEnd == 1 && self[0] == UInt8(ascii: "*")) else { return nil }
        return 0..<contentEnd
    }

    /// A three-digit reply code at the start (SMTP, FTP), or nil.
    var replyCode: Int? {
        guard contentEnd >= 3 else { return nil }
        var code = 0
        for index in 0..<3 {
            let byte = self[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }

    /// A decimal number in `range` (at most 18 digits), or nil.
    func number(_ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let byte = self[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    static func upper(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
    }
}
