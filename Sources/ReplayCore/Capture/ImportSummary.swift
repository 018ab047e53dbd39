/// What an import did, for the summary printed on stderr and for tests.
public struct ImportSummary: Sendable {
    /// The capture's link type, by libpcap's name.
    public var linkTypeName = ""
    /// Packets libpcap handed over (after the filter).
    public var packetsRead = 0
    /// Packets decoded as TCP and given to the reassembler.
    public var tcpPackets = 0
    /// Packets not decoded, by reason.
    public var skipped: [SkipReason: Int] = [:]
    /// Counts from the reassembler.
    public var reassembly = ReassemblyStatistics()
    /// Things the user should know (a truncated file, differing retransmissions, TLS sessions).
    public var warnings: [String] = []
    /// Sessions seen to be TLS (their data is ciphertext), by number.
    public var tlsSessions: [Int: TLSSessionSpotter.Kind] = [:]
    /// The line about them, when there are any.
    public var tlsLine: String?

    public init() {}

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    /// The lines printed at the end of `replayd import`.
    public var lines: [String] {
        var lines = [
            "packets read: \(packetsRead) (\(linkTypeName)), TCP: \(tcpPackets), skipped: \(skippedTotal)",
            "TCP connections: \(reassembly.sessions), sessions written: \(reassembly.sessions)",
            "bytes client→server: \(reassembly.bytesClientToServer), server→client: \(reassembly.bytesServerToClient)",
            "retransmissions: \(reassembly.retransmissions), out-of-order: \(reassembly.outOfOrder), "
                + "gaps: \(reassembly.gaps) (\(reassembly.gapBytes) bytes missing), differing overlaps: \(reassembly.overlapsDiffering)",
        ]
        for (reason, count) in skipped.sorted(by: { $0.key < $1.key }) {
            lines.append("skipped \(count): \(reason)")
        }
        if let tlsLine { lines.append(tlsLine) }
        return lines
    }
}
