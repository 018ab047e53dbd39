import ArgumentParser
import ReplayCore

/// `replayd check FILE...`: says whether cassettes and transcripts are valid, and where not.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate cassettes and transcripts, pointing at the line and column of any error.",
        discussion: """
        Reads each file as replay and verify would (a cassette or a transcript, detected by \
        content or given with --format) and prints one line per file: what it holds, or the first \
        error as FILE:LINE:COLUMN: what was wrong and what was expected there. Notes say what replay \
        or verify will make of it (S: patterns are for verify only; a session whose server side has \
        no <FIN> or <RST> goes silent). Exit 0 when every file is valid, 65 otherwise.

        EXAMPLES
          replayd check fixtures/scenarios/smtp-450-on-rcpt.txt
          replayd check fixtures/smtp-rcpt-450.cassette my-scenario.txt
        """
    )

    @Argument(help: "The cassettes and transcripts to check.")
    var files: [String]

    @Option(help: FormatOption.help)
    var format: String?

    func validate() throws {
        _ = try FormatOption.parse(format)
    }

    func run() throws {
        let format = try FormatOption.parse(format)
        var failed = false
        for path in files {
            do {
                let loaded = try ScenarioFile.load(path: path, format: format)
                print(Self.summary(of: loaded, path: path))
                for note in Self.notes(for: loaded) { print("  note: \(note)") }
                for warning in loaded.cassette.warnings { print("  warning: \(warning)") }
            } catch {
                printToStandardError("replayd: error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitStatus.badInput.exitCode }
    }

    static func summary(of loaded: ScenarioFile, path: String) -> String {
        let sessions = loaded.cassette.sessions
        var protocols: [String] = []
        var clientPatterns = 0, serverPatterns = 0, chunks = 0
        for session in sessions {
            let proto = (session.open.proto ?? RecordedConversation.detect(session)).rawValue
            if !protocols.contains(proto) { protocols.append(proto) }
            for event in session.events {
                switch event.kind {
                case .data: chunks += 1
                case .pattern(let mark): if mark.direction == .clientToServer { clientPatterns += 1 } else { serverPatterns += 1 }
                default: continue
                }
            }
        }
        var text = "\(path): ok, a \(loaded.format.rawValue) with \(sessions.count) session\(sessions.count == 1 ? "" : "s")"
        if !protocols.isEmpty { text += " (\(protocols.joined(separator: ", ")))" }
        text += ", \(chunks) chunk\(chunks == 1 ? "" : "s")"
        if clientPatterns + serverPatterns > 0 {
            text += ", \(clientPatterns) client and \(serverPatterns) server patterns"
        }
        return text
    }

    /// What replay and verify will make of the file.
    static func notes(for loaded: ScenarioFile) -> [String] {
        var notes: [String] = []
        for pattern in loaded.serverPatterns {
            let place = pattern.line.map { "line \($0)" } ?? "session \(pattern.session)"
            notes.append("\(place): S: \(pattern.source) is a pattern: verify compares with it; replay refuses it (it cannot send a pattern)")
        }
        for session in loaded.cassette.sessions {
            if session.closing(.serverToClient) == nil, session.reset == nil, session.connectFailure == nil {
                notes.append("session \(session.id)\(session.open.label.map { " (\($0))" } ?? ""): the server side has no <FIN> or <RST>: replay goes silent after its last line and holds the connection")
            }
        }
        return notes
    }
}
