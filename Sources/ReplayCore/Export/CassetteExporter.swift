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
/// (session start + event offset). The cassette is read twice, streaming: a first pass learns
/// each session's connect failure (the SYN at open time is answered according to it) and how far
/// the file's order lags behind time order ("lateness"); the second pass synthesizes packets in
/// file order and writes each once no event still to come can be earlier. A recorded cassette is
/// nearly in time order, so only packets of a short window are held; a file written session by
/// session is still exported correctly, holding more.
public enum CassetteExporter {
    /// Exports the cassette at `cassettePath` to a new pcap file at `pcapPath`.
    public static func export(cassettePath: String, pcapPath: String, logger: Logger) throws(ExportError) -> ExportSummary {
        let survey = try Survey(path: cassettePath)
        logger.debug("surveyed cassette", metadata: ["sessions": "\(survey.sessionCount)", "lateness-ns": "\(survey.lateness)"])
        let writer = try PcapFileWriter(path: pcapPath, linkType: .ethernet)
        do {
            var warnings = try write(cassettePath, survey: survey, to: writer)
            try writer.finish()
            warnings.insert(contentsOf: survey.warnings, at: 0)
            logger.debug("exported", metadata: ["sessions": "\(survey.sessionCount)", "packets": "\(writer.packetCount)"])
            return ExportSummary(sessions: survey.sessionCount, packets: writer.packetCount, warnings: warnings)
        } catch {
            _ = unlink(pcapPath)
            throw error
        }
    }

    /// What the first pass learns.
    struct Survey {
        var failures: [Int: ConnectFailure] = [:]
        var sessionCount = 0
        /// The most any event's time lies before an event above it in the file, in nanoseconds.
        var lateness: Int64 = 0
        var warnings: [String] = []

        init(path: String) throws(ExportError) {
            do {
                let reader = try CassetteReader(path: path)
                var clocks: [Int: SessionClock] = [:]
                var latest = Int64.min
                while let event = try reader.next() {
                    if case .open(let open) = event.kind {
                        guard clocks[event.session] == nil else {
                            throw CassetteError.malformedLine(path: path, line: reader.lineNumber,
                                                              detail: "session \(event.session) is opened a second time")
                        }
                        clocks[event.session] = SessionClock(start: startTime(of: open, header: reader.header))
                        sessionCount += 1
                    }
                    guard let time = clocks[event.session]?.time(of: event) else {
                        throw CassetteError.malformedLine(path: path, line: reader.lineNumber,
                                                          detail: "event for session \(event.session), which has no \"open\" line before it")
                    }
                    if case .connectFailed(let failure) = event.kind, failures[event.session] == nil {
                        failures[event.session] = failure
                    }
                    latest = max(latest, time)
                    lateness = max(lateness, latest - time)
                }
                warnings = reader.warnings
            } catch let error as CassetteError {
                throw .cassette(error)
            } catch {
                throw .cassette(.cannotOpen(path: path, reason: "\(error)"))
            }
        }
    }

    /// A session's clock: event times never go backwards (the synthesizer does the same).
    struct SessionClock {
        let start: WallClock
        var latestOffset = Int64.min

        mutating func time(of event: SessionEvent) -> Int64 {
            latestOffset = max(latestOffset, event.offset)
            return start.nanosecondsSinceEpoch &+ latestOffset
        }
    }

    private struct Connection {
        var synthesizer: PacketSynthesizer
        let encoder: TCPFrameEncoder
        var clock: SessionClock
    }

    private struct Pending {
        var time: Int64
        var order: Int
        var frame: [UInt8]
    }

    /// Second pass: synthesizes and writes every packet in time order; returns warnings.
    private static func write(_ path: String, survey: Survey, to writer: PcapFileWriter) throws(ExportError) -> [String] {
        var connections: [Int: Connection] = [:]
        var opened: [Int] = []
        var syntheticSessions: [Int] = []
        var pending = MinimumHeap<Pending> { $0.time != $1.time ? $0.time < $1.time : $0.order < $1.order }
        var order = 0
        var latest = Int64.min
        do {
            let reader = try CassetteReader(path: path)
            while let event = try reader.next() {
                if case .open(let open) = event.kind {
                    let start = startTime(of: open, header: reader.header)
                    let (client, server, synthetic) = endpoints(session: event.session, open: open)
                    if synthetic { syntheticSessions.append(event.session) }
                    connections[event.session] = Connection(
                        synthesizer: PacketSynthesizer(session: event.session, start: start,
                                                       connectFailure: survey.failures[event.session]),
                        encoder: TCPFrameEncoder(client: client, server: server),
                        clock: SessionClock(start: start))
                    opened.append(event.session)
                }
                // The survey has checked that every session is opened before its events.
                guard var connection = connections[event.session] else { continue }
                latest = max(latest, connection.clock.time(of: event))
                for segment in connection.synthesizer.handle(event) {
                    pending.insert(Pending(time: segment.time.nanosecondsSinceEpoch, order: order,
                                           frame: connection.encoder.frame(segment)))
                    order += 1
                }
                connections[event.session] = connection
                // Every event still to come is at or after `latest - lateness`, and so are its packets.
                while let first = pending.first, first.time <= latest &- survey.lateness {
                    _ = pending.removeFirst()
                    try writer.write(time: WallClock(nanosecondsSinceEpoch: first.time), packet: first.frame)
                }
            }
        } catch let error as CassetteError {
            throw .cassette(error)
        } catch let error as ExportError {
            throw error
        } catch {
            throw .cassette(.cannotOpen(path: path, reason: "\(error)"))
        }
        while let first = pending.removeFirst() {
            try writer.write(time: WallClock(nanosecondsSinceEpoch: first.time), packet: first.frame)
        }

        var warnings: [String] = []
        if !syntheticSessions.isEmpty {
            let list = syntheticSessions.prefix(10).map(String.init).joined(separator: ", ") + (syntheticSessions.count > 10 ? ", ..." : "")
            warnings.append("\(syntheticSessions.count) session(s) without a numeric client/server address (\(list)) "
                + "are exported as 10.0.0.1 -> 10.0.0.2 with client port 10000 + session number")
        }
        for session in opened {
            guard let synthesizer = connections[session]?.synthesizer else { continue }
            if synthesizer.droppedBytes > 0 {
                warnings.append("session \(session): \(synthesizer.droppedBytes) data bytes after a failed "
                    + "connect or after the session's end cannot be shown on a TCP connection and are not in the capture")
            }
            if synthesizer.reorderedEvents > 0 {
                warnings.append("session \(session): \(synthesizer.reorderedEvents) event(s) are timed before "
                    + "the event above them; they are exported at that earlier event's time")
            }
        }
        return warnings
    }

    /// When the session started: its `start`, or for a hand-written session without one, when
    /// the cassette was created (the capture needs some absolute time).
    static func startTime(of open: SessionOpen, header: CassetteHeader) -> WallClock {
        open.start ?? header.created
    }

    /// The session's endpoints, or synthetic ones when its addresses are not numeric IPs of one family.
    static func endpoints(session: Int, open: SessionOpen) -> (client: TCPEndpoint, server: TCPEndpoint, synthetic: Bool) {
        if let client = TCPEndpoint(cassetteAddress: open.client),
           let server = TCPEndpoint(cassetteAddress: open.server),
           client.isIPv6 == server.isIPv6 {
            return (client, server, false)
        }
        let serverPort = open.server.split(separator: ":").last.flatMap { UInt16($0) } ?? 80
        let client = TCPEndpoint(address: [10, 0, 0, 1], port: UInt16(10000 + session % 55000))
        return (client, TCPEndpoint(address: [10, 0, 0, 2], port: serverPort), true)
    }
}
