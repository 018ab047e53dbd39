/// Masks the volatile parts of an SMTP reply: queue ids (Postfix `queued as 4F3A2B1C0D`,
/// Exim `id=1rXyZ-0001aB-Cd`), dates (a banner with the time in it) and, in the first line of
/// an EHLO/HELO reply, what the server echoes about the client
/// (`250-mx.example.net Hello client.example.org [127.0.0.1]` keeps `mx.example.net`).
enum SMTPReplyMask {
    static let queueIDs: MaskSet = (try? MaskSet(patterns: [
        "(?i)(?<=queued as )[^\\s)\\]]+",
        "(?i)(?<=\\bid=)[A-Za-z0-9-]+",
        // Sendmail: `250 2.0.0 4B2CnmZx012345 Message accepted for delivery`.
        "(?i)(?<=^250 2\\.0\\.0 )[A-Za-z0-9]+(?= Message accepted)",
    ])) ?? .none

    static func apply(_ reply: [UInt8]) -> [UInt8] {
        maskingGreetingEcho(RFC5322DateMask.apply(queueIDs.apply(reply)))
    }

    /// `250-name rest` / `250 name rest` where `name` looks like a host name: the rest of that
    /// first line becomes `*`. Replies that start with an enhanced status code (`250 2.1.0 Ok`)
    /// or a plain word (`250 Accepted`) are not EHLO replies and stay as they are.
    static func maskingGreetingEcho(_ reply: [UInt8]) -> [UInt8] {
        guard reply.count > 4, reply.starts(with: Array("250".utf8)),
              reply[3] == UInt8(ascii: "-") || reply[3] == UInt8(ascii: " ") else {
            return reply
        }
        let contentEnd = TextCommand.firstLineContent(reply).endIndex
        var nameEnd = 4
        while nameEnd < contentEnd, !TextCommand.isBlank(reply[nameEnd]) { nameEnd += 1 }
        guard looksLikeHostName(reply[4..<nameEnd]) else { return reply }
        var restStart = nameEnd
        while restStart < contentEnd, TextCommand.isBlank(reply[restStart]) { restStart += 1 }
        guard restStart < contentEnd else { return reply }
        return Array(reply[..<restStart]) + [UInt8(ascii: "*")] + Array(reply[contentEnd...])
    }

    /// Letters, digits, `-` and `.`, with a dot and a letter (so `2.1.0` is not one), or an
    /// address literal `[…]`.
    static func looksLikeHostName(_ word: ArraySlice<UInt8>) -> Bool {
        if word.first == UInt8(ascii: "["), word.last == UInt8(ascii: "]"), word.count > 2 { return true }
        var dot = false
        var letter = false
        for byte in word {
            switch byte {
            case UInt8(ascii: "."): dot = true
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): break
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): letter = true
            default: return false
            }
        }
        return dot && letter
    }
}
