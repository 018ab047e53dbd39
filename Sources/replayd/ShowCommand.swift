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

        --transcript prints the transcript grammar instead (docs/transcript-format.md): delays \
        between events, S|/C| lines continuing a chunk, <FIN>/<RST>, hex for binary chunks; replay, \
        convert, check and verify read it back exactly, and a person can edit it.

        EXAMPLES
          replayd show fixtures/smtp-rcpt-450.cassette
          replayd show capture.cassette --session 3 --hex
          replayd show fixtures/smtp-rcpt-450.cassette --transcript > smtp.txt
        """
    )

    @Argument(help: "The cassette (or transcript) to show.")
    var cassette: String

    @Option(parsing: .unconditional, help: "Show only this session (numbered from 1 in order of start).")
    var session: Int?

    @Flag(help: "Show every chunk as a hex dump, even when it is text.")
    var hex = false

    @Flag(help: "Print the transcript grammar that replay, convert, check and verify read back.")
    var transcript = false

    @Option(help: FormatOption.help)
    var format: String?

    func validate() throws {
        _ = try FormatOption.parse(format)
        if hex && transcript { throw ValidationError("--hex and --transcript do not go together (a transcript shows binary chunks as hex anyway)") }
    }

    func run() throws {
        do {
            let loaded = try ScenarioFile.load(path: cassette, format: try FormatOption.parse(format)).cassette
            for warning in loaded.warnings { printToStandardError("replayd: warning: \(warning)") }
            let sessions = try session.map { [try loaded.session($0, path: cassette)] } ?? loaded.sessions
            if transcript {
                var selected = loaded
                selected.sessions = sessions
                print(TranscriptWriter().text(for: selected), terminator: "")
                return
            }
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
