/// Why a capture could not be read. Every case names the file; libpcap's own words are quoted.
public enum CaptureError: Error, Equatable, CustomStringConvertible {
    /// libpcap could not open the file (missing, not a capture, corrupt header).
    case cannotOpen(path: String, reason: String)
    /// The filter did not compile.
    case badFilter(filter: String, reason: String)
    /// libpcap failed while reading, after `packetsRead` packets.
    case readFailed(path: String, packetsRead: Int, reason: String)
    /// The whole file uses a link type the importer does not decode.
    case unsupportedLinkType(path: String, linkType: Int32, name: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot read capture: \(reason)"
        case .badFilter(let filter, let reason):
            return "bad capture filter \"\(filter)\": \(reason)"
        case .readFailed(let path, let packetsRead, let reason):
            return "\(path): reading failed after \(packetsRead) packet\(packetsRead == 1 ? "" : "s"): \(reason)"
        case .unsupportedLinkType(let path, let linkType, let name):
            return "\(path): link type \(name) (\(linkType)) is not supported; replayd reads Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback captures"
        }
    }
}
