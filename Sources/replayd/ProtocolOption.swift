import ArgumentParser
import ReplayCore

/// `--proto PROTO` of `record`, `import` and `capture`: every session is tagged with this
/// protocol instead of the one detected from its port and first bytes.
enum ProtocolOption {
    static let help = ArgumentHelp(
        "Tag every session with this protocol instead of detecting it (\(names)).", valueName: "PROTO")

    static var names: String { WireProtocol.allCases.map(\.rawValue).joined(separator: ", ") }

    /// The protocol named by `text` (nil when the option was not given); an unknown name is an
    /// error listing the known ones.
    static func parse(_ text: String?) throws -> WireProtocol? {
        guard let text else { return nil }
        guard let proto = WireProtocol(rawValue: text.lowercased()) else {
            throw ValidationError("--proto \"\(text)\" is not a protocol replayd knows; use one of: \(names)")
        }
        return proto
    }
}
