/// An IMAP literal announced at the end of a line: `{12}` (synchronizing: the sender waits
/// for a `+` before sending the bytes), `{12+}` / `{12-}` (LITERAL+ / LITERAL-: the bytes follow
/// at once), `~{12}` (BINARY literal8, same framing).
struct IMAPLiteral: Sendable, Equatable {
    let size: Int
    let synchronizing: Bool

    /// The literal `line` (line ending included or not) ends with, if any. Sizes beyond 15
    /// digits are not literals (no sane peer sends them, and they would overflow).
    init?(endOf line: [UInt8]) {
        let content = LineSplitter.trimmingLineEnding(line)
        guard var index = content.indices.last, content[index] == UInt8(ascii: "}") else { return nil }
        index -= 1
        var synchronizing = true
        if index >= content.startIndex, content[index] == UInt8(ascii: "+") || content[index] == UInt8(ascii: "-") {
            synchronizing = false
            index -= 1
        }
        var size = 0
        var digits = 0
        var multiplier = 1
        while index >= content.startIndex, content[index] >= UInt8(ascii: "0"), content[index] <= UInt8(ascii: "9") {
            digits += 1
            guard digits <= 15 else { return nil }
            size += Int(content[index] - UInt8(ascii: "0")) * multiplier
            multiplier *= 10
            index -= 1
        }
        guard digits > 0, index >= content.startIndex, content[index] == UInt8(ascii: "{") else { return nil }
        self.size = size
        self.synchronizing = synchronizing
    }
}
