/// Redis: the password of `AUTH [user] password` and of `HELLO ... AUTH user password`, as a
/// RESP array of bulk strings or as an inline command; the user name stays. Replies are not
/// searched.
struct RedisSecretRules: SecretRules {
    /// Where the client is in a command array.
    private var remaining = 0
    private var count = 0
    private var index = 0
    private var command: [UInt8] = []
    /// The previous argument was HELLO's `AUTH` (then the user, then the password).
    private var helloAuthAt: Int?
    /// A bulk string's bytes were skipped: its CR LF comes as a line next.
    private var bulkEnd = false
    private var nextIsField = false

    func initialStep(_ direction: Direction) -> ScanStep {
        direction == .clientToServer ? .line : .skipToEnd
    }

    /// Fields longer than this are skipped unread: command names and HELLO arguments are short.
    static let fieldLimit = 64

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        guard direction == .clientToServer else { return .skipToEnd }
        if nextIsField {
            // A whole bulk string with its CR LF.
            nextIsField = false
            let value = Array(unit.prefix(max(0, unit.count - 2))).map(SecretLine.upper)
            if index == 0 { command = value }
            if command == Array("HELLO".utf8), value == Array("AUTH".utf8) { helloAuthAt = index }
            return nextArgument()
        }
        if bulkEnd {
            bulkEnd = false
            return nextArgument()
        }
        let line = SecretLine(unit)
        guard !line.isEmpty else { return .line }
        if remaining > 0, line[0] == UInt8(ascii: "$"), let size = line.number(1..<line.contentEnd) {
            if isPassword(index) {
                bulkEnd = true
                return .skip(size, secret: "redis-auth")
            }
            if index == 0 || command == Array("HELLO".utf8), size <= Self.fieldLimit {
                nextIsField = true
                return .field(size + 2)
            }
            bulkEnd = true
            return .skip(size, secret: nil)
        }
        if line[0] == UInt8(ascii: "*"), let size = line.number(1..<line.contentEnd), size > 0 {
            remaining = size
            count = size
            index = 0
            command = []
            helloAuthAt = nil
            return .line
        }
        // An inline command: words on one line.
        remaining = 0
        let words = line.words
        if let verb = words.first, line.word(verb, is: "AUTH"), words.count >= 2, let last = words.last {
            secrets.append(FoundSecret(range: last, rule: "redis-auth"))
        } else if let verb = words.first, line.word(verb, is: "HELLO"),
                  let auth = words.firstIndex(where: { line.word($0, is: "AUTH") }), auth + 2 < words.count {
            secrets.append(FoundSecret(range: words[auth + 2], rule: "redis-auth"))
        }
        return .line
    }

    private func isPassword(_ argument: Int) -> Bool {
        if command == Array("AUTH".utf8) { return argument == count - 1 && argument >= 1 && count <= 3 }
        if let helloAuthAt { return argument == helloAuthAt + 2 }
        return false
    }

    private mutating func nextArgument() -> ScanStep {
        index += 1
        remaining -= 1
        return .line
    }
}
