/// Why a cassette could not be read or written. Every case names the file; line-level
/// problems name the line so the user can open the file at that place.
public enum CassetteError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case empty(path: String)
    case notACassette(path: String, detail: String)
    case unsupportedVersion(path: String, found: Int, supported: [Int])
    case malformedLine(path: String, line: Int, detail: String)
    /// The header's `requires` names an event kind or feature this build does not know.
    case unsupportedFeature(path: String, line: Int, feature: String)
    case noSuchSession(path: String, session: Int, available: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .empty(let path):
            return "\(path): the file is empty; expected a replayd cassette header on line 1"
        case .notACassette(let path, let detail):
            return "\(path): line 1: not a replayd cassette: \(detail)"
        case .unsupportedVersion(let path, let found, let supported):
            let numbers = supported.map(String.init)
            let list = numbers.count <= 1 ? "version \(numbers.first ?? "?")"
                : "versions " + numbers.dropLast().joined(separator: ", ") + " and " + (numbers.last ?? "")
            return "\(path): line 1: cassette format version \(found) is not supported; this replayd reads \(list)"
        case .malformedLine(let path, let line, let detail):
            return "\(path): line \(line): \(detail)"
        case .unsupportedFeature(let path, let line, let feature):
            return "\(path): line \(line): this cassette requires \"\(feature)\", which replayd \(ReplaydVersion.current) does not support"
        case .noSuchSession(let path, let session, let available):
            return "\(path): no session \(session); the cassette has \(available) session\(available == 1 ? "" : "s") (numbered from 1)"
        }
    }
}
