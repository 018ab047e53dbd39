import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Records a live capture into a cassette: packets → `PacketDecoder` → `TCPReassembler` (the
/// same path as `replayd import`) → `ProtocolTagger` → `Redactor` → `CaptureSessionBuffer` →
/// `CassetteWriter`.
///
/// The cassette is written progressively, not atomically: the header at once, then each
/// session when it ends, flushed as complete lines, so a killed recorder leaves every session
/// that had finished. On a stop request, at the deadline or after the requested number of
/// sessions, the open sessions are ended and written too.
public final class CaptureRecorder {
    /// When to stop besides a stop request.
    public struct Limits: Sendable {
        /// Stop after this long.
        public var duration: Duration?
        /// Stop once this many sessions have ended.
        public var sessions: Int?

        public init(duration: Duration? = nil, sessions: Int? = nil) {
            self.duration = duration
            self.sessions = sessions
        }
    }

    /// The longest the loop waits in `poll` before looking at the clock again.
    static let pollInterval: Int32 = 100
    /// Packets read in one go before the loop looks at the stop request again.
    static let batchLimit = 4096
    static let noticeLimit = 20

    public let capture: LiveCapture
    public let outputPath: String
    private let writer: CassetteWriter
    private var reassembler: TCPReassembler
    private var intake: PacketIntake
    private var buffer: CaptureSessionBuffer
    private var tagger: ProtocolTagger
    private var tagged: [SessionEvent] = []
    /// Replaces secrets after the tagger (nil: `--no-redact`).
    private var redactor: Redactor?
    private var redacted: [SessionEvent] = []
    private var summary = LiveCaptureSummary()
    private var produced: [SessionEvent] = []
    private var output: [SessionEvent] = []

    /// Creates the cassette (mode 0600) and writes its header; nothing is captured until `run`.
    public init(capture: LiveCapture, outputPath: String,
                reassemblerConfiguration: TCPReassembler.Configuration = .init(),
                bufferLimit: Int = 32 << 20, proto: WireProtocol? = nil, redactor: Redactor? = Redactor()) throws {
        self.redactor = redactor
        self.capture = capture
        self.outputPath = outputPath
        var details = ["interface": capture.options.interface, "linktype": capture.linkTypeName]
        if !capture.options.filter.isEmpty { details["filter"] = capture.options.filter }
        writer = try CassetteWriter(path: outputPath, header: CassetteHeader(source: .capture, details: details), atomic: false)
        reassembler = TCPReassembler(configuration: reassemblerConfiguration)
        intake = PacketIntake(linkType: capture.handle.linkType, linkTypeName: capture.linkTypeName)
        buffer = CaptureSessionBuffer(limit: bufferLimit)
        tagger = ProtocolTagger(forced: proto)
        summary.interface = capture.options.interface
        summary.warnings = capture.warnings
        produced.reserveCapacity(256)
    }

    /// Captures until `stopper` is triggered or a limit is reached, then ends the open sessions
    /// and closes the cassette. A read failure still closes the cassette with what was recorded,
    /// then throws.
    public func run(stopper: CaptureStopper, limits: Limits = Limits(), logger: Logger) throws -> LiveCaptureSummary {
        let clock = ContinuousClock()
        let deadline = limits.duration.map { clock.now.advanced(by: $0) }
        var failure: (any Error)?
        do {
            summary.stopReason = try loop(stopper: stopper, deadline: deadline, clock: clock, sessionLimit: limits.sessions, logger: logger)
        } catch {
            failure = error
        }
        if failure == nil { try drainCaptured() }
        let openAtStop = buffer.openSessions
        produced.append(contentsOf: reassembler.finish())
        try writeProduced()
        try writer.finish()
        collectNotices(logger: logger)
        summary.packetsRead = intake.packetsRead
        summary.tcpPackets = intake.tcpPackets
        summary.skipped = intake.skipped
        summary.sessionsOpenAtStop = openAtStop
        summary.sessionsWritten = buffer.endedSessions
        summary.earlyWrites = buffer.spills
        summary.reassembly = reassembler.statistics
        summary.pcap = capture.statistics()
        if let failure { throw failure }
        return summary
    }

    private func loop(stopper: CaptureStopper, deadline: ContinuousClock.Instant?, clock: ContinuousClock,
                      sessionLimit: Int?, logger: Logger) throws -> LiveCaptureSummary.StopReason {
        var descriptors = [pollfd(fd: stopper.descriptor, events: Int16(POLLIN), revents: 0)]
        if let packets = capture.selectableDescriptor {
            descriptors.append(pollfd(fd: packets, events: Int16(POLLIN), revents: 0))
        }
        while true {
            var timeout = Self.pollInterval
            if let deadline {
                let remaining = clock.now.duration(to: deadline)
                if remaining <= .zero { return .durationElapsed }
                let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
                timeout = Int32(clamping: min(Int64(Self.pollInterval), milliseconds + 1))
            }
            for index in descriptors.indices { descriptors[index].revents = 0 }
            if poll(&descriptors, nfds_t(descriptors.count), timeout) < 0, errno != EINTR {
                throw LiveCaptureError.system(call: "poll", reason: String(cString: strerror(errno)))
            }
            if descriptors[0].revents != 0 { return .stopRequested }
            // Read even without POLLIN: a non-blocking read costs nothing, and some platforms'
            // descriptors do not signal every packet.
            var count = 0
            while count < Self.batchLimit, try capture.readPacket({ take($0) }) {
                count += 1
                // Route events packet by packet: a batch of 64 KB segments must not pile up here.
                if !produced.isEmpty { try routeProduced() }
            }
            // A session a RST closed ends after a quiet spell (see `resetLinger`); on an idle
            // interface no packet brings the time, so the clock does.
            reassembler.advance(to: WallClock.now(), into: &produced)
            let expired = !produced.isEmpty
            if expired { try routeProduced() }
            if count > 0 || expired {
                try writer.flush()
                if !reassembler.notices.isEmpty { collectNotices(logger: logger) }
            }
            if let sessionLimit, buffer.endedSessions >= sessionLimit { return .sessionCountReached }
        }
    }

    /// Reads what the kernel had already captured when the stop came, so a session's last bytes
    /// before Ctrl-C are kept. Bounded, in case traffic keeps arriving faster than it is read.
    private func drainCaptured() throws {
        var count = 0
        while count < Self.batchLimit * 16, try capture.readPacket({ take($0) }) {
            count += 1
            if !produced.isEmpty { try routeProduced() }
        }
    }

    /// Decodes one packet and feeds the reassembler.
    private func take(_ packet: CapturedPacket) {
        intake.take(packet, into: &reassembler, events: &produced)
    }

    /// Passes the reassembler's events through the session buffer and hands what is due to the
    /// writer (which writes whole lines when its buffer fills).
    private func routeProduced() throws {
        tagger.take(produced, into: &tagged)
        produced.removeAll(keepingCapacity: true)
        redact(finishing: false)
        buffer.take(tagged, into: &output)
        tagged.removeAll(keepingCapacity: true)
        for event in output { try writer.append(event) }
        output.removeAll(keepingCapacity: true)
    }

    /// Passes `tagged` through the redactor (when on), in place.
    private func redact(finishing: Bool) {
        guard redactor != nil else { return }
        redactor?.take(tagged, into: &redacted)
        if finishing { redactor?.finish(into: &redacted) }
        tagged.removeAll(keepingCapacity: true)
        swap(&tagged, &redacted)
    }

    /// Routes what is left and puts every complete line in the file.
    private func writeProduced() throws {
        try routeProduced()
        // Every session has ended (`reassembler.finish()`), so nothing is held; released anyway.
        tagger.finish(into: &tagged)
        redact(finishing: true)
        buffer.take(tagged, into: &output)
        tagged.removeAll(keepingCapacity: true)
        for event in output { try writer.append(event) }
        output.removeAll(keepingCapacity: true)
        try writer.flush()
    }

    private func collectNotices(logger: Logger) {
        for notice in reassembler.takeNotices() {
            if summary.warnings.count < Self.noticeLimit { summary.warnings.append(notice.description) }
            logger.debug("\(notice.description)")
        }
    }
}
