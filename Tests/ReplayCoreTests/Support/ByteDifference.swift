/// The first index where two byte arrays differ (the shorter one's length when one is a
/// prefix of the other), or nil when they are equal: for failure messages that must not
/// print a megabyte.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    for index in 0..<min(a.count, b.count) where a[index] != b[index] { return index }
    return a.count == b.count ? nil : min(a.count, b.count)
}
