/// What the recording proxy does with server bytes when a `--fault` rule fires on them
/// (`LiveFaultPlan.serverBytes`), in order.
public enum LiveFaultStep: Sendable, Equatable {
    /// Forward these server bytes to the client, `delay` nanoseconds later than they would go.
    case forward([UInt8], delay: Int64)
    /// Send the client these bytes in the server's place, `delay` nanoseconds later; they are
    /// recorded as what the server side sent, since that is what the client got.
    case answer([UInt8], delay: Int64)
    /// A fault that leaves the connection open (`drop`, `delay`, `reply`, `slow`, ...): recorded
    /// as replayd's own event, where it happened.
    case mark(InjectedFault)
    /// From here on, server writes go out at most `rate` bytes per second, or in pieces of at
    /// most `slice` bytes (nil: unchanged).
    case shape(rate: Int?, slice: Int?)
    /// End both legs, RST or FIN, after what the client is still owed.
    case end(InjectedFault, reset: Bool)
    /// Forward nothing more from the server (`stall`, and `truncate` after its half).
    case stall
}
