import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ReplayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `replayd replay`: serve a cassette's sessions to whoever connects, with the recorded timing.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Serve recorded sessions to clients, answering each by what it sends, with the server's original timing.",
        discussion: """
        Each client message is framed by the session's protocol (SMTP, POP3, IMAP, FTP, HTTP/1.x, \
        Redis, DNS over TCP, PostgreSQL, unknown text lines or binary), compared with the recorded \
        client's message at the same step, and answered with the reply recorded there, after the \
        recorded think time counted from this client's own message. Several sessions (from one or \
        several cassettes) form one set of conversations: each connection follows the one that fits \
        what it sends (the recipient, the path, the key, the DNS question), ties going to the \
        session served least often. Volatile parts (EHLO names, dates, message ids, DNS ids) are \
        masked; a DNS reply carries the live query's id, an IMAP reply the live tag.

        --match similar (default): the same kind of message at each step (verb, method and path, \
        command, question), content and bytes choose among sessions. exact: every message must equal \
        a recorded one after masks. bytes: the foundation's behaviour (answer once the client has sent \
        as many bytes as the recorded one; sessions in accept order). none: ignore the client.

        A message nothing recorded fits is logged with what the nearest recording had and the first \
        differing column, then handled by --on-mismatch: error (the protocol's own error reply, e.g. \
        SMTP 502 5.5.1), close, reset, hold or continue (send the recorded reply anyway). \
        Housekeeping commands not recorded (SMTP RSET and NOOP, POP3/IMAP NOOP, Redis PING) get the \
        protocol's plain reply. A client that skips recorded steps continues at the later step that fits.

        Chunk boundaries, the server's FIN or RST, a failed upstream connect and a server that went \
        silent are reproduced. A slow reader gets the session at its own pace (about 256 KiB waits in \
        replayd per connection). Prints "listening on HOST:PORT" to stderr when ready; SIGINT or \
        SIGTERM stops it (exit 0) with a summary line. See docs/replay.md.

        A transcript (docs/transcript-format.md) replays like a cassette: a fake server written by \
        hand, with C: patterns (* and /regex/, verbs in any case) and +DELAY prefixes.

        EXAMPLES:
          replayd replay fixtures/smtp-rcpt-450.cassette --listen 2525
          replayd replay fixtures/scenarios/smtp-450-on-rcpt.txt --listen 2525
          replayd replay valid.cassette unknown.cassette relay.cassette --listen 2525 --report run.json
          replayd replay dns.cassette --listen 5353 --proto dns --on-mismatch close
          replayd replay smtp.cassette --listen 2525 --session 2 --match exact
          replayd replay api.cassette --listen 127.0.0.1:0 --match bytes --no-delay --hold 5 --quiet
          replayd replay smtp.cassette --listen 2525 --fault "conn=1-2 reset"
          replayd replay smtp.cassette --listen 2525 --fault "match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy"
          replayd replay smtp.cassette --listen 2525 --chaos 0.3 --seed 42 --chaos-faults reset,stall,delay
          replayd cert --out certs && replayd replay starttls.cassette --listen 2525 --tls-cert certs/cert.pem --tls-key certs/key.pem

        Sessions recorded over TLS (record --tls-cert, --starttls) replay over TLS with the         certificate given by --tls-cert and --tls-key: implicit TLS from the first byte, or the         recorded STARTTLS reply in plaintext and then the handshake. Plaintext a client sends         after its STARTTLS and before the handshake is dropped, never answered. See docs/tls.md.
        """
    )

    @Argument(help: "The cassettes or transcripts to replay: their sessions form one set of conversations.")
    var cassettes: [String]

    @Option(help: FormatOption.help)
    var format: String?

    @Option(help: ArgumentHelp("Where to listen: [HOST:]PORT (host defaults to 127.0.0.1; port 0 picks a free one).", valueName: "[HOST:]PORT"))
    var listen: String

    @Option(help: ArgumentHelp("How client messages are compared with the recording: similar, exact, bytes or none.", valueName: "MODE"))
    var match: String = MatchMode.similar.rawValue

    @Option(help: ArgumentHelp("When nothing recorded fits: error, close, reset, hold or continue.", valueName: "POLICY"))
    var onMismatch: String = MismatchPolicy.error.rawValue

    @Option(help: ArgumentHelp("A regular expression whose matches are ignored when comparing messages (repeatable).", valueName: "REGEX"))
    var mask: [String] = []

    @Option(help: ArgumentHelp("Frame every session as this protocol: \(WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "PROTO"))
    var proto: String?

    @Option(help: ArgumentHelp("Serve only this session: N, or FILE:N with several cassettes.", valueName: "N|FILE:N"))
    var session: String?

    @Option(help: ArgumentHelp("Serve only the sessions recorded against this server address.", valueName: "HOST:PORT"))
    var server: String?

    @Flag(help: "Serve the sessions in accept order, one per connection (still answering by messages).")
    var inOrder = false

    @Option(help: ArgumentHelp("Write a JSON report at exit: per connection the session followed and each step.", valueName: "FILE"))
    var report: String?

    @Flag(help: "In accept-order modes (--in-order, --match bytes or none): after the last session, start again from the first.")
    var loop = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Divide every recorded delay by FACTOR (2 = twice as fast).", valueName: "FACTOR"))
    var speed: Double = 1

    @Flag(help: "Send each reply as soon as the client's message has arrived.")
    var noDelay = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Close a connection SECONDS after the recording is exhausted and the server silent (or after its FIN); 0 = wait for the client.", valueName: "SECONDS"))
    var hold: Double = 0

    @Flag(help: "Log only warnings and errors, not one line per connection.")
    var quiet = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Event-loop threads serving connections (default 1, as smtp-sink: one thread answers thousands of sessions a second; more only help with many busy clients on a machine with spare cores).", valueName: "N"))
    var threads: Int = 1

    @Flag(help: "Serve sessions that lost server bytes (gap events) anyway, skipping what is missing; by default replay refuses them.")
    var allowGaps = false

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault: selectors (conn=N[-M], every=K, match=REGEX, nth=N, after=BYTES, at=DURATION, p=P) and one action (reset, close, stall, delay=5s, reply=TEXT, drop, truncate, slow=BPS, slice=BYTES, refuse); repeatable. See docs/faults.md.", valueName: "RULE"))
    var faultRules: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("For each connection, with this probability, one fault drawn from the catalogue at a point drawn from the conversation.", valueName: "PROBABILITY"))
    var chaos: Double?

    @Option(help: ArgumentHelp("Narrow --chaos to these faults, e.g. reset,stall,delay.", valueName: "NAMES"))
    var chaosFaults: String?

    @Option(help: ArgumentHelp("Certificate chain (PEM) to serve sessions recorded over TLS with (make one with replayd cert).", valueName: "CERT"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("Private key (PEM) of --tls-cert; read, never copied.", valueName: "KEY"))
    var tlsKey: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of p= and --chaos draws: the same seed over the same connections gives the same faults (default: one is chosen and printed).", valueName: "N"))
    var seed: UInt64?

    func validate() throws {
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a number greater than 0, got \(speed)") }
        guard hold >= 0, hold.isFinite else { throw ValidationError("--hold must be 0 or more seconds, got \(hold)") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
        _ = try Self.parseListen(listen)
        guard MatchMode(rawValue: match) != nil else {
            throw ValidationError("--match must be one of \(MatchMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(match)")
        }
        guard MismatchPolicy(rawValue: onMismatch) != nil else {
            throw ValidationError("--on-mismatch must be one of \(MismatchPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got \(onMismatch)")
        }
        if let proto, WireProtocol(rawValue: proto) == nil {
            throw ValidationError("--proto must be one of \(WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")), got \(proto)")
        }
        if let session { _ = try SessionSelector(parsing: session, cassettes: cassettes) }
        _ = try FormatOption.parse(format)
        _ = try faultSettings(seed: 0)
        if !faultRules.isEmpty || chaos != nil, let mode = MatchMode(rawValue: match), mode == .bytes || mode == .none {
            throw ValidationError("--fault and --chaos aim at messages and replies: use them with --match similar or exact, not \(match)")
        }
        if let server { _ = try HostPort(parsing: server, defaultHost: "127.0.0.1") }
        _ = try maskSet([])
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both (make a pair with replayd cert --out DIR)")
        }
    }

    func run() async throws {
        let endpoint = try Self.parseListen(listen)
        let logger = bootstrapLogging(label: "replayd.replay", quiet: quiet)
        let matchMode = MatchMode(rawValue: match) ?? .similar
        // Built in a function of its own so the loaded sessions are freed once compiled.
        let (source, tls) = try makeSource(matchMode: matchMode, logger: logger)

        let replayServer: ReplayServer
        do {
            replayServer = try await ReplayServer.start(host: endpoint.host, port: endpoint.port, source: source, logger: logger,
                                                      group: MultiThreadedEventLoopGroup(numberOfThreads: threads), tls: tls)
        } catch {
            throw failure(CommandError("cannot listen on \(endpoint): \(SocketErrorText.describe(error))"))
        }

        // Stop on SIGINT/SIGTERM: close the listener, which ends the wait below.
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        let stopper = Task {
            _ = await signals.next()
            replayServer.stopNow()
        }

        printToStandardError("listening on \(replayServer.listeningDescription)")
        let count = source.sessionCount
        logger.info("replaying \(count) session\(count == 1 ? "" : "s") from \(cassettes.joined(separator: ", ")), --match \(matchMode.rawValue)\(loop ? " in a loop" : "")")
        try? await replayServer.closeFuture.get()
        stopper.cancel()
        let unused = source.unused
        logger.info("stopped: \(source.reports.summary(unused: unused, byMessages: source.byMessages))")
        if let report {
            do {
                let data = try source.reports.json(unused: unused)
                try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: report), options: .atomic)
            } catch {
                throw failure(CommandError("\(report): cannot write the report: \(error)"))
            }
        }
    }

    /// Loads the cassettes, picks the sessions asked for and compiles them into what each
    /// connection will replay; with the TLS context when sessions were recorded over TLS.
    func makeSource(matchMode: MatchMode, logger: Logger) throws -> (ReplaySource, NIOSSLContext?) {
        let policy = MismatchPolicy(rawValue: onMismatch) ?? .error
        let forced = proto.flatMap(WireProtocol.init(rawValue:))

        var loaded: [(file: String, cassette: Cassette)] = []
        let format = try FormatOption.parse(self.format)
        for path in cassettes {
            let scenario = try loadScenario(path, format: format)
            for warning in scenario.cassette.warnings { logger.warning("\(path): \(warning)") }
            if let pattern = scenario.serverPatterns.first {
                let place = pattern.line.map { "\(path):\($0)" } ?? "\(path): session \(pattern.session)"
                throw failure(CommandError("\(place): S: \(pattern.source) is a pattern, which replay cannot send; "
                    + "S: patterns are for verify (replayd verify \(path) --target HOST:PORT); write the reply the fake server should send", status: .badInput))
            }
            loaded.append((path, scenario.cassette))
        }
        var chosen: [(ref: SessionRef, session: Session)] = []
        for (file, cassette) in loaded {
            for session in cassette.sessions { chosen.append((SessionRef(file: file, session: session.id), session)) }
        }
        if let session {
            let selector = try SessionSelector(parsing: session, cassettes: cassettes)
            chosen = chosen.filter { selector.matches($0.ref) }
            guard !chosen.isEmpty else {
                throw failure(CommandError("--session \(session): no such session in \(cassettes.joined(separator: ", "))", status: .usage))
            }
        }
        if let server {
            let wanted = try HostPort(parsing: server, defaultHost: "127.0.0.1")
            chosen = chosen.filter { (try? HostPort(parsing: $0.session.open.server, defaultHost: "127.0.0.1")) == wanted }
            guard !chosen.isEmpty else {
                throw failure(CommandError("--server \(server): no session was recorded against that server", status: .usage))
            }
        }
        let failedTLS = chosen.filter { $0.session.clientTLSFailed }
        if !failedTLS.isEmpty {
            chosen.removeAll { $0.session.clientTLSFailed }
            let names = failedTLS.map { "\($0.ref)" }.joined(separator: ", ")
            logger.info("not replaying \(names): the recorded client's TLS handshake failed, so it never spoke")
        }
        guard !chosen.isEmpty else {
            throw failure(CommandError("\(cassettes.joined(separator: ", ")): no sessions; there is nothing to replay", status: .badInput))
        }

        let incomplete = IncompleteSessions(chosen.map { ($0.ref.file, $0.session) })
        if !incomplete.entries.isEmpty {
            guard allowGaps else { throw failure(incomplete.refusal) }
            incomplete.warn(logger)
        }

        let tls = try tlsContext(for: chosen, logger: logger)
        let options = ReplayOptions(speed: speed, noDelay: noDelay,
                                    hold: hold > 0 ? Int64((hold * 1e9).rounded()) : nil, loop: loop)
        let source: ReplaySource
        switch matchMode {
        case .similar, .exact:
            let masks = try maskSet(loaded.flatMap { $0.cassette.header.masks })
            let grouped = Dictionary(grouping: chosen, by: \.ref.file)
            let set = ConversationSet(cassettes: cassettes.compactMap { file in grouped[file].map { (file, $0.map(\.session)) } },
                                      masks: masks, proto: forced)
            let chosenSeed = seed ?? UInt64.random(in: 1...999_999)
            let faults = try faultSettings(seed: chosenSeed)
            if faults != nil {
                printToStandardError("faults: seed \(chosenSeed)\(seed == nil ? " (chosen; repeat this run with --seed \(chosenSeed))" : "")")
            }
            source = ReplaySource(set: set, match: matchMode, onMismatch: policy, inOrder: inOrder, options: options,
                                  keepsReports: report != nil, faults: faults)
        case .bytes, .none:
            source = ReplaySource(sessions: chosen, match: matchMode, options: options)
        }

        return (source, tls)
    }

    /// The server-side TLS context, or nil when no chosen session was recorded over TLS. Such
    /// sessions without a certificate stop the replay here, before it listens: a client would
    /// otherwise get a STARTTLS reply and then nothing it can use.
    func tlsContext(for chosen: [(ref: SessionRef, session: Session)], logger: Logger) throws -> NIOSSLContext? {
        let overTLS = chosen.filter { $0.session.startsTLS }
        guard let tlsCert, let tlsKey else {
            guard let first = overTLS.first else { return nil }
            let more = overTLS.count > 1 ? " (and \(overTLS.count - 1) more)" : ""
            throw failure(CommandError("\(first.ref.file): session \(first.ref.session)\(more) was recorded over TLS; "
                + "give --tls-cert CERT --tls-key KEY to serve it (make a throwaway pair with: replayd cert --out DIR)", status: .usage))
        }
        if overTLS.isEmpty { logger.warning("--tls-cert given but no session was recorded over TLS: the replay speaks plaintext") }
        do {
            let identity = try TLSIdentity(certificatePath: tlsCert, keyPath: tlsKey)
            for warning in identity.warnings { logger.warning("\(warning)") }
            return try NIOSSLContext(configuration: identity.serverConfiguration())
        } catch let error as TLSIdentityError {
            throw failure(CommandError("\(error)", status: .badInput))
        } catch {
            throw failure(CommandError("\(tlsCert): cannot serve TLS with this certificate and key: \(error)", status: .badInput))
        }
    }

    /// The `--fault` rules and `--chaos` with `seed`; nil when none was given.
    func faultSettings(seed: UInt64) throws -> FaultSettings? {
        guard !faultRules.isEmpty || chaos != nil else { return nil }
        do {
            let rules = try faultRules.map { text throws(FaultRuleError) in
                let rule = try FaultRule(text)
                if rule.direction != nil {
                    throw FaultRuleError(rule: text, word: "dir=", expected: "a selector of record (on replay every fault acts on the server's side)")
                }
                return rule
            }
            let names = chaosFaults.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
            let chaos = try self.chaos.map { probability throws(FaultRuleError) in try FaultChaos(probability: probability, faults: names) }
            return FaultSettings(rules: rules, chaos: chaos, seed: seed)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The user's masks and the cassettes' own.
    func maskSet(_ fromCassettes: [String]) throws -> MaskSet {
        do {
            return try MaskSet(patterns: mask + fromCassettes)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// `[HOST:]PORT`, `[v6]:PORT` too; the host defaults to 127.0.0.1.
    static func parseListen(_ text: String) throws -> HostPort {
        do {
            return try HostPort(parsing: text, defaultHost: "127.0.0.1")
        } catch {
            throw ValidationError("--listen: \(error), e.g. 2525, 127.0.0.1:2525 or [::1]:2525")
        }
    }


    /// Prints the error the project's way and returns the exit code to throw.
}
