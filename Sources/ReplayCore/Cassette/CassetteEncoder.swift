import Foundation

/// Turns a header or an event into one cassette line (JSON, ending in `\n`).
///
/// Written by hand rather than through `JSONEncoder` because the schema is fixed, key order
/// matters to a person editing the file, and importing a large capture encodes millions of lines.
public struct CassetteEncoder: Sendable {
    public init() {}

    /// The header line.
    public func encode(_ header: CassetteHeader) -> [UInt8] {
        var line: [UInt8] = []
        line.append(contentsOf: #"{"format":"#.utf8)
        appendJSONString(CassetteHeader.formatName, to: &line)
        line.append(contentsOf: #","version":\#(header.version),"tool":"#.utf8)
        appendJSONString(header.tool, to: &line)
        line.append(contentsOf: #","created":"#.utf8)
        appendJSONString(header.created.iso8601, to: &line)
        line.append(contentsOf: #","source":"#.utf8)
        appendJSONString(header.source.rawValue, to: &line)
        for key in header.details.keys.sorted() {
            guard let value = header.details[key], !CassetteHeader.reservedKeys.contains(key) else { continue }
            line.append(UInt8(ascii: ","))
            appendJSONString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            appendJSONString(value, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        return line
    }

    /// One event line.
    public func encode(_ event: SessionEvent) -> [UInt8] {
        var line: [UInt8] = []
        encode(event, into: &line)
        return line
    }

    /// Appends one event line to `line`, avoiding an allocation per event on hot paths.
    public func encode(_ event: SessionEvent, into line: inout [UInt8]) {
        line.append(contentsOf: #"{"s":\#(event.session),"t":"#.utf8)
        appendSeconds(event.offset, to: &line)
        line.append(contentsOf: #","ev":"#.utf8)
        switch event.kind {
        case .open(let open):
            line.append(contentsOf: #""open","client":"#.utf8)
            appendJSONString(open.client, to: &line)
            line.append(contentsOf: #","server":"#.utf8)
            appendJSONString(open.server, to: &line)
            line.append(contentsOf: #","start":"#.utf8)
            appendJSONString(open.start.iso8601, to: &line)
        case .data(let direction, let bytes):
            line.append(contentsOf: #""data","dir":"\#(direction.rawValue)","#.utf8)
            if let text = PayloadText.readableText(bytes) {
                line.append(contentsOf: #""text":"#.utf8)
                appendJSONString(text, to: &line)
            } else {
                line.append(contentsOf: #""b64":""#.utf8)
                line.append(contentsOf: Data(bytes).base64EncodedString().utf8)
                line.append(UInt8(ascii: "\""))
            }
        case .close(let direction, let how):
            line.append(contentsOf: #""close","dir":"\#(direction.rawValue)","how":"\#(how.rawValue)""#.utf8)
        case .connectFailed(let failure):
            line.append(contentsOf: #""connect-failed","reason":"\#(failure.reason.rawValue)","elapsed":"#.utf8)
            appendSeconds(failure.elapsed, to: &line)
            line.append(contentsOf: #","message":"#.utf8)
            appendJSONString(failure.message, to: &line)
        case .gap(let direction, let count):
            line.append(contentsOf: #""gap","dir":"\#(direction.rawValue)","bytes":\#(count)"#.utf8)
        case .end:
            line.append(contentsOf: #""end""#.utf8)
        }
        line.append(contentsOf: "}\n".utf8)
    }

    /// Seconds with 6 decimals, or 9 when the value has sub-microsecond digits.
    private func appendSeconds(_ nanoseconds: Int64, to line: inout [UInt8]) {
        if nanoseconds < 0 { line.append(UInt8(ascii: "-")) }
        let magnitude = nanoseconds.magnitude
        let whole = magnitude / 1_000_000_000
        let fraction = magnitude % 1_000_000_000
        line.append(contentsOf: String(whole).utf8)
        line.append(UInt8(ascii: "."))
        let (digits, width) = fraction % 1000 == 0 ? (fraction / 1000, 6) : (fraction, 9)
        let text = String(digits)
        for _ in text.utf8.count..<width { line.append(UInt8(ascii: "0")) }
        line.append(contentsOf: text.utf8)
    }
}

/// JSON string escaping that keeps every character a person can read as itself.
func appendJSONString(_ string: String, to line: inout [UInt8]) {
    line.append(UInt8(ascii: "\""))
    for byte in string.utf8 {
        switch byte {
        case UInt8(ascii: "\""): line.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): line.append(contentsOf: #"\\"#.utf8)
        case UInt8(ascii: "\n"): line.append(contentsOf: #"\n"#.utf8)
        case UInt8(ascii: "\r"): line.append(contentsOf: #"\r"#.utf8)
        case UInt8(ascii: "\t"): line.append(contentsOf: #"\t"#.utf8)
        case 0..<0x20, 0x7f:
            let hex = Array("0123456789abcdef".utf8)
            line.append(contentsOf: #"\u00"#.utf8)
            line.append(hex[Int(byte >> 4)])
            line.append(hex[Int(byte & 0xf)])
        default: line.append(byte)
        }
    }
    line.append(UInt8(ascii: "\""))
}

extension CassetteHeader {
    static let reservedKeys: Set<String> = ["format", "version", "tool", "created", "source"]
}
