/// Verify's verdicts as a person reads them: one line per matching session, a diff block per
/// differing one (the step, the client message that preceded, the recorded and the live reply
/// side by side, or as `-`/`+` lines when they are too wide), then a summary line.
public struct VerifyReportText: Sendable {
    /// Whether sessions are named with their file (several cassettes given).
    public var namesFiles: Bool
    /// Two columns are used while both fit in this many characters each.
    public static let columnWidth = 38

    public init(namesFiles: Bool = false) {
        self.namesFiles = namesFiles
    }

    /// The lines for one session.
    public func lines(for verdict: SessionVerdict) -> [String] {
        var name = "session " + (namesFiles ? verdict.session.description : "\(verdict.session.session)")
        if let label = verdict.label { name += " (\(label))" }
        guard let difference = verdict.difference else {
            var line = "\(name): ok (\(verdict.matchedSteps) step\(verdict.matchedSteps == 1 ? "" : "s")"
            if let ending = verdict.liveEnding { line += ", ended with \(ending.text) as recorded" }
            return [line + ")"]
        }
        var lines: [String]
        if let step = difference.step {
            let kind = difference.kind == RecordedExchange.finKey.kind ? "the client's FIN" : difference.kind ?? "?"
            let what = step == 0 ? "the opening (before the client spoke)" : "step \(step) (\(kind))"
            lines = ["\(name): DIFFERENT at \(what): \(difference.detail)"]
            if let sent = difference.sent { lines.append("  client sent: \(Escaped.text(sent, limit: 200))") }
        } else {
            lines = ["\(name): DIFFERENT at the end: \(difference.detail)"]
        }
        let recorded = difference.recordedPatterns.isEmpty ? Self.textLines(difference.recorded) : difference.recordedPatterns
        lines += Self.sideBySide(recorded: recorded, live: Self.textLines(difference.live))
        return lines
    }

    /// The summary line after all sessions.
    public func summary(_ verdicts: [SessionVerdict]) -> String {
        let different = verdicts.filter { !$0.matched }.count
        let total = verdicts.count
        return "\(total) session\(total == 1 ? "" : "s") verified: \(total - different) ok, \(different) different"
    }

    /// Recorded and live lines in two columns, or `- recorded` / `+ live` blocks when wide.
    static func sideBySide(recorded: [String], live: [String]) -> [String] {
        let recorded = recorded.isEmpty ? ["(nothing)"] : recorded
        let live = live.isEmpty ? ["(nothing)"] : live
        let width = columnWidth
        if (recorded + live).allSatisfy({ $0.count <= width }) {
            func padded(_ text: String) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            var lines = ["  " + padded("recorded") + " | live"]
            for index in 0..<max(recorded.count, live.count) {
                let left = index < recorded.count ? recorded[index] : ""
                let right = index < live.count ? live[index] : ""
                lines.append("  " + padded(left) + " | " + right)
            }
            return lines
        }
        return recorded.map { "  - recorded: \($0)" } + live.map { "  + live:     \($0)" }
    }

    /// A reply cut after each `\n`, each line escaped as the transcript printer does.
    static func textLines(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(Escaped.text(Array(bytes[start...index]), limit: 200))
            start = index + 1
            if lines.count == 40 { break }
        }
        if start < bytes.count, lines.count < 40 { lines.append(Escaped.text(Array(bytes[start...]), limit: 200)) }
        if lines.count == 40, start < bytes.count { lines.append("... (\(bytes.count - start) more bytes)") }
        return lines
    }
}
