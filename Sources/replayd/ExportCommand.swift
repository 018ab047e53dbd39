import ArgumentParser
import Foundation
import Logging
import ReplayCore

/// `replayd export`: a cassette as a pcap file for Wireshark.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a cassette as a pcap file of synthesized TCP/IP packets, to open in Wireshark.",
        discussion: """
        Every session becomes one TCP connection: a SYN / SYN-ACK / ACK handshake at its start, each \
        data chunk at its recorded time (split into segments of at most 65000 bytes), FIN or RST as \
        recorded (data recorded after a RST follows it, as it was in flight), and gaps as jumps in the sequence numbers, so Wireshark marks the missing bytes. A \
        session whose upstream connect failed shows a SYN answered by RST (refused) or SYNs left \
        unanswered (timeout). Packets of all sessions are merged in time order. The file is a classic \
        pcap with nanosecond timestamps and Ethernet framing; checksums are correct. Sessions without a \
        numeric address get 10.0.0.1 -> 10.0.0.2 (a warning says which).

        EXAMPLES:
          replayd export smtp.cassette -o smtp.pcap
          replayd export smtp.cassette -o smtp.pcap && wireshark smtp.pcap
          tshark -r smtp.pcap -q -z follow,tcp,ascii,0
        """
    )

    @Argument(help: "The cassette to export.")
    var cassette: String

    @Option(name: [.short, .customLong("output")], help: "The pcap file to write (replaced if it exists).")
    var output: String

    func run() throws {
        let logger = Logger(label: "replayd.export")
        let summary: ExportSummary
        do {
            summary = try CassetteExporter.export(cassettePath: cassette, pcapPath: output, logger: logger)
        } catch {
            throw failure(error)
        }
        for warning in summary.warnings {
            printToStandardError("replayd: warning: \(warning)")
        }
        printToStandardError("exported \(summary.sessions) session(s) as \(summary.packets) packet(s) to \(output)")
    }
}
