/// Bytes as a dictionary key, hashed once when made and in one pass over their memory: an
/// array of bytes hashes element by element (a `Hasher` call per byte), which showed in the
/// replay's profile for every client message looked up.
public struct HashedBytes: Hashable, Sendable {
    public let bytes: [UInt8]
    /// The bytes' own hash (unseeded); the dictionary's seeded hasher mixes it in.
    private let digest: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        digest = hasher.finalize()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
    }

    public static func == (lhs: HashedBytes, rhs: HashedBytes) -> Bool {
        lhs.digest == rhs.digest && lhs.bytes == rhs.bytes
    }
}
