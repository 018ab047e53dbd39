/// Masks the volatile parts of a mail message's header section (a DATA body or the first
/// BDAT chunk), so that the same message sent at another time by another run keys the same:
/// the values of `Date`, `Message-ID`, `Received` (folded lines included), `X-Mailer` and
/// their `Resent-` forms become `*`, and any date left in the header section (swaks puts one
/// in its default Subject) is masked too. The body after the blank line is kept as sent.
enum SMTPMessageMask {
    static let volatileHeaders: Set<String> = [
        "date", "message-id", "received", "x-mailer", "resent-date", "resent-message-id",
    ]

    static func apply(_ message: [UInt8]) -> [UInt8] {
        var header: [UInt8] = []
        var index = 0
        var maskingFoldedLines = false
        while index < message.count {
            let lineEnd = (message[index...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? message.count
            let line = Array(message[index..<lineEnd])
            let content = LineSplitter.trimmingLineEnding(line)
            // A blank line ends the header section; so does the terminating `.` of a body
            // that has no blank line.
            if content.isEmpty || content.elementsEqual([UInt8(ascii: ".")]) { break }
            if let first = content.first, TextCommand.isBlank(first) {
                // A folded line belongs to the header above it.
                if !maskingFoldedLines { header.append(contentsOf: line) }
            } else if let colon = content.firstIndex(of: UInt8(ascii: ":")),
                      volatileHeaders.contains(TextCommand.asciiLowercased(MaskSet.latin1(Array(content[..<colon])))) {
                maskingFoldedLines = true
                header.append(contentsOf: content[...colon])
                header.append(contentsOf: Array(" *".utf8))
                header.append(contentsOf: line[content.endIndex...])
            } else {
                maskingFoldedLines = false
                header.append(contentsOf: line)
            }
            index = lineEnd
        }
        return RFC5322DateMask.apply(header) + Array(message[index...])
    }
}
