import ArgumentParser
import ReplayCore

/// `--session N` or `--session FILE:N`: which recorded session to serve alone.
struct SessionSelector {
    var file: String?
    var session: Int

    init(parsing text: String, cassettes: [String]) throws {
        if let number = Int(text), number >= 1 {
            guard cassettes.count == 1 else {
                throw ValidationError("--session \(text): with several cassettes, say which one: FILE:N, e.g. \(cassettes.first ?? "a.cassette"):\(number)")
            }
            file = nil
            session = number
            return
        }
        guard let colon = text.lastIndex(of: ":"), let number = Int(text[text.index(after: colon)...]), number >= 1 else {
            throw ValidationError("--session \(text): expected a session number N (from 1) or FILE:N")
        }
        let name = String(text[..<colon])
        guard cassettes.contains(name) else {
            throw ValidationError("--session \(text): \(name) is not one of the cassettes given (\(cassettes.joined(separator: ", ")))")
        }
        file = name
        session = number
    }

    func matches(_ ref: SessionRef) -> Bool {
        ref.session == session && (file == nil || ref.file == file)
    }
}
