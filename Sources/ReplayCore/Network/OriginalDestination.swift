#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The address a connection was sent to before an iptables or nftables `REDIRECT` (or DNAT)
/// rule turned it towards the listener, as netfilter's connection tracking remembers it.
public enum OriginalDestination {
    /// `SO_ORIGINAL_DST` (level `SOL_IP`) and `IP6T_SO_ORIGINAL_DST` (level `SOL_IPV6`) share
    /// the number 80; neither is in the C headers Swift imports.
    static let optionName: SocketOptionName = 80

    /// Reads the original destination of the accepted `channel`, on its event loop. The future
    /// fails when there is none to read: no conntrack entry (`ENOENT`), or not a TCP socket.
    public static func read(from channel: Channel) -> EventLoopFuture<SocketAddress> {
        #if os(Linux)
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let ipv4: EventLoopFuture<SocketAddress> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_IP), name: optionName)
            .flatMapThrowing { (address: sockaddr_in) in try address.socketAddress() }
        guard case .v6(let local) = channel.localAddress, !local.isIPv4Mapped else { return ipv4 }
        // An IPv6 socket: an IPv6 connection, or an IPv4 one on a dual-stack listener.
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_IPV6), name: optionName)
            .flatMapThrowing { (address: sockaddr_in6) in try address.socketAddress() }
        #else
        return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        #endif
    }
}

#if os(Linux)
extension SocketAddress.IPv6Address {
    /// `::ffff:a.b.c.d`: an IPv4 peer of a dual-stack socket.
    var isIPv4Mapped: Bool {
        withUnsafeBytes(of: address.sin6_addr) { bytes in
            bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        }
    }
}

extension sockaddr_in {
    func socketAddress() throws -> SocketAddress {
        var address = sin_addr
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { throw IOError(errnoCode: errno, reason: "inet_ntop") }
        return SocketAddress(self, host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

extension sockaddr_in6 {
    func socketAddress() throws -> SocketAddress {
        var address = sin6_addr
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { throw IOError(errnoCode: errno, reason: "inet_ntop") }
        return SocketAddress(self, host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
#endif
