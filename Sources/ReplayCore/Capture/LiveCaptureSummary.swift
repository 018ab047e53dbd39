/// What a live capture did, for the line `replayd capture` prints when it stops.
public struct LiveCaptureSummary: Sendable {
    /// Why the capture stopped.
    public enum StopReason: String, Sendable {
        case stopRequested = "stopped"
        case durationElapsed = "duration elapsed"
        case sessionCountReached = "session count reached"
    }

    public var interface = ""
    public var stopReason = StopReason.stopRequested
    /// Packets libpcap handed over (after the filter).
    public var packetsRead = 0
    /// Packets decoded as TCP and given to the reassembler.
    public var tcpPackets = 0
    /// Packets not decoded, by reason.
    public var skipped: [SkipReason: Int] = [:]
    /// Counts from the reassembler.
    public var reassembly = ReassemblyStatistics()
    /// Sessions written with their `end`.
    public var sessionsWritten = 0
    /// Sessions still open when the capture stopped (written too, ended at their last packet).
    public var sessionsOpenAtStop = 0
    /// Times a session was written out early to keep memory bounded.
    public var earlyWrites = 0
    /// libpcap's counts at the stop, nil where the platform keeps none.
    public var pcap: LiveCapture.Statistics?
    /// Things the user should know (differing retransmissions, libpcap warnings).
    public var warnings: [String] = []

    public init() {}

    /// The one summary line.
    public var line: String {
        var parts = [
            "captured \(packetsRead) packet\(packetsRead == 1 ? "" : "s") on \(interface) (TCP: \(tcpPackets), skipped: \(skipped.values.reduce(0, +)))",
            "\(sessionsWritten) session\(sessionsWritten == 1 ? "" : "s") written (\(sessionsOpenAtStop) still open at the stop)",
            "bytes client→server: \(reassembly.bytesClientToServer), server→client: \(reassembly.bytesServerToClient)",
            "gaps: \(reassembly.gaps)",
        ]
        if let pcap {
            parts.append("dropped: \(pcap.dropped) by the kernel, \(pcap.interfaceDropped) by the interface")
        } else {
            parts.append("dropped: unknown")
        }
        return parts.joined(separator: "; ") + " (\(stopReason.rawValue))"
    }
}
