/// Frames TCP segments of one connection as Ethernet + IPv4/IPv6 + TCP, with correct IPv4
/// header and TCP checksums so that Wireshark and tshark accept every packet as sent.
public struct TCPFrameEncoder: Sendable {
    public let client: TCPEndpoint
    public let server: TCPEndpoint
    /// Locally administered addresses, so nobody mistakes them for real hardware.
    static let clientMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]
    static let serverMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02]

    /// Both endpoints must be of the same IP version.
    public init(client: TCPEndpoint, server: TCPEndpoint) {
        precondition(client.isIPv6 == server.isIPv6, "a TCP connection cannot mix IPv4 and IPv6")
        self.client = client
        self.server = server
    }

    /// The Ethernet frame carrying `segment`.
    public func frame(_ segment: OutgoingSegment) -> [UInt8] {
        let fromClient = segment.direction == .clientToServer
        let source = fromClient ? client : server
        let destination = fromClient ? server : client
        let options: [UInt8] = segment.synOptions
            ? [2, 4, 0xff, 0xd7,  // MSS 65495, what loopback announces
               1,                 // NOP
               3, 3, PacketSynthesizer.windowScale]
            : []
        let tcpLength = 20 + options.count + segment.payload.count
        let ipHeaderLength = source.isIPv6 ? 40 : 20
        var frame: [UInt8] = []
        frame.reserveCapacity(14 + ipHeaderLength + tcpLength)

        // Ethernet II
        frame.append(contentsOf: fromClient ? Self.serverMAC : Self.clientMAC)
        frame.append(contentsOf: fromClient ? Self.clientMAC : Self.serverMAC)
        frame.append(contentsOf: source.isIPv6 ? [0x86, 0xdd] : [0x08, 0x00])

        // IP
        let ipStart = frame.count
        if source.isIPv6 {
            frame.append(contentsOf: [0x60, 0, 0, 0])
            appendUInt16(UInt16(tcpLength), to: &frame)
            frame.append(contentsOf: [6, 64])  // next header TCP, hop limit
        } else {
            frame.append(contentsOf: [0x45, 0])
            appendUInt16(UInt16(20 + tcpLength), to: &frame)
            frame.append(contentsOf: [0, 0, 0x40, 0, 64, 6, 0, 0])  // id 0, DF, TTL 64, TCP, checksum later
        }
        frame.append(contentsOf: source.address)
        frame.append(contentsOf: destination.address)
        if !source.isIPv6 {
            let checksum = ~Self.fold(Self.onesComplementSum(frame[ipStart..<(ipStart + 20)], initial: 0))
            frame[ipStart + 10] = UInt8(checksum >> 8)
            frame[ipStart + 11] = UInt8(checksum & 0xff)
        }

        // TCP
        let tcpStart = frame.count
        appendUInt16(source.port, to: &frame)
        appendUInt16(destination.port, to: &frame)
        appendUInt32(segment.sequence, to: &frame)
        appendUInt32(segment.flags.contains(.ack) ? segment.acknowledgment : 0, to: &frame)
        frame.append(UInt8((20 + options.count) / 4) << 4)
        frame.append(segment.flags.rawValue)
        // A SYN's window is never scaled; after it the scaled window means 8 MiB.
        appendUInt16(segment.flags.contains(.rst) ? 0 : PacketSynthesizer.window, to: &frame)
        frame.append(contentsOf: [0, 0, 0, 0])  // checksum later, urgent pointer
        frame.append(contentsOf: options)
        frame.append(contentsOf: segment.payload)

        var pseudo: UInt32 = 6 + UInt32(tcpLength)
        pseudo = Self.onesComplementSum(source.address[...], initial: pseudo)
        pseudo = Self.onesComplementSum(destination.address[...], initial: pseudo)
        let checksum = ~Self.fold(Self.onesComplementSum(frame[tcpStart...], initial: pseudo))
        frame[tcpStart + 16] = UInt8(checksum >> 8)
        frame[tcpStart + 17] = UInt8(checksum & 0xff)
        return frame
    }

    /// The sum of `bytes` as 16-bit big-endian words (RFC 1071) plus `initial`, not yet folded.
    static func onesComplementSum(_ bytes: ArraySlice<UInt8>, initial: UInt32) -> UInt32 {
        var sum = UInt64(initial)
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            let count = buffer.count
            while index + 1 < count {
                sum &+= UInt64(buffer[index]) << 8 | UInt64(buffer[index + 1])
                index += 2
            }
            if index < count { sum &+= UInt64(buffer[index]) << 8 }
        }
        while sum > 0xffff_ffff { sum = (sum & 0xffff_ffff) + (sum >> 32) }
        return UInt32(sum)
    }

    /// Folds the carries of a ones' complement sum back into 16 bits.
    static func fold(_ value: UInt32) -> UInt16 {
        var sum = value
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return UInt16(sum)
    }
}

private func appendUInt16(_ value: UInt16, to bytes: inout [UInt8]) {
    bytes.append(UInt8(value >> 8))
    bytes.append(UInt8(value & 0xff))
}

private func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
    bytes.append(UInt8(value >> 24))
    bytes.append(UInt8((value >> 16) & 0xff))
    bytes.append(UInt8((value >> 8) & 0xff))
    bytes.append(UInt8(value & 0xff))
}
