import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Where a `CassetteRecorder` puts events. `CassetteWriter` is the real one; tests put a
/// failing one in its place to show that a broken disk never breaks forwarding.
public protocol CassetteEventSink: AnyObject {
    func append(_ event: SessionEvent) throws(CassetteError)
    func flush() throws(CassetteError)
    func finish() throws(CassetteError)
    /// Gives up on the file (an atomic writer removes its partial file).
    func abandon()
    /// Gives an atomic file its final name now; later events keep going into it.
    func publish() throws(CassetteError)
}

extension CassetteEventSink {
    public func publish() throws(CassetteError) {}
}

extension CassetteWriter: CassetteEventSink {}

/// A bounded, asynchronous sink that writes the events of every connection into one cassette.
///
/// `record(_:)` never touches the disk: it queues the event and returns, so an event loop never
/// waits on a slow or broken disk. A thread of its own writes the events in order and flushes
/// whenever it has caught up. By default, when it falls more than `queueLimit` bytes behind, data events are
/// dropped and recorded as `gap` events (the cassette says what is missing) instead of growing
/// memory. A write error is logged once at error level; later events are counted and discarded.
///
/// In lossless mode nothing is dropped: the recorder slows the traffic instead. Once more than
/// `highWatermark` bytes wait, `record(_:)` answers `.backlogged`, and the caller (the proxy)
/// stops reading and asks `whenDrained(on:_:)` to be called back; once the writer has brought
/// the queue down to `lowWatermark`, every waiting callback runs on its own event loop. A sink
/// that fails ends the holding for good (recording has stopped; the traffic must not), and the
/// recorder falls back to dropping as in the default mode.
public final class CassetteRecorder: Sendable {
    /// Whether the caller may keep feeding the recorder at full speed.
    public enum Flow: Sendable, Equatable {
        /// Keep going.
        case flowing
        /// Lossless mode, and the writer is more than `highWatermark` bytes behind: stop
        /// reading and wait for `whenDrained(on:_:)`.
        case backlogged
    }

    /// What to do when the writer falls behind.
    public enum Overflow: Sendable, Equatable {
        /// Drop data beyond `queueLimit` and record it as `gap` events; traffic never waits.
        case dropAsGaps
        /// Record every byte: report `.backlogged` so the traffic is slowed to the writer's speed.
        case slowTraffic
    }

    /// A party waiting for the writer to catch up: called on its own event loop.
    private struct DrainWaiter: Sendable {
        var eventLoop: any EventLoop
        var callback: @Sendable () -> Void
    }

    /// What happened to the events handed to a recorder.
    public struct Report: Sendable, Equatable {
        /// Events that reached the sink.
        public var eventsWritten = 0
        /// Data events dropped because the writer was too far behind.
        public var dataEventsDropped = 0
        /// Bytes in those dropped events (each recorded in a `gap` event).
        public var bytesDropped = 0
        /// Events not written because the sink failed.
        public var eventsLost = 0
        /// The first write error.
        public var firstError: CassetteError?
        /// The most bytes of events that waited for the writer at once.
        public var peakQueuedBytes = 0
        /// How many times lossless mode asked the traffic to wait for the writer.
        public var timesBacklogged = 0

        /// Whether every event reached the cassette.
        public var isComplete: Bool { dataEventsDropped == 0 && eventsLost == 0 && firstError == nil }
    }

    private struct GapKey: Hashable {
        var session: Int
        var direction: Direction
    }

    private struct Queue: Sendable {
        var events: [SessionEvent] = []
        var queuedBytes = 0
        var drainScheduled = false
        var closed = false
        /// Dropped bytes not yet written as a `gap`, with the offset of the first dropped chunk.
        var pendingGaps: [GapKey: (offset: Int64, bytes: Int)] = [:]
        var dataEventsDropped = 0
        var bytesDropped = 0
        var warnedAboutDropping = false
        var lateEvents = 0
        var peakQueuedBytes = 0
        /// Lossless mode holds traffic (cleared for good when the sink fails).
        var holding: Bool
        /// Above the high watermark, until drained to the low one.
        var backlogged = false
        var timesBacklogged = 0
        var waiters: [DrainWaiter] = []
    }

    private struct Output {
        var sink: any CassetteEventSink
        var failed: CassetteError?
        var eventsWritten = 0
        var eventsLost = 0
    }

    /// The cassette's path, for messages.
    public let path: String
    /// How many bytes of events may wait for the writer before data is dropped.
    public let queueLimit: Int
    private let logger: Logger
    /// What happens when the writer falls behind.
    public let overflow: Overflow
    /// Lossless mode: queued bytes above which `record(_:)` answers `.backlogged`.
    public let highWatermark: Int
    /// Lossless mode: queued bytes at or below which the waiting parties are called back.
    public let lowWatermark: Int
    private let queue: Mutex<Queue>
    private let output: Mutex<Output>
    /// One thread of its own for all disk work: events are written in the order they were
    /// queued, and a busy shared pool (Dispatch's has one thread per core) can never starve it.
    private let writer: NIOThreadPool

    /// A recorder writing into `sink` (which it owns from now on). With `overflow: .slowTraffic`
    /// the watermarks are half and an eighth of `queueLimit`.
    public init(
        sink: sending any CassetteEventSink, path: String, queueLimit: Int = 32 * 1024 * 1024,
        overflow: Overflow = .dropAsGaps, logger: Logger
    ) {
        self.path = path
        self.queueLimit = queueLimit
        self.overflow = overflow
        self.highWatermark = queueLimit / 2
        self.lowWatermark = queueLimit / 8
        self.queue = Mutex(Queue(holding: overflow == .slowTraffic))
        self.logger = logger
        self.output = Mutex(Output(sink: sink))
        self.writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
    }

    deinit {
        writer.shutdownGracefully { _ in }
    }

    /// Runs `body` on the writer thread, after everything submitted before it.
    private func onWriter(_ body: @escaping @Sendable () -> Void) {
        // A work item is only cancelled once the pool shuts down, in deinit; running it
        // anyway still resumes whoever waits on it.
        writer.submit { _ in body() }
    }

    /// Queues one event for the cassette. Never blocks on I/O; safe from any thread.
    ///
    /// Answers `.backlogged` only in lossless mode, while the writer is behind: the event is
    /// queued all the same, and the caller should stop reading until `whenDrained(on:_:)` calls back.
    @discardableResult
    public func record(_ event: SessionEvent) -> Flow {
        var warnDropping = false
        var scheduleDrain = false
        var lostLate = false
        var firstBacklog = false
        let flow = queue.withLock { state -> Flow in
            guard !state.closed else {
                state.lateEvents += 1
                lostLate = state.lateEvents == 1
                return .flowing
            }
            let cost = Self.cost(of: event)
            if !state.holding, case .data(let direction, let bytes) = event.kind, state.queuedBytes + cost > queueLimit {
                let key = GapKey(session: event.session, direction: direction)
                let gap = state.pendingGaps[key] ?? (offset: event.offset, bytes: 0)
                state.pendingGaps[key] = (gap.offset, gap.bytes + bytes.count)
                state.dataEventsDropped += 1
                state.bytesDropped += bytes.count
                if !state.warnedAboutDropping {
                    state.warnedAboutDropping = true
                    warnDropping = true
                }
                return .flowing
            }
            // Missing bytes are written where they went missing: before whatever event of the
            // session (either direction) comes next, with the time of the first dropped chunk,
            // so `t` stays non-decreasing within the session.
            if !state.pendingGaps.isEmpty {
                var gaps: [(direction: Direction, offset: Int64, bytes: Int)] = []
                for direction in Direction.allCases {
                    guard let gap = state.pendingGaps.removeValue(forKey: GapKey(session: event.session, direction: direction)) else { continue }
                    gaps.append((direction, gap.offset, gap.bytes))
                }
                for gap in gaps.sorted(by: { $0.offset < $1.offset }) {
                    state.events.append(SessionEvent(session: event.session, offset: gap.offset, kind: .gap(gap.direction, gap.bytes)))
                    state.queuedBytes += 64
                }
            }
            state.events.append(event)
            state.queuedBytes += cost
            state.peakQueuedBytes = max(state.peakQueuedBytes, state.queuedBytes)
            if !state.drainScheduled {
                state.drainScheduled = true
                scheduleDrain = true
            }
            guard state.holding else { return .flowing }
            if !state.backlogged, state.queuedBytes > highWatermark {
                state.backlogged = true
                state.timesBacklogged += 1
                firstBacklog = state.timesBacklogged == 1
            }
            return state.backlogged ? .backlogged : .flowing
        }
        if firstBacklog {
            logger.notice("cassette writer is more than \(highWatermark) bytes behind: slowing connections until it catches up (lossless)", metadata: ["cassette": "\(path)"])
        }
        if warnDropping {
            logger.error("cassette writer is more than \(queueLimit) bytes behind: dropping data events and recording them as gaps; forwarding continues", metadata: ["cassette": "\(path)"])
        }
        if lostLate {
            logger.error("an event arrived after the cassette was closed and was not recorded", metadata: ["cassette": "\(path)", "session": "\(event.session)"])
        }
        if scheduleDrain {
            onWriter { self.drain() }
        }
        return flow
    }

    /// Calls `callback` on `eventLoop` once the writer is no longer backlogged: once it has
    /// drained to `lowWatermark`, the sink has failed, or the recorder was closed. If it is not
    /// backlogged now, the callback is scheduled at once (`eventLoop.execute`), so a caller that
    /// saw `.backlogged` can always register and wait, whatever happened in between.
    public func whenDrained(on eventLoop: any EventLoop, _ callback: @escaping @Sendable () -> Void) {
        let waiting = queue.withLock { state -> Bool in
            guard state.backlogged else { return false }
            state.waiters.append(DrainWaiter(eventLoop: eventLoop, callback: callback))
            return true
        }
        if !waiting { eventLoop.execute(callback) }
    }

    /// Ends the backlog (if any) and calls every waiting party back on its own event loop.
    /// `stopHolding` ends lossless mode for good.
    private func releaseWaiters(stopHolding: Bool) {
        let waiters = queue.withLock { state -> [DrainWaiter] in
            if stopHolding { state.holding = false }
            return Self.endBacklog(&state, lowWatermark: nil)
        }
        Self.call(waiters)
    }

    /// Ends the backlog if the queue is at or below `lowWatermark` (any size when nil) and
    /// hands back the waiters to call. Runs under the queue lock.
    private static func endBacklog(_ state: inout Queue, lowWatermark: Int?) -> [DrainWaiter] {
        guard state.backlogged else { return [] }
        if let lowWatermark, state.queuedBytes > lowWatermark { return [] }
        state.backlogged = false
        let waiters = state.waiters
        state.waiters.removeAll()
        return waiters
    }

    private static func call(_ waiters: [DrainWaiter]) {
        for waiter in waiters { waiter.eventLoop.execute(waiter.callback) }
    }

    /// Writes everything queued, closes the cassette and reports what was (not) written.
    /// Events recorded after this call are counted as lost.
    public func finish() async -> Report {
        await withCheckedContinuation { (continuation: CheckedContinuation<Report, Never>) in
            queue.withLock { state in
                for (key, gap) in state.pendingGaps.sorted(by: { $0.key.session < $1.key.session }) {
                    state.events.append(SessionEvent(session: key.session, offset: gap.offset, kind: .gap(key.direction, gap.bytes)))
                }
                state.pendingGaps.removeAll()
                state.closed = true
            }
            onWriter {
                self.drain()
                self.releaseWaiters(stopHolding: true)
                let report = self.closeSink()
                continuation.resume(returning: report)
            }
        }
    }

    /// Drops everything queued and abandons the cassette: for a recording that never started.
    /// Gives the cassette its final name while recording goes on, so that from now on a crash
    /// leaves every flushed line under the name the user asked for.
    public func publish() async throws(CassetteError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<CassetteError?, Never>) in
            onWriter {
                let failure = self.output.withLock { state -> CassetteError? in
                    do throws(CassetteError) { try state.sink.publish() } catch { return error }
                    return nil
                }
                continuation.resume(returning: failure)
            }
        }
        if let result { throw result }
    }

    public func abandon() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.withLock { state in
                state.closed = true
                state.events.removeAll()
                state.pendingGaps.removeAll()
            }
            // What was queued is gone: nobody may wait for it to be written.
            releaseWaiters(stopHolding: true)
            onWriter {
                self.output.withLock { $0.sink.abandon() }
                continuation.resume()
            }
        }
    }

    /// Runs on the writer thread only.
    private func drain() {
        while true {
            let batch = queue.withLock { state -> [SessionEvent] in
                let batch = state.events
                state.events.removeAll(keepingCapacity: false)
                if batch.isEmpty { state.drainScheduled = false }
                return batch
            }
            if batch.isEmpty {
                write(countsAsEvent: false) { sink throws(CassetteError) in try sink.flush() }
                return
            }
            for event in batch {
                write(countsAsEvent: true) { sink throws(CassetteError) in try sink.append(event) }
            }
            // The batch's memory is released only now, so the limit covers it while it is written.
            let batchBytes = batch.reduce(0) { $0 + Self.cost(of: $1) }
            let drained = queue.withLock { state -> [DrainWaiter] in
                state.queuedBytes -= batchBytes
                return Self.endBacklog(&state, lowWatermark: lowWatermark)
            }
            Self.call(drained)
        }
    }

    /// One sink operation; after the first failure the sink is left alone and events are counted.
    private func write(countsAsEvent: Bool, _ operation: (any CassetteEventSink) throws(CassetteError) -> Void) {
        let count = countsAsEvent ? 1 : 0
        let firstFailure = output.withLock { state -> CassetteError? in
            guard state.failed == nil else {
                state.eventsLost += count
                return nil
            }
            do throws(CassetteError) {
                try operation(state.sink)
                state.eventsWritten += count
                return nil
            } catch {
                state.failed = error
                state.eventsLost += count
                return error
            }
        }
        if let firstFailure {
            logger.error("cannot write the cassette: \(firstFailure); recording stopped, traffic is still forwarded", metadata: ["cassette": "\(path)"])
            if overflow == .slowTraffic {
                // Holding traffic for a writer that will never write again would trade the
                // traffic for nothing: stop holding, let it flow at full speed.
                logger.error("lossless recording gave up: connections are no longer slowed for the cassette writer", metadata: ["cassette": "\(path)"])
                releaseWaiters(stopHolding: true)
            }
        }
    }

    private func closeSink() -> Report {
        let queueState = queue.withLock { state in
            (state.dataEventsDropped, state.bytesDropped, state.lateEvents, state.peakQueuedBytes, state.timesBacklogged)
        }
        var report = output.withLock { state -> Report in
            if state.failed == nil {
                do throws(CassetteError) {
                    try state.sink.finish()
                } catch {
                    state.failed = error
                }
            } else {
                // Write what the buffer still holds if the disk recovered; the error is already known.
                try? state.sink.finish()
            }
            return Report(eventsWritten: state.eventsWritten, dataEventsDropped: 0, bytesDropped: 0, eventsLost: state.eventsLost, firstError: state.failed)
        }
        report.dataEventsDropped = queueState.0
        report.bytesDropped = queueState.1
        report.eventsLost += queueState.2
        report.peakQueuedBytes = queueState.3
        report.timesBacklogged = queueState.4
        if let error = report.firstError {
            logger.error("the cassette is incomplete: \(report.eventsLost) event(s) were not written (first error: \(error))", metadata: ["cassette": "\(path)"])
        }
        if report.dataEventsDropped > 0 {
            logger.error("the cassette is incomplete: \(report.dataEventsDropped) data event(s), \(report.bytesDropped) bytes, were dropped because the writer fell behind (recorded as gaps)", metadata: ["cassette": "\(path)"])
        }
        return report
    }

    private static func cost(of event: SessionEvent) -> Int {
        if case .data(_, let bytes) = event.kind { return bytes.count + 64 }
        return 128
    }
}
