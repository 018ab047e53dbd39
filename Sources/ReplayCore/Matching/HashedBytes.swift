/// Bytes as a dictionary key, hashed in one pass over their memory: an array of bytes hashes
/// element by element (a `Hasher` call per byte), which showed in the replay's profile for
/// every client message looked up.
public struct HashedBytes: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
