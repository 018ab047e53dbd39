import ArgumentParser
import ReplayCore

/// `replayd redact IN -o OUT`: cleans a cassette recorded before redaction or with `--no-redact`.
struct RedactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redact",
        abstract: "Write a copy of a cassette with its passwords, credentials and cookie values replaced.",
        discussion: """
        The same rules as record, import and capture apply by default (SMTP AUTH, POP3 PASS/APOP, \
        IMAP LOGIN/AUTHENTICATE, FTP PASS, HTTP Authorization/Proxy-Authorization/Cookie/Set-Cookie, \
        Redis AUTH, PostgreSQL password messages), plus --redact expressions. Secret bytes become '*' \
        of the same length and a redacted event names the rule; replay treats them as matching anything. \
        The input is never changed; the output is written with mode 0600 and appears only when complete.

        EXAMPLES
          replayd redact old.cassette -o clean.cassette
          replayd redact old.cassette -o clean.cassette --redact 'X-Api-Key: \\S+'
        """
    )

    @Argument(help: "The cassette to read.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The cassette to write (not the input).", valueName: "CASSETTE"))
    var output: String

    @Option(name: .customLong("redact"), help: ArgumentHelp("Also replace every match of this regular expression (ICU syntax) in a line of either direction; repeatable. Rule name user:N.", valueName: "REGEX"))
    var patterns: [String] = []

    func validate() throws {
        _ = try rules()
    }

    private func rules() throws -> UserRedactionRules {
        do {
            return try UserRedactionRules(patterns: patterns)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        do {
            let summary = try CassetteRedaction.run(input: input, output: output, rules: rules())
            for warning in summary.warnings { printToStandardError("replayd: warning: \(warning)") }
            let byRule = summary.counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            let detail = byRule.isEmpty ? "" : " (\(byRule))"
            print("\(output): \(summary.sessions) sessions, \(summary.total) secrets redacted\(detail)")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw failure(error)
        }
    }
}
