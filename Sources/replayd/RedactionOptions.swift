import ArgumentParser
import ReplayCore

/// `--no-redact` and `--redact REGEX` of `record`, `import`, `capture` (and `--redact` of
/// `redact`): secrets are replaced before anything is written, unless the user says not to.
struct RedactionOptions: ParsableArguments {
    @Flag(name: .customLong("no-redact"), help: "Keep every byte, passwords and cookies included (by default SMTP/POP3/IMAP/FTP/Redis/PostgreSQL credentials, HTTP Authorization and cookie values are replaced by '*' of the same length).")
    var noRedact = false

    @Option(name: .customLong("redact"), help: ArgumentHelp("Also replace every match of this regular expression (ICU syntax) in a line of either direction; repeatable. Rule name user:N.", valueName: "REGEX"))
    var patterns: [String] = []

    func validate() throws {
        if noRedact, !patterns.isEmpty { throw ValidationError("--no-redact and --redact cannot be used together") }
        _ = try rules()
    }

    /// The user's expressions, compiled; one that does not compile is a usage error naming it.
    func rules() throws -> UserRedactionRules {
        do {
            return try UserRedactionRules(patterns: patterns)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The redactor to put after the tagger, or nil with `--no-redact`.
    func redactor() throws -> Redactor? {
        noRedact ? nil : Redactor(user: try rules())
    }
}
