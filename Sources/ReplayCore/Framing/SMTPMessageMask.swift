/// Masks the volatile parts of a mail message's header section (a DATA body or the first
/// BDAT chunk), so that the same message sent at another time by another run keys the same:
/// the values of `Date`, `Message-ID`, `Received` (folded lines included), `X-Mailer` and
/// their `Resent-` forms become `*`, and any date left in the header section (swaks puts one
/// in its default Subject) is masked too. The body after the blank line is kept as sent.
enum SMTPMessageMask {
    static let volatileHeaders: Set<String> = [
        "date", "message-id", "received", "x-mailer", "resent-date", "resent-message-id",
    ]

    /// The volatile header names as lower-case bytes, compared without building Strings.
    static let volatileNames: Set<[UInt8]> = Set(volatileHeaders.map { Array($0.utf8) })

    /// The same names, compared in place: by length first, then byte by byte ignoring ASCII
    /// case (this runs on every header line of every live DATA body).
    private static let volatileNameList: [[UInt8]] = volatileNames.sorted { $0.lexicographicallyPrecedes($1) }

    static func isVolatile(_ name: ArraySlice<UInt8>) -> Bool {
        guard name.count <= 20 else { return false }
        for candidate in volatileNameList where candidate.count == name.count {
            if zip(candidate, name).allSatisfy({ $0 == ($1 >= 65 && $1 <= 90 ? $1 + 32 : $1) }) { return true }
        }
        return false
    }

    static func apply(_ message: [UInt8]) -> [UInt8] {
        // Room for the whole message: the body is appended behind the masked header below,
        // so a body masks with one allocation instead of one per growth.
        var header: [UInt8] = []
        header.reserveCapacity(message.count + 16)
        var index = 0
        var maskingFoldedLines = false
        while index < message.count {
            let lineEnd = (message[index...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? message.count
            let line = message[index..<lineEnd]
            var contentEnd = lineEnd
            if contentEnd > index, message[contentEnd - 1] == UInt8(ascii: "\n") { contentEnd -= 1 }
            if contentEnd > index, message[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            let content = message[index..<contentEnd]
            // A blank line ends the header section; so does the terminating `.` of a body
            // that has no blank line.
            if content.isEmpty || content.elementsEqual([UInt8(ascii: ".")]) { break }
            if let first = content.first, TextCommand.isBlank(first) {
                // A folded line belongs to the header above it.
                if !maskingFoldedLines { header.append(contentsOf: line) }
            } else if let colon = content.firstIndex(of: UInt8(ascii: ":")),
                      Self.isVolatile(content[..<colon]) {
                maskingFoldedLines = true
                header.append(contentsOf: content[...colon])
                header.append(UInt8(ascii: " "))
                header.append(UInt8(ascii: "*"))
                header.append(contentsOf: line[content.endIndex...])
            } else {
                maskingFoldedLines = false
                header.append(contentsOf: line)
            }
            index = lineEnd
        }
        var masked = RFC5322DateMask.containsClockTime(header) ? RFC5322DateMask.masks.apply(header) : header
        header = []
        masked.append(contentsOf: message[index...])
        return masked
    }
}
