/// Reads the parts of one DNS message (RFC 1035 section 4, without the TCP length prefix) that
/// matching needs: the header, the first question and the EDNS OPT record with its COOKIE
/// option. Names are followed through compression pointers with a bounded number of jumps, so
/// a pointer loop is "malformed", never a hang; every read is bounds-checked.
struct DNSMessageReader {
    /// A question: the name's labels as sent (case kept), type, class, and where it sits.
    struct Question {
        var labels: [[UInt8]]
        var type: Int
        var klass: Int
        /// The question's bytes (name, type, class) when the name is not compressed.
        var range: Range<Int>
    }

    /// The OPT pseudo-record of EDNS (RFC 6891).
    struct OPT {
        /// The 16 flag bits of its TTL field (DO is the top one).
        var flags: Int
        /// Where its options sit.
        var rdata: Range<Int>
    }

    static let headerLength = 12
    static let maxJumps = 64
    static let typeOPT = 41
    static let optionCookie = 10

    let bytes: [UInt8]

    init(_ bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes)
    }

    var id: Int? { WireBytes.uint16(bytes, at: 0) }
    var flags: Int? { WireBytes.uint16(bytes, at: 2) }
    var questionCount: Int { WireBytes.uint16(bytes, at: 4) ?? 0 }
    /// Answer, authority and additional record counts.
    var recordCounts: [Int] { [6, 8, 10].map { WireBytes.uint16(bytes, at: $0) ?? 0 } }

    /// The name at `offset`: its labels and the offset just past it where it sits (past the
    /// first pointer if it is compressed); `nil` if it runs off the end, loops or is too long.
    func name(at offset: Int) -> (labels: [[UInt8]], end: Int)? {
        var labels: [[UInt8]] = []
        var position = offset
        var end: Int?
        var jumps = 0
        var length = 0
        while position < bytes.count {
            let byte = Int(bytes[position])
            switch byte & 0xC0 {
            case 0x00:
                if byte == 0 { return (labels, end ?? position + 1) }
                guard position + 1 + byte <= bytes.count else { return nil }
                length += byte + 1
                guard length <= 255 else { return nil }
                labels.append(Array(bytes[(position + 1)...(position + byte)]))
                position += 1 + byte
            case 0xC0:
                guard let pointer = WireBytes.uint16(bytes, at: position), jumps < Self.maxJumps else { return nil }
                jumps += 1
                if end == nil { end = position + 2 }
                position = pointer & 0x3FFF
            default:
                return nil
            }
        }
        return nil
    }

    /// The first question, if the message has one and it parses.
    var question: Question? {
        guard bytes.count >= Self.headerLength, questionCount > 0,
              let (labels, end) = name(at: Self.headerLength),
              let type = WireBytes.uint16(bytes, at: end), let klass = WireBytes.uint16(bytes, at: end + 2) else { return nil }
        return Question(labels: labels, type: type, klass: klass, range: Self.headerLength..<(end + 4))
    }

    /// The OPT record in the additional section, if any (walking every record before it).
    var opt: OPT? {
        guard bytes.count >= Self.headerLength else { return nil }
        var position = Self.headerLength
        for _ in 0..<questionCount {
            guard let (_, end) = name(at: position) else { return nil }
            position = end + 4
        }
        let counts = recordCounts
        for section in 0..<3 {
            for _ in 0..<counts[section] {
                guard let (_, end) = name(at: position), let type = WireBytes.uint16(bytes, at: end),
                      let length = WireBytes.uint16(bytes, at: end + 8), end + 10 + length <= bytes.count else { return nil }
                if section == 2, type == Self.typeOPT, let flags = WireBytes.uint16(bytes, at: end + 6) {
                    return OPT(flags: flags, rdata: (end + 10)..<(end + 10 + length))
                }
                position = end + 10 + length
            }
        }
        return nil
    }

    /// Where the COOKIE option's data sits (client cookie first, then any server cookie).
    var cookie: Range<Int>? {
        guard let opt else { return nil }
        var position = opt.rdata.lowerBound
        while position + 4 <= opt.rdata.upperBound {
            guard let code = WireBytes.uint16(bytes, at: position), let length = WireBytes.uint16(bytes, at: position + 2),
                  position + 4 + length <= opt.rdata.upperBound else { return nil }
            if code == Self.optionCookie { return (position + 4)..<(position + 4 + length) }
            position += 4 + length
        }
        return nil
    }

    /// A name as dig prints it: lower-cased labels joined by dots, with a final dot;
    /// `.`, `\` and unprintable bytes as `\DDD`.
    static func text(ofName labels: [[UInt8]]) -> String {
        guard !labels.isEmpty else { return "." }
        var text = ""
        for label in labels {
            for byte in label.map(WireBytes.lower) {
                if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "."), byte != UInt8(ascii: "\\") {
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
        }
        return text
    }

    static let typeNames: [Int: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 17: "RP",
        18: "AFSDB", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT", 43: "DS",
        44: "SSHFP", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
        99: "SPF", 251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA",
    ]
    static let classNames: [Int: String] = [1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"]
    static let opcodeNames: [Int: String] = [0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"]

    static func typeName(_ type: Int) -> String { typeNames[type] ?? "TYPE\(type)" }
    static func className(_ klass: Int) -> String { classNames[klass] ?? "CLASS\(klass)" }
}
