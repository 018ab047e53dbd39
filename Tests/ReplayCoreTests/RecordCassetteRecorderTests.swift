import Dispatch
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// A sink that encodes like the real writer but writes to /dev/full, where every write
/// fails with ENOSPC: a real full disk without filling one.
final class DevFullSink: CassetteEventSink {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private let encoder = CassetteEncoder()

    init() throws {
        descriptor = open("/dev/full", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SocketError(operation: "open /dev/full", code: errno) }
    }

    deinit { close(descriptor) }

    func append(_ event: SessionEvent) throws(CassetteError) {
        encoder.encode(event, into: &buffer)
        if buffer.count > 4096 { try flush() }
    }

    func flush() throws(CassetteError) {
        guard !buffer.isEmpty else { return }
        let result = buffer.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        if result < 0 { throw .cannotWrite(path: "/dev/full", reason: String(cString: strerror(errno))) }
        buffer.removeAll()
    }

    func finish() throws(CassetteError) { try flush() }
    func abandon() {}
}

/// What a `StalledSink` received, shared with the test that owns the gate.
final class StalledSinkState: Sendable {
    let gate = DispatchSemaphore(value: 0)
    let events = Mutex<[SessionEvent]>([])

    func release() { gate.signal() }
}

/// Keeps every event; the first `append` waits until `release()`, like a stalled disk.
final class StalledSink: CassetteEventSink {
    private let state: StalledSinkState
    private var released = false

    init(state: StalledSinkState) { self.state = state }

    func append(_ event: SessionEvent) throws(CassetteError) {
        if !released {
            state.gate.wait()
            released = true
        }
        state.events.withLock { $0.append(event) }
    }

    func flush() throws(CassetteError) {}
    func finish() throws(CassetteError) {}
    func abandon() {}
}

/// Collects log messages so tests can check what was said, and how often.
struct CollectingLogHandler: LogHandler {
    let store: Mutex<[(Logger.Level, String)]>.Shared
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.value.withLock { $0.append((event.level, event.message.description)) }
    }
}

extension Mutex {
    /// A reference to a mutex, so a value-type log handler can share it.
    final class Shared: Sendable where Value: Sendable {
        let value: Mutex<Value>
        init(_ initial: Value) { value = Mutex(initial) }
    }
}

@Suite("RecordCassetteRecorder", .timeLimit(.minutes(1)))
struct RecordCassetteRecorderTests {
    @Test("a cassette on a full disk is reported once at error level and traffic still flows unchanged")
    func fullDiskDoesNotBreakForwarding() async throws {
        let messages = Mutex<[(Logger.Level, String)]>.Shared([])
        let logger = Logger(label: "test") { _ in CollectingLogHandler(store: messages) }
        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port, makeSink: { _ in try DevFullSink() }, logger: logger)
        async let server: Void = ProxyForwardingTests.echoOnce(listener)
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let port = harness.port
        let echoed = try await blocking { () -> [UInt8] in
            let client = try TestSocket.connect(port: port)
            // Several round trips, so that writes fail while the connection is in use.
            var echoed: [UInt8] = []
            for start in stride(from: 0, to: payload.count, by: 50_000) {
                let part = Array(payload[start..<min(start + 50_000, payload.count)])
                try client.send(part)
                echoed += try client.receive(exactly: part.count)
            }
            client.shutdownWrite()
            #expect(try client.receiveToEnd().isEmpty)
            return echoed
        }
        try await server
        let echoedExactly = echoed == payload
        #expect(echoedExactly, "traffic changed while the cassette could not be written")

        await harness.proxy.stop()
        let report = await harness.recorder.finish()
        try? FileManager.default.removeItem(atPath: harness.directory)
        let error = try #require(report.firstError)
        #expect(error.description.contains("No space left on device"))
        #expect(report.eventsLost > 0)
        let errors = messages.value.withLock { $0.filter { $0.0 == .error }.map(\.1) }
        #expect(errors.filter { $0.contains("cannot write the cassette") }.count == 1, "\(errors)")
        #expect(errors.contains { $0.contains("event(s) were not written") }, "\(errors)")
    }

    @Test("a writer that falls behind makes the recorder drop data as gaps instead of growing")
    func droppingIsBoundedAndRecordedAsGaps() async throws {
        let sink = StalledSinkState()
        let messages = Mutex<[(Logger.Level, String)]>.Shared([])
        let logger = Logger(label: "test") { _ in CollectingLogHandler(store: messages) }
        let recorder = CassetteRecorder(sink: StalledSink(state: sink), path: "stalled", queueLimit: 20_000, logger: logger)
        let open = SessionOpen(client: "127.0.0.1:1", server: "127.0.0.1:2", start: WallClock(nanosecondsSinceEpoch: 0))
        recorder.record(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        let chunk = [UInt8](repeating: 0x61, count: 4000)
        for index in 1...20 {
            recorder.record(SessionEvent(session: 1, offset: Int64(index), kind: .data(.serverToClient, chunk)))
        }
        recorder.record(SessionEvent(session: 1, offset: 30, kind: .close(.serverToClient, .fin)))
        recorder.record(SessionEvent(session: 1, offset: 31, kind: .end))
        sink.release()
        let report = await recorder.finish()

        #expect(report.dataEventsDropped > 0)
        #expect(report.bytesDropped == report.dataEventsDropped * 4000)
        let events = sink.events.withLock { $0 }
        var dataBytes = 0, gapBytes = 0
        for event in events {
            if case .data(_, let bytes) = event.kind { dataBytes += bytes.count }
            if case .gap(let direction, let count) = event.kind {
                #expect(direction == .serverToClient)
                gapBytes += count
            }
        }
        #expect(gapBytes == report.bytesDropped)
        #expect(dataBytes + gapBytes == 20 * 4000, "every byte is either recorded or accounted for as a gap")
        #expect(events.last?.kind == .end)
        #expect(events.first.map { if case .open = $0.kind { true } else { false } } == true)
        let offsets = events.map(\.offset)
        #expect(offsets == offsets.sorted(), "a gap sits where its bytes went missing")
        let errors = messages.value.withLock { $0.filter { $0.0 == .error }.map(\.1) }
        #expect(errors.filter { $0.contains("dropping data") }.count == 1, "\(errors)")
    }

    @Test("a gap is written before the next event of its session in either direction, so t never goes back")
    func gapTimesStayNonDecreasing() async throws {
        let sink = StalledSinkState()
        let recorder = CassetteRecorder(sink: StalledSink(state: sink), path: "stalled", queueLimit: 20_000, logger: Logger(label: "test"))
        let open = SessionOpen(client: "127.0.0.1:1", server: "127.0.0.1:2", start: WallClock(nanosecondsSinceEpoch: 0))
        recorder.record(SessionEvent(session: 1, offset: 0, kind: .open(open)))
        let chunk = [UInt8](repeating: 0x61, count: 4000)
        // Four chunks fit under the limit; the fifth (t = 5) is dropped.
        for index in 1...5 {
            recorder.record(SessionEvent(session: 1, offset: Int64(index), kind: .data(.serverToClient, chunk)))
        }
        // A small client chunk still fits, later than the dropped one.
        recorder.record(SessionEvent(session: 1, offset: 6, kind: .data(.clientToServer, Array("QUIT\r\n".utf8))))
        // Dropped again (t = 7), then the server's FIN.
        recorder.record(SessionEvent(session: 1, offset: 7, kind: .data(.serverToClient, chunk)))
        recorder.record(SessionEvent(session: 1, offset: 8, kind: .close(.serverToClient, .fin)))
        recorder.record(SessionEvent(session: 1, offset: 9, kind: .end))
        sink.release()
        _ = await recorder.finish()

        let events = sink.events.withLock { $0 }
        let shape = events.map { event -> String in
            switch event.kind {
            case .gap(let direction, let count): return "\(event.offset) gap \(direction.rawValue) \(count)"
            case .data(let direction, let bytes): return "\(event.offset) data \(direction.rawValue) \(bytes.count)"
            default: return "\(event.offset) other"
            }
        }
        #expect(shape == [
            "0 other", "1 data s2c 4000", "2 data s2c 4000", "3 data s2c 4000", "4 data s2c 4000",
            "5 gap s2c 4000", "6 data c2s 6", "7 gap s2c 4000", "8 other", "9 other",
        ])
        let offsets = events.map(\.offset)
        #expect(offsets == offsets.sorted())
    }
}
