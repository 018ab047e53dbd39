import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOSSL
import ReplayCore

/// `replayd verify`: play the recorded client side against a live server and say whether it
/// still answers as recorded.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Play recorded client sessions against a live server and compare every reply with the recording.",
        discussion: """
        Each session's client side is sent to --target with the recorded think time (--speed, \
        --no-delay), one session after another, one connection each. Every server reply is read by \
        the protocol's framing (never by a fixed sleep) and compared with the recorded reply exactly, \
        after the built-in masks (Postfix queue ids, dates, host names an EHLO reply repeats) and any \
        --mask: a 250 where 550 was recorded, or a changed Redis value, is a difference. After the \
        last reply, how the server ended (FIN, RST, or silence for --silence SECONDS) is compared too. \
        At the first difference verify stops that session with the protocol's polite exit (SMTP QUIT).

        --until STEP ends each session after its last STEP message (a kind as replay names it: RCPT, \
        MAIL, GET...) with the polite exit, so a policy check need not deliver mail. A server-side \
        pattern of a hand-written transcript (S: 550*) is matched as a pattern. Redacted client \
        secrets must be given: --secret RULE=VALUE or REPLAYD_SECRET_RULE in the environment (RULE \
        as show names it, upper-cased with - as _ for the variable).

        Prints "session N: ok (K steps)" or a diff (the step, the client message, the recorded and \
        the live reply) per session, then a summary; --json prints one JSON document instead. Exit \
        status: 0 all sessions match, 1 a difference, 2 the target cannot be reached. See docs/verify.md.

        EXAMPLES:
          # unknown user still rejected? relaying still denied? valid user accepted?
          replayd verify policy.cassette --target mx.example.net:25 --until RCPT
          replayd verify smtp.cassette --target 127.0.0.1:25 --session 2 --no-delay
          replayd verify redis.cassette --target 127.0.0.1:6379 --json > verify.json
          # a hand-written policy test: literal C: lines, S: patterns
          replayd verify fixtures/scenarios/mta-policy-check.txt --target 127.0.0.1:25
          replayd verify auth.cassette --target 127.0.0.1:587 --secret smtp-auth-plain=AGFsaWNlAHNlY3JldA==
          # a STARTTLS session: verify upgrades where the recording did, checking the server's certificate
          replayd verify starttls.cassette --target mx.example.net:25 --tls-ca certs/ca.pem
          replayd verify https.cassette --target 127.0.0.1:8443 --tls --tls-insecure

        Sessions recorded over TLS are verified over TLS: from the first byte (implicit TLS), or \
        after the server's yes to the recorded STARTTLS. --tls speaks TLS from the first byte to \
        every session. The server's certificate is checked against the system roots, or --tls-ca, \
        for the target's host name (or --tls-name); --tls-insecure checks nothing. A failed \
        handshake is a difference naming the reason (unknown CA, name mismatch, protocol version).
        """
    )

    @Argument(help: "The cassettes whose sessions are played (every session of each, in order).")
    var cassettes: [String]

    @Option(help: FormatOption.help)
    var format: String?

    @Option(help: ArgumentHelp("The live server: HOST:PORT.", valueName: "HOST:PORT"))
    var target: String

    @Option(help: ArgumentHelp("Verify only this session: N, or FILE:N with several cassettes.", valueName: "N|FILE:N"))
    var session: String?

    @Option(help: ArgumentHelp("End each session after its last STEP message (e.g. RCPT) with the protocol's polite exit.", valueName: "STEP"))
    var until: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Divide every recorded client think time by FACTOR.", valueName: "FACTOR"))
    var speed: Double = 1

    @Flag(help: "Send each client message as soon as the previous reply is complete.")
    var noDelay = false

    @Option(parsing: .unconditional, help: ArgumentHelp("How long a reply (and the connect) may take (a reply recorded as slower gets its recorded time plus 2 s).", valueName: "SECONDS"))
    var timeout: Double = 10

    @Option(parsing: .unconditional, help: ArgumentHelp("After the last reply, how long no byte and no close counts as silence (default: the recorded pause, at most 10 s, plus 2 s).", valueName: "SECONDS"))
    var silence: Double?

    @Option(help: ArgumentHelp("The value of a redacted client secret, by redaction rule (repeatable), e.g. smtp-auth-plain=BASE64.", valueName: "RULE=VALUE"))
    var secret: [String] = []

    @Option(help: ArgumentHelp("Frame every session as this protocol: \(WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "PROTO"))
    var proto: String?

    @Option(help: ArgumentHelp("A regular expression whose matches are ignored when comparing replies (repeatable).", valueName: "REGEX"))
    var mask: [String] = []

    @Flag(help: "Speak TLS from the first byte to every session, whatever was recorded (implicit TLS, e.g. SMTPS, HTTPS).")
    var tls = false

    @Option(help: ArgumentHelp("Trust the target's certificate if this CA (PEM) signed it, instead of the system roots.", valueName: "FILE"))
    var tlsCa: String?

    @Option(help: ArgumentHelp("The name to ask for (SNI) and to check in the target's certificate (default: the --target host).", valueName: "NAME"))
    var tlsName: String?

    @Flag(help: "Do not check the target's certificate at all (logged as a warning).")
    var tlsInsecure = false

    @Flag(help: "Print one JSON document with every session, step and difference instead of text.")
    var json = false

    @Flag(help: "Log each connection and step on stderr.")
    var verbose = false

    func validate() throws {
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a number greater than 0, got \(speed)") }
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be more than 0 seconds, got \(timeout)") }
        if let silence { guard silence >= 0, silence.isFinite else { throw ValidationError("--silence must be 0 or more seconds, got \(silence)") } }
        do {
            _ = try HostPort(parsing: target)
        } catch {
            throw ValidationError("--target: \(error), e.g. 127.0.0.1:25 or mx.example.net:25")
        }
        _ = try ProtocolOption.parse(proto)
        if tlsInsecure, tlsCa != nil { throw ValidationError("--tls-insecure checks no certificate: give it or --tls-ca, not both") }
        if let session { _ = try SessionSelector(parsing: session, cassettes: cassettes) }
        do {
            _ = try VerifySecrets(options: secret, environment: [:])
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let logger = bootstrapLogging(label: "replayd.verify", quiet: !verbose)
        let (scripts, masks) = try compile(logger: logger)
        let endpoint = try HostPort(parsing: target)
        let resolved: SocketAddress
        do {
            resolved = try endpoint.resolve()
        } catch {
            throw failure(CommandError("cannot reach \(endpoint): \(Self.resolutionReason(error))", status: .peerUnreachable))
        }
        let options = VerifyOptions(speed: speed, noDelay: noDelay, replyTimeout: Self.nanoseconds(timeout),
                                    silence: silence.map(Self.nanoseconds), implicitTLS: tls)
        let needsTLS = tls || scripts.contains { $0.implicitTLS || $0.steps.contains(where: \.startsTLS) }
        let tlsContext = needsTLS ? try clientTLS(logger: logger) : nil
        // A name is sent as SNI and checked in the certificate; an address is checked against
        // the certificate's IP names (NIOSSL does that without a server name).
        let serverName = tlsName ?? (endpoint.host.isIPAddress ? nil : endpoint.host)
        let client = VerifyClient(target: resolved, targetName: endpoint.description, options: options, masks: masks,
                                  tls: tlsContext, serverName: serverName)
        let text = VerifyReportText(namesFiles: cassettes.count > 1)

        var verdicts: [SessionVerdict] = []
        for script in scripts {
            let verdict: SessionVerdict
            do {
                verdict = try await client.run(script, logger: logger)
            } catch let error as VerifyConnectError {
                throw failure(CommandError(error.description, status: .peerUnreachable))
            } catch {
                throw failure(CommandError("session \(script.ref): \(error)", status: .peerUnreachable))
            }
            verdicts.append(verdict)
            if !json { for line in text.lines(for: verdict) { print(line) } }
        }
        if json {
            do {
                let data = try VerifyReportJSON.document(verdicts, target: endpoint.description)
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            } catch {
                throw failure(CommandError("cannot write the JSON report: \(error)"))
            }
        } else {
            print(text.summary(verdicts))
        }
        if verdicts.contains(where: { !$0.matched }) { throw ExitStatus.differenceFound.exitCode }
    }

    /// The client side of TLS: the system roots, --tls-ca, or no check at all.
    func clientTLS(logger: Logger) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tlsInsecure {
            logger.warning("--tls-insecure: the target's certificate is not checked; anyone in the path could answer")
            configuration.certificateVerification = .none
        } else if let tlsCa {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tlsCa))
            } catch {
                throw failure(CommandError("\(tlsCa): expected a PEM CA certificate: no certificate could be read from it", status: .badInput))
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw failure(CommandError("cannot set up TLS towards the target: \(error)", status: .badInput))
        }
    }

    /// Loads the cassettes, picks the sessions asked for and compiles each into a script; every
    /// refusal (a client pattern, a missing secret, an unknown --until step) comes before anything is sent.
    func compile(logger: Logger) throws -> ([VerifyScript], MaskSet) {
        let forced = try ProtocolOption.parse(proto)
        var loaded: [(file: String, cassette: Cassette)] = []
        for path in cassettes {
            let cassette = try Self.load(path, format: try FormatOption.parse(format))
            for warning in cassette.warnings { logger.warning("\(path): \(warning)") }
            loaded.append((path, cassette))
        }
        let selector = try session.map { try SessionSelector(parsing: $0, cassettes: cassettes) }
        let masks: MaskSet
        do {
            masks = try MaskSet(patterns: mask + loaded.flatMap { $0.cassette.header.masks })
        } catch {
            throw failure(error)
        }
        let secrets: VerifySecrets
        do {
            secrets = try VerifySecrets(options: secret, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw failure(ValidationError("\(error)"))
        }
        var scripts: [VerifyScript] = []
        for (file, cassette) in loaded {
            for recorded in cassette.sessions where selector?.matches(SessionRef(file: file, session: recorded.id)) ?? true {
                do {
                    scripts.append(try VerifyScript(session: recorded, file: file, proto: forced, masks: masks, secrets: secrets, until: until))
                } catch {
                    throw failure(CommandError("\(error)", status: .usage))
                }
            }
        }
        if let session, scripts.isEmpty {
            throw failure(CommandError("--session \(session): no such session in \(cassettes.joined(separator: ", "))", status: .usage))
        }
        guard !scripts.isEmpty else {
            throw failure(CommandError("\(cassettes.joined(separator: ", ")): no sessions; there is nothing to verify", status: .badInput))
        }
        return (scripts, masks)
    }

    /// Reads one cassette (or, once the scenario loader lands, a hand-written transcript): the
    /// one place verify loads its input, so the loader is swapped here.
    /// A cassette or a transcript (by content, or `--format`).
    static func load(_ path: String, format: ScenarioFormat? = nil) throws -> Cassette {
        try loadScenario(path, format: format).cassette
    }

    static func nanoseconds(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }

    /// Why a name did not resolve, without the "cannot resolve NAME:" the error starts with.
    static func resolutionReason(_ error: any Error) -> String {
        // getaddrinfo's words come wrapped in NIO's type name; the fact is what matters.
        if let error = error as? AddressError, case .cannotResolve = error { return "the host name does not resolve" }
        return "\(error)"
    }
}
