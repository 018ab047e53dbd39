import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Sends swift-log output to stderr (info, or warnings only with `--quiet`) and returns the
/// command's logger. Called once, by the command that runs.
func bootstrapLogging(label: String, quiet: Bool) -> Logger {
    let level: Logger.Level = quiet ? .warning : .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    var logger = Logger(label: label)
    logger.logLevel = level
    return logger
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
