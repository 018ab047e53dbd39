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

/// Turns signals into calls of `handler` instead of the default termination, until the
/// returned sources are released. Every command that stops cleanly on SIGINT/SIGTERM uses it.
func handleSignals(_ numbers: [Int32], handler: @escaping @Sendable (Int32) -> Void) -> [any DispatchSourceSignal] {
    numbers.map { number in
        Glibc.signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { handler(number) }
        source.resume()
        return source
    }
}

/// Turns SIGINT/SIGTERM into an awaitable value instead of the default termination.
final class SignalWaiter {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = handleSignals(signals) { continuation.yield($0) }
    }

    func next() async -> Int32 {
        for await number in stream { return number }
        return 0
    }
}
