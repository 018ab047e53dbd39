/// Prints sessions in the transcript grammar that `TranscriptReader` reads back
/// (docs/transcript-format.md): `replayd show --transcript`, `replayd convert CASSETTE -o x.txt`.
///
/// The print is exact: reading it back gives the same bytes in the same chunks, the same
/// endings and markers, and every time to the microsecond. Delays are differences of the
/// rounded absolute times, so rounding never adds up over a long session.
public struct TranscriptWriter: Sendable {
    /// Bytes per `<hex ...>` line.
    static let hexBytesPerLine = 32

    public init() {}

    /// The whole file: masks, then each session.
    public func text(for cassette: Cassette) -> String {
        var lines: [String] = ["# replayd transcript (docs/transcript-format.md)"]
        for mask in cassette.header.masks { lines.append("@mask \(mask)") }
        for session in cassette.sessions {
            lines.append("")
            lines += self.lines(for: session)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One session: its header line, then one line per chunk or marker.
    public func lines(for session: Session) -> [String] {
        let proto = session.open.proto ?? RecordedConversation.detect(session)
        let ending = Self.ending(for: session, proto: proto)
        let openOffset = session.events.first?.offset ?? 0
        var heading = "--- session \(session.id)"
        heading += " client=\(Self.field(session.open.client)) server=\(Self.field(session.open.server)) proto=\(proto.rawValue)"
        if let start = session.open.start { heading += " start=\(start.iso8601)" }
        if ending != LineEnding.standard(for: proto) { heading += " eol=\(ending.rawValue)" }
        if Self.micros(openOffset) != 0 { heading += " opened=+\(Self.seconds(micros: Self.micros(openOffset)))s" }
        if let label = session.open.label { heading += " label=\(Self.quoted(label))" }
        var lines = [heading]

        // Data events that a pattern stands for print as the pattern.
        var patternAt: [Int: PatternMark] = [:]
        for (index, event) in session.events.enumerated() {
            guard case .pattern(let mark) = event.kind, index > 0,
                  case .data(let direction, let bytes) = session.events[index - 1].kind,
                  direction == mark.direction, bytes.count == mark.length else { continue }
            patternAt[index - 1] = mark
        }

        var previous = Self.micros(openOffset)
        for (index, event) in session.events.enumerated() {
            let now = Self.micros(event.offset)
            var delay = ""
            func stamp() {
                if now != previous { delay = "+\(Self.seconds(micros: now - previous))s " }
                previous = now
            }
            switch event.kind {
            case .open, .pattern:
                continue
            case .data(let direction, let bytes):
                stamp()
                let side = Self.side(direction)
                if let mark = patternAt[index] {
                    let parsed = try? TranscriptText.parse(Substring(mark.source))
                    let addsEnding = parsed?.ending == .automatic
                    let literal = (parsed?.literal ?? []) + (addsEnding ? ending.bytes : [])
                    if literal == bytes {
                        lines.append("\(side): \(delay)\(mark.source)")
                        continue
                    }
                }
                let body = Self.chunkLines(bytes, ending: ending)
                for (position, text) in body.enumerated() {
                    lines.append(position == 0 ? "\(side): \(delay)\(text)" : "\(side)| \(text)")
                }
            case .close(let direction, _):
                stamp()
                lines.append("\(Self.side(direction)): \(delay)<FIN>")
            case .reset(let by):
                stamp()
                lines.append("\(Self.side(by)): \(delay)<RST>")
            case .gap(let direction, let count):
                stamp()
                lines.append("\(Self.side(direction)): \(delay)<GAP bytes=\(count)>")
            case .redacted(let redaction):
                stamp()
                lines.append("\(Self.side(redaction.direction)): \(delay)<REDACTED at=\(redaction.offset) bytes=\(redaction.length) rule=\(Self.field(redaction.rule))>")
            case .tls(let marker):
                stamp()
                var fields = ""
                if let version = marker.version { fields += " version=\(Self.field(version))" }
                if let cipher = marker.cipher { fields += " cipher=\(Self.field(cipher))" }
                if let sni = marker.sni { fields += " sni=\(Self.field(sni))" }
                if let alpn = marker.alpn { fields += " alpn=\(Self.field(alpn))" }
                if let leg = marker.leg { fields += " leg=\(leg.rawValue)" }
                if let failure = marker.failure { fields += " failure=\(Self.quoted(failure))" }
                lines.append("S: \(delay)<TLS\(fields)>")
            case .fault(let fault):
                stamp()
                var fields = " action=\(Self.field(fault.action)) rule=\(Self.quoted(fault.rule))"
                if let detail = fault.detail { fields += " detail=\(Self.quoted(detail))" }
                lines.append("S: \(delay)<FAULT\(fields)>")
            case .connectFailed(let failure):
                stamp()
                let elapsed = Self.seconds(nanoseconds: failure.elapsed)
                lines.append("S: \(delay)<CONNECT-FAILED reason=\(failure.reason.rawValue) elapsed=\(elapsed)s message=\(Self.quoted(failure.message))>")
            case .end:
                stamp()
                lines.append("S: \(delay)<END>")
            }
        }
        return lines
    }

    // MARK: - Chunks

    /// The lines of one chunk: text lines (the session's ending left implicit, any other
    /// written out, `\c` where a line stops without one) or `<hex ...>` lines for binary.
    static func chunkLines(_ bytes: [UInt8], ending: LineEnding) -> [String] {
        guard !bytes.isEmpty else { return [ending == .none ? "" : "\\c"] }
        guard PayloadText.readableText(bytes) != nil else { return hexLines(bytes) }
        var lines: [String] = []
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let hasNewline = end < bytes.count
            let line = Array(bytes[start..<(hasNewline ? end + 1 : end)])
            start = hasNewline ? end + 1 : end
            lines.append(textLine(line, ending: ending))
        }
        return lines
    }

    /// One line of text, escaped so the reader gives back exactly `line`.
    static func textLine(_ line: [UInt8], ending: LineEnding) -> String {
        var content = line[...]
        var suffix = ""
        if ending != .none, line.count >= ending.bytes.count, line.suffix(ending.bytes.count).elementsEqual(ending.bytes) {
            content = line.dropLast(ending.bytes.count)
        } else if ending != .none, line.last != 0x0A {
            suffix = "\\c"
        }
        // A line that ends in an escaped \n needs no \c: the reader adds nothing after it.
        var text = escape(Array(content))
        if text.hasSuffix("/") { text = String(text.dropLast()) + "\\/" }
        return text + suffix
    }

    /// Escapes what the reader would take for something else: control bytes, `\`, `*`, a `/`
    /// that could end a regular expression, and at the start a `+` delay, a `<` directive.
    static func escape(_ bytes: [UInt8]) -> String {
        var text = ""
        let decoded = String(decoding: bytes, as: UTF8.self)
        for (position, scalar) in decoded.unicodeScalars.enumerated() {
            switch scalar {
            case "\r": text += "\\r"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\\": text += "\\\\"
            case "*": text += "\\*"
            case "+" where position == 0: text += "\\+"
            case "<" where position == 0: text += "\\<"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    text += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        // Trailing blanks survive editors that trim lines.
        if text.hasSuffix(" ") {
            text = String(text.dropLast()) + "\\x20"
        }
        return text
    }

    static func hexLines(_ bytes: [UInt8]) -> [String] {
        stride(from: 0, to: bytes.count, by: hexBytesPerLine).map { start in
            let slice = bytes[start..<min(start + hexBytesPerLine, bytes.count)]
            var groups: [String] = []
            var index = slice.startIndex
            while index < slice.endIndex {
                let pair = slice[index..<min(index + 2, slice.endIndex)]
                groups.append(pair.map { String($0, radix: 16).leftPadded(to: 2) }.joined())
                index += 2
            }
            return "<hex " + groups.joined(separator: " ") + ">"
        }
    }

    /// The ending most of the session's text lines have, so the print is quiet; a session
    /// whose lines mostly end in LF gets `eol=lf`.
    static func ending(for session: Session, proto: WireProtocol) -> LineEnding {
        let standard = LineEnding.standard(for: proto)
        guard standard != .none else { return .none }
        var crlf = 0, lf = 0
        for event in session.events {
            guard case .data(_, let bytes) = event.kind, PayloadText.readableText(bytes) != nil else { continue }
            var previous: UInt8 = 0
            for byte in bytes {
                if byte == 0x0A { if previous == 0x0D { crlf += 1 } else { lf += 1 } }
                previous = byte
            }
        }
        return lf > crlf ? .lf : .crlf
    }

    // MARK: - Numbers and fields

    static func micros(_ nanoseconds: Int64) -> Int64 {
        nanoseconds >= 0 ? (nanoseconds + 500) / 1000 : -((-nanoseconds + 500) / 1000)
    }

    /// Microseconds as seconds, trailing zeros dropped: `1`, `0.7`, `0.000123`.
    static func seconds(micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let whole = magnitude / 1_000_000
        var fraction = String(magnitude % 1_000_000).leftPadded(to: 6)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return sign + String(whole) + (fraction.isEmpty ? "" : "." + fraction)
    }

    static func seconds(nanoseconds: Int64) -> String {
        let magnitude = nanoseconds.magnitude
        var fraction = String(magnitude % 1_000_000_000).leftPadded(to: 9)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return String(magnitude / 1_000_000_000) + (fraction.isEmpty ? "" : "." + fraction)
    }

    static func side(_ direction: Direction) -> String {
        direction == .clientToServer ? "C" : "S"
    }

    /// A field value: bare when it has no blank, quote or backslash, quoted otherwise.
    static func field(_ value: String) -> String {
        value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0 == ">" }) ? quoted(value) : value
    }

    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
