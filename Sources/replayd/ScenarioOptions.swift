import ArgumentParser
import ReplayCore

/// `--format cassette|transcript` of the commands that read conversations (replay, show,
/// convert, check, verify): by default the file's content decides.
enum FormatOption {
    static let help = ArgumentHelp("Read the input as this format instead of detecting it from its content: cassette or transcript.",
                                   valueName: "FORMAT")

    static func parse(_ text: String?) throws -> ScenarioFormat? {
        guard let text else { return nil }
        guard let format = ScenarioFormat(rawValue: text.lowercased()) else {
            throw ValidationError("--format must be cassette or transcript, got \(text)")
        }
        return format
    }
}

/// Loads a cassette or a transcript, reporting failures the project's way.
func loadScenario(_ path: String, format: ScenarioFormat?) throws -> ScenarioFile {
    do {
        return try ScenarioFile.load(path: path, format: format)
    } catch {
        throw failure(error)
    }
}
