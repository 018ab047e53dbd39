#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A numeric IP address and port, as an exported packet carries it.
public struct TCPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16) {
        self.address = address
        self.port = port
    }

    public var isIPv6: Bool { address.count == 16 }

    /// Parses a cassette address: `1.2.3.4:25` or `[::1]:25`. Host names are not resolved
    /// (an export must not depend on DNS), so they give `nil` like any other unusable text.
    public init?(cassetteAddress text: String) {
        guard let parsed = try? HostPort(parsing: text), let port = UInt16(exactly: parsed.port) else { return nil }
        let host = parsed.host
        // A zone (fe80::1%eth0) means nothing inside a capture file; drop it.
        let bareHost = host.split(separator: "%", maxSplits: 1).first.map(String.init) ?? host
        if let v4 = Self.parse(bareHost, family: AF_INET, size: 4) {
            self.init(address: v4, port: port)
        } else if let v6 = Self.parse(bareHost, family: AF_INET6, size: 16) {
            self.init(address: v6, port: port)
        } else {
            return nil
        }
    }

    private static func parse(_ host: String, family: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: size)
        let result = bytes.withUnsafeMutableBytes { inet_pton(family, host, $0.baseAddress) }
        return result == 1 ? bytes : nil
    }

    public var description: String {
        if isIPv6 {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = address.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
            let host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return "[\(host)]:\(port)"
        }
        return address.map(String.init).joined(separator: ".") + ":\(port)"
    }
}
