/// Reads IPv4 and IPv6 headers (IPv4 options, IPv6 extension headers) down to the transport layer.
public enum IPDecoder {
    /// Where the transport header starts and how long the transport segment was on the wire.
    public struct Packet: Equatable {
        public var source: IPAddress
        public var destination: IPAddress
        public var transportProtocol: UInt8
        /// Offset of the transport header in the frame.
        public var transportOffset: Int
        /// Transport header plus payload length on the wire (from the IP length field), which
        /// excludes Ethernet padding and includes what the snap length cut off.
        public var transportWireLength: Int
    }

    public enum Result: Equatable {
        case packet(Packet)
        case skip(SkipReason)
    }

    public static func decodeIPv4(_ frame: UnsafeRawBufferPointer, at offset: Int) -> Result {
        guard let versionAndLength = frame.byte(at: offset),
              let totalLength = frame.uint16(at: offset + 2),
              let fragment = frame.uint16(at: offset + 6),
              let proto = frame.byte(at: offset + 9),
              let source = frame.uint32(at: offset + 12),
              let destination = frame.uint32(at: offset + 16)
        else { return .skip(.truncatedIPHeader) }
        guard versionAndLength >> 4 == 4 else { return .skip(.malformedIPHeader) }
        let headerLength = Int(versionAndLength & 0x0f) * 4
        guard headerLength >= 20 else { return .skip(.malformedIPHeader) }
        guard offset + headerLength <= frame.count else { return .skip(.truncatedIPHeader) }
        if fragment & 0x1fff != 0 { return .skip(.laterFragment) }
        var wire = Int(totalLength) - headerLength
        if totalLength == 0 {
            // Segmentation offload on the capturing host leaves the length 0: trust the capture.
            wire = frame.count - offset - headerLength
        }
        guard wire >= 0 else { return .skip(.malformedIPHeader) }
        return .packet(Packet(
            source: IPAddress(high: 0, low: UInt64(source), isIPv6: false),
            destination: IPAddress(high: 0, low: UInt64(destination), isIPv6: false),
            transportProtocol: proto, transportOffset: offset + headerLength, transportWireLength: wire))
    }

    public static func decodeIPv6(_ frame: UnsafeRawBufferPointer, at offset: Int) -> Result {
        guard let first = frame.byte(at: offset),
              let payloadLength = frame.uint16(at: offset + 4),
              let firstNext = frame.byte(at: offset + 6),
              let sourceHigh = frame.uint64(at: offset + 8), let sourceLow = frame.uint64(at: offset + 16),
              let destinationHigh = frame.uint64(at: offset + 24), let destinationLow = frame.uint64(at: offset + 32)
        else { return .skip(.truncatedIPHeader) }
        guard first >> 4 == 6 else { return .skip(.malformedIPHeader) }
        var next = firstNext
        var cursor = offset + 40
        // Jumbograms (length 0) carry their length in hop-by-hop options; trust the capture then.
        var remaining = payloadLength == 0 ? frame.count - cursor : Int(payloadLength)
        var headers = 0
        while true {
            switch next {
            case 0, 43, 60: // hop-by-hop, routing, destination options: (length + 1) * 8 bytes
                guard let nextHeader = frame.byte(at: cursor), let length = frame.byte(at: cursor + 1) else {
                    return .skip(.truncatedIPHeader)
                }
                let size = (Int(length) + 1) * 8
                next = nextHeader
                cursor += size
                remaining -= size
            case 44: // fragment header: 8 bytes; only the first fragment holds the TCP header
                guard let nextHeader = frame.byte(at: cursor), let fragment = frame.uint16(at: cursor + 2) else {
                    return .skip(.truncatedIPHeader)
                }
                if fragment & 0xfff8 != 0 { return .skip(.laterFragment) }
                next = nextHeader
                cursor += 8
                remaining -= 8
            case 51: // authentication header: (length + 2) * 4 bytes
                guard let nextHeader = frame.byte(at: cursor), let length = frame.byte(at: cursor + 1) else {
                    return .skip(.truncatedIPHeader)
                }
                let size = (Int(length) + 2) * 4
                next = nextHeader
                cursor += size
                remaining -= size
            default:
                guard remaining >= 0, cursor <= frame.count else { return .skip(.malformedIPHeader) }
                return .packet(Packet(
                    source: IPAddress(high: sourceHigh, low: sourceLow, isIPv6: true),
                    destination: IPAddress(high: destinationHigh, low: destinationLow, isIPv6: true),
                    transportProtocol: next, transportOffset: cursor, transportWireLength: remaining))
            }
            headers += 1
            if headers > 16 || remaining < 0 { return .skip(.malformedIPHeader) }
        }
    }
}
