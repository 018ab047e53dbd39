/// An IMAP client message taken apart for keys: its tag, its command name (`FETCH`,
/// `UID FETCH`), and where its arguments start. `nil` when the message is not a command (a
/// literal's continuation, an AUTHENTICATE response, `DONE`).
struct IMAPCommand: Sendable {
    let tag: [UInt8]
    /// Upper-cased; `UID FETCH` for UID commands.
    let name: String
    /// Index in the message where the arguments start (after the name and its blanks).
    let argumentsStart: Int

    static let names: Set<String> = [
        "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "SELECT", "EXAMINE", "CREATE", "DELETE",
        "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "CHECK", "CLOSE", "EXPUNGE", "SEARCH",
        "FETCH", "STORE", "COPY", "MOVE", "UID", "IDLE", "NAMESPACE", "ID", "ENABLE", "UNSELECT", "COMPRESS", "XLIST",
        "SORT", "THREAD", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL", "SETACL", "DELETEACL", "LISTRIGHTS", "MYRIGHTS",
        "GETMETADATA", "SETMETADATA", "ESEARCH", "UIDEXPIRE", "REPLACE", "NOTIFY", "CONVERT", "URLFETCH", "GENURLAUTH",
        "RESETKEY", "XAPPLEPUSHSERVICE",
    ]

    init?(_ message: [UInt8]) {
        guard let tag = IMAPFramer.tag(of: message) else { return nil }
        var index = tag.count
        let firstLineEnd = TextCommand.firstLineContent(message).endIndex
        func word() -> String {
            while index < firstLineEnd, TextCommand.isBlank(message[index]) { index += 1 }
            let start = index
            while index < firstLineEnd, !TextCommand.isBlank(message[index]) { index += 1 }
            return LineSplitter.verb(message[start..<index])
        }
        var name = word()
        guard Self.names.contains(name) else { return nil }
        if name == "UID" {
            let sub = word()
            if !sub.isEmpty { name += " " + sub }
        }
        while index < firstLineEnd, TextCommand.isBlank(message[index]) { index += 1 }
        self.tag = tag
        self.name = name
        self.argumentsStart = index
    }

    /// The end of one astring argument starting at `start` (an atom, a quoted string with
    /// its escapes, or a literal marker `{n}` / `{n+}`), and its value unquoted.
    static func astring(in message: [UInt8], from start: Int) -> (value: [UInt8], end: Int) {
        let end = TextCommand.firstLineContent(message).endIndex
        guard start < end else { return ([], start) }
        var index = start
        if message[index] == UInt8(ascii: "\"") {
            var value: [UInt8] = []
            index += 1
            while index < end, message[index] != UInt8(ascii: "\"") {
                if message[index] == UInt8(ascii: "\\"), index + 1 < end { index += 1 }
                value.append(message[index])
                index += 1
            }
            return (value, min(index + 1, end))
        }
        while index < end, !TextCommand.isBlank(message[index]) { index += 1 }
        return (Array(message[start..<index]), index)
    }
}
