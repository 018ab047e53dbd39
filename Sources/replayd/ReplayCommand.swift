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

        A client that reads slowly gets the session at its own pace, as from the real server: \
        about 256 KiB at most waits in replayd per connection, and after a stall the remaining \
        chunks keep their recorded delays instead of coming as one burst.

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
        let endpoint = try Self.parseListen(listen)
        let logger = bootstrapLogging(label: "replayd.replay", quiet: quiet)

        let cassetteFile: Cassette
        do {
            cassetteFile = try Cassette.load(path: cassette)
        } catch {
            throw failure(error)
        }
        for warning in cassetteFile.warnings { logger.warning("\(cassette): \(warning)") }
        guard !cassetteFile.sessions.isEmpty else {
            throw failure(CommandError("\(cassette): the cassette holds no sessions; there is nothing to replay"))
        }

        let options = ReplayOptions(speed: speed, noDelay: noDelay,
                                    hold: hold > 0 ? Int64((hold * 1e9).rounded()) : nil, loop: loop)
        let dispenser = SessionDispenser(sessions: cassetteFile.sessions, loop: loop)
        let server: ReplayServer
        do {
            server = try await ReplayServer.start(host: endpoint.host, port: endpoint.port, dispenser: dispenser, options: options, logger: logger)
        } catch {
            throw failure(CommandError("cannot listen on \(listen): \(error)"))
        }

        // Stop on SIGINT/SIGTERM: close the listener, which ends the wait below.
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        let stopper = Task {
            _ = await signals.next()
            server.stopNow()
        }

        printToStandardError("listening on \(server.listeningDescription)")
        logger.info("replaying \(cassetteFile.sessions.count) session\(cassetteFile.sessions.count == 1 ? "" : "s") from \(cassette)\(loop ? " in a loop" : "")")
        try? await server.closeFuture.get()
        stopper.cancel()
        logger.info("stopped")
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
