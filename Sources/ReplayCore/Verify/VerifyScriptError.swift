/// Why a recorded session cannot be verified, found before anything is sent.
public enum VerifyScriptError: Error, Equatable, CustomStringConvertible {
    /// A hand-written client message is a pattern (`C: RCPT TO:*`): there are no bytes to send.
    case clientPattern(session: SessionRef, pattern: String)
    /// A client message holds a redacted secret and no value was given for its rule.
    case missingSecret(session: SessionRef, step: Int, kind: String, rule: String)
    /// `--until STEP` names a kind the session never sent.
    case noSuchStep(session: SessionRef, step: String, kinds: [String])
    /// The capture lost bytes of the session: verify cannot send or compare what is unknown.
    case incomplete(session: SessionRef, direction: Direction, bytes: Int)
    /// The recording proxy never reached the server in this session.
    case connectFailed(session: SessionRef)

    public var description: String {
        switch self {
        case .clientPattern(let session, let pattern):
            return "session \(session): the client message \"\(pattern)\" is a pattern, and verify cannot send a pattern; write the client's bytes literally (patterns belong in S: lines)"
        case .missingSecret(let session, let step, let kind, let rule):
            return "session \(session), step \(step) (\(kind)): the client's secret was redacted by rule \(rule) and verify needs it to send this message; "
                + "give it with --secret \(rule)=VALUE or the environment variable \(VerifySecrets.environmentName(rule: rule)) (nothing was sent)"
        case .noSuchStep(let session, let step, let kinds):
            let known = kinds.isEmpty ? "none" : kinds.joined(separator: ", ")
            return "--until \(step): session \(session) has no \(step) step (its steps: \(known))"
        case .incomplete(let session, let direction, let bytes):
            let side = direction == .clientToServer ? "client" : "server"
            return "session \(session) lost \(bytes) \(side) bytes (capture gaps): verify cannot \(direction == .clientToServer ? "send" : "compare") bytes the recording does not have; choose another session with --session"
        case .connectFailed(let session):
            return "session \(session) recorded a failed connect to its server: there is no conversation to verify; choose another session with --session"
        }
    }
}
