/// Finds the IP header inside a captured frame, for the link types replayd reads.
public struct LinkLayerDecoder: Sendable {
    /// Where the network layer starts, or why there is none to decode.
    public enum Result: Equatable {
        case ipv4(offset: Int)
        case ipv6(offset: Int)
        case skip(SkipReason)
    }

    private enum Kind {
        case ethernet
        case linuxCooked
        case linuxCookedV2
        case rawIP
        case rawIPv4
        case rawIPv6
        /// BSD loopback: 4-byte address family in the capturing host's byte order (NULL) or network order (LOOP).
        case loopback
    }

    private let kind: Kind?
    public let linkType: Int32
    public let linkTypeName: String

    /// Link types (DLT values as `pcap_datalink` reports them) this decoder reads.
    public static func isSupported(_ linkType: Int32) -> Bool { kind(of: linkType) != nil }

    public init(linkType: Int32, name: String? = nil) {
        self.linkType = linkType
        self.kind = Self.kind(of: linkType)
        self.linkTypeName = name ?? "DLT \(linkType)"
    }

    private static func kind(of linkType: Int32) -> Kind? {
        switch linkType {
        case 1: return .ethernet                 // DLT_EN10MB
        case 113: return .linuxCooked            // DLT_LINUX_SLL
        case 276: return .linuxCookedV2          // DLT_LINUX_SLL2
        case 12, 14, 101: return .rawIP          // DLT_RAW (12 on most systems, 14 on OpenBSD), LINKTYPE_RAW
        case 228: return .rawIPv4                // DLT_IPV4
        case 229: return .rawIPv6                // DLT_IPV6
        case 0, 108: return .loopback            // DLT_NULL, DLT_LOOP
        default: return nil
        }
    }

    /// Decodes the link header of one frame.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result {
        guard let kind else { return .skip(.unsupportedLinkType(linkTypeName)) }
        switch kind {
        case .ethernet:
            guard let type = frame.uint16(at: 12) else { return .skip(.truncatedLinkHeader) }
            return Self.etherType(type, at: 14, in: frame)
        case .linuxCooked:
            guard let type = frame.uint16(at: 14) else { return .skip(.truncatedLinkHeader) }
            return Self.etherType(type, at: 16, in: frame)
        case .linuxCookedV2:
            guard frame.count >= 20, let type = frame.uint16(at: 0) else { return .skip(.truncatedLinkHeader) }
            return Self.etherType(type, at: 20, in: frame)
        case .rawIP:
            guard let first = frame.byte(at: 0) else { return .skip(.truncatedIPHeader) }
            switch first >> 4 {
            case 4: return .ipv4(offset: 0)
            case 6: return .ipv6(offset: 0)
            default: return .skip(.malformedIPHeader)
            }
        case .rawIPv4:
            return .ipv4(offset: 0)
        case .rawIPv6:
            return .ipv6(offset: 0)
        case .loopback:
            guard let word = frame.uint32(at: 0) else { return .skip(.truncatedLinkHeader) }
            // The family is in the writer's byte order (NULL) or network order (LOOP): accept either.
            for family in [word, word.byteSwapped] {
                switch family {
                case 2: return .ipv4(offset: 4)
                case 10, 24, 28, 30: return .ipv6(offset: 4)
                default: continue
                }
            }
            return .skip(.notIP(etherType: UInt16(truncatingIfNeeded: word.byteSwapped)))
        }
    }

    /// Follows 802.1Q / 802.1ad / QinQ tags to the IP header.
    private static func etherType(_ first: UInt16, at start: Int, in frame: UnsafeRawBufferPointer) -> Result {
        var type = first
        var offset = start
        var tags = 0
        while type == 0x8100 || type == 0x88a8 || type == 0x9100 {
            tags += 1
            guard tags <= 8, let inner = frame.uint16(at: offset + 2) else { return .skip(.truncatedLinkHeader) }
            type = inner
            offset += 4
        }
        switch type {
        case 0x0800: return .ipv4(offset: offset)
        case 0x86dd: return .ipv6(offset: offset)
        default: return .skip(.notIP(etherType: type))
        }
    }
}
