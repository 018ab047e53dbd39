import Logging
import ReplayCore

/// Sessions that lost server bytes (an `s2c` gap: the recorder fell behind, or the capture
/// missed them). Replaying one sends a stream with a hole in it, so `replay` refuses unless told.
struct IncompleteSessions {
    struct Entry {
        var file: String
        var session: Session
    }

    var entries: [Entry]

    init(_ sessions: [(file: String, session: Session)]) {
        entries = sessions.filter { !$0.session.serverGaps.isEmpty }.map { Entry(file: $0.file, session: $0.session) }
    }

    /// Where one session's stream is broken, e.g. `smtp.cassette session 3: 4000 bytes missing at +0.120000 after byte 812`.
    static func describe(_ entry: Entry) -> String {
        let breaks = entry.session.serverGaps.map { "\($0.bytes) bytes missing at +\(seconds($0.offset)) after byte \($0.atByte)" }
        return "\(entry.file) session \(entry.session.id): \(breaks.joined(separator: "; "))"
    }

    /// The refusal, naming up to three sessions.
    var refusal: CommandError {
        let named = entries.prefix(3).map(Self.describe).joined(separator: "; ")
        let more = entries.count > 3 ? " (and \(entries.count - 3) more)" : ""
        return CommandError("\(entries.count) session\(entries.count == 1 ? "" : "s") lost server bytes and cannot be replayed whole: \(named)\(more); "
            + "use --allow-gaps to serve them anyway (the gaps are skipped), or --session to leave them out", status: .badInput)
    }

    /// With `--allow-gaps`: one warning per session, saying where its stream is broken.
    func warn(_ logger: Logger) {
        for entry in entries {
            logger.warning("serving an incomplete session (--allow-gaps): \(Self.describe(entry))")
        }
    }

    private static func seconds(_ nanoseconds: Int64) -> String {
        let micro = nanoseconds / 1000
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
