#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

extension Channel {
    /// Aborts the connection so that the peer sees RST, not FIN: SO_LINGER {1, 0}, then close.
    /// A channel that cannot set socket options (not a socket) is closed in order instead.
    func closeWithReset() {
        guard let options = self as? SocketOptionProvider else {
            close(promise: nil)
            return
        }
        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            self.close(promise: nil)
        }
    }
}
