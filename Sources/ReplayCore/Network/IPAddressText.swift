#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    /// Whether this is an IPv4 or IPv6 address in text (not a host name): TLS sends no SNI for
    /// an address and checks it against the certificate's IP names instead.
    public var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        let host = hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
