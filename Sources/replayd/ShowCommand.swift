import ArgumentParser
import ReplayCore

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a cassette as a transcript a person can read.",
        discussion: """
        Each session is shown with its endpoints, then one line per recorded chunk: the time since \
        the session started, C: (client) or S: (server), and the text with control bytes escaped \
        (\\r \\n \\t \\xNN), or a hex dump for binary chunks. The last line says how each side ended \
        (FIN, RST, or silent).

        EXAMPLES
          replayd show fixtures/smtp-rcpt-450.cassette
          replayd show capture.cassette --session 3 --hex
        """
    )

    @Argument(help: "The cassette file to show.")
    var cassette: String

    @Option(parsing: .unconditional, help: "Show only this session (numbered from 1 in order of start).")
    var session: Int?

    @Flag(help: "Show every chunk as a hex dump, even when it is text.")
    var hex = false

    func run() throws {
        do {
            let loaded = try Cassette.load(path: cassette)
            for warning in loaded.warnings { printToStandardError("replayd: warning: \(warning)") }
            let sessions = try session.map { [try loaded.session($0, path: cassette)] } ?? loaded.sessions
            let printer = TranscriptPrinter(alwaysHex: hex)
            var first = true
            for session in sessions {
                if !first { print("") }
                first = false
                for line in printer.lines(for: session) { print(line) }
            }
            if sessions.isEmpty { print("(no sessions)") }
        } catch {
            throw failure(error)
        }
    }
}
