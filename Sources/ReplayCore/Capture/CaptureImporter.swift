import Logging

/// Reads a capture file and writes its TCP sessions to a cassette: libpcap handle → packet
/// decoder → `TCPReassembler` → `CassetteWriter`. Events are written as the reassembler
/// produces them, so memory follows the connections open at once.
public struct CaptureImporter {
    public var capturePath: String
    public var outputPath: String
    /// tcpdump-style filter, compiled by libpcap; nil or empty reads everything.
    public var filter: String?
    public var reassemblerConfiguration = TCPReassembler.Configuration()
    /// Called now and then with (bytes of the file read, file size).
    public var progress: ((Int, Int) -> Void)?
    /// Whether the import waits for the cassette to reach the disk before it returns. Without
    /// it, a crash of the machine soon after can lose the cassette (the capture is still there).
    public var syncToDisk = true
    /// The protocol of every session (`--proto`); nil detects each session's from its port and
    /// first bytes.
    public var proto: WireProtocol?
    /// Whether secrets are redacted before they are written (on unless `--no-redact`).
    public var redact = true
    /// The user's `--redact` expressions, applied when `redact` is on.
    public var redactRules = UserRedactionRules.none

    public init(capturePath: String, outputPath: String, filter: String? = nil) {
        self.capturePath = capturePath
        self.outputPath = outputPath
        self.filter = filter
    }

    /// Runs the import. On error no cassette is left behind (the writer is atomic).
    public func run(logger: Logger) throws -> ImportSummary {
        let handle = try PcapHandle(offlinePath: capturePath)
        let linkType = handle.linkType
        let linkName = handle.linkTypeName
        guard LinkLayerDecoder.isSupported(linkType) else {
            throw CaptureError.unsupportedLinkType(path: capturePath, linkType: linkType, name: linkName)
        }
        if let filter, !filter.isEmpty { try handle.setFilter(filter) }

        var details = ["capture": capturePath, "linktype": linkName]
        if let filter, !filter.isEmpty { details["filter"] = filter }
        let writer = try CassetteWriter(
            path: outputPath, header: CassetteHeader(source: .import, details: details), atomic: true,
            writeBehind: true, syncOnFinish: syncToDisk)
        do {
            var pump = ImportPump(handle: handle, writer: writer, logger: logger,
                                  configuration: reassemblerConfiguration, progress: progress,
                                  tagger: ProtocolTagger(forced: proto),
                                  redactor: redact ? Redactor(user: redactRules) : nil)
            let summary = try pump.run(totalBytes: Self.fileSize(capturePath))
            try writer.finish()
            return summary
        } catch {
            writer.abandon()
            throw error
        }
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

/// The read loop of a file import: packets in, cassette lines out, as the reassembler produces them.
struct ImportPump {
    let handle: PcapHandle
    let writer: CassetteWriter
    let logger: Logger
    var reassembler: TCPReassembler
    var intake: PacketIntake
    let progress: ((Int, Int) -> Void)?
    var summary = ImportSummary()
    var events: [SessionEvent] = []
    /// Tags each session's `open` with its protocol, between the reassembler and the writer.
    var tagger: ProtocolTagger
    var tagged: [SessionEvent] = []
    /// Replaces secrets after the tagger (nil: `--no-redact`).
    var redactor: Redactor?
    var redacted: [SessionEvent] = []
    /// Notices sessions that are TLS, whose bytes are ciphertext.
    var tlsSpotter = TLSSessionSpotter()
    static let noticeLimit = 20

    init(handle: PcapHandle, writer: CassetteWriter, logger: Logger,
         configuration: TCPReassembler.Configuration, progress: ((Int, Int) -> Void)?,
         tagger: ProtocolTagger = ProtocolTagger(), redactor: Redactor? = nil) {
        self.tagger = tagger
        self.redactor = redactor
        self.handle = handle
        self.writer = writer
        self.logger = logger
        self.reassembler = TCPReassembler(configuration: configuration)
        self.intake = PacketIntake(linkType: handle.linkType, linkTypeName: handle.linkTypeName)
        self.progress = progress
        summary.linkTypeName = handle.linkTypeName
        events.reserveCapacity(64)
    }

    /// Reads to the end of the file, then finishes every open session.
    mutating func run(totalBytes: Int) throws -> ImportSummary {
        readLoop: while true {
            let result: PcapHandle.ReadResult
            do {
                result = try handle.next { packet in intake.take(packet, into: &reassembler, events: &events) }
            } catch let error as CaptureError {
                // A capture cut short ends with libpcap's "truncated dump file" message: keep what was read.
                if case .readFailed(_, let count, let reason) = error, count > 0, reason.contains("truncated") {
                    summary.warnings.append("\(handle.name): the capture is cut short after packet \(count); imported every complete packet (libpcap: \(reason))")
                    break readLoop
                }
                throw error
            }
            switch result {
            case .packet:
                if !events.isEmpty { try writeEvents() }
                if intake.packetsRead & 0x3fff == 0, let progress, let offset = handle.fileOffset {
                    progress(offset, totalBytes)
                }
            case .endOfFile: break readLoop
            case .timeout: continue
            }
        }
        try finish()
        return summary
    }

    mutating func writeEvents() throws {
        tagger.take(events, into: &tagged)
        events.removeAll(keepingCapacity: true)
        try writeTagged()
        if !reassembler.notices.isEmpty { collectNotices() }
    }

    private mutating func writeTagged(finishing: Bool = false) throws {
        if redactor != nil {
            redactor?.take(tagged, into: &redacted)
            if finishing { redactor?.finish(into: &redacted) }
            tagged.removeAll(keepingCapacity: true)
            swap(&tagged, &redacted)
        }
        for event in tagged {
            tlsSpotter.take(event)
            try writer.append(event)
        }
        tagged.removeAll(keepingCapacity: true)
    }

    /// Ends the open sessions and writes what remains.
    mutating func finish() throws {
        summary.packetsRead = intake.packetsRead
        summary.tcpPackets = intake.tcpPackets
        summary.skipped = intake.skipped
        events.append(contentsOf: reassembler.finish())
        try writeEvents()
        // Every session has ended by now, so nothing is held; released anyway for safety.
        tagger.finish(into: &tagged)
        try writeTagged(finishing: true)
        collectNotices()
        summary.reassembly = reassembler.statistics
        let hidden = summary.reassembly.overlapsDiffering - min(summary.reassembly.overlapsDiffering, Self.noticeLimit)
        if hidden > 0 { summary.warnings.append("\(hidden) more differing retransmissions not listed") }
        summary.tlsSessions = tlsSpotter.found
        let tls = tlsSpotter.report(limit: Self.noticeLimit)
        summary.tlsLine = tls.line
        summary.warnings += tls.warnings
    }

    private mutating func collectNotices() {
        for notice in reassembler.takeNotices() {
            let listed = summary.warnings.filter { $0.hasPrefix("session ") }.count
            if listed < Self.noticeLimit { summary.warnings.append(notice.description) }
            logger.debug("\(notice.description)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
