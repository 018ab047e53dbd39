import ArgumentParser
import Dispatch
import Logging
import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd capture -i IFACE -o CASSETTE [FILTER ...]`
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Record the TCP sessions seen on a network interface into a cassette (passive, via libpcap).",
        discussion: """
            Listens on the interface without taking part in the traffic, reassembles every TCP \
            connection the same way `replayd import` does, and appends each session to the \
            cassette when it ends. Stop with Ctrl-C (SIGINT) or SIGTERM, or give --duration or \
            --count-sessions: sessions still open are then written up to their last packet, with \
            their end. The file is written as the capture goes (mode 0600), so whatever had \
            finished survives even if replayd is killed. Words after the options form a BPF \
            filter, as with tcpdump. A summary line (packets, sessions, drops) goes to stderr.

            Capturing needs root or the CAP_NET_RAW capability. Promiscuous mode is off unless \
            --promiscuous is given.

            EXAMPLES:
              sudo replayd capture -i eth0 -o smtp.cassette tcp port 25
              sudo replayd capture -i lo -o db.cassette --duration 60 'tcp port 5432'
              sudo replayd capture -i any -o web.cassette --count-sessions 10 tcp port 80
            """
    )

    @Option(name: .shortAndLong, help: "The interface to capture on (e.g. eth0, lo, any).")
    var interface: String

    @Option(name: .shortAndLong, help: "The cassette to write (replaced if it exists).")
    var output: String

    @Option(parsing: .unconditional, help: "Stop after this many seconds.")
    var duration: Double?

    @Option(parsing: .unconditional, help: "Stop once this many sessions have ended.")
    var countSessions: Int?

    @Flag(help: "Put the interface in promiscuous mode (see traffic not addressed to this host).")
    var promiscuous = false

    @Option(name: .long, help: ProtocolOption.help)
    var proto: String?

    @OptionGroup(title: "Secrets")
    var redaction: RedactionOptions

    @Argument(parsing: .remaining, help: "A tcpdump-style filter, e.g. tcp port 25.")
    var filter: [String] = []

    func validate() throws {
        if let duration, !(duration > 0 && duration < 1e9) { throw ValidationError("--duration must be a positive number of seconds") }
        if let countSessions, countSessions < 1 { throw ValidationError("--count-sessions must be at least 1") }
        _ = try ProtocolOption.parse(proto)
    }

    func run() throws {
        var logger = Logger(label: "replayd.capture")
        logger.logLevel = .warning
        var options = LiveCapture.Options(interface: interface, filter: filter.joined(separator: " "))
        options.promiscuous = promiscuous
        let summary: LiveCaptureSummary
        do {
            let stopper = try CaptureStopper()
            let signals = handleSignals([SIGINT, SIGTERM]) { _ in stopper.stop() }
            defer { signals.forEach { $0.cancel() } }
            let capture = try LiveCapture(options: options)
            for warning in capture.warnings { printToStandardError("replayd: warning: \(warning)") }
            let recorder = try CaptureRecorder(capture: capture, outputPath: output, proto: ProtocolOption.parse(proto),
                                               redactor: redaction.redactor())
            printToStandardError("capturing on \(interface)")
            let limits = CaptureRecorder.Limits(
                duration: duration.map { .nanoseconds(Int64($0 * 1e9)) }, sessions: countSessions)
            summary = try recorder.run(stopper: stopper, limits: limits, logger: logger)
        } catch {
            throw failure(error)
        }
        for warning in summary.warnings {
            printToStandardError("replayd: warning: \(warning)")
        }
        printToStandardError("replayd: \(summary.line)")
        printToStandardError("replayd: wrote \(output)")
    }
}
