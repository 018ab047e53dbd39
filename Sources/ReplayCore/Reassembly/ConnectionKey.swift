#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address held in two words, so hashing and comparing cost no allocation.
public struct IPAddress: Hashable, Sendable, Comparable {
    /// The first 8 bytes of an IPv6 address; 0 for IPv4.
    public var high: UInt64
    /// The last 8 bytes of an IPv6 address, or the IPv4 address in the low 32 bits.
    public var low: UInt64
    public var isIPv6: Bool

    public init(high: UInt64, low: UInt64, isIPv6: Bool) {
        self.high = high
        self.low = low
        self.isIPv6 = isIPv6
    }

    /// An IPv4 address from its four bytes in network order, e.g. `IPAddress(ipv4: 127, 0, 0, 1)`.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(high: 0, low: UInt64(a) << 24 | UInt64(b) << 16 | UInt64(c) << 8 | UInt64(d), isIPv6: false)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.isIPv6 ? 1 : 0, lhs.high, lhs.low) < (rhs.isIPv6 ? 1 : 0, rhs.high, rhs.low)
    }

    /// Dotted quad for IPv4; RFC 5952 text (as `inet_ntop` writes it) for IPv6.
    public var text: String {
        if !isIPv6 {
            return "\(low >> 24 & 0xff).\(low >> 16 & 0xff).\(low >> 8 & 0xff).\(low & 0xff)"
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(index)))
            bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(index)))
        }
        var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &output, socklen_t(output.count)) != nil
        }
        guard ok else { return "::" }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One end of a TCP connection.
public struct Endpoint: Hashable, Sendable, Comparable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        lhs.address != rhs.address ? lhs.address < rhs.address : lhs.port < rhs.port
    }

    /// `host:port`, or `[v6]:port` for IPv6, as cassettes write endpoints.
    public var text: String {
        address.isIPv6 ? "[\(address.text)]:\(port)" : "\(address.text):\(port)"
    }
}

/// A TCP 4-tuple without direction: both directions of a connection map to the same key.
public struct ConnectionKey: Hashable, Sendable {
    /// The smaller endpoint.
    public var lower: Endpoint
    /// The larger endpoint.
    public var upper: Endpoint

    public init(_ one: Endpoint, _ other: Endpoint) {
        if one < other {
            lower = one
            upper = other
        } else {
            lower = other
            upper = one
        }
    }

    /// Five words instead of the synthesized ten fields: the table is looked up once per packet.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(lower.address.high)
        hasher.combine(lower.address.low)
        hasher.combine(upper.address.high)
        hasher.combine(upper.address.low)
        hasher.combine(UInt64(lower.port) | UInt64(upper.port) << 16
            | (lower.address.isIPv6 ? 1 << 32 : 0) | (upper.address.isIPv6 ? 1 << 33 : 0))
    }
}
