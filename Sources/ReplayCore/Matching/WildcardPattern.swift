/// A recorded message some of whose bytes are unknown (a capture gap, a redacted secret):
/// those ranges match any run of bytes, the rest must be equal.
public enum WildcardPattern {
    /// Whether `live` matches `recorded`, where `wildcards` (sorted, non-overlapping ranges of
    /// `recorded`) stand for any bytes, any number of them.
    public static func matches(recorded: [UInt8], wildcards: [Range<Int>], live: [UInt8]) -> Bool {
        // Literal segments between wildcards, matched greedily left to right: the first and
        // last are anchored, the middle ones found in order.
        var segments: [ArraySlice<UInt8>] = []
        var position = 0
        for wildcard in wildcards.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            let lower = min(max(wildcard.lowerBound, position), recorded.count)
            segments.append(recorded[position..<lower])
            position = min(max(wildcard.upperBound, lower), recorded.count)
        }
        segments.append(recorded[position...])
        guard segments.count > 1 else { return recorded == live }
        guard let first = segments.first, let last = segments.last, live.count >= first.count + last.count,
              live.starts(with: first), live.suffix(last.count).elementsEqual(last) else { return false }
        var cursor = first.count
        let end = live.count - last.count
        for segment in segments.dropFirst().dropLast() where !segment.isEmpty {
            guard let found = find(segment, in: live, from: cursor, before: end) else { return false }
            cursor = found + segment.count
        }
        return true
    }

    private static func find(_ needle: ArraySlice<UInt8>, in haystack: [UInt8], from start: Int, before end: Int) -> Int? {
        guard needle.count <= end - start else { return nil }
        var index = start
        while index + needle.count <= end {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
