/// Turns a header or an event into one cassette line (JSON, ending in `\n`).
///
/// Written by hand rather than through `JSONEncoder` because the schema is fixed, key order
/// matters to a person editing the file, and importing a large capture encodes millions of lines.
public struct CassetteEncoder: Sendable {
    public init() {}

    /// The header line.
    public func encode(_ header: CassetteHeader) -> [UInt8] {
        var buffer = LineBuffer(capacity: 256)
        encode(header, into: &buffer)
        return buffer.withBytes { Array($0) }
    }

    func encode(_ header: CassetteHeader, into line: inout LineBuffer) {
        line.append(#"{"format":"#)
        JSONStringWriter.append(CassetteHeader.formatName, to: &line)
        line.append(#","version":"#)
        line.appendDecimal(header.version)
        line.append(#","tool":"#)
        JSONStringWriter.append(header.tool, to: &line)
        line.append(#","created":"#)
        JSONStringWriter.append(header.created.iso8601, to: &line)
        line.append(#","source":"#)
        JSONStringWriter.append(header.source.rawValue, to: &line)
        if !header.requires.isEmpty { appendStrings("requires", header.requires, to: &line) }
        if !header.masks.isEmpty { appendStrings("masks", header.masks, to: &line) }
        for key in header.details.keys.sorted() {
            guard let value = header.details[key], !CassetteHeader.reservedKeys.contains(key) else { continue }
            line.append(UInt8(ascii: ","))
            JSONStringWriter.append(key, to: &line)
            line.append(UInt8(ascii: ":"))
            JSONStringWriter.append(value, to: &line)
        }
        line.append("}\n")
    }

    /// One event line.
    public func encode(_ event: SessionEvent) -> [UInt8] {
        var line: [UInt8] = []
        encode(event, into: &line)
        return line
    }

    /// Appends one event line to `line`.
    public func encode(_ event: SessionEvent, into line: inout [UInt8]) {
        var buffer = LineBuffer(capacity: 256)
        encode(event, into: &buffer)
        buffer.withBytes { line.append(contentsOf: $0) }
    }

    /// Appends one event line to `line`: the writer's path, with no allocation per event once
    /// the buffer has grown to its working size.
    func encode(_ event: SessionEvent, into line: inout LineBuffer) {
        line.append(#"{"s":"#)
        line.appendDecimal(event.session)
        line.append(#","t":"#)
        appendSeconds(event.offset, to: &line)
        line.append(#","ev":"#)
        switch event.kind {
        case .open(let open):
            line.append(#""open","client":"#)
            JSONStringWriter.append(open.client, to: &line)
            line.append(#","server":"#)
            JSONStringWriter.append(open.server, to: &line)
            if let start = open.start {
                line.append(#","start":"#)
                JSONStringWriter.append(start.iso8601, to: &line)
            }
            if let proto = open.proto {
                line.append(#","proto":"#)
                JSONStringWriter.append(proto.rawValue, to: &line)
            }
            if let label = open.label {
                line.append(#","label":"#)
                JSONStringWriter.append(label, to: &line)
            }
        case .data(let direction, let bytes):
            line.append(#""data","dir":""#)
            appendDirection(direction, to: &line)
            bytes.withUnsafeBytes { raw in
                if PayloadText.isReadable(raw) {
                    line.append(#"","text":"#)
                    JSONStringWriter.append(raw, to: &line)
                } else {
                    line.append(#"","b64":""#)
                    Base64Encoder.append(raw, to: &line)
                    line.append(UInt8(ascii: "\""))
                }
            }
        case .close(let direction, .fin):
            // `how` is optional when read (FIN is the only kind) but written for the reader's eye.
            line.append(#""close","dir":""#)
            appendDirection(direction, to: &line)
            line.append(#"","how":"fin""#)
        case .reset(let by):
            line.append(by == .clientToServer ? #""reset","by":"client""# : #""reset","by":"server""#)
        case .redacted(let redaction):
            line.append(#""redacted","dir":""#)
            appendDirection(redaction.direction, to: &line)
            line.append(#"","at":"#)
            line.appendDecimal(redaction.offset)
            line.append(#","bytes":"#)
            line.appendDecimal(redaction.length)
            line.append(#","rule":"#)
            JSONStringWriter.append(redaction.rule, to: &line)
        case .pattern(let mark):
            line.append(#""match","dir":""#)
            appendDirection(mark.direction, to: &line)
            line.append(#"","at":"#)
            line.appendDecimal(mark.offset)
            line.append(#","bytes":"#)
            line.appendDecimal(mark.length)
            line.append(#","pattern":"#)
            JSONStringWriter.append(mark.source, to: &line)
        case .tls(let marker):
            line.append(#""tls""#)
            appendOptional("version", marker.version, to: &line)
            appendOptional("cipher", marker.cipher, to: &line)
            appendOptional("sni", marker.sni, to: &line)
            appendOptional("alpn", marker.alpn, to: &line)
            appendOptional("failure", marker.failure, to: &line)
            appendOptional("leg", marker.leg?.rawValue, to: &line)
        case .fault(let fault):
            line.append(#""fault","rule":"#)
            JSONStringWriter.append(fault.rule, to: &line)
            line.append(#","action":"#)
            JSONStringWriter.append(fault.action, to: &line)
            appendOptional("detail", fault.detail, to: &line)
        case .connectFailed(let failure):
            line.append(#""connect-failed","reason":"#)
            JSONStringWriter.append(failure.reason.rawValue, to: &line)
            line.append(#","elapsed":"#)
            appendSeconds(failure.elapsed, to: &line)
            line.append(#","message":"#)
            JSONStringWriter.append(failure.message, to: &line)
        case .gap(let direction, let count):
            line.append(#""gap","dir":""#)
            appendDirection(direction, to: &line)
            line.append(#"","bytes":"#)
            line.appendDecimal(count)
        case .end:
            line.append(#""end""#)
        }
        line.append("}\n")
    }

    /// `,"key":"value"` when there is a value.
    private func appendOptional(_ key: StaticString, _ value: String?, to line: inout LineBuffer) {
        guard let value else { return }
        line.append(UInt8(ascii: ","))
        line.append(UInt8(ascii: "\""))
        line.append(key)
        line.append(#"":"#)
        JSONStringWriter.append(value, to: &line)
    }

    /// `,"key":["a","b"]`.
    private func appendStrings(_ key: StaticString, _ values: [String], to line: inout LineBuffer) {
        line.append(#",""#)
        line.append(key)
        line.append(#"":["#)
        for (index, value) in values.enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            JSONStringWriter.append(value, to: &line)
        }
        line.append(UInt8(ascii: "]"))
    }

    @inline(__always)
    private func appendDirection(_ direction: Direction, to line: inout LineBuffer) {
        line.append(direction == .clientToServer ? "c2s" : "s2c")
    }

    /// Seconds with 6 decimals, or 9 when the value has sub-microsecond digits.
    private func appendSeconds(_ nanoseconds: Int64, to line: inout LineBuffer) {
        if nanoseconds < 0 { line.append(UInt8(ascii: "-")) }
        let magnitude = nanoseconds.magnitude
        line.appendDecimal(magnitude / 1_000_000_000)
        line.append(UInt8(ascii: "."))
        let fraction = magnitude % 1_000_000_000
        if fraction % 1000 == 0 {
            line.appendDecimal(fraction / 1000, width: 6)
        } else {
            line.appendDecimal(fraction, width: 9)
        }
    }
}

/// JSON string escaping that keeps every character a person can read as itself.
func appendJSONString(_ string: String, to line: inout [UInt8]) {
    var buffer = LineBuffer(capacity: string.utf8.count * 6 + 2)
    JSONStringWriter.append(string, to: &buffer)
    buffer.withBytes { line.append(contentsOf: $0) }
}

extension CassetteHeader {
    static let reservedKeys: Set<String> = ["format", "version", "tool", "created", "source", "requires", "masks"]
}
