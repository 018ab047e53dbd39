/// Why a live capture could not start or go on. libpcap's own words are quoted.
public enum LiveCaptureError: Error, Equatable, CustomStringConvertible {
    /// The interface does not exist; `available` lists the ones libpcap knows.
    case noSuchInterface(interface: String, available: [String], reason: String)
    /// Capturing needs privileges the process lacks.
    case permissionDenied(interface: String, reason: String)
    /// Promiscuous mode needs privileges the process lacks.
    case promiscuousPermissionDenied(interface: String, reason: String)
    /// The interface is down.
    case interfaceDown(interface: String, reason: String)
    /// Any other failure of `pcap_activate` or of setting the handle up.
    case cannotActivate(interface: String, reason: String)
    /// The interface's link type is one replayd does not decode.
    case unsupportedLinkType(interface: String, linkType: Int32, name: String)
    /// libpcap failed while reading packets.
    case readFailed(interface: String, packetsRead: Int, reason: String)
    /// A system call around the capture failed.
    case system(call: String, reason: String)

    public var description: String {
        switch self {
        case .noSuchInterface(let interface, let available, let reason):
            let list = available.isEmpty ? "libpcap lists no interfaces" : "interfaces: \(available.joined(separator: ", "))"
            return "cannot capture on \(interface): no such interface (\(list)); libpcap: \(reason)"
        case .permissionDenied(let interface, let reason):
            return "cannot capture on \(interface): permission denied; run replayd as root or grant it CAP_NET_RAW "
                + "(sudo setcap cap_net_raw,cap_net_admin=eip $(command -v replayd)); libpcap: \(reason)"
        case .promiscuousPermissionDenied(let interface, let reason):
            return "cannot capture on \(interface) in promiscuous mode: permission denied; run as root, or leave out --promiscuous; libpcap: \(reason)"
        case .interfaceDown(let interface, let reason):
            return "cannot capture on \(interface): the interface is down (ip link set \(interface) up); libpcap: \(reason)"
        case .cannotActivate(let interface, let reason):
            return "cannot capture on \(interface): \(reason)"
        case .unsupportedLinkType(let interface, let linkType, let name):
            return "cannot capture on \(interface): link type \(name) (\(linkType)) is not supported; replayd reads Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback"
        case .readFailed(let interface, let packetsRead, let reason):
            return "capture on \(interface) failed after \(packetsRead) packet\(packetsRead == 1 ? "" : "s"): \(reason)"
        case .system(let call, let reason):
            return "\(call) failed: \(reason)"
        }
    }
}
