/// Why a cassette could not be exported.
public enum ExportError: Error, Equatable, CustomStringConvertible {
    case cassette(CassetteError)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cassette(let error): return error.description
        case .cannotWrite(let path, let reason): return "\(path): cannot write the capture: \(reason)"
        }
    }
}
