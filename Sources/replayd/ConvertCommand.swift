import ArgumentParser
import Foundation
import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd convert IN -o OUT`: a cassette to a transcript, or a transcript to a cassette.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Turn a cassette into an editable transcript, or a transcript into a cassette.",
        discussion: """
        The transcript is the text that `replayd show --transcript` prints and that a person writes \
        by hand (docs/transcript-format.md): S: and C: lines, +DELAY prefixes, <FIN>, <RST>, hex for \
        binary chunks, * and /regex/ patterns. Converting is exact both ways: the same bytes in the \
        same chunks, the same endings and markers, times to the microsecond.

        The direction follows the input's format (detected from its content, or --format); --to \
        overrides it. The output is written with mode 0600 and appears only when complete.

        EXAMPLES
          replayd convert fixtures/smtp-rcpt-450.cassette -o smtp.txt
          replayd convert smtp.txt -o smtp.cassette
          replayd convert fixtures/scenarios/smtp-450-on-rcpt.txt -o - --to cassette
        """
    )

    @Argument(help: "The cassette or transcript to read.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The file to write ('-': standard output).", valueName: "FILE"))
    var output: String

    @Option(help: ArgumentHelp("Write this format: cassette or transcript (default: the other one than the input's).", valueName: "FORMAT"))
    var to: String?

    @Option(help: FormatOption.help)
    var format: String?

    func validate() throws {
        _ = try FormatOption.parse(format)
        if let to { _ = try FormatOption.parse(to) }
    }

    func run() throws {
        let loaded = try loadScenario(input, format: try FormatOption.parse(format))
        for warning in loaded.cassette.warnings { printToStandardError("replayd: warning: \(input): \(warning)") }
        let target = try to.flatMap(FormatOption.parse) ?? (loaded.format == .cassette ? .transcript : .cassette)
        if output != "-", CassetteRedaction.isSameFile(input, output) {
            throw failure(CommandError("the output \(output) is the input; write to another file (the input is never changed)", status: .usage))
        }
        var bytes: [UInt8]
        switch target {
        case .transcript:
            bytes = Array(TranscriptWriter().text(for: loaded.cassette).utf8)
        case .cassette:
            var header = loaded.cassette.header
            header.version = CassetteHeader.currentVersion
            header.tool = "replayd \(ReplaydVersion.current)"
            let hasPatterns = loaded.cassette.sessions.contains { $0.events.contains { if case .pattern = $0.kind { true } else { false } } }
            if hasPatterns, !header.requires.contains("match") { header.requires.append("match") }
            let encoder = CassetteEncoder()
            bytes = encoder.encode(header)
            for session in loaded.cassette.sessions {
                for event in session.events { encoder.encode(event, into: &bytes) }
            }
        }
        do {
            if output == "-" {
                FileHandle.standardOutput.write(Data(bytes))
            } else {
                try Self.writeAtomically(bytes, to: output)
            }
        } catch let error as CommandError {
            throw failure(error)
        } catch {
            throw failure(CommandError("\(output): cannot write: \(error.localizedDescription)"))
        }
        let count = loaded.cassette.sessions.count
        if output != "-" {
            printToStandardError("\(output): \(count) session\(count == 1 ? "" : "s") written as a \(target.rawValue)")
        }
    }

    /// Writes beside the target with mode 0600, then renames: no partial file is ever left as
    /// if complete, and a transcript of a recording is as private as the recording.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let partial = path + ".partial"
        let created = FileManager.default.createFile(atPath: partial, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        guard created else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial]) }
        guard rename(partial, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandError("\(path): cannot write: \(reason)")
        }
    }
}
