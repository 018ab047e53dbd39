/// Reads a transcript (what `replayd show --transcript` prints, or what a person writes by hand)
/// into a cassette's sessions. docs/transcript-format.md is the grammar; in short:
///
/// ```
/// --- session 1 client=127.0.0.1:50000 server=127.0.0.1:25 proto=smtp
/// S: 220 mx.example.net ESMTP
/// C: EHLO *
/// S: +1s 450 4.2.0 Try later
/// S: <FIN>
/// ```
///
/// Each `S:`/`C:` line is one chunk (one write); `S|`/`C|` lines continue it. Times are the
/// sum of the `+DELAY` prefixes, so a printed transcript gives back its events to the
/// microsecond.
public struct TranscriptReader: Sendable {
    /// The file name errors name.
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// Where each pattern came from, so that `replay` can name the line of an `S:` pattern it refuses.
    public struct PatternLine: Sendable, Equatable {
        public var session: Int
        public var direction: Direction
        public var source: String
        public var line: Int
    }

    /// A transcript read: its cassette, and the line of each pattern in it.
    public struct Result: Sendable {
        public var cassette: Cassette
        public var patterns: [PatternLine]
    }

    /// Reads the whole text.
    public func read(_ text: String) throws(TranscriptError) -> Result {
        var parser = Parser(path: path)
        var number = 0
        // Split on bytes: in Swift "\r\n" is one Character, so a CRLF file would not split on "\n".
        for rawLine in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            let bytes = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine[...]
            try parser.take(Substring(String(decoding: bytes, as: UTF8.self)), number: number)
        }
        return try parser.finish()
    }

    // MARK: - The parser

    /// One line's worth of something that becomes events once the session's protocol is known.
    enum Piece: Sendable {
        case text(TranscriptText.Parsed)
        case hex([UInt8])
    }

    enum ItemKind: Sendable {
        /// A chunk: its pieces, and the pattern source when it is a pattern line.
        case chunk(Direction, [Piece], pattern: String?)
        case event(SessionEventKind)
        /// `<STALL>`: nothing happens; the side says nothing more.
        case stall(Direction)
    }

    struct Item: Sendable {
        var kind: ItemKind
        var offset: Int64
        var line: Int
    }

    struct PendingSession: Sendable {
        var id: Int?
        var label: String?
        var client = "127.0.0.1:0"
        var server = "127.0.0.1:0"
        var proto: WireProtocol?
        var start: WallClock?
        var ending: LineEnding?
        var opened: Int64 = 0
        var line: Int
        var items: [Item] = []
        var now: Int64 = 0
    }

    struct Parser {
        let path: String
        var masks: [String] = []
        var sessions: [PendingSession] = []
        var current: PendingSession?
        /// The chunk that `S|`/`C|` lines may continue (an index into `current.items`).
        var openChunk: Int?

        init(path: String) { self.path = path }

        func error(_ line: Int, _ column: Int, _ detail: String) -> TranscriptError {
            TranscriptError(path: path, line: line, column: column, detail: detail)
        }

        mutating func take(_ line: Substring, number: Int) throws(TranscriptError) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { return }
            if line.hasPrefix("---") {
                try startSession(String(line.dropFirst(3)), number: number)
                return
            }
            if line.hasPrefix("@mask ") {
                let pattern = String(line.dropFirst("@mask ".count))
                do {
                    _ = try MaskSet(patterns: [pattern])
                } catch {
                    throw self.error(number, 7, "not a valid regular expression: \(error.reason)")
                }
                masks.append(pattern)
                return
            }
            guard line.count >= 2, let side = line.first, side == "S" || side == "C",
                  let mark = line.dropFirst().first, mark == ":" || mark == "|" else {
                if line.hasPrefix("session "), line.contains(" -> ") {
                    throw error(number, 1, "this is the timeline `replayd show` prints, which is for reading; "
                        + "print a transcript that replay reads with `replayd show CASSETTE --transcript`, or give the cassette itself")
                }
                throw error(number, 1, "expected S: or C: (a server or client line), S| or C| (the same chunk continued), "
                    + "--- session (a new session), @mask REGEX, # (a comment) or a blank line")
            }
            let direction: Direction = side == "S" ? .serverToClient : .clientToServer
            var body = line.dropFirst(2)
            var column = 3
            if body.first == " " {
                body = body.dropFirst()
                column += 1
            } else if !body.isEmpty {
                throw error(number, 3, "expected a space after \(side)\(mark)")
            }
            if current == nil { current = PendingSession(line: number) }
            if mark == "|" {
                try continueChunk(direction, body: body, column: column, number: number)
            } else {
                try addLine(direction, body: body, column: column, number: number)
            }
        }

        mutating func addLine(_ direction: Direction, body: Substring, column: Int, number: Int) throws(TranscriptError) {
            var body = body
            var column = column
            if let (delay, length) = try delayPrefix(body, column: column, number: number) {
                current?.now += delay
                body = body.dropFirst(length)
                column += length
            }
            let offset = current?.now ?? 0
            openChunk = nil
            if body.hasPrefix("<"), body.hasSuffix(">"), body.count >= 2 {
                let kind = try directive(direction, body.dropFirst().dropLast(), column: column + 1, number: number)
                if case .chunk = kind { openChunk = current?.items.count }
                current?.items.append(Item(kind: kind, offset: offset, line: number))
                return
            }
            let parsed = try text(body, column: column, number: number)
            let pattern = parsed.isPattern ? String(body) : nil
            if pattern == nil { openChunk = current?.items.count }
            current?.items.append(Item(kind: .chunk(direction, [.text(parsed)], pattern: pattern), offset: offset, line: number))
        }

        mutating func continueChunk(_ direction: Direction, body: Substring, column: Int, number: Int) throws(TranscriptError) {
            let side = direction == .serverToClient ? "S" : "C"
            guard let index = openChunk, let item = current?.items[index],
                  case .chunk(let chunkDirection, var pieces, nil) = item.kind, chunkDirection == direction else {
                throw error(number, 1, "\(side)| continues a chunk, but the line before is no \(side): text or hex line "
                    + "(a pattern or a directive cannot be continued; start the chunk with \(side):)")
            }
            if body.hasPrefix("<hex"), body.hasSuffix(">") {
                guard case .chunk(_, let hexPieces, _) = try directive(direction, body.dropFirst().dropLast(), column: column + 1, number: number) else { return }
                pieces += hexPieces
            } else {
                let parsed = try text(body, column: column, number: number)
                guard !parsed.isPattern else {
                    throw error(number, column, "a pattern (* or /.../) must be a line of its own, not part of a continued chunk; write \\* for a literal *")
                }
                pieces.append(.text(parsed))
            }
            current?.items[index].kind = .chunk(direction, pieces, pattern: nil)
        }

        func text(_ body: Substring, column: Int, number: Int) throws(TranscriptError) -> TranscriptText.Parsed {
            do {
                return try TranscriptText.parse(body)
            } catch {
                throw self.error(number, column + error.column - 1, error.detail)
            }
        }

        /// `+1s `, `+0.2s `, `+150ms `, `+20us `: nanoseconds and the characters taken.
        /// `+OK` is text; `+` then a digit with no unit is an error (write `\+` for text).
        func delayPrefix(_ body: Substring, column: Int, number: Int) throws(TranscriptError) -> (Int64, Int)? {
            guard body.first == "+", let next = body.dropFirst().first, next.isASCII, next.isNumber || next == "." else { return nil }
            let number_ = body.dropFirst().prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            let afterNumber = body.dropFirst(1 + number_.count)
            let unit = afterNumber.prefix { $0.isASCII && $0.isLetter }
            let rest = afterNumber.dropFirst(unit.count)
            let multiplier: Int64
            switch unit {
            case "s": multiplier = 1_000_000_000
            case "ms": multiplier = 1_000_000
            case "us": multiplier = 1_000
            default:
                throw error(number, column + 1 + number_.count,
                            "a delay needs a unit and a space, e.g. +1s , +0.2s or +150ms ; write \\+ for a literal + at the start of a line")
            }
            guard rest.isEmpty || rest.first == " " else {
                throw error(number, column + 1 + number_.count + unit.count, "expected a space after the delay +\(number_)\(unit)")
            }
            let parts = number_.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])), whole < 1_000_000_000 else {
                throw error(number, column + 1, "\"\(number_)\" is not a number of \(unit)")
            }
            var nanoseconds = whole * multiplier
            if parts.count == 2 {
                let fraction = parts[1]
                guard fraction.allSatisfy(\.isNumber), fraction.count <= 9 else {
                    throw error(number, column + 1, "\"\(number_)\" is not a number of \(unit) (at most nine decimals)")
                }
                var scale = multiplier
                for digit in fraction {
                    scale /= 10
                    nanoseconds += Int64(digit.wholeNumberValue ?? 0) * scale
                }
            }
            return (nanoseconds, 1 + number_.count + unit.count + (rest.isEmpty ? 0 : 1))
        }

        /// `<FIN>`, `<RST>`, `<STALL>`, `<hex ...>` and the markers `show --transcript` prints.
        func directive(_ direction: Direction, _ inner: Substring, column: Int, number: Int) throws(TranscriptError) -> ItemKind {
            let name = inner.prefix { $0 != " " }
            let rest = inner.dropFirst(name.count)
            let argumentsColumn = column + name.count
            switch name.uppercased() {
            case "FIN": return .event(.close(direction, .fin))
            case "RST": return .event(.reset(by: direction))
            case "STALL": return .stall(direction)
            case "END": return .event(.end)
            case "HEX":
                var bytes: [UInt8] = []
                var high: UInt8?
                var position = argumentsColumn - 1
                for character in rest {
                    position += 1
                    if character == " " { continue }
                    guard let digit = character.hexDigitValue else {
                        throw error(number, position, "expected hex digits (0-9, a-f) in <hex ...>, found \"\(character)\"")
                    }
                    if let first = high {
                        bytes.append(first << 4 | UInt8(digit))
                        high = nil
                    } else {
                        high = UInt8(digit)
                    }
                }
                guard high == nil else { throw error(number, position, "<hex ...> has an odd number of hex digits") }
                return .chunk(direction, [.hex(bytes)], pattern: nil)
            case "GAP":
                let fields = try keyValues(rest, column: argumentsColumn, number: number, allowed: ["bytes"])
                return .event(.gap(direction, try integer(fields, "bytes", number: number, column: argumentsColumn)))
            case "REDACTED":
                let fields = try keyValues(rest, column: argumentsColumn, number: number, allowed: ["at", "bytes", "rule"])
                guard let rule = fields["rule"] else { throw error(number, argumentsColumn, "<REDACTED ...> needs rule=NAME") }
                return .event(.redacted(Redaction(direction: direction,
                                                  offset: try integer(fields, "at", number: number, column: argumentsColumn),
                                                  length: try integer(fields, "bytes", number: number, column: argumentsColumn), rule: rule)))
            case "TLS":
                let fields = try keyValues(rest, column: argumentsColumn, number: number,
                                           allowed: ["version", "cipher", "sni", "alpn", "failure", "leg"])
                var leg: TLSLeg?
                if let name = fields["leg"] {
                    guard let known = TLSLeg(rawValue: name) else { throw error(number, argumentsColumn, "<TLS ...> leg= is client or upstream") }
                    leg = known
                }
                return .event(.tls(TLSMarker(version: fields["version"], cipher: fields["cipher"], sni: fields["sni"],
                                             alpn: fields["alpn"], failure: fields["failure"], leg: leg)))
            case "FAULT":
                let fields = try keyValues(rest, column: argumentsColumn, number: number, allowed: ["action", "rule", "detail"])
                guard let action = fields["action"], let rule = fields["rule"] else {
                    throw error(number, argumentsColumn, "<FAULT ...> needs action=WHAT and rule=\"RULE\"")
                }
                return .event(.fault(InjectedFault(rule: rule, action: action, detail: fields["detail"])))
            case "CONNECT-FAILED":
                let fields = try keyValues(rest, column: argumentsColumn, number: number, allowed: ["reason", "elapsed", "message"])
                guard let reason = fields["reason"].flatMap(ConnectFailureReason.init(rawValue:)) else {
                    throw error(number, argumentsColumn, "<CONNECT-FAILED ...> needs reason=refused, timeout, unreachable or other")
                }
                var elapsed: Int64 = 0
                if let text = fields["elapsed"] {
                    guard let (value, length) = try delayPrefix(Substring("+" + text), column: argumentsColumn, number: number),
                          length == text.count + 1 else {
                        throw error(number, argumentsColumn, "elapsed= must be a duration such as 0.0012s or 3s")
                    }
                    elapsed = value
                }
                return .event(.connectFailed(ConnectFailure(reason: reason, elapsed: elapsed, message: fields["message"] ?? "")))
            default:
                throw error(number, column - 1, "unknown directive <\(inner)>; known: <FIN>, <RST>, <STALL>, <hex ...>, <GAP bytes=N>, "
                    + "<REDACTED ...>, <TLS ...>, <FAULT ...>, <CONNECT-FAILED ...>, <END>; write \\< for a line that starts with a literal <")
            }
        }

        func integer(_ fields: [String: String], _ key: String, number: Int, column: Int) throws(TranscriptError) -> Int {
            guard let text = fields[key], let value = Int(text), value >= 0 else {
                throw error(number, column, "expected \(key)=N, a whole number from 0")
            }
            return value
        }

        /// `key=value key="quoted \" value"` pairs.
        func keyValues(_ text: Substring, column: Int, number: Int, allowed: Set<String>) throws(TranscriptError) -> [String: String] {
            var fields: [String: String] = [:]
            var words: [String] = []
            try Self.scanFields(text) { (key: String?, value: String, offset: Int) throws(TranscriptError) in
                guard let key else {
                    words.append(value)
                    return
                }
                guard allowed.contains(key) else {
                    throw error(number, column + offset, "unknown field \(key)=; expected \(allowed.sorted().map { $0 + "=" }.joined(separator: ", "))")
                }
                fields[key] = value
            } onError: { (offset: Int, detail: String) throws(TranscriptError) in
                throw error(number, column + offset, detail)
            }
            if let word = words.first {
                throw error(number, column, "expected key=value fields, found \"\(word)\"")
            }
            return fields
        }

        /// Splits `key=value` fields and bare words; values may be quoted with `\"` and `\\` escapes.
        static func scanFields(_ text: Substring, _ body: (String?, String, Int) throws(TranscriptError) -> Void,
                               onError: (Int, String) throws(TranscriptError) -> Void) throws(TranscriptError) {
            let characters = Array(text)
            var index = 0
            while index < characters.count {
                if characters[index] == " " { index += 1; continue }
                let start = index
                var key: String?
                var value = ""
                while index < characters.count, characters[index] != " ", characters[index] != "=" {
                    value.append(characters[index]); index += 1
                }
                if index < characters.count, characters[index] == "=" {
                    key = value
                    value = ""
                    index += 1
                    if index < characters.count, characters[index] == "\"" {
                        index += 1
                        var closed = false
                        while index < characters.count {
                            let character = characters[index]
                            if character == "\\", index + 1 < characters.count {
                                value.append(characters[index + 1]); index += 2; continue
                            }
                            if character == "\"" { closed = true; index += 1; break }
                            value.append(character); index += 1
                        }
                        if !closed { try onError(start, "the quoted value of \(key ?? "") has no closing \"") }
                    } else {
                        while index < characters.count, characters[index] != " " { value.append(characters[index]); index += 1 }
                    }
                }
                try body(key, value, start)
            }
        }

        mutating func startSession(_ text: String, number: Int) throws(TranscriptError) {
            closeSession()
            var rest = Substring(text).drop { $0 == " " }
            if rest == "session" || rest.hasPrefix("session ") { rest = rest.dropFirst("session".count) }
            var session = PendingSession(line: number)
            var words: [String] = []
            var fields: [String: String] = [:]
            let column = 4 + (text.count - rest.count)
            try Self.scanFields(rest) { (key: String?, value: String, offset: Int) throws(TranscriptError) in
                if let key {
                    guard ["client", "server", "proto", "start", "eol", "opened", "label"].contains(key) else {
                        throw error(number, column + offset, "unknown session field \(key)=; expected client=, server=, proto=, start=, eol=, opened= or label=")
                    }
                    fields[key] = value
                } else {
                    words.append(value)
                }
            } onError: { (offset: Int, detail: String) throws(TranscriptError) in
                throw error(number, column + offset, detail)
            }
            if let first = words.first, let id = Int(first), id > 0 {
                guard !sessions.contains(where: { $0.id == id }) else {
                    throw error(number, column + rest.prefix { $0 == " " }.count, "session \(id) is already defined on line \(sessions.first { $0.id == id }?.line ?? 0)")
                }
                session.id = id
                words.removeFirst()
            }
            if let label = fields["label"] ?? (words.isEmpty ? nil : words.joined(separator: " ")) { session.label = label }
            if let client = fields["client"] { session.client = client }
            if let server = fields["server"] { session.server = server }
            if let text = fields["proto"] {
                guard let proto = WireProtocol(rawValue: text) else {
                    throw error(number, column, "unknown proto=\(text); known: \(WireProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                session.proto = proto
            }
            if let text = fields["start"] {
                guard let start = WallClock(iso8601: text) else {
                    throw error(number, column, "start= must be a UTC time like 2026-11-22T11:09:57.123456Z")
                }
                session.start = start
            }
            if let text = fields["eol"] {
                guard let ending = LineEnding(rawValue: text) else { throw error(number, column, "eol= must be crlf, lf or none") }
                session.ending = ending
            }
            if let text = fields["opened"] {
                guard let (value, length) = try delayPrefix(Substring(text), column: column, number: number), length == text.count else {
                    throw error(number, column, "opened= must be a delay such as +0.000012s")
                }
                session.opened = value
            }
            session.now = session.opened
            current = session
        }

        mutating func closeSession() {
            if let current { sessions.append(current) }
            current = nil
            openChunk = nil
        }

        mutating func finish() throws(TranscriptError) -> Result {
            closeSession()
            var used = Set(sessions.compactMap(\.id))
            var next = 1
            var built: [Session] = []
            var patterns: [PatternLine] = []
            for pending in sessions {
                let id: Int
                if let explicit = pending.id {
                    id = explicit
                } else {
                    while used.contains(next) { next += 1 }
                    id = next
                    used.insert(id)
                }
                let (session, lines) = materialize(pending, id: id)
                built.append(session)
                patterns += lines
            }
            built.sort { $0.id < $1.id }
            let requires = patterns.isEmpty ? [] : ["match"]
            let header = CassetteHeader(source: .edit, details: ["transcript": path], requires: requires, masks: masks)
            return Result(cassette: Cassette(header: header, sessions: built), patterns: patterns)
        }

        /// The session's events, now that its protocol (and so its line ending) is known.
        func materialize(_ pending: PendingSession, id: Int) -> (Session, [PatternLine]) {
            let proto = pending.proto ?? detectProtocol(pending)
            let ending = pending.ending ?? LineEnding.standard(for: proto)
            let open = SessionOpen(client: pending.client, server: pending.server, start: pending.start, proto: proto, label: pending.label)
            var events = [SessionEvent(session: id, offset: pending.opened, kind: .open(open))]
            var streamOffset: [Direction: Int] = [:]
            var patterns: [PatternLine] = []
            for item in pending.items {
                switch item.kind {
                case .chunk(let direction, let pieces, let pattern):
                    var bytes: [UInt8] = []
                    for piece in pieces {
                        switch piece {
                        case .hex(let hex): bytes += hex
                        case .text(let parsed):
                            bytes += parsed.literal
                            if parsed.ending == .automatic { bytes += ending.bytes }
                        }
                    }
                    let start = streamOffset[direction, default: 0]
                    events.append(SessionEvent(session: id, offset: item.offset, kind: .data(direction, bytes)))
                    streamOffset[direction] = start + bytes.count
                    if let pattern {
                        let mark = PatternMark(direction: direction, offset: start, length: bytes.count, source: pattern)
                        events.append(SessionEvent(session: id, offset: item.offset, kind: .pattern(mark)))
                        patterns.append(PatternLine(session: id, direction: direction, source: pattern, line: item.line))
                    }
                case .event(let kind):
                    events.append(SessionEvent(session: id, offset: item.offset, kind: kind))
                case .stall:
                    continue
                }
            }
            return (Session(id: id, open: open, events: events), patterns)
        }

        /// A session written without `proto=`: its first lines say (a `220` banner is SMTP, `+OK`
        /// POP3), as replay detects a recording's.
        func detectProtocol(_ pending: PendingSession) -> WireProtocol {
            var client: [UInt8]?
            var server: [UInt8]?
            for item in pending.items {
                guard case .chunk(let direction, let pieces, _) = item.kind else { continue }
                var bytes: [UInt8] = []
                for piece in pieces {
                    switch piece {
                    case .hex(let hex): bytes += hex
                    case .text(let parsed): bytes += parsed.literal + (parsed.ending == .automatic ? [0x0D, 0x0A] : [])
                    }
                }
                if direction == .clientToServer, client == nil { client = bytes }
                if direction == .serverToClient, server == nil { server = bytes }
            }
            let port = SessionOpen(client: pending.client, server: pending.server, start: nil).serverPort
            return ProtocolDetector.detect(serverPort: port == 0 ? nil : port, client: client ?? [], server: server ?? [])
        }
    }
}
