import Dispatch
import Foundation
import Synchronization

/// Encodes and writes cassette lines on a thread of its own, so that a large import uses both
/// cores: the caller reads and reassembles while this thread turns events into JSON and copies
/// them to the kernel.
///
/// Events cross over in batches (`[SessionEvent]` is `Sendable`; payloads are shared, not
/// copied). At most `maximumBatchesInFlight` batches wait at once, so memory stays bounded
/// when the disk is slower than the capture. The line buffer and the file belong to the
/// thread alone; the caller gets the first write error back on its next call.
final class CassetteWriteBehind: Sendable {
    private enum Command: Sendable {
        case events([SessionEvent])
        /// Write everything received so far, then signal.
        case flush(DispatchSemaphore)
        /// Write everything, then end the thread and signal.
        case stop(DispatchSemaphore)
        /// End the thread at once, dropping what is queued, and signal.
        case abandon(DispatchSemaphore)
    }

    private struct State: Sendable {
        var queue: [Command] = []
        var failure: CassetteError?
        /// Batches written, handed back so the caller's thread frees them: their payloads were
        /// allocated there, and freeing them here would make both threads fight over malloc's lock.
        var written: [[SessionEvent]] = []
    }

    static let maximumBatchesInFlight = 4

    private let state = Mutex(State())
    /// Counts commands queued for the thread.
    private let work = DispatchSemaphore(value: 0)
    /// Counts batches the caller may still queue.
    private let slots = DispatchSemaphore(value: CassetteWriteBehind.maximumBatchesInFlight)

    /// Starts the thread; it owns `file` from now on.
    init(file: CassetteFile, bufferLimit: Int) {
        let thread = Thread { [self] in run(file: file, bufferLimit: bufferLimit) }
        thread.name = "cassette writer"
        thread.start()
    }

    /// Queues a batch; waits while `maximumBatchesInFlight` are already queued.
    func send(_ batch: [SessionEvent]) throws(CassetteError) {
        slots.wait()
        try enqueue(.events(batch))
        let written = state.withLock { state in
            let written = state.written
            state.written = []
            return written
        }
        _ = consume written
    }

    /// Returns once everything sent so far is in the file (or the first error).
    func flush() throws(CassetteError) {
        let done = DispatchSemaphore(value: 0)
        try enqueue(.flush(done))
        done.wait()
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Writes what is queued and ends the thread.
    func stop() throws(CassetteError) {
        let done = DispatchSemaphore(value: 0)
        state.withLock { $0.queue.append(.stop(done)) }
        work.signal()
        done.wait()
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Ends the thread without writing what is queued.
    func abandon() {
        let done = DispatchSemaphore(value: 0)
        state.withLock { $0.queue.append(.abandon(done)) }
        work.signal()
        done.wait()
    }

    private func enqueue(_ command: Command) throws(CassetteError) {
        let failure = state.withLock { state -> CassetteError? in
            if let failure = state.failure { return failure }
            state.queue.append(command)
            return nil
        }
        if let failure {
            if case .events = command { slots.signal() }
            throw failure
        }
        work.signal()
    }

    private func run(file: CassetteFile, bufferLimit: Int) {
        var file = file
        var buffer = LineBuffer(capacity: bufferLimit + 65536)
        let encoder = CassetteEncoder()
        var failed = false
        func write() {
            guard !failed else { return }
            do {
                try file.writeOut(&buffer)
            } catch {
                failed = true
                state.withLock { $0.failure = error }
            }
        }
        while true {
            work.wait()
            let command = state.withLock { $0.queue.removeFirst() }
            switch command {
            case .events(let batch):
                if !failed {
                    for event in batch {
                        encoder.encode(event, into: &buffer)
                        if buffer.count >= bufferLimit { write() }
                    }
                }
                state.withLock { $0.written.append(batch) }
                slots.signal()
            case .flush(let done):
                write()
                done.signal()
            case .stop(let done):
                write()
                done.signal()
                return
            case .abandon(let done):
                done.signal()
                return
            }
        }
    }
}
