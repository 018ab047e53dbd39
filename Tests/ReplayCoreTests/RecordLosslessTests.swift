import Dispatch
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps every event; each `append` takes `microseconds`, like a slow disk.
final class SlowSink: CassetteEventSink {
    private let events: Mutex<[SessionEvent]>.Shared
    private let microseconds: UInt32

    init(events: Mutex<[SessionEvent]>.Shared, microseconds: UInt32) {
        self.events = events
        self.microseconds = microseconds
    }

    func append(_ event: SessionEvent) throws(CassetteError) {
        usleep(microseconds)
        events.value.withLock { $0.append(event) }
    }

    func flush() throws(CassetteError) {}
    func finish() throws(CassetteError) {}
    func abandon() {}
}

/// Its first `append` waits until the test releases it, then fails like a dying disk.
final class StalledFailingSink: CassetteEventSink {
    private let state: StalledSinkState

    init(state: StalledSinkState) { self.state = state }

    func append(_ event: SessionEvent) throws(CassetteError) {
        state.gate.wait()
        throw .cannotWrite(path: "stalled", reason: "Input/output error")
    }

    func flush() throws(CassetteError) {}
    func finish() throws(CassetteError) {}
    func abandon() {}
}

/// A wait that ran out: the recorder never called back.
struct NotCalledBack: Error {}

/// Fails `promise` after `seconds` unless it was completed before, so no test waits forever on
/// a callback that never comes. Call on the promise's event loop.
func bound<T>(_ promise: EventLoopPromise<T>, seconds: Int64 = 20) {
    let timeout = promise.futureResult.eventLoop.scheduleTask(in: .seconds(seconds)) { promise.fail(NotCalledBack()) }
    promise.futureResult.whenComplete { _ in timeout.cancel() }
}

/// Records data events for one session from its own event loop the way the proxy does: it
/// stops at `.backlogged`, asks to be called back, and goes on when it is.
final class LoopProducer: Sendable {
    let loop: any EventLoop
    let recorder: CassetteRecorder
    let session: Int
    let chunks: Int
    let done: EventLoopPromise<Void>
    let backlogs = Atomic<Int>(0)
    let callbacks = Atomic<Int>(0)
    let callbacksOffLoop = Atomic<Int>(0)

    init(loop: any EventLoop, recorder: CassetteRecorder, session: Int, chunks: Int) {
        self.loop = loop
        self.recorder = recorder
        self.session = session
        self.chunks = chunks
        self.done = loop.makePromise()
    }

    private static let base: [UInt8] = (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// 4000 bytes, different for every session and index; cheap, so producing outruns the sink.
    static func chunk(session: Int, index: Int) -> [UInt8] {
        var bytes = base
        bytes[0] = UInt8(truncatingIfNeeded: session)
        bytes[1] = UInt8(truncatingIfNeeded: index)
        bytes[2] = UInt8(truncatingIfNeeded: index >> 8)
        return bytes
    }

    func start() {
        loop.execute {
            bound(self.done)
            self.produce(from: 0)
        }
    }

    private func produce(from first: Int) {
        var index = first
        while index < chunks {
            let event = SessionEvent(session: session, offset: Int64(index), kind: .data(.serverToClient, Self.chunk(session: session, index: index)))
            index += 1
            if recorder.record(event) == .backlogged {
                backlogs.add(1, ordering: .relaxed)
                let next = index
                recorder.whenDrained(on: loop) {
                    self.callbacks.add(1, ordering: .relaxed)
                    if !self.loop.inEventLoop { self.callbacksOffLoop.add(1, ordering: .relaxed) }
                    self.produce(from: next)
                }
                return
            }
        }
        done.succeed()
    }
}

/// The recorder's notices would only clutter the test output.
let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()

@Suite("RecordLossless", .timeLimit(.minutes(1)))
struct RecordLosslessTests {
    @Test("lossless with a slow sink: nothing dropped, queued bytes bounded, each waiting loop called back on itself")
    func slowSinkDropsNothing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let events = Mutex<[SessionEvent]>.Shared([])
        let recorder = CassetteRecorder(
            sink: SlowSink(events: events, microseconds: 200), path: "slow", queueLimit: 256 * 1024,
            overflow: .slowTraffic, logger: quietLogger
        )
        #expect(recorder.highWatermark == 128 * 1024 && recorder.lowWatermark == 32 * 1024)
        let loops = Array(group.makeIterator())
        let producers = (1...2).map { LoopProducer(loop: loops[$0 - 1], recorder: recorder, session: $0, chunks: 300) }
        for producer in producers { producer.start() }
        for producer in producers { try await producer.done.futureResult.get() }
        let report = await recorder.finish()

        #expect(report.isComplete, "\(report)")
        #expect(report.dataEventsDropped == 0)
        #expect(report.timesBacklogged > 0, "the writer never fell behind: the test shows nothing")
        // Each producer records at most one event after the recorder turned backlogged.
        #expect(report.peakQueuedBytes <= recorder.highWatermark + 2 * (4000 + 64), "peak \(report.peakQueuedBytes)")
        let recorded = events.value.withLock { $0 }
        for producer in producers {
            let backlogs = producer.backlogs.load(ordering: .relaxed)
            #expect(backlogs > 0, "session \(producer.session) was never held")
            #expect(producer.callbacks.load(ordering: .relaxed) == backlogs, "one call back per wait")
            #expect(producer.callbacksOffLoop.load(ordering: .relaxed) == 0, "called back off its event loop")
            let bytes = recorded.filter { $0.session == producer.session }.flatMap { event -> [UInt8] in
                if case .data(_, let bytes) = event.kind { return bytes }
                return []
            }
            let expected = (0..<300).flatMap { LoopProducer.chunk(session: producer.session, index: $0) }
            #expect(bytes == expected, "session \(producer.session): the cassette does not hold every byte in order")
        }
        #expect(!recorded.contains { if case .gap = $0.kind { true } else { false } })
        try await group.shutdownGracefully()
    }

    @Test("the default mode never answers backlogged: it drops as gaps")
    func defaultModeDrops() async throws {
        let events = Mutex<[SessionEvent]>.Shared([])
        let recorder = CassetteRecorder(sink: SlowSink(events: events, microseconds: 200), path: "slow", queueLimit: 256 * 1024, logger: quietLogger)
        var backlogged = 0
        for index in 0..<300 {
            let event = SessionEvent(session: 1, offset: Int64(index), kind: .data(.serverToClient, LoopProducer.chunk(session: 1, index: index)))
            if recorder.record(event) == .backlogged { backlogged += 1 }
        }
        let report = await recorder.finish()
        #expect(backlogged == 0)
        #expect(report.dataEventsDropped > 0)
    }

    @Test("asking to be called back when not backlogged calls back at once, on the given loop")
    func notBacklogged() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let recorder = CassetteRecorder(sink: SlowSink(events: .init([]), microseconds: 0), path: "fast", overflow: .slowTraffic, logger: quietLogger)
        let called = loop.makePromise(of: Bool.self)
        try await loop.submit { bound(called) }.get()
        recorder.whenDrained(on: loop) { called.succeed(loop.inEventLoop) }
        #expect(try await called.futureResult.get())
        _ = await recorder.finish()
        try await group.shutdownGracefully()
    }

    @Test("a sink that fails ends the holding: the waiting loop is called back and traffic flows from then on")
    func failureEndsHolding() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let sink = StalledSinkState()
        let messages = Mutex<[(Logger.Level, String)]>.Shared([])
        let logger = Logger(label: "test") { _ in CollectingLogHandler(store: messages) }
        let recorder = CassetteRecorder(sink: StalledFailingSink(state: sink), path: "failing", queueLimit: 64 * 1024, overflow: .slowTraffic, logger: logger)
        func data(_ index: Int) -> SessionEvent {
            SessionEvent(session: 1, offset: Int64(index), kind: .data(.clientToServer, LoopProducer.chunk(session: 1, index: index)))
        }
        // The writer is stuck on its first event: the queue grows until the recorder says so.
        var index = 0
        while index < 100, recorder.record(data(index)) == .flowing { index += 1 }
        #expect(index < 100, "never backlogged")
        let resumed = Atomic<Bool>(false)
        let calledBack = loop.makePromise(of: Void.self)
        try await loop.submit { bound(calledBack) }.get()
        recorder.whenDrained(on: loop) {
            resumed.store(true, ordering: .relaxed)
            calledBack.succeed()
        }
        try await Task.sleep(for: .milliseconds(100))
        let resumedEarly = resumed.load(ordering: .relaxed)
        #expect(!resumedEarly, "called back while the writer was still stuck")

        sink.release()  // the disk fails
        try await calledBack.futureResult.get()
        // Recording has stopped for good; nothing may slow the traffic any more.
        var backlogged = 0
        for later in 100..<300 where recorder.record(data(later)) == .backlogged { backlogged += 1 }
        #expect(backlogged == 0, "\(backlogged) events answered backlogged after the sink failed")

        let report = await recorder.finish()
        #expect(report.firstError != nil)
        let errors = messages.value.withLock { $0.filter { $0.0 == .error }.map(\.1) }
        #expect(errors.filter { $0.contains("lossless recording gave up") }.count == 1, "\(errors)")
        try await group.shutdownGracefully()
    }
}
