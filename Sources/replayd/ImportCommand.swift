import ArgumentParser
import Foundation
import Logging
import ReplayCore

/// `replayd import CAPTURE -o CASSETTE [FILTER ...]`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn the TCP connections of a pcap or pcapng file into a cassette.",
        discussion: """
            Reads the capture through libpcap (pcap and pcapng, nanosecond timestamps), reassembles \
            every TCP connection and writes one session per connection, numbered in order of its \
            first packet (Wireshark's tcp.stream + 1). Retransmissions are dropped, out-of-order \
            segments put back in order, and bytes the capture lost are recorded as gaps. A RST \
            closes its sender's side at once; data still in flight after it (the other side's) is \
            kept after the close, as Wireshark's Follow TCP Stream shows it, until both sides are \
            done, a new SYN reuses the address pair, 5 s pass without a packet, or the file ends. \
            Words after the file names form a BPF filter, as with tcpdump.

            Link types: Ethernet (with VLAN tags), Linux cooked (SLL, SLL2), raw IP, BSD loopback.

            EXAMPLES:
              replayd import smtp.pcap -o smtp.cassette
              replayd import traffic.pcapng -o db.cassette tcp port 5432
              replayd import dump.pcap -o web.cassette 'host 10.0.0.7 and tcp port 80'
              replayd import big.pcap -o big.cassette --no-sync
            """
    )

    @Argument(help: "The pcap or pcapng file to read.")
    var capture: String

    @Option(name: .shortAndLong, help: "The cassette to write (written atomically).")
    var output: String

    @Flag(name: .customLong("no-sync"), help: "Return without waiting for the cassette to reach the disk (faster for large captures; a crash soon after can lose the cassette, not the capture).")
    var noSync = false

    @Option(name: .long, help: ProtocolOption.help)
    var proto: String?

    @OptionGroup(title: "Secrets")
    var redaction: RedactionOptions

    @Argument(parsing: .remaining, help: "A tcpdump-style filter, e.g. tcp port 25.")
    var filter: [String] = []

    func validate() throws {
        _ = try ProtocolOption.parse(proto)
    }

    func run() throws {
        var logger = Logger(label: "replayd.import")
        logger.logLevel = .warning
        var importer = CaptureImporter(capturePath: capture, outputPath: output, filter: filter.joined(separator: " "))
        importer.syncToDisk = !noSync
        importer.proto = try ProtocolOption.parse(proto)
        importer.redact = !redaction.noRedact
        importer.redactRules = try redaction.rules()
        let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        if let bar { importer.progress = { bar.update(done: $0, total: $1) } }
        do {
            let summary = try importer.run(logger: logger)
            bar?.clear()
            for line in summary.lines { printToStandardError("replayd: \(line)") }
            for warning in summary.warnings { printToStandardError("replayd: warning: \(warning)") }
            printToStandardError("replayd: wrote \(output)")
        } catch {
            bar?.clear()
            throw failure(error)
        }
    }
}

/// A one-line progress bar on stderr, shown only once an import has run for a second.
final class ProgressBar {
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var shown = false

    func update(done: Int, total: Int) {
        let now = Date()
        guard now.timeIntervalSince(started) > 1, now.timeIntervalSince(lastDraw) > 0.1, total > 0 else { return }
        lastDraw = now
        shown = true
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\rimporting [\(bar)] \(Int(fraction * 100))% (\(done >> 20)/\(total >> 20) MiB)".utf8))
    }

    func clear() {
        if shown { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }
}
