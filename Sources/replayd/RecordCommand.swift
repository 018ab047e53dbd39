import ArgumentParser
import Dispatch
import Logging
import NIOCore
import ReplayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a TCP proxy that records every connection into a cassette.",
        discussion: """
            Clients connect to --listen; each connection is forwarded to --upstream unchanged \
            (half-close and resets included) and recorded as one session of the cassette. \
            When ready, prints "listening on HOST:PORT" to stderr. Events are appended to the \
            cassette (mode 0600) as they happen, so a crash loses only what was not yet flushed. \
            SIGINT or SIGTERM stops accepting, closes open connections, flushes and closes the \
            cassette and exits 0. \
            One line per connection is logged to stderr when it ends (--quiet silences it).

            By default traffic never waits for the disk: if the cassette writer falls more than \
            32 MiB behind, data is dropped from the cassette and recorded as "gap" events (stderr \
            says so at exit), while every byte is still forwarded. With --lossless every byte is \
            recorded instead: while the writer is more than 16 MiB behind, the proxy stops reading \
            from both sides of every connection until it has caught up to 4 MiB, so connections \
            run at the speed of the disk (and of encoding). Use it to reproduce a bug with a \
            complete recording; keep the default in front of anything that must not slow down. \
            If the cassette cannot be written at all (disk full), --lossless stops slowing \
            connections and traffic flows unrecorded.

            EXAMPLES:
              replayd record --listen 2525 --upstream mail.example.net:25 -o smtp.cassette
              replayd record --listen 127.0.0.1:0 --upstream 127.0.0.1:8080 -o http.cassette --connect-timeout 2
              replayd record --listen 8443 --upstream 127.0.0.1:443 -o tls.cassette --lossless
              replayd record --listen 2525 --upstream 127.0.0.1:25 -o live.cassette --fault "match=^RCPT reset"
              replayd record --listen 2525 --upstream 127.0.0.1:25 -o slow.cassette --fault "match=^DATA delay=3s" --fault "every=2 slow=500"

            TRANSPARENT (Linux, root): record a local client's connections to port 80 without reconfiguring it; \
            replayd's own upstream sockets carry mark 1 and the rule leaves them alone:
              iptables -t nat -A OUTPUT -p tcp --dport 80 -m mark ! --mark 1 -j REDIRECT --to-ports 8080
              replayd record --transparent --mark 1 --listen 127.0.0.1:8080 -o web.cassette
              iptables -t nat -D OUTPUT -p tcp --dport 80 -m mark ! --mark 1 -j REDIRECT --to-ports 8080
            On a gateway (PREROUTING) no mark is needed; see the README and docs/transparent.md.

            TLS (see docs/tls.md; `replayd cert --out tls` makes a test certificate): the cassette \
            holds the decrypted plaintext and a "tls" event where TLS began.
              replayd record --listen 8443 --upstream example.net:443 -o https.cassette --tls-cert tls/cert.pem --tls-key tls/key.pem --upstream-tls
              replayd record --listen 8443 --upstream 127.0.0.1:4443 -o https.cassette --tls-cert tls/cert.pem --tls-key tls/key.pem --upstream-tls --upstream-ca tls/ca.pem
              replayd record --listen 2525 --upstream 127.0.0.1:25 -o smtp.cassette --starttls smtp --tls-cert tls/cert.pem --tls-key tls/key.pem --upstream-insecure
            """
    )

    @Option(name: .long, help: ArgumentHelp("Where to accept clients (default host 127.0.0.1; port 0 picks one).", valueName: "[HOST:]PORT"))
    var listen: String

    @Option(name: .long, help: ArgumentHelp("The server to forward to. With --transparent: optional, repeatable, the only original destinations forwarded.", valueName: "HOST:PORT"))
    var upstream: [String] = []

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The cassette to write.", valueName: "CASSETTE"))
    var output: String

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Seconds to wait for the upstream to accept a connection.", valueName: "SECONDS"))
    var connectTimeout: Double = 10

    @Flag(name: .long, help: "Record every byte: slow connections down to the cassette writer's speed instead of dropping data as gaps when it falls behind.")
    var lossless = false

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault into live traffic: selectors (conn=N[-M], every=K, match=REGEX, nth=N, after=BYTES, at=DURATION, dir=c2s, p=P) and one action (reset, close, stall, delay=D, reply=TEXT, drop, truncate, slow=BPS, slice=BYTES, refuse); the cassette holds what the client got and the fault as replayd's own event. Repeatable; see docs/faults.md.", valueName: "RULE"))
    var faultRules: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("For each connection, with this probability, one fault of the catalogue (see --chaos-faults) after one of its first client messages.", valueName: "PROBABILITY"))
    var chaos: Double?

    @Option(help: ArgumentHelp("Narrow --chaos to these faults (reset, close, stall, delay, reply, drop, truncate, slow, slice), e.g. reset,stall.", valueName: "NAMES"))
    var chaosFaults: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of p= and --chaos draws (default: one is chosen and printed).", valueName: "N"))
    var seed: UInt64?

    @Flag(name: .long, help: "Replace CASSETTE if it exists.")
    var force = false

    @Flag(name: .long, help: "Add the new sessions to CASSETTE if it exists, numbered after its last session (its header stays).")
    var append = false

    @Flag(name: .long, help: "Do not log a line per connection.")
    var quiet = false

    @Option(name: .long, help: ProtocolOption.help)
    var proto: String?

    @OptionGroup(title: "Secrets")
    var redaction: RedactionOptions

    @OptionGroup(title: "Transparent interception")
    var transparent: TransparentOptions
    @OptionGroup(title: "TLS")
    var tls: RecordTLSOptions

    func validate() throws {
        guard connectTimeout > 0, connectTimeout.isFinite else {
            throw ValidationError("--connect-timeout must be a positive number of seconds")
        }
        _ = try ProtocolOption.parse(proto)
        guard !(force && append) else {
            throw ValidationError("--force and --append exclude each other: replace the cassette or add to it")
        }
        try transparent.validate(upstreams: upstream)
    }

    func run() async throws {
        let logger = bootstrapLogging(label: "replayd.record", quiet: quiet)
        do {
            try await record(logger: logger)
        } catch {
            throw failure(error)
        }
    }

    private func record(logger: Logger) async throws {
        let listenEndpoint = try HostPort(parsing: listen, defaultHost: "127.0.0.1")
        var options: ProxyOptions
        let upstreamLabel: String
        var upstreamHost: String?
        if transparent.transparent {
            upstreamLabel = TransparentOptions.headerLabel(upstreams: upstream)
            // Each connection has its own upstream: the placeholder is never connected to.
            options = ProxyOptions(listen: listenEndpoint, upstream: try SocketAddress(ipAddress: "0.0.0.0", port: 0), upstreamName: upstreamLabel,
                                   connectTimeout: .nanoseconds(Int64(connectTimeout * 1e9)))
            options.transparent = try transparent.routing(upstreams: upstream)
            options.upstreamMark = transparent.mark
        } else {
            let upstreamEndpoint = try HostPort(parsing: upstream.first ?? "")
            upstreamLabel = upstreamEndpoint.description
            upstreamHost = upstreamEndpoint.host
            let upstreamAddress: SocketAddress
            do {
                upstreamAddress = try upstreamEndpoint.resolve()
            } catch {
                guard case .cannotResolve(let name, let reason) = error else { throw error }
                throw CommandError("cannot resolve upstream \(name): \(reason)", status: .peerUnreachable)
            }
            options = ProxyOptions(
                listen: listenEndpoint, upstream: upstreamAddress, upstreamName: upstreamLabel,
                connectTimeout: .nanoseconds(Int64(connectTimeout * 1e9))
            )
        }
        options.proto = try ProtocolOption.parse(proto)
        options.redact = !redaction.noRedact
        options.redactRules = try redaction.rules()
        do {
            options.tls = try tls.proxyOptions(upstreamHost: upstreamHost, logger: logger)
        } catch {
            throw CommandError("\(error)", status: .badInput)
        }
        if !faultRules.isEmpty || chaos != nil {
            do {
                let rules = try faultRules.map { text throws(FaultRuleError) in
                    let rule = try FaultRule(text)
                    try rule.checkForRecord()
                    return rule
                }
                let names = chaosFaults.map { $0.split(separator: ",").map { String($0) } } ?? []
                // Every fault of the catalogue works on live traffic: FaultChaos checks the names.
                let chaos = try self.chaos.map { probability throws(FaultRuleError) in
                    try FaultChaos(probability: probability, faults: names)
                }
                let chosenSeed = seed ?? UInt64.random(in: 1...999_999)
                options.faults = FaultSettings(rules: rules, chaos: chaos, seed: chosenSeed)
                if chaos != nil || rules.contains(where: { $0.probability != nil }) {
                    printToStandardError("faults: seed \(chosenSeed)\(seed == nil ? " (chosen; repeat this run with --seed \(chosenSeed))" : "")")
                }
            } catch {
                throw CommandError("\(error)", status: .usage)
            }
        }
        let writer: CassetteWriter
        switch try RecordOutput.plan(path: output, force: force, append: append) {
        case .create:
            let header = CassetteHeader(source: .record, details: ["upstream": upstreamLabel])
            // Written as OUTPUT.partial until the proxy listens, so a start that fails (port in use)
            // never replaces an existing cassette; then renamed, and it grows in place from there on.
            writer = try CassetteWriter(path: output, header: header, atomic: true)
        case .append(let existing):
            for warning in existing.warnings { logger.warning("\(warning)") }
            if let recorded = existing.header.details["upstream"], recorded != upstreamLabel {
                logger.warning("\(output) was recorded from upstream \(recorded); its new sessions come from \(upstreamLabel)")
            }
            options.firstSession = existing.nextSession
            writer = try CassetteWriter(appendingTo: output)
        }
        let recorder = CassetteRecorder(sink: writer, path: output, overflow: lossless ? .slowTraffic : .dropAsGaps, logger: logger)
        let proxy = RecordingProxy(options: options, recorder: recorder, logger: logger)

        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        let bound: SocketAddress
        do {
            bound = try await proxy.start()
        } catch {
            await recorder.abandon()
            throw error
        }
        do {
            try await recorder.publish()
        } catch {
            await proxy.stop()
            await recorder.abandon()
            throw error
        }
        printToStandardError("listening on \(bound.ipAddress ?? listenEndpoint.host):\(bound.port ?? listenEndpoint.port)")
        let signal = await signals.next()
        logger.info("received signal \(signal); stopping")
        await proxy.stop()
        let report = await recorder.finish()
        logger.info("cassette \(output) closed: \(report.eventsWritten) events")
        if lossless, report.timesBacklogged > 0 {
            logger.info("lossless: connections were slowed \(report.timesBacklogged) time(s) for the cassette writer")
        }
    }
}
