/// Masks dates in text-protocol messages: RFC 5322 dates (`Wed, 02 Dec 2026 12:49:48 +0000`,
/// in SMTP banners, headers, swaks's default Subject), asctime dates
/// (`Wed Dec  2 12:49:48 2026`), IMAP date-times (`02-Dec-2026 12:49:48 +0000`) and
/// ISO 8601 timestamps. Each becomes `*`, so two recordings made at different times compare
/// equal.
enum RFC5322DateMask {
    private static let day = "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
    private static let month = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    private static let zone = "(?:[+-]\\d{4}|ut|utc|gmt|z|[ecmp][sd]t|cet|cest|eet|eest|wet|west|bst|ist|jst|kst|aest|aedt)"

    static let patterns: [String] = [
        // RFC 5322 (and RFC 822's two-digit years), the optional `(UTC)` comment included.
        "(?i)\\b(?:\(day),?\\s+)?\\d{1,2}\\s+\(month)\\s+\\d{2,4}\\s+\\d{1,2}:\\d{2}(?::\\d{2})?(?:\\s*\(zone)\\b)?(?:\\s*\\([^()\\r\\n]{0,40}\\))?",
        // asctime / ctime.
        "(?i)\\b\(day)\\s+\(month)\\s+\\d{1,2}\\s+\\d{1,2}:\\d{2}:\\d{2}(?:\\s+\(zone)\\b)?\\s+\\d{4}\\b",
        // IMAP date-time (INTERNALDATE, APPEND).
        "(?i)\\b\\d{1,2}-\(month)-\\d{4}\\s+\\d{2}:\\d{2}:\\d{2}(?:\\s+[+-]\\d{4})?",
        // ISO 8601.
        "\\b\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?",
    ]

    /// The compiled patterns; they are constants, so compiling cannot fail in practice, and
    /// if it did the mask would be a no-op rather than a crash.
    static let masks: MaskSet = (try? MaskSet(patterns: patterns)) ?? .none

    /// Every pattern has a clock time (`12:49`); most messages have none, and looking for one
    /// is far cheaper than running the expressions (this runs on every live DATA body).
    static func apply(_ bytes: [UInt8]) -> [UInt8] {
        containsClockTime(bytes) ? masks.apply(bytes) : bytes
    }

    /// Whether `bytes` hold a digit, `:` and two digits.
    static func containsClockTime(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        var index = 1
        while index + 2 < bytes.count {
            if bytes[index] == UInt8(ascii: ":"), isDigit(bytes[index - 1]), isDigit(bytes[index + 1]), isDigit(bytes[index + 2]) {
                return true
            }
            index += 1
        }
        return false
    }

    static func apply(_ text: String) -> String { masks.apply(text) }
}
