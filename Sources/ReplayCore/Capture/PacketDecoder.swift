/// Turns one captured frame into a `TCPSegment`, or says why it is not one.
public struct PacketDecoder: Sendable {
    public enum Result {
        case segment(TCPSegment)
        case skip(SkipReason)
    }

    public let link: LinkLayerDecoder

    public init(linkType: Int32, linkTypeName: String? = nil) {
        link = LinkLayerDecoder(linkType: linkType, name: linkTypeName)
    }

    /// Decodes `frame`. The payload is copied out, so `frame` may be reused afterwards.
    public func decode(_ frame: UnsafeRawBufferPointer, timestamp: Int64) -> Result {
        let ip: IPDecoder.Result
        switch link.decode(frame) {
        case .ipv4(let offset): ip = IPDecoder.decodeIPv4(frame, at: offset)
        case .ipv6(let offset): ip = IPDecoder.decodeIPv6(frame, at: offset)
        case .skip(let reason): return .skip(reason)
        }
        guard case .packet(let packet) = ip else {
            if case .skip(let reason) = ip { return .skip(reason) }
            return .skip(.malformedIPHeader)
        }
        guard packet.transportProtocol == 6 else { return .skip(.notTCP(ipProtocol: packet.transportProtocol)) }
        return Self.decodeTCP(frame, packet: packet, timestamp: timestamp)
    }

    static func decodeTCP(_ frame: UnsafeRawBufferPointer, packet: IPDecoder.Packet, timestamp: Int64) -> Result {
        let start = packet.transportOffset
        // Ports, sequence, acknowledgment, header length and flags are the first 14 bytes: enough to
        // track the connection even when the snap length cut the options (as in smtp-snaplen68).
        guard let sourcePort = frame.uint16(at: start), let destinationPort = frame.uint16(at: start + 2),
              let sequence = frame.uint32(at: start + 4), let acknowledgment = frame.uint32(at: start + 8),
              let offsetByte = frame.byte(at: start + 12), let flagByte = frame.byte(at: start + 13)
        else { return .skip(.truncatedTCPHeader) }
        let headerLength = Int(offsetByte >> 4) * 4
        guard headerLength >= 20, headerLength <= packet.transportWireLength else { return .skip(.malformedTCPHeader) }
        let wireLength = packet.transportWireLength - headerLength
        let payloadStart = start + headerLength
        // What the frame holds of the payload: never past the IP length (Ethernet padding), never past the capture.
        let captured = max(0, min(wireLength, frame.count - payloadStart))
        let payload: [UInt8] = captured > 0
            ? Array(UnsafeRawBufferPointer(rebasing: frame[payloadStart..<(payloadStart + captured)]))
            : []
        return .segment(TCPSegment(
            timestamp: WallClock(nanosecondsSinceEpoch: timestamp),
            source: Endpoint(address: packet.source, port: sourcePort),
            destination: Endpoint(address: packet.destination, port: destinationPort),
            sequence: sequence, acknowledgment: acknowledgment,
            flags: TCPFlags(rawValue: flagByte & 0x1f),
            payload: payload, wireLength: wireLength))
    }
}
