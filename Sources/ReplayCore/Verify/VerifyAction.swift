/// What the verify machine asks its driver to do.
public enum VerifyAction: Sendable, Equatable {
    /// Write these bytes to the server.
    case send([UInt8])
    /// Start TLS as the client now (implicit TLS at the start, or after the server's yes to
    /// STARTTLS); what is sent after this goes over TLS.
    case startTLS
    /// Half-close the client's side (FIN), as the recorded client did.
    case halfClose
    /// Call `timerFired` at this time (nanoseconds of the driver's clock); replaces any
    /// wakeup asked for before.
    case wait(until: Int64)
    /// The session is decided: close the connection and report the verdict.
    case finish(SessionVerdict)
}
