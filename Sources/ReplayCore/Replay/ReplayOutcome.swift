/// How one replayed connection ended, for the per-connection log line.
public enum ReplayOutcome: Sendable, Equatable, CustomStringConvertible {
    /// The server's FIN was sent and the client closed its side.
    case serverFINClientClosed
    /// The server's FIN was sent and the client did not close within the hold time.
    case serverFINHoldExpired
    /// The recorded RST was sent.
    case serverReset
    /// The client was closed as the recorded failed upstream connect closed it.
    case connectFailure(ConnectFailure)
    /// The server had nothing more to send and the client closed.
    case clientClosedWhileSilent
    /// The server had nothing more to send and the hold time passed.
    case holdExpired
    /// The client closed while the recording still waited for `missing` more client bytes.
    case clientClosedWhileWaiting(missing: Int)
    /// The client reset the connection (or it failed) after `stepsDone` of `steps` steps.
    case clientReset(stepsDone: Int, steps: Int)
    /// The server was shutting down.
    case stopped
    /// A client message fitted nothing recorded and `--on-mismatch` said to close or reset.
    case endedOnMismatch(MismatchPolicy)
    /// A fault rule refused the connection at accept (`refuse`).
    case refusedByFault
    /// An `at=` fault rule ended the connection (`reset` or `close`).
    case endedByFault(String)

    public var description: String {
        switch self {
        case .serverFINClientClosed: return "server FIN as recorded, then client closed"
        case .serverFINHoldExpired: return "server FIN as recorded, client did not close before --hold expired"
        case .serverReset: return "server RST as recorded"
        case .connectFailure(let failure): return "closed as recorded: upstream connect failed (\(failure.reason.rawValue))"
        case .clientClosedWhileSilent: return "server silent as recorded, client closed"
        case .holdExpired: return "server silent as recorded, --hold expired"
        case .clientClosedWhileWaiting(let missing):
            return "client closed while the recording still expected \(missing) more client byte\(missing == 1 ? "" : "s")"
        case .clientReset(let done, let steps): return "client reset or lost the connection after \(done) of \(steps) server steps"
        case .stopped: return "server stopped"
        case .refusedByFault: return "reset at accept by an injected fault (refuse)"
        case .endedByFault(let action): return "\(action == "reset" ? "reset" : "closed") by an injected fault at its time (at=)"
        case .endedOnMismatch(let policy): return "\(policy == .reset ? "reset" : "closed") after a mismatch (--on-mismatch \(policy.rawValue))"
        }
    }
}
