/// What every capture path does with one packet: decode it, count it, and hand its TCP segment
/// to the reassembler. File import and live capture both go through it, so they decode, skip
/// and count alike.
struct PacketIntake {
    let decoder: PacketDecoder
    private(set) var packetsRead = 0
    private(set) var tcpPackets = 0
    /// Packets that carried no usable TCP segment, by why.
    private(set) var skipped: [SkipReason: Int] = [:]

    init(linkType: Int32, linkTypeName: String) {
        decoder = PacketDecoder(linkType: linkType, linkTypeName: linkTypeName)
    }

    /// Decodes `packet` and feeds its segment, if any, to `reassembler`, whose events go to `events`.
    mutating func take(_ packet: CapturedPacket, into reassembler: inout TCPReassembler, events: inout [SessionEvent]) {
        packetsRead += 1
        switch decoder.decode(packet.bytes, timestamp: packet.timestamp) {
        case .segment(let segment):
            tcpPackets += 1
            reassembler.segment(segment, into: &events)
        case .skip(let reason):
            skipped[reason, default: 0] += 1
        }
    }
}
