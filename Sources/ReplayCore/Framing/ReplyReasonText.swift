/// The `reason` of a protocol error reply (`502 5.5.1 replayd: <reason>`), made safe to put on
/// the wire: one line of printable ASCII, so it can never end the reply early, inject a
/// second reply line or break a client's parser.
enum ReplyReasonText {
    /// `reason` with line breaks and tabs turned into spaces, other non-printable or non-ASCII
    /// characters into `?`, and cut to at most `limit` characters (`...` marks a cut).
    static func oneLine(_ reason: String, limit: Int = 400) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in reason.unicodeScalars {
            switch scalar.value {
            case 0x20...0x7E: scalars.append(scalar)
            case 0x09, 0x0A, 0x0D: scalars.append(" ")
            default: scalars.append("?")
            }
        }
        var text = TextCommand.trimmed(String(scalars))
        if text.unicodeScalars.count > limit {
            text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(max(limit - 3, 0)))) + "..."
        }
        return text.isEmpty ? "no recorded reply fits" : text
    }
}
