/// The three-digit code that starts an SMTP (or FTP) reply.
struct SMTPReplyCode: Sendable, Hashable {
    let value: Int

    /// The code of `reply`'s first line; `nil` when it does not start with three digits.
    init?(_ reply: [UInt8]) {
        guard reply.count >= 3 else { return nil }
        var value = 0
        for byte in reply[..<3] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        self.value = value
    }
}
