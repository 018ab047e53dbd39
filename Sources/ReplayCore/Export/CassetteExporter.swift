#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// What an export wrote, and what the user should know about it.
public struct ExportSummary: Sendable, Equatable {
    public var sessions: Int
    public var packets: Int
    /// Things the capture shows differently from the cassette (synthetic addresses, dropped data).
    public var warnings: [String]
}

/// Writes a cassette as a pcap file of synthesized TCP/IP packets, so that it opens in Wireshark.
///
/// Sessions interleave in time, so the packets of all sessions are merged by absolute time
/// (session start + event offset). The cassette is loaded whole (its sessions are needed side
/// by side); packets are produced session by session and written as soon as no earlier one
/// can follow, so the packets themselves are never all in memory.
public enum CassetteExporter {
    /// Exports the cassette at `cassettePath` to a new pcap file at `pcapPath`.
    public static func export(cassettePath: String, pcapPath: String, logger: Logger) throws(ExportError) -> ExportSummary {
        let cassette: Cassette
        do {
            cassette = try Cassette.load(path: cassettePath)
        } catch {
            throw .cassette(error)
        }
        var warnings = cassette.warnings
        let writer = try PcapFileWriter(path: pcapPath, linkType: .ethernet)
        do {
            let synthetic = try write(cassette.sessions, to: writer, logger: logger, warnings: &warnings)
            try writer.finish()
            if !synthetic.isEmpty {
                let list = synthetic.prefix(10).map(String.init).joined(separator: ", ") + (synthetic.count > 10 ? ", ..." : "")
                warnings.insert("\(synthetic.count) session(s) without a numeric client/server address (\(list)) "
                    + "are exported as 10.0.0.1 -> 10.0.0.2 with client port 10000 + session number", at: 0)
            }
            logger.debug("exported", metadata: ["sessions": "\(cassette.sessions.count)", "packets": "\(writer.packetCount)"])
            return ExportSummary(sessions: cassette.sessions.count, packets: writer.packetCount, warnings: warnings)
        } catch {
            _ = unlink(pcapPath)
            throw error
        }
    }

    private struct Cursor {
        var synthesizer: PacketSynthesizer
        let encoder: TCPFrameEncoder
        let session: Session
        var nextEvent = 0
        var latestOffset: Int64 = .min

        /// The time the synthesizer will give the next event (offsets never go backwards).
        var nextTime: Int64? {
            guard nextEvent < session.events.count else { return nil }
            return session.open.start.nanosecondsSinceEpoch &+ max(latestOffset, session.events[nextEvent].offset)
        }
    }

    private struct Pending {
        var time: Int64
        var order: Int
        var frame: [UInt8]
    }

    /// Writes all packets in time order; returns the ids of sessions given synthetic addresses.
    private static func write(_ sessions: [Session], to writer: PcapFileWriter, logger: Logger,
                              warnings: inout [String]) throws(ExportError) -> [Int] {
        var syntheticSessions: [Int] = []
        var cursors: [Cursor] = []
        cursors.reserveCapacity(sessions.count)
        for session in sessions {
            let (client, server, isSynthetic) = endpoints(of: session)
            if isSynthetic { syntheticSessions.append(session.id) }
            cursors.append(Cursor(
                synthesizer: PacketSynthesizer(session: session.id, start: session.open.start, connectFailure: session.connectFailure),
                encoder: TCPFrameEncoder(client: client, server: server),
                session: session))
        }

        var due = MinimumHeap<(time: Int64, index: Int)> { $0.time != $1.time ? $0.time < $1.time : $0.index < $1.index }
        for (index, cursor) in cursors.enumerated() {
            if let time = cursor.nextTime { due.insert((time, index)) }
        }
        var pending = MinimumHeap<Pending> { $0.time != $1.time ? $0.time < $1.time : $0.order < $1.order }
        var order = 0
        while let (time, index) = due.removeFirst() {
            // Nothing produced from here on is earlier than `time`, so what is due by then can go.
            while let first = pending.first, first.time <= time {
                _ = pending.removeFirst()
                try writer.write(time: WallClock(nanosecondsSinceEpoch: first.time), packet: first.frame)
            }
            let event = cursors[index].session.events[cursors[index].nextEvent]
            cursors[index].nextEvent += 1
            cursors[index].latestOffset = max(cursors[index].latestOffset, event.offset)
            for segment in cursors[index].synthesizer.handle(event) {
                pending.insert(Pending(time: segment.time.nanosecondsSinceEpoch, order: order,
                                       frame: cursors[index].encoder.frame(segment)))
                order += 1
            }
            if let next = cursors[index].nextTime { due.insert((next, index)) }
        }
        while let first = pending.removeFirst() {
            try writer.write(time: WallClock(nanosecondsSinceEpoch: first.time), packet: first.frame)
        }

        for cursor in cursors {
            let synthesizer = cursor.synthesizer
            if synthesizer.droppedBytes > 0 {
                warnings.append("session \(synthesizer.session): \(synthesizer.droppedBytes) data bytes after a failed "
                    + "connect or a reset cannot be shown on a TCP connection and are not in the capture")
            }
            if synthesizer.reorderedEvents > 0 {
                warnings.append("session \(synthesizer.session): \(synthesizer.reorderedEvents) event(s) are timed before "
                    + "the event above them; they are exported at that earlier event's time")
            }
        }
        return syntheticSessions
    }

    /// The session's endpoints, or synthetic ones when its addresses are not numeric IPs of one family.
    static func endpoints(of session: Session) -> (client: TCPEndpoint, server: TCPEndpoint, synthetic: Bool) {
        if let client = TCPEndpoint(cassetteAddress: session.open.client),
           let server = TCPEndpoint(cassetteAddress: session.open.server),
           client.isIPv6 == server.isIPv6 {
            return (client, server, false)
        }
        let serverPort = session.open.server.split(separator: ":").last.flatMap { UInt16($0) } ?? 80
        let client = TCPEndpoint(address: [10, 0, 0, 1], port: UInt16(10000 + session.id % 55000))
        return (client, TCPEndpoint(address: [10, 0, 0, 2], port: serverPort), true)
    }
}
