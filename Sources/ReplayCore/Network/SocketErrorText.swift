#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A socket error in words a user can act on: the system's own message, lower-cased, and for
/// the usual listening failures what to do. NIO's own text names internal functions
/// (`bind(descriptor:ptr:bytes:)`), which says nothing to someone starting a server.
public enum SocketErrorText {
    public static func describe(_ error: any Error) -> String {
        guard let io = error as? IOError else { return String(describing: error) }
        let code = io.errnoCode
        var text = String(cString: strerror(code))
        if let first = text.first { text = first.lowercased() + text.dropFirst() }
        switch code {
        case EADDRINUSE:
            text += " (another program listens on that port: stop it or choose another port)"
        case EACCES:
            text += " (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port from 1024 up)"
        case EADDRNOTAVAIL:
            text += " (no interface of this machine has that address: use 127.0.0.1, 0.0.0.0 or one of its own)"
        default:
            break
        }
        return text
    }
}
