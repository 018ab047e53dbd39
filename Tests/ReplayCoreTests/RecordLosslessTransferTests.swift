import Foundation
import NIOCore
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// Passes events on to a real cassette writer, capped at `bytesPerSecond` of payload like a
/// slow disk; with `failAfter`, every append fails once that many payload bytes went through.
final class ThrottledSink: CassetteEventSink {
    private let inner: CassetteWriter
    private let bytesPerSecond: Double
    private let failAfter: Int?
    private var payloadBytes = 0
    private var started: UInt64?

    init(inner: CassetteWriter, bytesPerSecond: Double, failAfter: Int? = nil) {
        self.inner = inner
        self.bytesPerSecond = bytesPerSecond
        self.failAfter = failAfter
    }

    func append(_ event: SessionEvent) throws(CassetteError) {
        if case .data(_, let bytes) = event.kind {
            if let failAfter, payloadBytes >= failAfter {
                throw .cannotWrite(path: "throttled", reason: "Input/output error")
            }
            let now = DispatchTime.now().uptimeNanoseconds
            let start = started ?? now
            started = start
            payloadBytes += bytes.count
            let ahead = Double(payloadBytes) / bytesPerSecond - Double(now - start) / 1e9
            if ahead > 0 { usleep(useconds_t(ahead * 1e6)) }
        }
        try inner.append(event)
    }

    func flush() throws(CassetteError) { try inner.flush() }
    func finish() throws(CassetteError) { try inner.finish() }
    func abandon() { inner.abandon() }
}

extension HeavyTests {
@Suite("RecordLosslessTransfer", .timeLimit(.minutes(2)))
struct RecordLosslessTransferTests {
    static let blockSize = 1 << 20
    static let blocks = 100
    static let total = blockSize * blocks
    /// The throttled sink's payload rate: 100 MiB take 2.6 s to record.
    static let rate = 40e6

    struct Outcome {
        var seconds: Double
        var received: StreamChecksum
        var expected: StreamChecksum
        var report: CassetteRecorder.Report
        var recorded: StreamChecksum
        var gapEvents: Int
        var gapBytes: Int
        var highWatermark: Int
    }

    /// A server sends 100 MiB through an in-process proxy to a client that reads as fast as it can;
    /// the cassette goes through a `ThrottledSink`.
    func transfer(overflow: CassetteRecorder.Overflow, failAfter: Int? = nil) async throws -> Outcome {
        var generator = SystemRandomNumberGenerator()
        let baseBlock = (0..<Self.blockSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
        @Sendable func block(_ index: Int) -> [UInt8] {
            var bytes = baseBlock
            bytes[0] = UInt8(index)
            bytes[Self.blockSize / 2] ^= UInt8(truncatingIfNeeded: index &* 31)
            return bytes
        }
        var expected = StreamChecksum()
        for index in 0..<Self.blocks { expected.add(block(index)) }

        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(
            upstreamPort: listener.port,
            makeSink: { path in
                ThrottledSink(inner: try CassetteWriter(path: path, header: CassetteHeader(source: .record)), bytesPerSecond: Self.rate, failAfter: failAfter)
            },
            overflow: overflow
        )
        let server = Task {
            try await blocking {
                let connection = try listener.accept(timeout: 30)
                for index in 0..<Self.blocks { try connection.send(block(index)) }
                connection.shutdownWrite()
                _ = try? connection.receiveSome()
                connection.close()
            }
        }
        let port = harness.port
        let (seconds, received) = try await blocking { () -> (Double, StreamChecksum) in
            let client = try TestSocket.connect(port: port, timeout: 30)
            let started = Date()
            var checksum = StreamChecksum()
            while true {
                let chunk = try client.receiveSome(limit: 256 * 1024)
                if chunk.isEmpty { break }
                checksum.add(chunk)
            }
            let seconds = Date().timeIntervalSince(started)
            client.close()
            return (seconds, checksum)
        }
        try await server.value
        await harness.proxy.stop()
        let report = await harness.recorder.finish()

        var recorded = StreamChecksum()
        var gapEvents = 0, gapBytes = 0
        if report.firstError == nil {
            let reader = try CassetteReader(path: harness.cassettePath)
            while let event = try reader.next() {
                switch event.kind {
                case .data(.serverToClient, let bytes): recorded.add(bytes)
                case .gap(_, let count):
                    gapEvents += 1
                    gapBytes += count
                default: break
                }
            }
        }
        try? FileManager.default.removeItem(atPath: harness.directory)
        return Outcome(
            seconds: seconds, received: received, expected: expected, report: report, recorded: recorded,
            gapEvents: gapEvents, gapBytes: gapBytes, highWatermark: harness.recorder.highWatermark
        )
    }

    @Test("lossless: 100 MiB through a 40 MB/s cassette sink are all forwarded and all recorded, slowed and bounded")
    func losslessRecordsEveryByte() async throws {
        let outcome = try await transfer(overflow: .slowTraffic)
        let throttleSeconds = Double(Self.total) / Self.rate
        print("lossless: \(String(format: "%.2f", outcome.seconds)) s (throttle alone: \(String(format: "%.2f", throttleSeconds)) s), peak queued \(outcome.report.peakQueuedBytes) bytes, backlogged \(outcome.report.timesBacklogged) times")
        #expect(outcome.received.count == Self.total)
        #expect(outcome.received.final == outcome.expected.final, "the client did not get the server's bytes unchanged")
        #expect(outcome.report.isComplete, "\(outcome.report)")
        #expect(outcome.gapEvents == 0)
        #expect(outcome.recorded.count == Self.total)
        #expect(outcome.recorded.final == outcome.expected.final, "the cassette does not hold every byte unchanged")
        // At most one read (4 x 64 KiB) per channel arrives after the recorder turns backlogged.
        #expect(outcome.report.peakQueuedBytes <= outcome.highWatermark + (1 << 20), "peak queued \(outcome.report.peakQueuedBytes)")
        // Slowed, not dropped: the client can be ahead of the sink by the high watermark and the
        // socket buffers at most, so it waits for nearly all of the throttle's time.
        let floor = Double(Self.total - outcome.highWatermark - 4 * (1 << 20)) / Self.rate
        #expect(outcome.seconds >= floor, "\(outcome.seconds) s: faster than the sink can record")
        #expect(outcome.seconds < throttleSeconds * 4, "\(outcome.seconds) s: far slower than the sink")
    }

    @Test("default mode, same sink: forwarding is not slowed and the cassette has gaps")
    func defaultModeDrops() async throws {
        let outcome = try await transfer(overflow: .dropAsGaps)
        print("default: \(String(format: "%.2f", outcome.seconds)) s, \(outcome.report.bytesDropped) bytes dropped in \(outcome.gapEvents) gaps")
        #expect(outcome.received.final == outcome.expected.final, "the client did not get the server's bytes unchanged")
        #expect(outcome.report.dataEventsDropped > 0)
        #expect(outcome.gapEvents > 0)
        #expect(outcome.recorded.count + outcome.gapBytes == Self.total)
        #expect(outcome.seconds < Double(Self.total) / Self.rate, "\(outcome.seconds) s: forwarding waited for the sink")
    }

    @Test("lossless with a sink that fails after 20 MiB: traffic completes unchanged, no longer slowed")
    func losslessFailingSink() async throws {
        let outcome = try await transfer(overflow: .slowTraffic, failAfter: 20 << 20)
        print("lossless, failing sink: \(String(format: "%.2f", outcome.seconds)) s")
        #expect(outcome.received.count == Self.total)
        #expect(outcome.received.final == outcome.expected.final, "the client did not get the server's bytes unchanged")
        #expect(outcome.report.firstError != nil)
        #expect(outcome.seconds < Double(Self.total) / Self.rate, "\(outcome.seconds) s: still held at the sink's speed after it failed")
    }
}
}
