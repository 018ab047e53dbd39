/// How the server side of a connection ended, as verify compares it.
public enum VerifyEnding: String, Sendable, Equatable, Codable {
    /// An orderly close (FIN).
    case fin
    /// A reset (RST).
    case rst
    /// Neither: no byte and no close for the silence window.
    case silent

    /// The words of a diff: `FIN`, `RST`, `silence`.
    public var text: String {
        switch self {
        case .fin: return "FIN"
        case .rst: return "RST"
        case .silent: return "silence"
        }
    }
}
