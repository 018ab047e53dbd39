import NIOConcurrencyHelpers

/// Keys of live client messages already worked out, by protocol and bytes, shared by every
/// connection of a replay server. Clients of a replay mostly send the same messages again and
/// again (a test suite, a load generator, a retrying MTA): looking the key up costs a hash of
/// the bytes, where working it out parses the command and runs the masks.
///
/// A key is a pure function of the protocol, the set's masks and the message's bytes, so a
/// cached key is always the one `ProtocolDialect.key(ofClient:masks:)` would give. A message is
/// cached the second time its bytes are seen, so messages that rarely repeat cost a hash, not an
/// entry; those the dialect says never repeat (`ProtocolDialect.keyMayRepeat`: a mail body with
/// its own Message-Id) skip the cache altogether. Bounded: messages up to `maxMessageBytes`, at
/// most `capacity` entries and as many remembered hashes (each table starts again empty when full).
public final class MessageKeyCache: Sendable {
    private struct Entry: Hashable {
        var proto: WireProtocol
        var bytes: [UInt8]
        /// Worked out once per lookup, used by both tables.
        var hash: Int

        init(proto: WireProtocol, bytes: [UInt8]) {
            self.proto = proto
            self.bytes = bytes
            var hasher = Hasher()
            hasher.combine(proto)
            // One pass over the memory, not a hasher call per byte.
            hasher.combine(bytes.count)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
            hash = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.hash == rhs.hash && lhs.proto == rhs.proto && lhs.bytes == rhs.bytes
        }
    }

    private struct Tables {
        var keys: [Entry: MessageKey] = [:]
        /// Hashes of messages seen once and not cached yet.
        var seenOnce: Set<Int> = []
    }

    /// Longer messages (a mail body, an HTTP upload) are keyed each time: they rarely repeat.
    public static let maxMessageBytes = 512
    public static let capacity = 4096

    private let tables = NIOLockedValueBox(Tables())

    public init() {}

    /// The key of `message` under `dialect` and `masks`, from the cache when it was worked out before.
    public func key(of message: FramedMessage, dialect: any ProtocolDialect, masks: MaskSet) -> MessageKey {
        guard message.bytes.count <= Self.maxMessageBytes, message.wildcards.isEmpty, dialect.keyMayRepeat(message) else {
            return dialect.key(ofClient: message, masks: masks)
        }
        let entry = Entry(proto: dialect.wireProtocol, bytes: message.bytes)
        let cached: MessageKey?? = tables.withLockedValue { tables in
            if let key = tables.keys[entry] { return .some(key) }
            // The first time: remember the hash only. The second: work the key out and keep it.
            if tables.seenOnce.count >= Self.capacity { tables.seenOnce.removeAll(keepingCapacity: true) }
            return tables.seenOnce.insert(entry.hash).inserted ? .some(nil) : nil
        }
        switch cached {
        case .some(.some(let key)):
            return key
        case .some(.none):
            return dialect.key(ofClient: message, masks: masks)
        case .none:
            let key = dialect.key(ofClient: message, masks: masks)
            tables.withLockedValue { tables in
                if tables.keys.count >= Self.capacity { tables.keys.removeAll(keepingCapacity: true) }
                tables.keys[entry] = key
                tables.seenOnce.remove(entry.hash)
            }
            return key
        }
    }

    /// Keys held now (for tests).
    public var count: Int { tables.withLockedValue { $0.keys.count } }
}
