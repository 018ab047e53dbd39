import ArgumentParser
import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Replayd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replayd",
        abstract: "Record TCP sessions into cassettes and replay them with their original timing.",
        discussion: """
        A cassette is a JSON Lines file of TCP sessions: every byte each side sent, in the chunks \
        it was read in, with times and how each side closed (FIN, RST or silence). See \
        docs/cassette-format.md.

        EXAMPLES
          # record a client's conversations with a real SMTP server
          replayd record --listen 2525 --upstream mx.example.net:25 -o smtp.cassette
          # read what was recorded
          replayd show smtp.cassette
          # play the server side back to any client, with the original timing
          replayd replay smtp.cassette --listen 2525
          # a capture instead of a proxy
          replayd import ticket-4711.pcapng -o smtp.cassette tcp port 25
        """,
        version: ReplaydVersion.current,
        subcommands: [
            RecordCommand.self, ReplayCommand.self, ShowCommand.self, CatCommand.self,
            ImportCommand.self, CaptureCommand.self, ExportCommand.self, RedactCommand.self,
            ConvertCommand.self, CheckCommand.self, VerifyCommand.self, CertCommand.self,
        ]
    )

    /// Runs the command line, reporting every error in one format, `replayd: error: ...`, with
    /// the exit codes of `ExitStatus` (the argument parser's own would print `Error: ...`).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            report(error)
        }
    }

    private static func report(_ error: any Error) -> Never {
        // Already reported by `failure(_:)`, or --help and --version (printed as the parser does).
        if error is ExitCode || exitCode(for: error) == .success { exit(withError: error) }
        if let status = ExitStatus.known(error) {
            printToStandardError("replayd: error: \(error)")
            Glibc.exit(status.rawValue)
        }
        // The parser's errors: the message, then the usage of the subcommand concerned.
        var text = fullMessage(for: error)
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        printToStandardError("replayd: error: " + text)
        Glibc.exit(ExitStatus.usage.rawValue)
    }
}
