/// The SMTP commands whose replies change how a connection is framed, told apart from the
/// first bytes of a line without building a String (this runs on every command of every
/// replayed connection). Case does not matter; anything else is `other`.
enum SMTPVerb: Sendable, Equatable {
    case data, bdat, lhlo, ehlo, helo, mail, rset, rcpt, other

    /// The verb of `line`: its first word, when that is one of the four-letter commands above.
    init(_ line: some Collection<UInt8>) {
        var packed: UInt32 = 0
        var length = 0
        for byte in line {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { break }
            length += 1
            guard length <= 4 else { self = .other; return }
            let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
            packed = packed << 8 | UInt32(upper)
        }
        guard length == 4 else { self = .other; return }
        // The four letters as one number, first letter highest (`DATA` is 0x44_41_54_41).
        switch packed {
        case 0x44415441 /* DATA */: self = .data
        case 0x42444154 /* BDAT */: self = .bdat
        case 0x4C484C4F /* LHLO */: self = .lhlo
        case 0x45484C4F /* EHLO */: self = .ehlo
        case 0x48454C4F /* HELO */: self = .helo
        case 0x4D41494C /* MAIL */: self = .mail
        case 0x52534554 /* RSET */: self = .rset
        case 0x52435054 /* RCPT */: self = .rcpt
        default: self = .other
        }
    }
}
