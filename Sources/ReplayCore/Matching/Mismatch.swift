/// A client message nothing recorded fits, with what the nearest recording had: it explains
/// itself in one line a person can act on.
public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The recording never saw a message of this kind at this point.
        case unknownKind
        /// The recorded conversation ended; the client sent more.
        case beyondRecording
        /// A message of the recorded kind, but not equal after masks (`--match exact`).
        case notExact
    }

    /// The connection number (from 1, in accept order).
    public var connection: Int
    /// The client message's number in the connection (from 1).
    public var step: Int
    public var reason: Reason
    /// What the client sent.
    public var received: [UInt8]
    /// The nearest recorded message, if any, and the session it is from.
    public var nearest: [UInt8]?
    public var nearestSession: SessionRef?

    public init(connection: Int, step: Int, reason: Reason, received: [UInt8], nearest: [UInt8]?, nearestSession: SessionRef?) {
        self.connection = connection
        self.step = step
        self.reason = reason
        self.received = received
        self.nearest = nearest
        self.nearestSession = nearestSession
    }

    /// The first column (from 1) where the message and the nearest recording differ.
    public var firstDifferingColumn: Int? {
        guard let nearest else { return nil }
        let a = Array(LineSplitter.trimmingLineEnding(received))
        let b = Array(LineSplitter.trimmingLineEnding(nearest))
        for index in 0..<min(a.count, b.count) where a[index] != b[index] { return index + 1 }
        return a.count == b.count ? nil : min(a.count, b.count) + 1
    }

    public var description: String {
        var line = "mismatch: connection \(connection), client message \(step): "
        switch reason {
        case .unknownKind: line += "nothing recorded fits "
        case .beyondRecording: line += "the recording has no more client messages, got "
        case .notExact: line += "no recorded message equals "
        }
        line += "\"\(Escaped.text(received))\""
        if let nearest {
            line += "; nearest recording"
            if let nearestSession { line += " (\(nearestSession))" }
            line += " had \"\(Escaped.text(nearest))\""
            if let column = firstDifferingColumn { line += ", first difference at column \(column)" }
        }
        return line
    }
}

/// Bytes as one printable line for logs: control bytes escaped, long messages cut.
public enum Escaped {
    public static func text(_ bytes: [UInt8], limit: Int = 160) -> String {
        var result = ""
        for byte in bytes.prefix(limit) {
            switch byte {
            case UInt8(ascii: "\r"): result += "\\r"
            case UInt8(ascii: "\n"): result += "\\n"
            case UInt8(ascii: "\t"): result += "\\t"
            case UInt8(ascii: "\\"): result += "\\\\"
            case UInt8(ascii: "\""): result += "\\\""
            case 0x20..<0x7F: result.unicodeScalars.append(Unicode.Scalar(byte))
            default: result += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        if bytes.count > limit { result += "... (\(bytes.count) bytes)" }
        return result
    }
}
