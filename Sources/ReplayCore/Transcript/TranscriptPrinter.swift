/// Renders sessions as a transcript a person reads like a telnet log of an SMTP test:
/// a heading per session, then one line per chunk with its time, `C:` or `S:`, the text with
/// control bytes escaped, or a hex dump for binary chunks, then how each side ended.
public struct TranscriptPrinter: Sendable {
    /// Show every data chunk as a hex dump, text or not.
    public var alwaysHex: Bool

    public init(alwaysHex: Bool = false) {
        self.alwaysHex = alwaysHex
    }

    /// The transcript of one session, as lines without trailing newlines.
    public func lines(for session: Session) -> [String] {
        var heading = "session \(session.id)  \(session.open.client) -> \(session.open.server)"
        if let proto = session.open.proto { heading += "  \(proto.rawValue)" }
        heading += session.open.start.map { "  started \($0.iso8601)" } ?? "  (no start time)"
        var lines = [heading]
        let gaps = session.serverGaps
        if !gaps.isEmpty {
            let missing = gaps.reduce(0) { $0 + $1.bytes }
            let first = gaps[0]
            lines.append("  INCOMPLETE: \(missing) bytes of the server's stream are missing (\(gaps.count) gap\(gaps.count == 1 ? "" : "s"), "
                + "the first at +\(Self.seconds(first.offset)) after byte \(first.atByte)); replay serves it only with --allow-gaps")
        }
        var totals: [Direction: Int] = [.clientToServer: 0, .serverToClient: 0]
        for event in session.events {
            let time = "  +" + Self.seconds(event.offset)
            let indent = String(repeating: " ", count: time.count)
            switch event.kind {
            case .open:
                continue
            case .data(let direction, let bytes):
                totals[direction, default: 0] += bytes.count
                let side = Self.label(direction)
                let body = alwaysHex || PayloadText.readableText(bytes) == nil
                    ? HexDump.lines(bytes)
                    : Self.textLines(bytes)
                for (index, text) in body.enumerated() {
                    lines.append("\(index == 0 ? time : indent) \(side) \(text)")
                }
                if body.isEmpty { lines.append("\(time) \(side) (empty chunk)") }
            case .close(let direction, let how):
                lines.append("\(time) \(Self.label(direction)) <\(how.rawValue.uppercased())>")
            case .reset(let by):
                lines.append("\(time) \(Self.label(by)) <RST>")
            case .redacted(let redaction):
                lines.append("\(time) \(Self.label(redaction.direction)) <REDACTED \(redaction.length) bytes at byte \(redaction.offset) by \(redaction.rule)>")
            case .pattern(let mark):
                lines.append("\(time) \(Self.label(mark.direction)) <PATTERN \(mark.source)> (the \(mark.length) bytes before stand for it)")
            case .tls(let marker):
                let facts = [marker.version, marker.cipher, marker.sni.map { "sni \($0)" }, marker.alpn.map { "alpn \($0)" }].compactMap { $0 }
                let said = facts.isEmpty ? "" : " (\(facts.joined(separator: ", ")))"
                if let failure = marker.failure {
                    lines.append("\(time) !! TLS handshake failed on the \(marker.leg?.rawValue ?? "unknown") leg\(said): \(failure)")
                } else {
                    lines.append("\(time) -- TLS began\(said); decrypted plaintext from here on")
                }
            case .fault(let fault):
                let detail = fault.detail.map { ": \($0)" } ?? ""
                lines.append("\(time) !! replayd injected a fault (\(fault.action)) by rule \(fault.rule)\(detail)")
            case .connectFailed(let failure):
                lines.append("\(time) !! upstream connect failed (\(failure.reason.rawValue)) after \(Self.seconds(failure.elapsed))s: \(failure.message)")
            case .gap(let direction, let count):
                lines.append("\(time) \(Self.label(direction)) <GAP: \(count) bytes missing from the capture>")
            case .end:
                continue
            }
        }
        let client = session.closing(.clientToServer).map { $0.rawValue.uppercased() } ?? "silent"
        let server = session.closing(.serverToClient).map { $0.rawValue.uppercased() } ?? "silent"
        let sent = totals[.clientToServer] ?? 0, received = totals[.serverToClient] ?? 0
        lines.append("  ended: client \(client), server \(server); \(sent) bytes from client, \(received) bytes from server")
        return lines
    }

    private static func label(_ direction: Direction) -> String {
        direction == .clientToServer ? "C:" : "S:"
    }

    /// Seconds with six decimals, the precision the transcript needs.
    static func seconds(_ nanoseconds: Int64) -> String {
        let micros = (nanoseconds + 500) / 1000
        let whole = micros / 1_000_000
        let fraction = String(micros % 1_000_000)
        return "\(whole)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// One line per line of text, each ending with its escaped line terminator.
    static func textLines(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        var current = ""
        var scalars = String(decoding: bytes, as: UTF8.self).unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "\r": current += "\\r"
            case "\t": current += "\\t"
            case "\n":
                current += "\\n"
                lines.append(current)
                current = ""
            case "\\": current += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    current += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
                } else {
                    current.unicodeScalars.append(scalar)
                }
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
