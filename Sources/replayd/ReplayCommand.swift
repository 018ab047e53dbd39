import ArgumentParser
import Dispatch
import Logging
import NIOCore
import NIOPosix
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
        abstract: "Serve recorded sessions to clients, with the server's original timing.",
        discussion: """
        Each accepted connection is served the next recorded session, in recorded order. \
        Before a server chunk that followed client data in the recording, replay waits until the \
        client has sent at least as many bytes as the recorded client had; the recorded delay is \
        then counted from that moment. Chunk boundaries, the server's FIN or RST, a failed \
        upstream connect and a server that went silent are reproduced. Several connections are \
        served at once. Prints "listening on HOST:PORT" to stderr when ready; SIGINT or SIGTERM \
        stops it (exit 0).

        --hold 0 (the default) keeps a connection whose server went silent open until the \
        client closes it.

        EXAMPLES:
          replayd replay smtp.cassette --listen 2525
          replayd replay smtp.cassette --listen 0.0.0.0:2525 --loop --speed 2
          replayd replay api.cassette --listen 127.0.0.1:0 --no-delay --hold 5 --quiet
        """
    )

    @Argument(help: "The cassette to replay.")
    var cassette: String

    @Option(help: ArgumentHelp("Where to listen: [HOST:]PORT (host defaults to 127.0.0.1; port 0 picks a free one).", valueName: "[HOST:]PORT"))
    var listen: String

    @Flag(help: "After the last session, start again from the first.")
    var loop = false

    @Option(help: ArgumentHelp("Divide every recorded delay by FACTOR (2 = twice as fast).", valueName: "FACTOR"))
    var speed: Double = 1

    @Flag(help: "Send each chunk as soon as the client has sent what it waits for.")
    var noDelay = false

    @Option(help: ArgumentHelp("Close a connection SECONDS after the recording is exhausted and the server silent (or after its FIN); 0 = wait for the client.", valueName: "SECONDS"))
    var hold: Double = 0

    @Flag(help: "Log only warnings and errors, not one line per connection.")
    var quiet = false

    func validate() throws {
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a number greater than 0, got \(speed)") }
        guard hold >= 0, hold.isFinite else { throw ValidationError("--hold must be 0 or more seconds, got \(hold)") }
        _ = try Self.parseListen(listen)
    }

    func run() async throws {
        let (host, port) = try Self.parseListen(listen)
        let level: Logger.Level = quiet ? .warning : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "replayd.replay")
        logger.logLevel = level

        let cassetteFile: Cassette
        do {
            cassetteFile = try Cassette.load(path: cassette)
        } catch {
            throw Self.fail("\(error)")
        }
        for warning in cassetteFile.warnings { logger.warning("\(cassette): \(warning)") }
        guard !cassetteFile.sessions.isEmpty else {
            throw Self.fail("\(cassette): the cassette holds no sessions; there is nothing to replay")
        }

        let options = ReplayOptions(speed: speed, noDelay: noDelay,
                                    hold: hold > 0 ? Int64((hold * 1e9).rounded()) : nil, loop: loop)
        let dispenser = SessionDispenser(sessions: cassetteFile.sessions, loop: loop)
        let server: ReplayServer
        do {
            server = try await ReplayServer.start(host: host, port: port, dispenser: dispenser, options: options, logger: logger)
        } catch {
            throw Self.fail("cannot listen on \(listen): \(error)")
        }

        // Stop on SIGINT/SIGTERM: close the listener, which ends the wait below.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stopNow() }
            source.resume()
            return source
        }

        Self.printError("listening on \(server.listeningDescription)")
        logger.info("replaying \(cassetteFile.sessions.count) session\(cassetteFile.sessions.count == 1 ? "" : "s") from \(cassette)\(loop ? " in a loop" : "")")
        try? await server.closeFuture.get()
        sources.forEach { $0.cancel() }
        logger.info("stopped")
    }

    /// `[HOST:]PORT`, `[v6]:PORT` too.
    static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        var host = "127.0.0.1"
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--listen \(text): expected [HOST:]PORT, e.g. 2525, 127.0.0.1:2525 or [::1]:2525")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon else {
                throw ValidationError("--listen \(text): write an IPv6 host in brackets, e.g. [::1]:2525")
            }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("--listen \(text): expected [HOST:]PORT with a port from 0 to 65535, e.g. 2525 or 127.0.0.1:2525")
        }
        return (host, port)
    }

    private static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { raw in _ = write(STDERR_FILENO, raw.baseAddress, raw.count) }
    }

    /// Prints the error the project's way and returns the exit code to throw.
    private static func fail(_ message: String) -> ExitCode {
        printError("replayd: error: \(message)")
        return ExitCode(1)
    }
}
