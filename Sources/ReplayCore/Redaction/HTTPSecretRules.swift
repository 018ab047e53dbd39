/// HTTP/1.x: the credentials of `Authorization` and `Proxy-Authorization` (the scheme word, e.g.
/// `Basic`, stays), the values of `Cookie` (names stay) and the value of `Set-Cookie` (its name
/// and attributes such as `Path` stay). Only heads are searched: bodies are framed by
/// `Content-Length` or chunked coding and skipped; a tunnel or upgrade passes through.
struct HTTPSecretRules: SecretRules {
    /// Where a direction is in its message.
    enum Place: Sendable, Equatable { case start, head, chunkSize, chunkEnd, trailers }
    private var place: [Direction: Place] = [.clientToServer: .start, .serverToClient: .start]
    private var length: [Direction: Int] = [:]
    private var chunked: [Direction: Bool] = [:]
    private var status = 0
    /// Request methods not yet answered (a HEAD's reply has no body).
    private var methods: [Bool] = []
    private var currentIsHead = false
    private var currentIsConnect = false
    private var upgrade = false
    private var clientOverride: ScanStep?

    func initialStep(_ direction: Direction) -> ScanStep { .line }

    mutating func takeOverride(for direction: Direction) -> ScanStep? {
        guard direction == .clientToServer, let step = clientOverride else { return nil }
        clientOverride = nil
        return step
    }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        let line = SecretLine(unit)
        switch place[direction] ?? .start {
        case .start:
            // Blank lines between messages are allowed.
            guard !line.isEmpty else { return .line }
            place[direction] = .head
            length[direction] = nil
            chunked[direction] = false
            if direction == .clientToServer {
                let words = line.words
                currentIsConnect = words.first.map { line.word($0, is: "CONNECT") } ?? false
                methods.append(words.first.map { line.word($0, is: "HEAD") } ?? false)
                if methods.count > 1024 { methods.removeFirst() }
            } else {
                let words = line.words
                status = words.count >= 2 ? line.number(words[1]) ?? 0 : 0
                if status >= 200 || status == 101 { currentIsHead = methods.isEmpty ? false : methods.removeFirst() }
            }
            return .line
        case .head:
            if line.isEmpty { return endOfHead(direction) }
            header(line, direction: direction, secrets: &secrets)
            return .line
        case .chunkSize:
            var end = 0
            while end < line.contentEnd, Self.hexValue(line[end]) != nil, end < 15 { end += 1 }
            guard end > 0 else { return .skipToEnd }
            var size = 0
            for index in 0..<end { size = size * 16 + (Self.hexValue(line[index]) ?? 0) }
            if size == 0 {
                place[direction] = .trailers
                return .line
            }
            place[direction] = .chunkEnd
            return .skip(size, secret: nil)
        case .chunkEnd:
            place[direction] = .chunkSize
            return .line
        case .trailers:
            if line.isEmpty { place[direction] = .start }
            return .line
        }
    }

    private mutating func header(_ line: SecretLine, direction: Direction, secrets: inout [FoundSecret]) {
        var colon = 0
        while colon < line.contentEnd, line[colon] != UInt8(ascii: ":") { colon += 1 }
        guard colon < line.contentEnd else { return }
        let name = 0..<colon
        var valueStart = colon + 1
        while valueStart < line.contentEnd, SecretLine.isBlank(line[valueStart]) { valueStart += 1 }
        guard valueStart < line.contentEnd else { return }
        var valueEnd = line.contentEnd
        while valueEnd > valueStart, SecretLine.isBlank(line[valueEnd - 1]) { valueEnd -= 1 }
        let value = valueStart..<valueEnd
        if line.word(name, is: "Content-Length") {
            length[direction] = line.number(value)
        } else if line.word(name, is: "Transfer-Encoding") {
            chunked[direction] = Self.contains(line, value, "chunked")
        } else if line.word(name, is: "Upgrade"), direction == .clientToServer {
            upgrade = true
        } else if line.word(name, is: "Authorization") || line.word(name, is: "Proxy-Authorization") {
            let rule = line.word(name, is: "Authorization") ? "http-authorization" : "http-proxy-authorization"
            var schemeEnd = valueStart
            while schemeEnd < valueEnd, !SecretLine.isBlank(line[schemeEnd]) { schemeEnd += 1 }
            var credentials = schemeEnd
            while credentials < valueEnd, SecretLine.isBlank(line[credentials]) { credentials += 1 }
            // A value of one word has no scheme to keep: all of it is the credential.
            let range = credentials < valueEnd ? credentials..<valueEnd : value
            secrets.append(FoundSecret(range: range, rule: rule))
        } else if line.word(name, is: "Cookie"), direction == .clientToServer {
            for pair in Self.pairs(line, value) { secrets.append(FoundSecret(range: pair, rule: "http-cookie")) }
        } else if line.word(name, is: "Set-Cookie"), direction == .serverToClient {
            if let first = Self.pairs(line, value).first { secrets.append(FoundSecret(range: first, rule: "http-set-cookie")) }
        }
    }

    private mutating func endOfHead(_ direction: Direction) -> ScanStep {
        place[direction] = .start
        if direction == .clientToServer {
            if currentIsConnect || upgrade { return .skipToEnd }
            if chunked[direction] == true { place[direction] = .chunkSize; return .line }
            if let size = length[direction], size > 0 { return .skip(size, secret: nil) }
            return .line
        }
        if status == 101 || (status >= 200 && status < 300 && currentIsConnect) {
            clientOverride = .skipToEnd
            return .skipToEnd
        }
        if status < 200 || status == 204 || status == 304 || currentIsHead { return .line }
        if chunked[direction] == true { place[direction] = .chunkSize; return .line }
        if let size = length[direction] { return size > 0 ? .skip(size, secret: nil) : .line }
        // Read to close.
        return .skipToEnd
    }

    /// The value parts of `name=value` pairs separated by `;` in `range` (empty values left out).
    static func pairs(_ line: SecretLine, _ range: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var index = range.lowerBound
        while index < range.upperBound, result.count < 256 {
            var end = index
            while end < range.upperBound, line[end] != UInt8(ascii: ";") { end += 1 }
            var equals = index
            while equals < end, line[equals] != UInt8(ascii: "=") { equals += 1 }
            var valueEnd = end
            while valueEnd > equals + 1, SecretLine.isBlank(line[valueEnd - 1]) { valueEnd -= 1 }
            if equals < end, equals + 1 < valueEnd { result.append((equals + 1)..<valueEnd) }
            index = end + 1
        }
        return result
    }

    static func contains(_ line: SecretLine, _ range: Range<Int>, _ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard range.count >= expected.count else { return false }
        for start in range.lowerBound...(range.upperBound - expected.count)
        where line.word(start..<(start + expected.count), is: word) { return true }
        return false
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
