#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Maps the error of a failed upstream connection attempt to the reason a cassette records.
public enum UpstreamConnectFailure {
    /// The cassette's view of `error`, which ended an attempt that took `elapsed` nanoseconds.
    public static func classify(_ error: any Error, elapsed: Int64) -> ConnectFailure {
        ConnectFailure(reason: reason(for: error), elapsed: elapsed, message: message(for: error))
    }

    static func reason(for error: any Error) -> ConnectFailureReason {
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return .timeout
        }
        if let ioError = error as? IOError {
            return reason(errno: ioError.errnoCode)
        }
        if let connectionError = error as? NIOConnectionError {
            // A host name was resolved into several addresses; the first failure speaks for all.
            if let first = connectionError.connectionErrors.first { return reason(for: first.error) }
        }
        return .other
    }

    static func reason(errno code: Int32) -> ConnectFailureReason {
        switch code {
        case ECONNREFUSED: return .refused
        case ETIMEDOUT: return .timeout
        case ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL: return .unreachable
        default: return .other
        }
    }

    static func message(for error: any Error) -> String {
        if let channelError = error as? ChannelError, case .connectTimeout(let amount) = channelError {
            return "no answer within \(Double(amount.nanoseconds) / 1e9) s"
        }
        if let ioError = error as? IOError {
            return String(cString: strerror(ioError.errnoCode))
        }
        return String(describing: error)
    }
}
