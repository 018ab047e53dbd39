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

            EXAMPLES:
              replayd record --listen 2525 --upstream mail.example.net:25 -o smtp.cassette
              replayd record --listen 127.0.0.1:0 --upstream 127.0.0.1:8080 -o http.cassette --connect-timeout 2
            """
    )

    @Option(name: .long, help: ArgumentHelp("Where to accept clients (default host 127.0.0.1; port 0 picks one).", valueName: "[HOST:]PORT"))
    var listen: String

    @Option(name: .long, help: ArgumentHelp("The server to forward to.", valueName: "HOST:PORT"))
    var upstream: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The cassette to write.", valueName: "CASSETTE"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the upstream to accept a connection.", valueName: "SECONDS"))
    var connectTimeout: Double = 10

    @Flag(name: .long, help: "Do not log a line per connection.")
    var quiet = false

    func validate() throws {
        guard connectTimeout > 0, connectTimeout.isFinite else {
            throw ValidationError("--connect-timeout must be a positive number of seconds")
        }
    }

    func run() async throws {
        let quiet = self.quiet
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = quiet ? .warning : .info
            return handler
        }
        let logger = Logger(label: "replayd.record")
        do {
            try await record(logger: logger)
        } catch let error as ProxyError {
            FileHandleStderr.write("replayd: error: \(error)\n")
            throw ExitCode(1)
        } catch let error as CassetteError {
            FileHandleStderr.write("replayd: error: \(error)\n")
            throw ExitCode(1)
        }
    }

    private func record(logger: Logger) async throws {
        let listenEndpoint = try ProxyEndpoint(parsing: listen, defaultHost: "127.0.0.1")
        let upstreamEndpoint = try ProxyEndpoint(parsing: upstream)
        let upstreamAddress = try upstreamEndpoint.resolve()
        let options = ProxyOptions(
            listen: listenEndpoint, upstream: upstreamAddress, upstreamName: upstreamEndpoint.description,
            connectTimeout: .nanoseconds(Int64(connectTimeout * 1e9))
        )
        let header = CassetteHeader(source: .record, details: ["upstream": upstreamEndpoint.description])
        // Written as OUTPUT.partial until the proxy listens, so a start that fails (port in use)
        // never replaces an existing cassette; then renamed, and it grows in place from there on.
        let writer = try CassetteWriter(path: output, header: header, atomic: true)
        let recorder = CassetteRecorder(sink: writer, path: output, logger: logger)
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
        FileHandleStderr.write("listening on \(bound.ipAddress ?? listenEndpoint.host):\(bound.port ?? listenEndpoint.port)\n")
        let signal = await signals.next()
        logger.info("received signal \(signal); stopping")
        await proxy.stop()
        let report = await recorder.finish()
        logger.info("cassette \(output) closed: \(report.eventsWritten) events")
    }
}

/// Unbuffered writes to stderr (the "listening on" line must reach a waiting test at once).
enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
            }
            if written <= 0 { if errno == EINTR { continue } else { return } }
            offset += written
        }
    }
}

/// Turns SIGINT/SIGTERM into an awaitable value instead of the default termination.
final class SignalWaiter {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func next() async -> Int32 {
        for await number in stream { return number }
        return 0
    }
}
