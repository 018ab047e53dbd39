/// Why a packet was not handed to the TCP reassembler. The import summary counts each.
public enum SkipReason: Hashable, Sendable, CustomStringConvertible, Comparable {
    case unsupportedLinkType(String)
    case notIP(etherType: UInt16)
    case truncatedLinkHeader
    case truncatedIPHeader
    case malformedIPHeader
    case notTCP(ipProtocol: UInt8)
    case laterFragment
    case truncatedTCPHeader
    case malformedTCPHeader

    public var description: String {
        switch self {
        case .unsupportedLinkType(let name): return "link type \(name)"
        case .notIP(let etherType): return "not IP (ethertype 0x\(String(etherType, radix: 16, uppercase: false).leftPadded(4)))"
        case .truncatedLinkHeader: return "link header cut short"
        case .truncatedIPHeader: return "IP header cut short"
        case .malformedIPHeader: return "malformed IP header"
        case .notTCP(let number): return "not TCP (\(Self.protocolName(number)))"
        case .laterFragment: return "IP fragment after the first"
        case .truncatedTCPHeader: return "TCP header cut short"
        case .malformedTCPHeader: return "malformed TCP header"
        }
    }

    public static func < (lhs: SkipReason, rhs: SkipReason) -> Bool { lhs.description < rhs.description }

    static func protocolName(_ number: UInt8) -> String {
        switch number {
        case 1: return "ICMP"
        case 2: return "IGMP"
        case 17: return "UDP"
        case 47: return "GRE"
        case 50: return "ESP"
        case 58: return "ICMPv6"
        case 132: return "SCTP"
        default: return "IP protocol \(number)"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
